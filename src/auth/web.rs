//! What the browser-facing parts of auth share: the session cookie's name, the same-origin check,
//! and the URL encoding of the page to return to after signing in.

use axum::http::{header, HeaderMap};

/// The session cookie: the token itself, HttpOnly so page scripts never see it.
pub const COOKIE: &str = "fd_token";
/// The name the person gave at sign-in, shown on their messages and decisions.
pub const NAME_COOKIE: &str = "fd_name";

/// A name fit to show and record: trimmed, 1 to 64 characters, no control characters.
pub fn display_name(raw: &str) -> Option<String> {
    let name: String = raw.trim().chars().filter(|c| !c.is_control()).take(64).collect();
    (!name.trim().is_empty()).then(|| name.trim().to_string())
}

/// The inverse of [`encode_component`]; invalid escapes are kept as they are.
pub fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = || std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok().and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex()) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A browser's request must come from this very origin: its `Sec-Fetch-Site` (when it sends one)
/// says `same-origin` (or `none`, typed by the person), and its `Origin` names this host. Requests
/// with neither are not from a page.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let site = headers.get("sec-fetch-site").and_then(|s| s.to_str().ok());
    if site.is_some_and(|site| !matches!(site, "same-origin" | "none")) {
        return false;
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/');
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

/// A URL query component, percent-encoded (slashes kept, so a path stays readable).
pub fn encode_component(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_cleaned_and_round_trip() {
        assert_eq!(display_name("  Ann Lee\u{7} "), Some("Ann Lee".into()));
        assert_eq!(display_name("   "), None);
        assert_eq!(display_name(&"x".repeat(100)).map(|n| n.len()), Some(64));
        assert_eq!(decode_component(&encode_component("Zoë & co/2")), "Zoë & co/2");
    }

    #[test]
    fn origin_must_match_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers), "no Origin: not a page");
        headers.insert("sec-fetch-site", "cross-site".parse().unwrap());
        assert!(!same_origin(&headers), "a browser that says another site sent it");
        headers.insert("sec-fetch-site", "same-site".parse().unwrap());
        assert!(!same_origin(&headers), "a sibling subdomain is another origin");
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://evil.test".parse().unwrap());
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&headers));
    }
}
