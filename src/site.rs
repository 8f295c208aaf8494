//! The site's own files under `/pkg`: the wasm, its JavaScript, its chunks and the stylesheet.
//!
//! A release build names each of them by its content (cargo-leptos `hash-files`, with the names in
//! `hash.txt` beside the binary), so a browser may keep them for good: a new build is new names.
//! A file not named so (a development build, wasm-bindgen's snippets) is checked again each time.

use std::path::PathBuf;

use axum::{
    extract::Request,
    http::{header, HeaderValue},
    middleware::{self, Next},
    response::Response,
    Router,
};
use tower_http::services::ServeDir;

/// Whether the site's files carry their content hash in their names: cargo-leptos writes
/// `hash.txt` beside the server binary when it names them so.
pub fn hashed() -> bool {
    std::env::current_exe().ok().and_then(|exe| exe.parent().map(|dir| dir.join("hash.txt").is_file())).unwrap_or(false)
}

/// `/pkg` served from `dir`, with the `.gz` beside each file sent to browsers that take gzip
/// (written by `scripts/release.sh`), and each answer's cache rule.
pub fn routes<S: Clone + Send + Sync + 'static>(dir: PathBuf) -> Router<S> {
    Router::new().fallback_service(ServeDir::new(dir).precompressed_gzip()).layer(middleware::from_fn(cache_rule))
}

async fn cache_rule(request: Request, next: Next) -> Response {
    let keep = named_by_content(request.uri().path());
    let mut response = next.run(request).await;
    if response.status().is_success() {
        let rule = if keep { "public, max-age=31536000, immutable" } else { "no-cache" };
        response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static(rule));
    }
    response
}

/// Whether a file's name holds a content hash as cargo-leptos writes one: a part of 22 base64url
/// characters (an MD5), as in `flightdeck.3x9…Q.wasm`; the 22 underscores an unhashed build leaves
/// in `__wasm_split.______________________.js` are not one.
fn named_by_content(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or_default();
    name.split('.').any(|part| {
        part.len() == 22
            && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            && part.bytes().any(|b| b != b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::named_by_content;

    #[test]
    fn only_names_with_a_content_hash_are_kept_for_good() {
        assert!(named_by_content("/pkg/flightdeck.Zq3mF0b-2_xYkP9aLw1cVg.wasm"));
        assert!(named_by_content("/pkg/__wasm_split.Zq3mF0b-2_xYkP9aLw1cVg.js"));
        assert!(!named_by_content("/pkg/flightdeck.wasm"));
        assert!(!named_by_content("/pkg/__wasm_split.______________________.js"));
        assert!(!named_by_content("/pkg/snippets/leptos-abc/inline0.js"));
    }
}
