//! Images as Keras sees them: decoded to RGB and resized like
//! `keras.utils.load_img(path, target_size=(h, w))` (PIL nearest neighbour), values 0..255 as
//! `img_to_array` gives them, laid out HWC.

use crate::error::{Error, Result};
use image::{DynamicImage, ImageReader, Limits};
use std::io::Cursor;

/// Largest width or height Glimpse decodes (a guard against decompression bombs).
pub const MAX_SIDE: u32 = 16_384;

/// Decodes image bytes (PNG or JPEG; grey, RGBA and 16-bit are converted) to RGB8.
pub fn decode(bytes: &[u8], source: &str) -> Result<image::RgbImage> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::input(source, format!("cannot read image: {e}")))?;
    if reader.format().is_none() {
        return Err(Error::input(
            source,
            "not an image Glimpse can decode (expected PNG or JPEG)",
        ));
    }
    let (w, h) = reader
        .into_dimensions()
        .map_err(|e| Error::input(source, format!("image does not decode: {e}")))?;
    if w == 0 || h == 0 || w > MAX_SIDE || h > MAX_SIDE {
        return Err(Error::input(
            source,
            format!(
                "image is {w}x{h}; Glimpse decodes images from 1x1 up to {MAX_SIDE}x{MAX_SIDE}"
            ),
        ));
    }
    let mut reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| Error::input(source, format!("cannot read image: {e}")))?;
    let mut limits = Limits::default();
    limits.max_alloc = Some(1 << 30);
    reader.limits(limits);
    let img: DynamicImage = reader
        .decode()
        .map_err(|e| Error::input(source, format!("image does not decode: {e}")))?;
    Ok(img.to_rgb8())
}

/// Resizes with PIL's NEAREST rule (source pixel `floor((x + 0.5) * src / dst)`).
pub fn resize_nearest(img: &image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    let (sw, sh) = img.dimensions();
    if (sw, sh) == (width, height) {
        return img.clone();
    }
    let sx = sw as f64 / width as f64;
    let sy = sh as f64 / height as f64;
    image::RgbImage::from_fn(width, height, |x, y| {
        let px = (((x as f64 + 0.5) * sx).floor() as u32).min(sw - 1);
        let py = (((y as f64 + 0.5) * sy).floor() as u32).min(sh - 1);
        *img.get_pixel(px, py)
    })
}

/// HWC float values 0..255.
pub fn to_array(img: &image::RgbImage) -> Vec<f32> {
    img.as_raw().iter().map(|&b| b as f32).collect()
}

/// Loads an image for a model input of `(height, width, 3)`, like Keras' `load_img` +
/// `img_to_array`.
pub fn load_for_input(bytes: &[u8], source: &str, height: usize, width: usize) -> Result<Vec<f32>> {
    let img = decode(bytes, source)?;
    Ok(to_array(&resize_nearest(&img, width as u32, height as u32)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_matches_pil_rule() {
        let img = image::RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let r = resize_nearest(&img, 2, 1);
        // PIL: x' = floor((x + 0.5) * 2) -> 1, 3; y' = floor(0.5 * 2) = 1
        assert_eq!(r.get_pixel(0, 0).0, [1, 1, 0]);
        assert_eq!(r.get_pixel(1, 0).0, [3, 1, 0]);
    }

    #[test]
    fn rejects_non_images() {
        assert!(decode(b"definitely not an image", "x").is_err());
    }
}
