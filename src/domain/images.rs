//! Stored images: an uploaded file is checked and re-encoded by `media`, written under the
//! data dir with a generated name (never the client's), and recorded in the database.

use std::path::{Path, PathBuf};

use crate::db::{images as db_images, Store};
use crate::domain::accounts::User;
use crate::domain::ids::ImageId;
use crate::domain::media::{process_image, ImageLimits};
use crate::domain::now_ms;
use crate::error::{Error, Problem, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Image {
    pub id: ImageId,
    pub owner_id: crate::domain::ids::UserId,
    pub file_name: String,
    pub thumb_name: String,
    pub mime: String,
    pub width: i64,
    pub height: i64,
    pub thumb_width: i64,
    pub thumb_height: i64,
}

impl Image {
    /// Path of the full image under the site root.
    pub fn path(&self) -> String {
        format!("/media/{}", self.file_name)
    }
    pub fn thumb_path(&self) -> String {
        format!("/media/{}", self.thumb_name)
    }
}

/// A media file name we generated: `<uuid>.jpg`, `<uuid>_t.png`, ... Anything else is refused,
/// so a request path can never leave the media directory.
pub fn is_media_file_name(name: &str) -> bool {
    let Some((stem, ext)) = name.rsplit_once('.') else {
        return false;
    };
    let stem = stem.strip_suffix("_t").unwrap_or(stem);
    matches!(ext, "jpg" | "png") && ImageId::parse(stem).is_some()
}

/// Checks, re-encodes and stores an upload for `owner`. The field name is used in errors.
pub async fn store_upload(
    store: &Store,
    media_dir: &Path,
    owner: &User,
    bytes: Vec<u8>,
    max_bytes: usize,
    field: &str,
) -> Result<Image> {
    let limits = ImageLimits {
        max_bytes,
        ..ImageLimits::default()
    };
    let processed = tokio::task::spawn_blocking(move || process_image(&bytes, &limits))
        .await
        .map_err(Error::internal)?
        .map_err(|e| Error::field(field, Problem::Media(e)))?;
    let id = ImageId::new();
    let file_name = format!("{id}.{}", processed.extension);
    let thumb_name = format!("{id}_t.{}", processed.extension);
    tokio::fs::create_dir_all(media_dir).await?;
    write_atomically(media_dir.join(&file_name), &processed.full).await?;
    write_atomically(media_dir.join(&thumb_name), &processed.thumb).await?;
    let image = Image {
        id,
        owner_id: owner.id.clone(),
        file_name,
        thumb_name,
        mime: processed.mime.to_string(),
        width: processed.width.into(),
        height: processed.height.into(),
        thumb_width: processed.thumb_width.into(),
        thumb_height: processed.thumb_height.into(),
    };
    if let Err(e) = db_images::insert(store, &image, processed.full.len() as i64, now_ms()).await {
        let _ = tokio::fs::remove_file(media_dir.join(&image.file_name)).await;
        let _ = tokio::fs::remove_file(media_dir.join(&image.thumb_name)).await;
        return Err(e);
    }
    Ok(image)
}

async fn write_atomically(path: PathBuf, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("part");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, &path).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_generated_names_are_media_names() {
        let id = ImageId::new();
        assert!(is_media_file_name(&format!("{id}.jpg")));
        assert!(is_media_file_name(&format!("{id}_t.png")));
        assert!(!is_media_file_name("../etc/passwd"));
        assert!(!is_media_file_name(&format!("{id}.svg")));
        assert!(!is_media_file_name(&format!("../{id}.jpg")));
    }
}
