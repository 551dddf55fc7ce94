//! uploaded images: sniff, limit, re-encode, thumbnail; pure functions, no I/O
//!
//! Every upload is treated as hostile. [`process_image`] checks the byte
//! length, sniffs the real format from the magic bytes (file names and
//! declared content types are never consulted), reads the dimensions from the
//! header and rejects oversized images before any pixel data is decoded, then
//! decodes under [`image::Limits`] so that decompression bombs fail instead of
//! exhausting memory. The decoded pixels are re-encoded from scratch, which
//! drops every piece of metadata (EXIF, GPS, XMP, ICC, comments, trailing
//! data). The EXIF orientation is applied to the pixels first, so photos taken
//! on phones keep looking the right way up.
//!
//! The functions here are synchronous and CPU-bound: callers run them in
//! `spawn_blocking` and deal with files and the database themselves.

use std::io::Cursor;
use std::panic::{self, AssertUnwindSafe};

use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::imageops::FilterType;
use image::metadata::Orientation;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageEncoder, ImageError, ImageFormat,
    ImageReader,
};

/// Longest edge of the stored full image; larger images are downscaled.
pub const MAX_STORED_EDGE: u32 = 2048;

/// Longest edge of the thumbnail.
pub const THUMB_EDGE: u32 = 480;

/// JPEG quality used for opaque images.
const JPEG_QUALITY: u8 = 85;

/// Head room on top of the pixel buffer that the decoders may allocate for
/// their own bookkeeping (palettes, row buffers, zlib state, ...).
const DECODER_SLACK_BYTES: u64 = 16 * 1024 * 1024;

/// Filter used for every downscale.
const RESIZE_FILTER: FilterType = FilterType::Lanczos3;

/// What an upload may be; checked before and during decoding.
#[derive(Clone, Debug)]
pub struct ImageLimits {
    /// Largest accepted upload, in bytes.
    pub max_bytes: usize,
    /// Widest accepted image, in pixels.
    pub max_width: u32,
    /// Tallest accepted image, in pixels.
    pub max_height: u32,
    /// Largest accepted `width * height`.
    pub max_pixels: u64,
}

impl Default for ImageLimits {
    fn default() -> Self {
        Self {
            max_bytes: 10 * 1024 * 1024,
            max_width: 8000,
            max_height: 8000,
            max_pixels: 40_000_000,
        }
    }
}

/// A validated, re-encoded upload plus its thumbnail, both in the same format.
#[derive(Debug)]
pub struct ProcessedImage {
    /// The stored image, longest edge at most [`MAX_STORED_EDGE`].
    pub full: Vec<u8>,
    /// The thumbnail, longest edge at most [`THUMB_EDGE`].
    pub thumb: Vec<u8>,
    /// `"jpg"` or `"png"`.
    pub extension: &'static str,
    /// `"image/jpeg"` or `"image/png"`.
    pub mime: &'static str,
    /// Width of `full`.
    pub width: u32,
    /// Height of `full`.
    pub height: u32,
    /// Width of `thumb`.
    pub thumb_width: u32,
    /// Height of `thumb`.
    pub thumb_height: u32,
}

/// Why an upload was refused; the messages can be shown to the uploader.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MediaError {
    /// Zero bytes were uploaded.
    #[error("the file is empty")]
    Empty,
    /// More than `max_bytes` were uploaded.
    #[error("the file is larger than {}", human_size(*.max_bytes))]
    TooLarge {
        /// The limit that was exceeded.
        max_bytes: usize,
    },
    /// The bytes do not start with any known image signature.
    #[error("the file is not an image")]
    NotAnImage,
    /// A recognised image format that is not accepted (BMP, TIFF, ...).
    #[error("only PNG, JPEG, GIF and WebP images are accepted")]
    UnsupportedFormat,
    /// The image is too wide, too tall or has too many pixels.
    #[error("the image has too many pixels")]
    TooManyPixels,
    /// The image could not be decoded (truncated, damaged, malicious).
    #[error("the image could not be decoded")]
    Corrupt,
}

/// Validates an uploaded image and re-encodes it, returning the stored image
/// and its thumbnail.
///
/// Images with any pixel that is not fully opaque become PNG, all others
/// become JPEG (quality 85). Neither output carries any metadata of the input.
pub fn process_image(bytes: &[u8], limits: &ImageLimits) -> Result<ProcessedImage, MediaError> {
    if bytes.is_empty() {
        return Err(MediaError::Empty);
    }
    if bytes.len() > limits.max_bytes {
        return Err(MediaError::TooLarge {
            max_bytes: limits.max_bytes,
        });
    }
    let format = sniff_format(bytes)?;

    // Decoders are written to be robust, but a panic on crafted input must
    // not take more than this upload down with it.
    panic::catch_unwind(AssertUnwindSafe(|| reencode(bytes, format, limits)))
        .unwrap_or(Err(MediaError::Corrupt))
}

