//! Files served as they are: the stylesheet (compiled in) and uploaded media from the data
//! directory. Only names `domain::images` generated are served from disk.

use std::sync::OnceLock;

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::domain::images::is_media_file_name;
use crate::error::Error;
use crate::server::AppState;
use crate::web::errors::WebResult;

const STYLE: &str = include_str!("static/style.css");
const LONG_CACHE: &str = "public, max-age=31536000, immutable";

/// `/static/style.css?v=<hash>`: the query changes when the stylesheet does, so it can be
/// cached for a year.
pub fn stylesheet_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let hash = hex::encode(&Sha256::digest(STYLE.as_bytes())[..6]);
        format!("/static/style.css?v={hash}")
    })
}

pub async fn stylesheet() -> Response {
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/css; charset=utf-8"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static(LONG_CACHE)),
        ],
        STYLE,
    )
        .into_response()
}

pub async fn media(State(state): State<AppState>, Path(file): Path<String>) -> WebResult {
    if !is_media_file_name(&file) {
        return Err(Error::not_found("file").into());
    }
    let content_type = match file.rsplit_once('.').map(|(_, ext)| ext) {
        Some("png") => "image/png",
        Some("jpg") => "image/jpeg",
        _ => return Err(Error::not_found("file").into()),
    };
    let bytes = match tokio::fs::read(state.settings.media_dir().join(&file)).await {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::not_found("file").into())
        }
        Err(e) => return Err(Error::internal(e).into()),
    };
    Ok((
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(LONG_CACHE)),
        ],
        bytes,
    )
        .into_response())
}
