//! Who is asking, and how often: the client address of a request and the
//! rate limits kept for it in `GatewayState::kv` (Redis, or memory under
//! `docket dev`), shared by every gateway replica.

use std::{
    net::{IpAddr, SocketAddr},
    str::FromStr,
    time::Duration,
};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, request::Parts},
};

use crate::{GatewayState, config::GatewaySettings};

/// The client's address, as [`ProxyTrust::client`] finds it from the peer of
/// the connection and `X-Forwarded-For`; every rate limit and every record
/// of "from where" (logins, links used, form submissions) takes it from
/// here. `unknown` without a peer (in-process unit tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIp(pub String);

impl FromRequestParts<GatewayState> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &GatewayState) -> Result<Self, Self::Rejection> {
        let peer = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        Ok(ClientIp(match peer {
            Some(peer) => state.proxies.client(peer, &parts.headers).to_string(),
            None => "unknown".to_owned(),
        }))
    }
}

/// Which proxies in front of the gateway are believed when they say, in
/// `X-Forwarded-For`, whom they talked to (`gateway.trusted_proxy_hops`,
/// `gateway.trusted_proxies`). Each proxy appends its peer to the header,
/// so only the entries on the right were written by proxies we run; the
/// left ones are whatever the client sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyTrust {
    /// The nearest this many hops are proxies, whatever their address.
    hops: u32,
    /// Any hop in these networks is a proxy.
    networks: Vec<IpNetwork>,
}

impl ProxyTrust {
    /// From the settings; `trust_forwarded_for = true` alone (the old
    /// setting) means one trusted hop. Errors name the bad entry.
    pub fn from_settings(settings: &GatewaySettings) -> Result<Self, String> {
        let networks = settings
            .trusted_proxies
            .split(',')
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .map(IpNetwork::from_str)
            .collect::<Result<Vec<_>, _>>()?;
        let hops = match settings.trusted_proxy_hops {
            0 if settings.trust_forwarded_for && networks.is_empty() => 1,
            hops => hops,
        };
        Ok(Self { hops, networks })
    }

    fn trusts(&self, address: IpAddr, hop: u32) -> bool {
        hop < self.hops || self.networks.iter().any(|network| network.contains(address))
    }

    /// The client's address: walks from the connection's peer leftwards
    /// through `X-Forwarded-For` while the address at hand is a trusted
    /// proxy, and takes the first one that is not. An entry that is not an
    /// address ends the walk at the last trusted one: a client-written
    /// value is never taken.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut address = peer.to_canonical();
        if self.hops == 0 && self.networks.is_empty() {
            return address;
        }
        // Several header lines are one list, in order (RFC 9110, 5.3).
        let mut entries = headers
            .get_all("x-forwarded-for")
            .iter()
            .flat_map(|value| match value.to_str() {
                Ok(text) => text.split(',').map(parse_forwarded).collect::<Vec<_>>(),
                Err(_) => vec![None],
            })
            .collect::<Vec<_>>()
            .into_iter()
            .rev();
        let mut hop = 0;
        while self.trusts(address, hop) {
            match entries.next() {
                Some(Some(next)) => address = next,
                // Garbage, or no one left: the last trusted address.
                Some(None) | None => break,
            }
            hop += 1;
        }
        address
    }
}

/// One `X-Forwarded-For` entry: an address, maybe with a port
/// (`192.0.2.1:4711`, `[2001:db8::1]:4711`, `2001:db8::1`).
fn parse_forwarded(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let address = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| entry.strip_prefix('[')?.strip_suffix(']')?.parse().ok())?;
    Some(address.to_canonical())
}

/// A network in CIDR notation (`10.0.0.0/8`, `2001:db8::/32`); a plain
/// address is a network of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNetwork {
    address: IpAddr,
    prefix: u8,
}

impl IpNetwork {
    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.address, address.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.prefix)).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - u32::from(self.prefix)).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

impl FromStr for IpNetwork {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || format!("{text:?} is not a network: write an address or address/prefix, e.g. 10.0.0.0/8 or fd00::/8");
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address = address.parse::<IpAddr>().map_err(|_| bad())?.to_canonical();
        let bits = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: `u8::from_str` would take a leading `+`.
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => p.parse::<u8>().map_err(|_| bad())?,
            Some(_) => return Err(bad()),
            None => bits,
        };
        if prefix > bits {
            return Err(bad());
        }
        Ok(Self { address, prefix })
    }
}

/// A limit was reached: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds, at least 1, for `Retry-After` and for people.
    pub fn seconds(&self) -> u64 {
        self.retry_after.as_secs().max(1)
    }

    /// 429 as a problem, saying what was refused (`detail` is followed by
    /// when to try again), with `Retry-After`.
    pub fn problem_response(&self, detail: &str) -> axum::response::Response {
        use axum::response::IntoResponse;
        let detail = format!("{detail}; try again in {} seconds", self.seconds());
        let mut response =
            crate::problem::Problem::new(http::StatusCode::TOO_MANY_REQUESTS, "resource_exhausted", detail).into_response();
        if let Ok(value) = http::HeaderValue::from_str(&self.seconds().to_string()) {
            response.headers_mut().insert(http::header::RETRY_AFTER, value);
        }
        response
    }
}

