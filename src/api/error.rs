//! The one place HTTP errors are turned into responses: a status and `{"error", "message"}`.

use axum::{
    http::{header, HeaderValue, StatusCode},
    response::{IntoResponse, Response},
    Json,
};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    BadJson(String),
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    /// A change based on an old copy of its task (`if_seq`): the task's seq now, and the event
    /// that changed it, as logged.
    #[error("{message}")]
    Stale { message: String, current_seq: u64, changed_by: Option<serde_json::Value> },
    #[error("{0}")]
    Unavailable(String),
    #[error("{0}")]
    TooLarge(String),
    #[error("{0}")]
    UnsupportedMedia(String),
    /// A limit was reached; the client may try again after `retry_after` seconds.
    #[error("{message}")]
    TooMany { message: String, retry_after: u64 },
    /// The server is too busy to take the request now; it may try again after `retry_after` seconds.
    #[error("{message}")]
    Busy { message: String, retry_after: u64 },
}

impl ApiError {
    /// The HTTP status this refusal is answered with.
    pub fn status(&self) -> StatusCode {
        self.status_and_code().0
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::BadJson(_) => (StatusCode::BAD_REQUEST, "bad_json"),
            ApiError::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_event"),
            ApiError::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            ApiError::Stale { .. } => (StatusCode::CONFLICT, "stale"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            ApiError::TooLarge(_) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
            ApiError::UnsupportedMedia(_) => (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type"),
            ApiError::TooMany { .. } => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            ApiError::Busy { .. } => (StatusCode::SERVICE_UNAVAILABLE, "busy"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> ApiError {
        match e {
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unknown(m) => ApiError::Invalid(m),
            StoreError::KeyReused(m) => ApiError::Invalid(m),
            StoreError::Stale { message, current } => {
                ApiError::Stale { message, current_seq: current, changed_by: None }
            }
            StoreError::Busy(m) => {
                ApiError::Busy { message: format!("{m}; nothing was stored; retry soon"), retry_after: 1 }
            }
            StoreError::Lost(m) => {
                tracing::error!(error = %m, "the writer stopped mid-request");
                ApiError::Unavailable(format!("{m}; retry with the same Idempotency-Key to be sure"))
            }
            other => {
                tracing::error!(error = %other, "store failure");
                ApiError::Unavailable("the event store is unavailable; nothing was stored".into())
            }
        }
    }
}

impl ApiError {
    /// The refusal of a connection (`what`: sockets, streams) its token has no slot for.
    pub fn from_connect(refused: crate::limits::Refused, what: &str) -> ApiError {
        match refused {
            crate::limits::Refused::Full(limit) => {
                ApiError::TooMany { message: format!("this token already has {limit} {what} open"), retry_after: 5 }
            }
            crate::limits::Refused::Store(e) => {
                tracing::error!(error = %e, "connection count unavailable");
                ApiError::Unavailable("the connection count is unavailable; retry soon".into())
            }
        }
    }
}

/// The reason a response refused its request (its `error` code), for the refusal counter.
#[derive(Clone, Copy, Debug)]
pub struct Refused(pub &'static str);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let mut body = json!({ "error": code, "message": self.to_string() });
        if let ApiError::Stale { current_seq, changed_by, .. } = &self {
            body["current_seq"] = json!(current_seq);
            body["changed_by"] = json!(changed_by);
        }
        let mut response = (status, Json(body)).into_response();
        response.extensions_mut().insert(Refused(code));
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let ApiError::TooMany { retry_after, .. } | ApiError::Busy { retry_after, .. } = &self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
    }
}
