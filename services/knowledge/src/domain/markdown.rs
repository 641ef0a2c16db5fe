//! An article's body is Markdown; readers get HTML. The author's text is
//! never trusted: Markdown may carry raw HTML, so what pulldown-cmark
//! renders goes through ammonia's allow-list, which keeps formatting,
//! links and images and drops scripts, event handlers, styles, frames and
//! any URL scheme but http, https and mailto.

use std::sync::LazyLock;

use pulldown_cmark::{Options, Parser, html};

/// Bodies longer than this are refused before rendering (bytes).
pub const MAX_BODY: usize = 200_000;

static SANITIZER: LazyLock<ammonia::Builder<'static>> = LazyLock::new(|| {
    let mut builder = ammonia::Builder::default();
    builder
        .url_schemes(["http", "https", "mailto"].into_iter().collect())
        .link_rel(Some("noopener noreferrer nofollow"))
        .add_tag_attributes("img", ["loading"])
        .set_tag_attribute_value("img", "loading", "lazy");
    builder
});

/// `markdown` as HTML safe to put into a page as it is.
pub fn to_html(markdown: &str) -> String {
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH | Options::ENABLE_TASKLISTS;
    let mut rendered = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut rendered, Parser::new_ext(markdown, options));
    SANITIZER.clean(&rendered).to_string()
}

/// `markdown` as plain text (for search snippets, summaries and emails):
/// the words without markup.
pub fn to_text(markdown: &str) -> String {
    use pulldown_cmark::{Event, Tag, TagEnd};
    let mut text = String::with_capacity(markdown.len());
    for event in Parser::new_ext(markdown, Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH) {
        match event {
            Event::Text(words) | Event::Code(words) => text.push_str(&words),
            Event::SoftBreak | Event::HardBreak | Event::Rule => text.push(' '),
            Event::Start(Tag::Item) | Event::End(TagEnd::Paragraph | TagEnd::Heading(_) | TagEnd::TableCell) => text.push(' '),
            _ => {}
        }
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_keeps_its_formatting() {
        let html = to_html(
            "# Reset the printer\n\n1. Hold **Stop**\n2. Wait\n\n| key | effect |\n|---|---|\n| F1 | help |\n\n```\nreset --all\n```\n\n[Manual](https://example.com/manual) ![panel](/help/files/abc.png)",
        );
        for kept in [
            "<h1>Reset the printer</h1>",
            "<ol>",
            "<strong>Stop</strong>",
            "<table>",
            "<code>reset --all",
            r#"<a href="https://example.com/manual" rel="noopener noreferrer nofollow">Manual</a>"#,
            r#"src="/help/files/abc.png""#,
        ] {
            assert!(html.contains(kept), "{kept} missing from {html}");
        }
    }

    /// Script and event-handler HTML an author (or a compromised account)
    /// might put into an article comes out inert.
    #[test]
    fn scripts_handlers_styles_and_dangerous_urls_come_out_inert() {
        let attacks = [
            "<script>alert(1)</script>",
            "<img src=x onerror=alert(1)>",
            "<svg onload=alert(1)><circle/></svg>",
            "<a href=\"javascript:alert(1)\">click</a>",
            "[click](javascript:alert(1))",
            "[click](JaVaScRiPt:alert(1))",
            "![x](javascript:alert(1))",
            "<iframe src=\"https://evil.example\"></iframe>",
            "<object data=\"evil.swf\"></object>",
            "<embed src=\"evil.swf\">",
            "<p style=\"background:url(javascript:alert(1))\">x</p>",
            "<style>body{display:none}</style>",
            "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
            "<form action=\"https://evil.example\"><input name=password></form>",
            "<div onclick=\"alert(1)\">x</div>",
            "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
            "<meta http-equiv=\"refresh\" content=\"0;url=https://evil.example\">",
            "<base href=\"https://evil.example/\">",
            "&lt;script&gt;alert(1)&lt;/script&gt;",
            "<scr<script>ipt>alert(1)</script>",
        ];
        for attack in attacks {
            let html = to_html(&format!("Before\n\n{attack}\n\nAfter")).to_ascii_lowercase();
            for banned in [
                "<script",
                "onerror",
                "onload",
                "onclick",
                "javascript:",
                "<iframe",
                "<object",
                "<embed",
                "style=",
                "<style",
                "data:",
                "<form",
                "<input",
                "<meta",
                "<base",
                "<svg",
                "<math",
            ] {
                assert!(!html.contains(banned), "{attack:?} left {banned:?} in {html}");
            }
            assert!(html.contains("before") && html.contains("after"), "the rest of the article stays: {html}");
        }
    }

    #[test]
    fn plain_text_has_the_words_without_markup() {
        assert_eq!(
            to_text("# Reset\n\nHold **Stop** for `5 s`, then [see](https://x.example).\n\n- one\n- two"),
            "Reset Hold Stop for 5 s, then see. one two"
        );
        assert_eq!(to_text("<b>bold</b> text"), "bold text");
    }
}
