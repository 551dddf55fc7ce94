//! `POST /api/v1/media`: upload an image (multipart field `file`), get its id to attach to a
//! shop (avatar/banner) or a product.

use axum::extract::{Multipart, State};
use axum::http::StatusCode;
use axum::Json;

use super::dto::ImageDto;
use super::{ApiResult, ApiUser};
use crate::domain::images;
use crate::error::{Error, ErrorKind, Problem};
use crate::server::AppState;

pub async fn upload(
    State(state): State<AppState>,
    ApiUser(user): ApiUser,
    mut multipart: Multipart,
) -> ApiResult<(StatusCode, Json<ImageDto>)> {
    let mut file: Option<Vec<u8>> = None;
    loop {
        let field = multipart.next_field().await.map_err(multipart_error)?;
        let Some(field) = field else { break };
        if field.name() == Some("file") {
            if file.is_some() {
                return Err(Error::field("file", Problem::TooMany { max: 1 }).into());
            }
            let bytes = field.bytes().await.map_err(multipart_error)?;
            file = Some(bytes.to_vec());
        }
    }
    let Some(bytes) = file else {
        return Err(Error::field("file", Problem::Required).into());
    };
    let _permit = state
        .upload_slots
        .acquire()
        .await
        .map_err(Error::internal)?;
    let image = images::store_upload(
        &state.store,
        &state.settings.media_dir(),
        &user,
        bytes,
        state.settings.max_upload_bytes,
        "file",
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ImageDto::new(&state.urls, &image, None)),
    ))
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> Error {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Error::new(ErrorKind::PayloadTooLarge, "upload too large")
    } else {
        Error::bad_request(format!("malformed multipart body: {}", e.body_text()))
    }
}
