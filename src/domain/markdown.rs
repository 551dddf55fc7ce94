//! Markdown -> sanitised HTML for descriptions. Sanitising is an allow-list (ammonia): no
//! scripts, styles, iframes or images from elsewhere; links get `rel="nofollow noopener ugc"`.

use std::sync::OnceLock;

use pulldown_cmark::{html, Options, Parser};

fn sanitizer() -> &'static ammonia::Builder<'static> {
    static B: OnceLock<ammonia::Builder<'static>> = OnceLock::new();
    B.get_or_init(|| {
        let mut b = ammonia::Builder::default();
        b.rm_tags(&["img"]);
        b.link_rel(Some("nofollow noopener noreferrer ugc"));
        b.url_schemes(["http", "https", "mailto"].into_iter().collect());
        b
    })
}

/// Renders Markdown to HTML that is safe to embed in our pages.
pub fn render(markdown: &str) -> String {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TABLES);
    let parser = Parser::new_ext(markdown, opts);
    let mut out = String::with_capacity(markdown.len() * 3 / 2);
    html::push_html(&mut out, parser);
    sanitize(&out)
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape_html(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Cleans HTML from any source with the same allow-list.
pub fn sanitize(html: &str) -> String {
    sanitizer().clean(html).to_string()
}

/// Plain text of the first paragraph-ish part, for meta descriptions and feeds.
pub fn plain_excerpt(markdown: &str, max_chars: usize) -> String {
    let parser = Parser::new(markdown);
    let mut text = String::new();
    for ev in parser {
        match ev {
            pulldown_cmark::Event::Text(t) | pulldown_cmark::Event::Code(t) => text.push_str(&t),
            pulldown_cmark::Event::SoftBreak | pulldown_cmark::Event::HardBreak => text.push(' '),
            pulldown_cmark::Event::End(_) => text.push(' '),
            _ => {}
        }
        if text.chars().count() > max_chars {
            break;
        }
    }
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if text.chars().count() > max_chars {
        let cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        format!("{}…", cut.trim_end())
    } else {
        text.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_markdown_and_removes_scripts() {
        let html = render("# Tea\n\n**Oolong** <script>alert(1)</script> [x](javascript:alert(1)) ![i](http://e/x.png)");
        assert!(html.contains("<strong>Oolong</strong>"));
        assert!(!html.contains("<script"));
        assert!(!html.contains("javascript:"));
        assert!(!html.contains("<img"));
    }

    #[test]
    fn links_get_rel() {
        let html = render("[shop](https://tea.example)");
        assert!(html.contains("rel=\"nofollow noopener noreferrer ugc\""));
    }

    #[test]
    fn excerpt_is_plain_and_bounded() {
        assert_eq!(
            plain_excerpt("**Green** tea\n\nfrom *Fujian*", 100),
            "Green tea from Fujian"
        );
        assert_eq!(plain_excerpt("abcdefghij", 5).chars().count(), 5);
    }
}
