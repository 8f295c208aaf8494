//! The login gate: every request but the public ones needs a valid token, and a browser request
//! that changes state must come from this very origin.

use app::server_fns::ssr::Viewer;
use axum::{
    extract::{Request, State},
    http::{header, HeaderMap, Method},
    middleware::Next,
    response::{IntoResponse, Redirect, Response},
};

use super::{
    hash_token,
    web::{decode_component, display_name, encode_component, same_origin, COOKIE, NAME_COOKIE},
};
use crate::{api::error::ApiError, state::AppState};

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
    // Some hook scripts can change only the URL they post to: feeds take `?token=` as a program's.
    if request.uri().path().starts_with("/api/feeds/") {
        if let Some(token) = query_param(request.uri().query().unwrap_or_default(), "token") {
            return Credential::Header(token);
        }
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
            // The connection is no longer a stranger's (`net::Strangers`).
            if let Some(conn) = request.extensions().get::<std::sync::Arc<crate::net::Conn>>() {
                conn.authenticated();
            }
            // The person at the page: the name given at sign-in, else the token's.
            let name = cookie(request.headers(), NAME_COOKIE).and_then(|n| display_name(&decode_component(&n)));
            let viewer = Viewer {
                token_id: record.id.clone(),
                workspace: record.workspace.clone(),
                role: record.role.as_str().to_string(),
                name: name.unwrap_or_else(|| record.name.clone()),
                can_decide: record.role.can_ingest(),
            };
            request.extensions_mut().insert(viewer);
            request.extensions_mut().insert(record);
            next.run(request).await
        }
        Ok(None) => refuse_anonymous(&request, "unknown or revoked token"),
        Err(e) => ApiError::from(e).into_response(),
    }
}

fn refuse_anonymous(request: &Request, reason: &str) -> Response {
    let path = request.uri().path();
    // Programs get a 401 they can read: a scraper such as Prometheus follows redirects, and would
    // read the sign-in page as a malformed scrape.
    let program = path.starts_with("/api/") || path.starts_with("/v1/") || matches!(path, "/ws" | "/metrics");
    if program || request.method() != Method::GET {
        return ApiError::Unauthorized(reason.into()).into_response();
    }
    let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
    Redirect::to(&format!("/login?next={}", encode_component(target))).into_response()
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
