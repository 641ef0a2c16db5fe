//! What a trusted MTA says about an inbound email's `From:`, read from its
//! `Authentication-Results` header fields (RFC 8601).
//!
//! Anyone can write such a header into a message, so only fields whose
//! authserv-id the operator configured as trusted are read (the MTA adds
//! its own and strips incoming ones with that id). Parsing is by hand and
//! forgiving: a field or result that cannot be read is skipped, never an
//! error.

/// Whether the trusted results show the From domain was not authenticated:
/// `Some(why)` when a trusted field says `dmarc=fail`, or, with no DMARC
/// verdict, when no DKIM signature or SPF check aligned with `from_domain`
/// passed. `None` when nothing trusted says so (or no field is trusted).
pub fn failure(header_values: &[&str], trusted: &[String], from_domain: &str) -> Option<String> {
    let mut results: Vec<(String, MethodResult)> = Vec::new();
    let mut first_id: Option<String> = None;
    for value in header_values {
        let Some((authserv_id, found)) = parse(value) else { continue };
        if trusted.iter().any(|t| t.trim().eq_ignore_ascii_case(&authserv_id)) {
            first_id.get_or_insert_with(|| authserv_id.clone());
            results.extend(found.into_iter().map(|r| (authserv_id.clone(), r)));
        }
    }
    // No trusted field: nothing checked the From, and nothing says it is forged.
    let first_id = first_id?;
    let from_aligned = |domain: Option<&str>| domain.is_some_and(|d| aligned(d, from_domain));

    // DMARC already judged the From domain; a result for another domain is not about this message's From.
    let dmarc =
        results.iter().filter(|(_, r)| r.method == "dmarc" && r.property("header.from").is_none_or(|d| aligned(d, from_domain)));
    if let Some((id, r)) = dmarc.clone().find(|(_, r)| r.result == "fail") {
        return Some(format!("{id} says dmarc={} for {from_domain}", r.result));
    }
    if dmarc.clone().any(|(_, r)| r.result == "pass") {
        return None;
    }
    // No DMARC verdict: an aligned DKIM signature or SPF check must have passed.
    let passed = results.iter().any(|(_, r)| {
        r.result == "pass"
            && match r.method.as_str() {
                "dkim" => from_aligned(r.property("header.d").or_else(|| r.property("header.i").map(domain_of))),
                "spf" => from_aligned(r.property("smtp.mailfrom").map(domain_of)),
                _ => false,
            }
    });
    (!passed).then(|| format!("{first_id} found no passing DKIM or SPF result for {from_domain}"))
}

/// One `method=result` of a field, with its `ptype.property=value` pairs.
#[derive(Debug, Clone, PartialEq, Eq)]
struct MethodResult {
    /// Lower case, without a `/version`.
    method: String,
    /// Lower case.
    result: String,
    properties: Vec<(String, String)>,
}

impl MethodResult {
    fn property(&self, name: &str) -> Option<&str> {
        self.properties.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// The authserv-id and the results of one field value, or `None` when it
/// has no authserv-id. `none` (no method was run) gives no results.
fn parse(value: &str) -> Option<(String, Vec<MethodResult>)> {
    let mut value = without_comments(value);
    // `method = result` may carry spaces around the `=`.
    while value.contains(" =") || value.contains("= ") {
        value = value.replace(" =", "=").replace("= ", "=");
    }
    let mut parts = split_outside_quotes(&value, ';').into_iter();
    let authserv_id = unquote(parts.next()?.split_whitespace().next()?);
    if authserv_id.is_empty() {
        return None;
    }
    let mut results = Vec::new();
    for part in parts {
        let mut words = split_outside_quotes(&part, ' ').into_iter().filter(|w| !w.is_empty());
        let Some((method, result)) = words.next().and_then(|w| w.split_once('=').map(|(m, r)| (m.to_owned(), r.to_owned())))
        else {
            continue;
        };
        let method = method.split('/').next().unwrap_or_default().trim().to_ascii_lowercase();
        let result = unquote(&result).to_ascii_lowercase();
        if method.is_empty() || result.is_empty() {
            continue;
        }
        let properties = words
            .filter_map(|w| w.split_once('=').map(|(n, v)| (n.trim().to_ascii_lowercase(), unquote(v))))
            .filter(|(n, _)| n.contains('.'))
            .collect();
        results.push(MethodResult { method, result, properties });
    }
    Some((authserv_id, results))
}

/// The value without `(comments)` (nested ones too) outside quoted strings;
/// each comment becomes a space. An unclosed comment runs to the end.
fn without_comments(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let (mut depth, mut quoted, mut escaped) = (0usize, false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
            if depth == 0 {
                out.push(c);
            }
            continue;
        }
        match c {
            '\\' if quoted || depth > 0 => {
                escaped = true;
                if depth == 0 {
                    out.push(c);
                }
            }
            '"' if depth == 0 => {
                quoted = !quoted;
                out.push(c);
            }
            '(' if !quoted => depth += 1,
            ')' if !quoted && depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    out.push(' ');
                }
            }
            _ if depth == 0 => out.push(if c.is_whitespace() { ' ' } else { c }),
            _ => {}
        }
    }
    out
}

