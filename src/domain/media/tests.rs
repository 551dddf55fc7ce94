//! Unit tests of the parent module.
use super::*;
use image::{GenericImageView, Rgb, RgbImage, Rgba, RgbaImage};

fn encode(img: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).expect("encode test image");
    out.into_inner()
}

fn opaque_rgb(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    }))
}

fn with_alpha(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        let alpha = if x < width / 2 { 0 } else { 255 };
        Rgba([200, (y % 256) as u8, 40, alpha])
    }))
}

fn decode_output(bytes: &[u8]) -> (ImageFormat, DynamicImage) {
    let format = image::guess_format(bytes).expect("output has a known format");
    let img = image::load_from_memory_with_format(bytes, format).expect("output decodes");
    (format, img)
}

fn process(bytes: &[u8]) -> Result<ProcessedImage, MediaError> {
    process_image(bytes, &ImageLimits::default())
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A PNG whose header claims `width x height` RGBA pixels but whose
/// image data is a tiny (and insufficient) zlib stream.
fn png_claiming(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    png_chunk(&mut out, b"IHDR", &ihdr);
    // zlib stream of a single zero byte.
    png_chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    png_chunk(&mut out, b"IEND", &[]);
    out
}

#[test]
fn default_limits() {
    let limits = ImageLimits::default();
    assert_eq!(limits.max_bytes, 10 * 1024 * 1024);
    assert_eq!(limits.max_width, 8000);
    assert_eq!(limits.max_height, 8000);
    assert_eq!(limits.max_pixels, 40_000_000);
}

#[test]
fn opaque_png_becomes_jpeg() {
    let out = process(&encode(&opaque_rgb(64, 32), ImageFormat::Png)).unwrap();
    assert_eq!(out.extension, "jpg");
    assert_eq!(out.mime, "image/jpeg");
    assert_eq!((out.width, out.height), (64, 32));
    assert_eq!((out.thumb_width, out.thumb_height), (64, 32));
    let (format, img) = decode_output(&out.full);
    assert_eq!(format, ImageFormat::Jpeg);
    assert_eq!(img.dimensions(), (64, 32));
    assert_eq!(decode_output(&out.thumb).0, ImageFormat::Jpeg);
}

#[test]
fn rgba_png_that_is_fully_opaque_becomes_jpeg() {
    let img = DynamicImage::ImageRgba8(RgbaImage::from_pixel(20, 20, Rgba([1, 2, 3, 255])));
    let out = process(&encode(&img, ImageFormat::Png)).unwrap();
    assert_eq!(out.extension, "jpg");
}

#[test]
fn png_with_alpha_stays_png() {
    let out = process(&encode(&with_alpha(40, 30), ImageFormat::Png)).unwrap();
    assert_eq!(out.extension, "png");
    assert_eq!(out.mime, "image/png");
    assert_eq!((out.width, out.height), (40, 30));
    let (format, img) = decode_output(&out.full);
    assert_eq!(format, ImageFormat::Png);
    let rgba = img.to_rgba8();
    assert_eq!(rgba.get_pixel(0, 0).0[3], 0);
    assert_eq!(rgba.get_pixel(39, 0).0[3], 255);
    assert_eq!(decode_output(&out.thumb).0, ImageFormat::Png);
}

#[test]
fn single_translucent_pixel_keeps_alpha() {
    let mut img = RgbaImage::from_pixel(16, 16, Rgba([9, 9, 9, 255]));
    img.put_pixel(7, 7, Rgba([9, 9, 9, 254]));
    let out = process(&encode(&DynamicImage::ImageRgba8(img), ImageFormat::Png)).unwrap();
    assert_eq!(out.extension, "png");
}

#[test]
fn large_transparent_image_is_downscaled_without_fringes() {
    // Left half invisible with a garish colour, right half opaque grey.
    let img = RgbaImage::from_fn(3000, 1000, |x, _| {
        if x < 1500 {
            Rgba([255, 0, 255, 0])
        } else {
            Rgba([100, 100, 100, 255])
        }
    });
    let out = process(&encode(&DynamicImage::ImageRgba8(img), ImageFormat::Png)).unwrap();
    assert_eq!(out.extension, "png");
    assert_eq!((out.width, out.height), (2048, 683));
    assert_eq!((out.thumb_width, out.thumb_height), (480, 160));
    let full = decode_output(&out.full).1.to_rgba8();
    for pixel in full.pixels().filter(|p| p.0[3] > 32) {
        let [r, g, b, _] = pixel.0;
        assert!(
            r.abs_diff(g) <= 2 && g.abs_diff(b) <= 2,
            "fringe: {pixel:?}"
        );
    }
}

#[test]
fn jpeg_round_trip() {
    let out = process(&encode(&opaque_rgb(120, 80), ImageFormat::Jpeg)).unwrap();
    assert_eq!(out.extension, "jpg");
    assert_eq!((out.width, out.height), (120, 80));
    let (format, img) = decode_output(&out.full);
    assert_eq!(format, ImageFormat::Jpeg);
    assert_eq!(img.dimensions(), (120, 80));
    // Colours survive the round trip approximately.
    let original = opaque_rgb(120, 80).to_rgb8();
    let roundtrip = img.to_rgb8();
    let diff: u64 = original
        .as_raw()
        .iter()
        .zip(roundtrip.as_raw())
        .map(|(a, b)| u64::from(a.abs_diff(*b)))
        .sum();
    assert!(diff / (original.as_raw().len() as u64) < 8);
}

#[test]
fn grayscale_jpeg_is_accepted() {
    let img = DynamicImage::ImageLuma8(image::GrayImage::from_fn(50, 60, |x, _| {
        image::Luma([(x * 4) as u8])
    }));
    let out = process(&encode(&img, ImageFormat::Jpeg)).unwrap();
    assert_eq!(out.extension, "jpg");
    assert_eq!((out.width, out.height), (50, 60));
}

#[test]
fn large_image_is_downscaled_keeping_aspect() {
    let out = process(&encode(&opaque_rgb(3000, 1000), ImageFormat::Png)).unwrap();
    assert_eq!((out.width, out.height), (2048, 683));
    assert_eq!((out.thumb_width, out.thumb_height), (480, 160));
    assert_eq!(decode_output(&out.full).1.dimensions(), (2048, 683));
    assert_eq!(decode_output(&out.thumb).1.dimensions(), (480, 160));
}

#[test]
fn tall_image_is_downscaled_on_its_long_edge() {
    let out = process(&encode(&opaque_rgb(1000, 3000), ImageFormat::Jpeg)).unwrap();
    assert_eq!((out.width, out.height), (683, 2048));
    assert_eq!((out.thumb_width, out.thumb_height), (160, 480));
}

#[test]
fn small_image_is_never_upscaled() {
    let out = process(&encode(&opaque_rgb(10, 7), ImageFormat::Png)).unwrap();
    assert_eq!((out.width, out.height), (10, 7));
    assert_eq!((out.thumb_width, out.thumb_height), (10, 7));
    assert_eq!(out.full, out.thumb);
}

#[test]
fn fit_within_edge_cases() {
    assert_eq!(fit_within(3000, 1000, 2048), (2048, 683));
    assert_eq!(fit_within(2048, 2048, 2048), (2048, 2048));
    assert_eq!(fit_within(8000, 1, 480), (480, 1));
    assert_eq!(fit_within(1, 8000, 480), (1, 480));
    assert_eq!(fit_within(300, 200, 480), (300, 200));
}

#[test]
fn gif_first_frame_is_accepted() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let mut bytes = Vec::new();
    {
        let mut encoder = GifEncoder::new(&mut bytes);
        let red = RgbaImage::from_pixel(30, 20, Rgba([255, 0, 0, 255]));
        let blue = RgbaImage::from_pixel(30, 20, Rgba([0, 0, 255, 255]));
        encoder
            .encode_frames([
                Frame::from_parts(red, 0, 0, Delay::from_numer_denom_ms(100, 1)),
                Frame::from_parts(blue, 0, 0, Delay::from_numer_denom_ms(100, 1)),
            ])
            .unwrap();
    }
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::Gif);
    let out = process(&bytes).unwrap();
    assert_eq!(out.extension, "jpg");
    assert_eq!((out.width, out.height), (30, 20));
    let pixel = decode_output(&out.full).1.to_rgb8().get_pixel(15, 10).0;
    assert!(
        pixel[0] > 200 && pixel[2] < 50,
        "first frame is red: {pixel:?}"
    );
}

