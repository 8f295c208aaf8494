//! `POST /login` and `POST /logout`: a valid token becomes (or stops being) the HttpOnly session
//! cookie the pages, server functions and socket are reached with.

use axum::{
    extract::State,
    http::{header, HeaderMap},
    response::{AppendHeaders, IntoResponse, Redirect, Response},
    Form,
};

use super::{
    hash_token,
    web::{display_name, encode_component, same_origin, COOKIE, NAME_COOKIE},
};
use crate::{api::error::ApiError, state::AppState};

const COOKIE_MAX_AGE_SECS: u64 = 30 * 24 * 3600;

#[derive(serde::Deserialize)]
pub struct LoginForm {
    token: String,
    #[serde(default)]
    next: Option<String>,
    /// Who is signing in, for their messages and decisions (the token's name when left blank).
    #[serde(default)]
    name: Option<String>,
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
            let name = form.name.as_deref().and_then(display_name).map_or(String::new(), |n| encode_component(&n));
            let age = if name.is_empty() { 0 } else { COOKIE_MAX_AGE_SECS };
            let name = format!("{NAME_COOKIE}={name}; Path=/; HttpOnly; SameSite=Lax; Max-Age={age}");
            // Appended, not inserted: both cookies must reach the browser.
            (AppendHeaders([(header::SET_COOKIE, cookie), (header::SET_COOKIE, name)]), Redirect::to(next))
                .into_response()
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

/// Only a local path may follow a login: never another site (`//evil`, `https://…`). Browsers drop
/// tabs and newlines from a URL before reading it (`/\t/evil` is `//evil`), so a path with any
/// control character or space is refused whole, as is a backslash (read as `/`).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.contains('\\')
                && !n.chars().any(|c| c.is_control() || c.is_whitespace()) =>
        {
            n
        }
        _ => "/",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_follow_a_login() {
        assert_eq!(safe_next(Some("/tasks/1?x=2")), "/tasks/1?x=2");
        for bad in
            ["//evil.test", "https://evil.test", "evil", "/\\evil.test", "/\t/evil.test", "/\n/evil.test", "/ /x"]
        {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }
}
