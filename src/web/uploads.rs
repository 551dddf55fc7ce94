//! Storing the images uploaded with a form: one upload slot at a time per request, errors
//! reported against the form field. The checks and re-encoding are `domain::images`'.

use crate::domain::accounts::User;
use crate::domain::images::{self, Image};
use crate::error::{Error, FieldErrors};
use crate::server::AppState;
use crate::web::errors::WebError;
use crate::web::forms::{merge_validation, FormData};

/// Stores the file in form field `field`, if one was uploaded. A refused file becomes a
/// problem on that field; other failures are errors.
pub async fn store_file(
    state: &AppState,
    user: &User,
    form: &mut FormData,
    field: &str,
    problems: &mut FieldErrors,
) -> Result<Option<Image>, WebError> {
    let Some(bytes) = form.take_file(field) else {
        return Ok(None);
    };
    let _slot = state
        .upload_slots
        .acquire()
        .await
        .map_err(|e| Error::internal(anyhow::anyhow!("upload slots closed: {e}")))?;
    let stored = images::store_upload(
        &state.store,
        &state.settings.media_dir(),
        user,
        bytes,
        state.settings.max_upload_bytes,
        field,
    )
    .await;
    match stored {
        Ok(image) => Ok(Some(image)),
        Err(e) => merge_validation(problems, Err(e)).map(|()| None),
    }
}