#[test]
fn gif_with_transparency_becomes_png() {
    let bytes = encode(&with_alpha(20, 20), ImageFormat::Gif);
    let out = process(&bytes).unwrap();
    assert_eq!(out.extension, "png");
}

#[test]
fn webp_is_accepted() {
    let bytes = encode(&opaque_rgb(33, 17), ImageFormat::WebP);
    assert_eq!(image::guess_format(&bytes).unwrap(), ImageFormat::WebP);
    let out = process(&bytes).unwrap();
    assert_eq!(out.extension, "jpg");
    assert_eq!((out.width, out.height), (33, 17));

    let bytes = encode(&with_alpha(33, 17), ImageFormat::WebP);
    let out = process(&bytes).unwrap();
    assert_eq!(out.extension, "png");
}

#[test]
fn empty_is_rejected() {
    assert_eq!(process(&[]).unwrap_err(), MediaError::Empty);
}

#[test]
fn too_many_bytes_are_rejected_before_decoding() {
    let limits = ImageLimits {
        max_bytes: 16,
        ..ImageLimits::default()
    };
    // Not even a valid image: the length check must come first.
    let err = process_image(&[0u8; 17], &limits).unwrap_err();
    assert_eq!(err, MediaError::TooLarge { max_bytes: 16 });

    let big = vec![0u8; 10 * 1024 * 1024 + 1];
    let err = process(&big).unwrap_err();
    assert_eq!(
        err,
        MediaError::TooLarge {
            max_bytes: 10 * 1024 * 1024
        }
    );
    assert_eq!(err.to_string(), "the file is larger than 10 MiB");
}

