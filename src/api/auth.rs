//! Bearer-token authentication for the API. The web session cookie is never accepted here, so
//! the API needs no CSRF protection.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use axum::Json;

use super::dto::UserDto;
use super::{ApiError, ApiResult};
use crate::domain::accounts::{self, User};
use crate::error::Error;
use crate::server::AppState;

/// A request that must carry a valid bearer token.
pub struct ApiUser(pub User);

/// A request that may carry a bearer token (a bad one is still an error).
pub struct MaybeApiUser(pub Option<User>);

async fn user_from_parts(parts: &Parts, state: &AppState) -> Result<Option<User>, ApiError> {
    let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value
        .to_str()
        .map_err(|_| Error::unauthorized("malformed Authorization header"))?;
    let Some(token) = value
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| !t.is_empty() && t.len() <= 200)
    else {
        return Err(Error::unauthorized("expected `Authorization: Bearer <token>`").into());
    };
    match accounts::token_user(&state.store, token).await? {
        Some(u) => Ok(Some(u)),
        None => Err(Error::unauthorized("invalid token").into()),
    }
}

impl FromRequestParts<AppState> for ApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        match user_from_parts(parts, state).await? {
            Some(u) => Ok(ApiUser(u)),
            None => Err(Error::unauthorized("authentication required").into()),
        }
    }
}

impl FromRequestParts<AppState> for MaybeApiUser {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(MaybeApiUser(user_from_parts(parts, state).await?))
    }
}

/// `GET /api/v1/me`: who the token belongs to.
pub async fn me(ApiUser(user): ApiUser) -> ApiResult<Json<UserDto>> {
    Ok(Json(UserDto::from(&user)))
}
