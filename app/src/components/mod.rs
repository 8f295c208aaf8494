//! Widgets shared by the pages.

pub mod activity;
pub mod approval;
pub mod card;
pub mod clock;
pub mod header;
pub mod task_actions;
pub mod time;
pub mod timeline;
pub mod toast;

/// Returns the URL when it is safe to put in an `href`: only http(s), so a `javascript:` or `data:`
/// URL posted by an agent is shown as text instead of becoming a link.
pub fn safe_http_url(url: &str) -> Option<&str> {
    let trimmed = url.trim();
    let lower = trimmed.get(..8).unwrap_or(trimmed).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://")).then_some(trimmed)
}

#[cfg(test)]
mod tests {
    use super::safe_http_url;

    #[test]
    fn only_http_urls_become_links() {
        assert_eq!(safe_http_url("https://x.test/pr/1"), Some("https://x.test/pr/1"));
        assert_eq!(safe_http_url(" HTTP://x.test "), Some("HTTP://x.test"));
        assert_eq!(safe_http_url("javascript:alert(1)"), None);
        assert_eq!(safe_http_url("data:text/html,hi"), None);
        assert_eq!(safe_http_url("//evil.test"), None);
    }
}