#[test]
fn text_is_not_an_image() {
    assert_eq!(process(b"hello").unwrap_err(), MediaError::NotAnImage);
    assert_eq!(
        process(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>").unwrap_err(),
        MediaError::NotAnImage
    );
}

#[test]
fn other_image_formats_are_unsupported() {
    assert_eq!(image::guess_format(b"BM\0\0").unwrap(), ImageFormat::Bmp);
    let mut bmp = b"BM".to_vec();
    bmp.extend_from_slice(&[0; 52]);
    assert_eq!(process(&bmp).unwrap_err(), MediaError::UnsupportedFormat);

    let tiff = b"II*\x00\x08\x00\x00\x00\x00\x00";
    assert_eq!(process(tiff).unwrap_err(), MediaError::UnsupportedFormat);
    let tiff = b"MM\x00*\x00\x00\x00\x08\x00\x00";
    assert_eq!(process(tiff).unwrap_err(), MediaError::UnsupportedFormat);
}

#[test]
fn huge_png_header_is_rejected_without_decoding() {
    let bytes = png_claiming(100_000, 100_000);
    assert_eq!(process(&bytes).unwrap_err(), MediaError::TooManyPixels);
}

#[test]
fn png_within_edges_but_over_pixel_budget_is_rejected() {
    // 7000 x 7000 = 49 Mpx: each edge is fine, the product is not.
    let bytes = png_claiming(7000, 7000);
    assert_eq!(process(&bytes).unwrap_err(), MediaError::TooManyPixels);

    let limits = ImageLimits {
        max_pixels: 100,
        ..ImageLimits::default()
    };
    let bytes = encode(&opaque_rgb(11, 10), ImageFormat::Png);
    assert_eq!(
        process_image(&bytes, &limits).unwrap_err(),
        MediaError::TooManyPixels
    );
    let limits = ImageLimits {
        max_width: 10,
        ..ImageLimits::default()
    };
    assert_eq!(
        process_image(&bytes, &limits).unwrap_err(),
        MediaError::TooManyPixels
    );
}

#[test]
fn decompression_bomb_with_lying_data_fails_cleanly() {
    // Header is within limits, data is missing: must not succeed.
    let bytes = png_claiming(4000, 4000);
    assert_eq!(process(&bytes).unwrap_err(), MediaError::Corrupt);
}

#[test]
fn truncated_png_is_corrupt() {
    let bytes = encode(&opaque_rgb(64, 64), ImageFormat::Png);
    for cut in [12, 40, bytes.len() / 2, bytes.len() - 20] {
        assert_eq!(
            process(&bytes[..cut]).unwrap_err(),
            MediaError::Corrupt,
            "cut at {cut}"
        );
    }
}

#[test]
fn garbage_after_magic_is_corrupt() {
    let mut jpeg = vec![0xFF, 0xD8, 0xFF];
    jpeg.extend_from_slice(&[0x42; 100]);
    assert_eq!(process(&jpeg).unwrap_err(), MediaError::Corrupt);

    let mut gif = b"GIF89a".to_vec();
    gif.extend_from_slice(&[0xFF; 20]);
    assert_eq!(process(&gif).unwrap_err(), MediaError::Corrupt);

    let webp = b"RIFF\x10\x00\x00\x00WEBPVP8 \x04\x00\x00\x00abcd";
    assert_eq!(process(webp).unwrap_err(), MediaError::Corrupt);
}

/// APP1 segment with an Exif TIFF block (big endian) holding an
/// orientation tag and a marker string that must not survive.
fn exif_app1(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&2u16.to_be_bytes()); // two entries
                                                 // Orientation, SHORT, count 1, value.
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    // ImageDescription, ASCII, count 16, offset 38.
    tiff.extend_from_slice(&0x010Eu16.to_be_bytes());
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend_from_slice(&16u32.to_be_bytes());
    tiff.extend_from_slice(&38u32.to_be_bytes());
    tiff.extend_from_slice(&0u32.to_be_bytes()); // no next IFD
    assert_eq!(tiff.len(), 38);
    tiff.extend_from_slice(b"SECRET-GPS-HOME\0");

    let mut payload = b"Exif\0\0".to_vec();
    payload.extend_from_slice(&tiff);
    let mut segment = vec![0xFF, 0xE1];
    segment.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
    segment.extend_from_slice(&payload);
    segment
}

