//! Tokens: how a caller proves who it is. Tokens are random, shown once, and stored only as a
//! SHA-256 hash, each scoped to one workspace and one role. [`gate`] checks them on every request;
//! [`login`] turns one into the dashboard's session cookie.

pub mod gate;
pub mod login;
pub mod web;

use app::DEFAULT_WORKSPACE;
use axum::{extract::FromRequestParts, http::request::Parts};
use rand::{distr::Alphanumeric, Rng};
use sha2::{Digest, Sha256};

use crate::{
    api::error::ApiError,
    state::AppState,
    store::{Role, Store, StoreError, TokenRecord},
};

pub use gate::gate;
pub use login::{login, logout};
pub use web::{same_origin, COOKIE};

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
}