/// Decodes (see [`decode`]), downscales and encodes the full image and the
/// thumbnail.
fn reencode(
    bytes: &[u8],
    format: ImageFormat,
    limits: &ImageLimits,
) -> Result<ProcessedImage, MediaError> {
    let decoded = decode(bytes, format, limits)?;
    let (extension, mime) = match decoded.output {
        Output::Jpeg => ("jpg", "image/jpeg"),
        Output::Png => ("png", "image/png"),
    };
    let full = downscale(&decoded.img, MAX_STORED_EDGE, decoded.output).unwrap_or(decoded.img);
    let full_bytes = encode(&full, decoded.output)?;
    let (thumb_width, thumb_height, thumb_bytes) =
        match downscale(&full, THUMB_EDGE, decoded.output) {
            Some(thumb) => (
                thumb.width(),
                thumb.height(),
                encode(&thumb, decoded.output)?,
            ),
            None => (full.width(), full.height(), full_bytes.clone()),
        };
    Ok(ProcessedImage {
        full: full_bytes,
        thumb: thumb_bytes,
        extension,
        mime,
        width: full.width(),
        height: full.height(),
        thumb_width,
        thumb_height,
    })
}

/// The output format an upload gets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Output {
    /// Opaque images; pixels are [`DynamicImage::ImageRgb8`].
    Jpeg,
    /// Images with transparency; pixels are [`DynamicImage::ImageRgba8`].
    Png,
}

/// Decoded pixels, already converted for the output format they will get.
struct Decoded {
    img: DynamicImage,
    output: Output,
}

/// Identifies the format from the magic bytes alone.
fn sniff_format(bytes: &[u8]) -> Result<ImageFormat, MediaError> {
    match image::guess_format(bytes) {
        Ok(
            format @ (ImageFormat::Png | ImageFormat::Jpeg | ImageFormat::Gif | ImageFormat::WebP),
        ) => Ok(format),
        Ok(_) => Err(MediaError::UnsupportedFormat),
        Err(_) => Err(MediaError::NotAnImage),
    }
}

/// The decoder limits derived from `limits`: strict dimensions, and an
/// allocation cap a bit above one 8-bit RGBA buffer of `max_pixels`.
fn decoder_limits(limits: &ImageLimits) -> image::Limits {
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_width);
    decoder_limits.max_image_height = Some(limits.max_height);
    decoder_limits.max_alloc = Some(max_alloc(limits));
    decoder_limits
}

fn max_alloc(limits: &ImageLimits) -> u64 {
    limits
        .max_pixels
        .saturating_mul(4)
        .saturating_add(limits.max_pixels / 4)
        .saturating_add(DECODER_SLACK_BYTES)
}

fn check_dimensions(width: u32, height: u32, limits: &ImageLimits) -> Result<(), MediaError> {
    let pixels = u64::from(width) * u64::from(height);
    if width == 0 || height == 0 {
        return Err(MediaError::Corrupt);
    }
    if width > limits.max_width || height > limits.max_height || pixels > limits.max_pixels {
        return Err(MediaError::TooManyPixels);
    }
    Ok(())
}

fn map_decode_error(err: ImageError) -> MediaError {
    match err {
        ImageError::Limits(_) => MediaError::TooManyPixels,
        _ => MediaError::Corrupt,
    }
}

/// Reads the header, enforces the limits, then decodes (first frame only for
/// animations) and applies the EXIF orientation.
fn decode(bytes: &[u8], format: ImageFormat, limits: &ImageLimits) -> Result<Decoded, MediaError> {
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    reader.limits(decoder_limits(limits));
    // Only parses the header; the decoder's own dimension limits apply here.
    let mut decoder = reader.into_decoder().map_err(map_decode_error)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    if decoder.total_bytes() > max_alloc(limits) {
        return Err(MediaError::TooManyPixels);
    }
    let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);

    let mut img = DynamicImage::from_decoder(decoder).map_err(map_decode_error)?;
    img.apply_orientation(orientation);

    if img.color().has_alpha() {
        let rgba = img.into_rgba8();
        if rgba.pixels().any(|p| p.0[3] != u8::MAX) {
            return Ok(Decoded {
                img: DynamicImage::ImageRgba8(rgba),
                output: Output::Png,
            });
        }
        img = DynamicImage::ImageRgba8(rgba);
    }
    Ok(Decoded {
        img: DynamicImage::ImageRgb8(img.into_rgb8()),
        output: Output::Jpeg,
    })
}