#[test]
fn exif_is_stripped_and_orientation_applied() {
    let jpeg = encode(&opaque_rgb(40, 20), ImageFormat::Jpeg);
    assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&exif_app1(6)); // rotate 90 degrees clockwise
    with_exif.extend_from_slice(&jpeg[2..]);
    assert!(contains(&with_exif, b"Exif"));

    let out = process(&with_exif).unwrap();
    assert_eq!(out.extension, "jpg");
    assert_eq!((out.width, out.height), (20, 40));
    for bytes in [&out.full, &out.thumb] {
        assert!(!contains(bytes, b"Exif"));
        assert!(!contains(bytes, b"SECRET"));
    }
    assert_eq!(decode_output(&out.full).1.dimensions(), (20, 40));
}

#[test]
fn trailing_data_is_dropped() {
    let mut png = encode(&with_alpha(8, 8), ImageFormat::Png);
    png.extend_from_slice(b"<?php system($_GET['c']); ?>");
    let out = process(&png).unwrap();
    assert!(!contains(&out.full, b"php"));
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn messages() {
    assert_eq!(MediaError::Empty.to_string(), "the file is empty");
    assert_eq!(
        MediaError::TooLarge {
            max_bytes: 10 * 1024 * 1024
        }
        .to_string(),
        "the file is larger than 10 MiB"
    );
    assert_eq!(
        MediaError::TooLarge {
            max_bytes: 1536 * 1024
        }
        .to_string(),
        "the file is larger than 1.5 MiB"
    );
    assert_eq!(
        MediaError::TooLarge { max_bytes: 512 }.to_string(),
        "the file is larger than 512 bytes"
    );
    assert_eq!(
        MediaError::NotAnImage.to_string(),
        "the file is not an image"
    );
    assert_eq!(
        MediaError::UnsupportedFormat.to_string(),
        "only PNG, JPEG, GIF and WebP images are accepted"
    );
    assert_eq!(
        MediaError::TooManyPixels.to_string(),
        "the image has too many pixels"
    );
    assert_eq!(
        MediaError::Corrupt.to_string(),
        "the image could not be decoded"
    );
    assert_eq!(human_size(2 * 1024 * 1024 * 1024), "2 GiB");
    assert_eq!(human_size(1024), "1 KiB");
    assert_eq!(human_size(1), "1 byte");
}