/// Counts one more event under `key` in a fixed window of `window`; refuses
/// once more than `limit` happened in it. When the store cannot be reached
/// the event is let through (and logged): an outage of Redis must not lock
/// every customer out; the portal service's own lock-out still holds.
pub async fn hit(state: &GatewayState, key: &str, limit: u32, window: Duration) -> Result<(), Limited> {
    match state.kv.incr_with_ttl(key, window).await {
        Ok(count) if count > u64::from(limit) => {
            let retry_after = state.kv.ttl(key).await.ok().flatten().unwrap_or(window);
            tracing::info!(key, count, limit, "rate limit reached");
            Err(Limited { retry_after })
        }
        Ok(_) => Ok(()),
        Err(err) => {
            tracing::warn!(key, error = %err, "rate limit store unavailable; letting the request through");
            Ok(())
        }
    }
}

/// Whether `key` already counted `limit` events in its window, without
/// counting one: for a limit that counts only what succeeded (see
/// [`counted`]). A store that cannot be reached lets it through, as in [`hit`].
pub async fn reached(state: &GatewayState, key: &str, limit: u32, window: Duration) -> Result<(), Limited> {
    let count = match state.kv.get(key).await {
        Ok(value) => value.and_then(|v| String::from_utf8(v).ok()).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0),
        Err(err) => {
            tracing::warn!(key, error = %err, "rate limit store unavailable; letting the request through");
            return Ok(());
        }
    };
    if count >= u64::from(limit) {
        let retry_after = state.kv.ttl(key).await.ok().flatten().unwrap_or(window);
        tracing::info!(key, count, limit, "rate limit reached");
        return Err(Limited { retry_after });
    }
    Ok(())
}

/// Counts one event that happened under `key`, after the fact.
pub async fn counted(state: &GatewayState, key: &str, window: Duration) {
    if let Err(err) = state.kv.incr_with_ttl(key, window).await {
        tracing::warn!(key, error = %err, "rate limit store unavailable; an event was not counted");
    }
}

const MINUTE: Duration = Duration::from_secs(60);

/// The per-session counter of comments: the session id hashed, so the
/// store's key names carry no session.
fn session_comments(session_id: &str) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(session_id.as_bytes());
    let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("comments:session:{hex}")
}

fn case_comments(case_id: &str) -> String {
    format!("comments:case:{case_id}")
}

/// May this session add a comment to this case now (pages and JSON alike)?
/// Counts the attempt against `gateway.comments_per_session_per_minute`,
/// and checks `gateway.comments_per_case_per_minute` without counting:
/// [`comment_added`] counts a comment on the case once it is written, so
/// refused comments (a case the visitor may not see) use up nobody's minute.
/// Concurrent posts may pass the per-case limit by the few in flight.
pub async fn comment(state: &GatewayState, session_id: &str, case_id: &str) -> Result<(), Limited> {
    hit(state, &session_comments(session_id), state.settings.comments_per_session_per_minute, MINUTE).await?;
    reached(state, &case_comments(case_id), state.settings.comments_per_case_per_minute, MINUTE).await
}

