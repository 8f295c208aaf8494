//! `GET /artifacts/{path}`: deliverable files, served only from the caller's workspace folder
//! inside the configured artifacts directory — never from anywhere else, whatever the path says.

use std::path::{Component, Path, PathBuf};

use axum::{
    extract::{Path as UrlPath, Request, State},
    http::{header, HeaderValue},
    response::{IntoResponse, Response},
};
use tower::ServiceExt;
use tower_http::services::ServeFile;

use super::error::ApiError;
use crate::{auth::Caller, state::AppState};

pub async fn artifact(
    State(state): State<AppState>,
    Caller(caller): Caller,
    UrlPath(path): UrlPath<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let relative = checked_relative(&path)?;
    let not_found = || ApiError::NotFound(format!("no artifact `{path}`"));
    // Names are checked when tokens are made; a token stored before that rule still never climbs.
    app::domain::check::workspace(&caller.workspace)
        .map_err(|_| ApiError::Forbidden(format!("workspace `{}` has no artifacts folder", caller.workspace)))?;
    let base = tokio::fs::canonicalize(&*state.artifacts_dir).await.map_err(|_| not_found())?;
    let root = base.join(&caller.workspace);
    let real_root = tokio::fs::canonicalize(&root).await.map_err(|_| not_found())?;
    let real = tokio::fs::canonicalize(root.join(&relative)).await.map_err(|_| not_found())?;
    // Resolving symlinks first, then comparing, catches a link that points out of the folder, and
    // a workspace folder that is itself a link elsewhere.
    if real_root.parent() != Some(base.as_path()) || !real.starts_with(&real_root) {
        return Err(ApiError::Forbidden(format!("`{path}` leads outside the artifacts directory")));
    }
    if !tokio::fs::metadata(&real).await.map(|m| m.is_file()).unwrap_or(false) {
        return Err(not_found());
    }
    let mut response = ServeFile::new(real).oneshot(request).await.map_err(|_| not_found())?.into_response();
    // An HTML or SVG artifact must not run script with the dashboard's origin.
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox; default-src 'none'"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Ok(response)
}

/// The decoded URL path as a plain relative path: no `..`, no `.`, no root, no backslash, no NUL.
fn checked_relative(path: &str) -> Result<PathBuf, ApiError> {
    let refuse = || ApiError::Invalid(format!("invalid artifact path `{path}`"));
    if path.is_empty() || path.contains('\\') || path.contains('\0') {
        return Err(refuse());
    }
    let candidate = Path::new(path);
    if candidate.components().all(|c| matches!(c, Component::Normal(_))) {
        Ok(candidate.to_path_buf())
    } else {
        Err(refuse())
    }
}

#[cfg(test)]
mod tests {
    use super::checked_relative;

    #[test]
    fn only_plain_relative_paths_pass() {
        assert!(checked_relative("reports/summary.pdf").is_ok());
        for bad in ["../etc/passwd", "a/../../b", "/etc/passwd", "./x", "a\\..\\b", "", "a\0b"] {
            assert!(checked_relative(bad).is_err(), "{bad}");
        }
    }
}