/// Splits at `separator` outside quoted strings; parts are trimmed.
fn split_outside_quotes(value: &str, separator: char) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let (mut quoted, mut escaped) = (false, false);
    for c in value.chars() {
        if escaped {
            escaped = false;
        } else if c == '\\' && quoted {
            escaped = true;
        } else if c == '"' {
            quoted = !quoted;
        } else if c == separator && !quoted {
            parts.push(std::mem::take(&mut current).trim().to_owned());
            continue;
        }
        current.push(c);
    }
    parts.push(current.trim().to_owned());
    parts
}

fn unquote(value: &str) -> String {
    let value = value.trim();
    let inner = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
    inner.replace("\\\"", "\"").replace("\\\\", "\\")
}

/// The domain of `user@domain` (or `@domain`), or the value itself.
fn domain_of(value: &str) -> &str {
    value.rsplit_once('@').map_or(value, |(_, domain)| domain)
}

/// Relaxed alignment without a public suffix list: the same domain, or one
/// a subdomain of the other.
fn aligned(domain: &str, from_domain: &str) -> bool {
    let (a, b) =
        (domain.trim().trim_end_matches('.').to_ascii_lowercase(), from_domain.trim_end_matches('.').to_ascii_lowercase());
    !a.is_empty() && (a == b || a.ends_with(&format!(".{b}")) || b.ends_with(&format!(".{a}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted() -> Vec<String> {
        vec!["mx.docket.example".to_owned()]
    }

    fn fails(values: &[&str]) -> Option<String> {
        failure(values, &trusted(), "acme.example")
    }

    #[test]
    fn a_trusted_dmarc_fail_is_a_failure() {
        let why = fails(&["mx.docket.example; dkim=pass header.d=acme.example; dmarc=fail (p=reject) header.from=acme.example"]);
        assert!(why.unwrap().contains("dmarc=fail"));
        // The id is compared without regard to case; a version may follow it.
        assert!(fails(&["MX.Docket.Example 1; dmarc=fail header.from=acme.example"]).is_some());
    }

    #[test]
    fn a_dmarc_pass_or_an_aligned_dkim_or_spf_pass_is_fine() {
        assert_eq!(
            fails(&["mx.docket.example; spf=fail smtp.mailfrom=x@evil.example; dmarc=pass header.from=acme.example"]),
            None
        );
        assert_eq!(fails(&["mx.docket.example; dkim=pass (good) header.d=mail.acme.example; spf=none"]), None);
        assert_eq!(
            fails(&["mx.docket.example; dkim=fail header.d=acme.example; spf=pass smtp.mailfrom=bounce@acme.example"]),
            None
        );
        // No DMARC record: the DKIM/SPF rule decides.
        assert_eq!(fails(&["mx.docket.example; dmarc=none; spf=pass smtp.mailfrom=acme.example"]), None);
    }

    #[test]
    fn without_dmarc_an_unaligned_or_failed_dkim_and_spf_is_a_failure() {
        assert!(fails(&["mx.docket.example; dkim=pass header.d=evil.example; spf=pass smtp.mailfrom=m@evil.example"]).is_some());
        assert!(
            fails(&["mx.docket.example; dkim=fail header.d=acme.example; spf=softfail smtp.mailfrom=acme.example"]).is_some()
        );
        assert!(fails(&["mx.docket.example; none"]).is_some());
        // A DMARC result about another domain is no verdict on this From.
        assert!(fails(&["mx.docket.example; dmarc=pass header.from=evil.example"]).is_some());
        // `notacme.example` is not a subdomain of `acme.example`.
        assert!(fails(&["mx.docket.example; dkim=pass header.d=notacme.example"]).is_some());
    }

    #[test]
    fn untrusted_fields_are_ignored() {
        assert_eq!(fails(&["evil.example; dmarc=fail header.from=acme.example"]), None);
        assert_eq!(failure(&["mx.docket.example; dmarc=fail"], &[], "acme.example"), None);
        // A trusted pass next to an untrusted fail: the untrusted one is not read.
        assert_eq!(fails(&["evil.example; dmarc=fail", "mx.docket.example; dmarc=pass header.from=acme.example"]), None);
    }

    #[test]
    fn malformed_fields_are_skipped_without_error() {
        for value in
            ["", ";", "   ;;;", "(only a comment)", "mx.docket.example", "\"unterminated", "mx.docket.example; =; dkim=; =pass"]
        {
            let _ = parse(value);
            let _ = fails(&[value]);
        }
        // A trusted field without results says nothing passed.
        assert!(fails(&["mx.docket.example; garbage here"]).is_some());
        // Comments and quotes do not hide or invent results.
        assert!(fails(&["mx.docket.example; dkim=pass (header.d=acme.example) header.d=evil.example"]).is_some());
        assert_eq!(fails(&["mx.docket.example (id (nested)); dmarc=\"pass\" header.from=\"acme.example\""]), None);
        assert_eq!(fails(&["mx.docket.example;\r\n\tdkim = pass (ok)\theader.d = acme.example"]), None);
        assert_eq!(parse("(x) ; dmarc=fail"), None);
    }
}
