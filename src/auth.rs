//! Tokens: how a caller proves who it is. Tokens are random, shown once, and stored only as a
//! SHA-256 hash, each scoped to one workspace and one role.

use app::{api::ssr::Viewer, DEFAULT_WORKSPACE};
use axum::{
    extract::{FromRequestParts, Request, State},
    http::{header, request::Parts, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
    Form,
};
use rand::{distr::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

use crate::{
    api::error::ApiError,
    server::AppState,
    store::{Role, Store, StoreError, TokenRecord},
};

pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// A new token: a prefix that makes it recognisable in a leaked log, then 40 random characters.
pub fn generate_token() -> String {
    let random: String = rand::rng().sample_iter(Alphanumeric).take(40).map(char::from).collect();
    format!("fd_{random}")
}

/// Makes sure the server can be used: registers the configured token if there is one, and on an
/// empty database creates an admin token and returns it so it can be printed once.
pub async fn bootstrap(store: &dyn Store, configured: Option<&str>) -> Result<Option<String>, StoreError> {
    if let Some(token) = configured {
        let hash = hash_token(token);
        if store.find_token(&hash).await?.is_none() {
            let record = admin_record("configured");
            store.create_token(&record, &hash).await?;
        }
    }
    if store.count_tokens().await? > 0 {
        return Ok(None);
    }
    let token = generate_token();
    store.create_token(&admin_record("first-start"), &hash_token(&token)).await?;
    Ok(Some(token))
}

fn admin_record(name: &str) -> TokenRecord {
    TokenRecord {
        id: uuid::Uuid::new_v4().to_string(),
        workspace: DEFAULT_WORKSPACE.to_string(),
        role: Role::Admin,
        name: name.to_string(),
    }
}

/// The session cookie: the token itself, HttpOnly so page scripts never see it.
pub const COOKIE: &str = "fd_token";
const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

/// The caller of a request, as established by [`gate`].
#[derive(Clone, Debug)]
pub struct Caller(pub TokenRecord);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Caller, ApiError> {
        parts
            .extensions
            .get::<TokenRecord>()
            .cloned()
            .map(Caller)
            .ok_or_else(|| ApiError::Unauthorized("sign in first".into()))
    }
}

/// Where a request's token came from: a header means a program, a cookie or query a browser.
enum Credential {
    Header(String),
    Browser(String),
    Malformed(&'static str),
    Missing,
}

fn credential(request: &Request) -> Credential {
    if let Some(value) = request.headers().get(header::AUTHORIZATION) {
        let value = value.to_str().unwrap_or_default();
        return match value.split_once(' ') {
            Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
                Credential::Header(token.trim().to_string())
            }
            _ => Credential::Malformed("the Authorization header must be `Bearer <token>`"),
        };
    }
    if let Some(token) = cookie(request.headers(), COOKIE) {
        return Credential::Browser(token);
    }
    // Browsers cannot set headers on a WebSocket: the socket also takes `?token=`.
    if request.uri().path() == "/ws" {
        if let Some(token) = query_param(request.uri().query().unwrap_or_default(), "token") {
            return Credential::Browser(token);
        }
    }
    Credential::Missing
}

/// Paths anyone may reach: the login page, static assets and the probes.
fn is_public(path: &str) -> bool {
    matches!(path, "/login" | "/logout" | "/healthz" | "/readyz" | "/favicon.svg") || path.starts_with("/pkg/")
}

/// Every request but the public ones needs a valid token, from `Authorization: Bearer`, the
/// session cookie, or (for `/ws`) `?token=`. Pages without one redirect to the login page; the
/// API and the socket answer 401. A browser request from another origin is refused (403).
pub async fn gate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    if is_public(&path) {
        return next.run(request).await;
    }
    let token = match credential(&request) {
        Credential::Header(token) => token,
        Credential::Browser(token) => {
            let changes_state = !matches!(request.method(), &Method::GET | &Method::HEAD) || path == "/ws";
            if changes_state && !same_origin(request.headers()) {
                return ApiError::Forbidden("cross-origin request refused".into()).into_response();
            }
            token
        }
        Credential::Malformed(reason) => return ApiError::Unauthorized(reason.into()).into_response(),
        Credential::Missing => return refuse_anonymous(&request, "missing `Authorization: Bearer <token>` header"),
    };
    match state.store.find_token(&hash_token(&token)).await {
        Ok(Some(record)) => {
            request.extensions_mut().insert(Viewer { workspace: record.workspace.clone() });
            request.extensions_mut().insert(record);
            next.run(request).await
        }
        Ok(None) => refuse_anonymous(&request, "unknown or revoked token"),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn refuse_anonymous(request: &Request, reason: &str) -> Response {
    let path = request.uri().path();
    if path.starts_with("/api/") || path == "/ws" || request.method() != Method::GET {
        return ApiError::Unauthorized(reason.into()).into_response();
    }
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", encode_component(target))).into_response()
}

/// A browser's `Origin` must name this very host; requests without one are not from a page.
pub fn same_origin(headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return true;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    let origin_host = origin.split_once("://").map_or("", |(_, rest)| rest).trim_end_matches('/');
    !host.is_empty() && origin_host.eq_ignore_ascii_case(host)
}

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
}

/// `POST /login`: a valid token becomes the session cookie.
pub async fn login(State(state): State<AppState>, headers: HeaderMap, Form(form): Form<LoginForm>) -> Response {
    if !same_origin(&headers) {
        return ApiError::Forbidden("cross-origin request refused".into()).into_response();
    }
    let next = safe_next(form.next.as_deref());
    let token = form.token.trim();
    match state.store.find_token(&hash_token(token)).await {
        Ok(Some(_)) => {
            let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={COOKIE_MAX_AGE_SECS}");
            ([(header::SET_COOKIE, cookie)], Redirect::to(next)).into_response()
        }
        Ok(None) => Redirect::to(&format!("/login?error=1&next={}", encode_component(next))).into_response(),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `POST /logout`: forgets the session cookie.
pub async fn logout(headers: HeaderMap) -> Response {
    if !same_origin(&headers) {
        return ApiError::Forbidden("cross-origin request refused".into()).into_response();
    }
    let cookie = format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0");
    ([(header::SET_COOKIE, cookie)], Redirect::to("/login")).into_response()
}

/// Only a local path may follow a login: never another site (`//evil`, `https://…`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n,
        _ => "/",
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

fn query_param(query: &str, name: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v.to_string())
}

fn encode_component(s: &str) -> String {
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
    fn tokens_are_random_and_hashes_stable() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert!(a.starts_with("fd_") && a.len() == 43);
        assert_eq!(hash_token("x"), hash_token("x"));
        assert_ne!(hash_token(&a), a);
    }

    #[test]
    fn only_local_paths_follow_a_login() {
        assert_eq!(safe_next(Some("/tasks/1?x=2")), "/tasks/1?x=2");
        for bad in ["//evil.test", "https://evil.test", "evil", "/\\evil.test"] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn origin_must_match_host() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers), "no Origin: not a page");
        headers.insert(header::ORIGIN, "http://127.0.0.1:3000".parse().unwrap());
        assert!(same_origin(&headers));
        headers.insert(header::ORIGIN, "http://evil.test".parse().unwrap());
        assert!(!same_origin(&headers));
        headers.insert(header::ORIGIN, "null".parse().unwrap());
        assert!(!same_origin(&headers));
    }
}