/// The size that fits `width x height` into an `edge x edge` box, keeping the
/// aspect ratio; never larger than the input.
fn fit_within(width: u32, height: u32, edge: u32) -> (u32, u32) {
    if width <= edge && height <= edge {
        return (width, height);
    }
    let (long, short) = if width >= height {
        (width, height)
    } else {
        (height, width)
    };
    let scaled = (u64::from(short) * u64::from(edge) + u64::from(long) / 2) / u64::from(long);
    let scaled = u32::try_from(scaled).unwrap_or(edge).clamp(1, edge);
    if width >= height {
        (edge, scaled)
    } else {
        (scaled, edge)
    }
}

/// Downscaled copy whose longest edge is `edge`, or `None` if `img` already
/// fits.
///
/// Uses the non-generic [`DynamicImage::resize_exact`] so the filter runs as
/// compiled (and optimised) in the `image` crate. Transparent images are
/// filtered in premultiplied alpha so that the colour of invisible pixels does
/// not bleed into the visible edges.
fn downscale(img: &DynamicImage, edge: u32, output: Output) -> Option<DynamicImage> {
    let (width, height) = (img.width(), img.height());
    let (new_width, new_height) = fit_within(width, height, edge);
    if (new_width, new_height) == (width, height) {
        return None;
    }
    match (output, img) {
        (Output::Png, DynamicImage::ImageRgba8(rgba)) => {
            let mut premultiplied = rgba.clone();
            for pixel in premultiplied.pixels_mut() {
                let alpha = u16::from(pixel.0[3]);
                for channel in &mut pixel.0[..3] {
                    // At most 255 * 255 / 255, so the cast cannot truncate.
                    *channel = ((u16::from(*channel) * alpha + 127) / 255) as u8;
                }
            }
            let scaled = DynamicImage::ImageRgba8(premultiplied).resize_exact(
                new_width,
                new_height,
                RESIZE_FILTER,
            );
            let mut scaled = scaled.into_rgba8();
            for pixel in scaled.pixels_mut() {
                let alpha = u16::from(pixel.0[3]);
                for channel in &mut pixel.0[..3] {
                    let straight = (u16::from(*channel) * 255 + alpha / 2).checked_div(alpha);
                    *channel = straight.map_or(0, |value| u8::try_from(value).unwrap_or(u8::MAX));
                }
            }
            Some(DynamicImage::ImageRgba8(scaled))
        }
        _ => Some(img.resize_exact(new_width, new_height, RESIZE_FILTER)),
    }
}

/// Encodes `img` (RGB8 for JPEG, RGBA8 for PNG) without any metadata.
fn encode(img: &DynamicImage, output: Output) -> Result<Vec<u8>, MediaError> {
    let mut out = Vec::new();
    let (width, height) = (img.width(), img.height());
    // `decode` and `downscale` already produce the right pixel layout; the
    // conversions are only a fallback.
    let (converted_rgb, converted_rgba);
    let result = match output {
        Output::Jpeg => {
            let pixels = match img {
                DynamicImage::ImageRgb8(rgb) => rgb.as_raw(),
                other => {
                    converted_rgb = other.to_rgb8();
                    converted_rgb.as_raw()
                }
            };
            JpegEncoder::new_with_quality(&mut out, JPEG_QUALITY).write_image(
                pixels,
                width,
                height,
                ExtendedColorType::Rgb8,
            )
        }
        Output::Png => {
            let pixels = match img {
                DynamicImage::ImageRgba8(rgba) => rgba.as_raw(),
                other => {
                    converted_rgba = other.to_rgba8();
                    converted_rgba.as_raw()
                }
            };
            PngEncoder::new(&mut out).write_image(pixels, width, height, ExtendedColorType::Rgba8)
        }
    };
    result.map_err(|_| MediaError::Corrupt)?;
    Ok(out)
}

/// `10485760` -> `"10 MiB"`, `1536` -> `"1.5 KiB"`, `100` -> `"100 bytes"`.
fn human_size(bytes: usize) -> String {
    const KIB: usize = 1024;
    const MIB: usize = 1024 * 1024;
    const GIB: usize = 1024 * 1024 * 1024;
    for (unit, name) in [(GIB, "GiB"), (MIB, "MiB"), (KIB, "KiB")] {
        if bytes >= unit {
            // One decimal, dropped when it is zero: "10 MiB", "1.5 MiB".
            let text = format!("{:.1}", bytes as f64 / unit as f64);
            return format!("{} {name}", text.trim_end_matches(".0"));
        }
    }
    if bytes == 1 {
        "1 byte".to_owned()
    } else {
        format!("{bytes} bytes")
    }
}

#[cfg(test)]
mod tests;