/// A comment was written on this case: it counts against the case's minute.
pub async fn comment_added(state: &GatewayState, case_id: &str) {
    counted(state, &case_comments(case_id), MINUTE).await;
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn trust(hops: u32, networks: &str) -> ProxyTrust {
        let mut settings = crate::testing::settings();
        settings.trusted_proxy_hops = hops;
        settings.trusted_proxies = networks.to_owned();
        ProxyTrust::from_settings(&settings).expect("valid")
    }

    fn client(trust: &ProxyTrust, peer: &str, forwarded: &[&str]) -> String {
        let mut headers = HeaderMap::new();
        for line in forwarded {
            headers.append("x-forwarded-for", HeaderValue::from_str(line).unwrap());
        }
        trust.client(peer.parse().unwrap(), &headers).to_string()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = trust(0, "");
        assert_eq!(client(&none, "198.51.100.7", &["1.2.3.4"]), "198.51.100.7");
    }

    #[test]
    fn hops_are_counted_from_the_right_and_the_client_written_entries_are_skipped() {
        let one = trust(1, "");
        // The proxy appended the client's real address; the client wrote 1.2.3.4.
        assert_eq!(client(&one, "10.0.0.2", &["1.2.3.4, 198.51.100.7"]), "198.51.100.7");
        assert_eq!(client(&one, "10.0.0.2", &["198.51.100.7"]), "198.51.100.7");
        // Header lines are one list.
        assert_eq!(client(&one, "10.0.0.2", &["1.2.3.4", "198.51.100.7"]), "198.51.100.7");
        // No header: the proxy is all we know.
        assert_eq!(client(&one, "10.0.0.2", &[]), "10.0.0.2");
        let two = trust(2, "");
        assert_eq!(client(&two, "10.0.0.2", &["1.2.3.4, 198.51.100.7, 10.0.0.9"]), "198.51.100.7");
        // Fewer entries than hops: the leftmost one the proxies wrote.
        assert_eq!(client(&two, "10.0.0.2", &["10.0.0.9"]), "10.0.0.9");
    }

    #[test]
    fn trusted_networks_are_skipped_however_many_there_are() {
        let nets = trust(0, "10.0.0.0/8, 192.168.1.0/24");
        assert_eq!(client(&nets, "10.1.2.3", &["1.2.3.4, 198.51.100.7, 192.168.1.20, 10.9.9.9"]), "198.51.100.7");
        // A peer outside them is the client, whatever it claims.
        assert_eq!(client(&nets, "198.51.100.7", &["1.2.3.4"]), "198.51.100.7");
        assert_eq!(client(&nets, "192.168.2.1", &["1.2.3.4"]), "192.168.2.1");
        // Hops and networks together: the first hop, then networks.
        let both = trust(1, "10.0.0.0/8");
        assert_eq!(client(&both, "203.0.113.1", &["1.2.3.4, 198.51.100.7, 10.0.0.3"]), "198.51.100.7");
        // The old switch alone is one hop.
        let mut settings = crate::testing::settings();
        settings.trust_forwarded_for = true;
        let old = ProxyTrust::from_settings(&settings).unwrap();
        assert_eq!(client(&old, "10.0.0.2", &["1.2.3.4, 198.51.100.7"]), "198.51.100.7");
    }

    #[test]
    fn ipv6_and_ports_are_understood() {
        let nets = trust(0, "fd00::/8, 10.0.0.0/8");
        assert_eq!(client(&nets, "fd00::1", &["2001:db8::7"]), "2001:db8::7");
        assert_eq!(client(&nets, "fd12:3456::1", &["1.2.3.4, [2001:db8::7]:4711"]), "2001:db8::7");
        assert_eq!(client(&nets, "fd00::1", &["198.51.100.7:4711"]), "198.51.100.7");
        // An IPv4 peer seen on a dual-stack socket is still in 10.0.0.0/8.
        assert_eq!(client(&nets, "::ffff:10.0.0.2", &["198.51.100.7"]), "198.51.100.7");
        assert_eq!(client(&nets, "2001:db8::1", &["198.51.100.7"]), "2001:db8::1");
    }

    #[test]
    fn garbage_ends_the_walk_at_the_last_trusted_address() {
        let two = trust(2, "");
        for garbage in ["unknown", "", "1.2.3.4.5", "_hidden", "[::1", "198.51.100.7/8"] {
            let header = format!("1.2.3.4, {garbage}, 10.0.0.9");
            assert_eq!(client(&two, "10.0.0.2", &[&header]), "10.0.0.9", "{garbage:?}");
        }
        assert_eq!(client(&trust(1, ""), "10.0.0.2", &["1.2.3.4, nonsense"]), "10.0.0.2");
        // A header line that is not text counts as garbage too.
        let mut headers = HeaderMap::new();
        headers.append("x-forwarded-for", HeaderValue::from_static("1.2.3.4"));
        headers.append("x-forwarded-for", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(trust(1, "").client("10.0.0.2".parse().unwrap(), &headers).to_string(), "10.0.0.2");
    }

    #[test]
    fn networks_parse_strictly() {
        let net = |text: &str| text.parse::<IpNetwork>();
        assert!(net("10.0.0.0/8").unwrap().contains("10.255.0.1".parse().unwrap()));
        assert!(!net("10.0.0.0/8").unwrap().contains("11.0.0.1".parse().unwrap()));
        assert!(net("0.0.0.0/0").unwrap().contains("203.0.113.9".parse().unwrap()));
        assert!(net("::/0").unwrap().contains("2001:db8::1".parse().unwrap()));
        assert!(net("192.0.2.7").unwrap().contains("192.0.2.7".parse().unwrap()));
        assert!(!net("192.0.2.7").unwrap().contains("192.0.2.8".parse().unwrap()));
        assert!(net("2001:db8::/32").unwrap().contains("2001:db8:ffff::1".parse().unwrap()));
        assert!(!net("2001:db8::/32").unwrap().contains("2001:db9::1".parse().unwrap()));
        assert!(!net("::/0").unwrap().contains("10.0.0.1".parse().unwrap()), "families never mix");
        for bad in ["10.0.0.0/33", "fd00::/129", "10.0.0.0/", "10.0.0.0/+8", "10.0.0/8", "example.com", "10.0.0.0/8/8", ""] {
            assert!(net(bad).is_err(), "{bad:?}");
        }
    }
}
