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
    if reader.format() == Some(image::ImageFormat::Jpeg) {
        jpeg_complete(bytes).map_err(|m| Error::input(source, m))?;
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

/// Checks that a JPEG's markers run from start-of-image to end-of-image: the decoder fills a
/// truncated file's missing rows with grey and reports no error, and a photo cut off in
/// transfer must not be trained on as if it were whole. Bytes after the end marker (some
/// cameras append data) are allowed.
fn jpeg_complete(b: &[u8]) -> std::result::Result<(), String> {
    let truncated = || Err("truncated JPEG: the file ends before its end-of-image marker".into());
    if !b.starts_with(&[0xFF, 0xD8]) {
        return Err("not a JPEG (no start-of-image marker)".into());
    }
    let mut i = 2;
    loop {
        // The next marker: 0xFF, then any fill bytes 0xFF, then the code.
        while i < b.len() && b[i] != 0xFF {
            i += 1; // stray bytes between segments: decoders skip them
        }
        while i < b.len() && b[i] == 0xFF {
            i += 1;
        }
        let Some(&code) = b.get(i) else {
            return truncated();
        };
        i += 1;
        match code {
            0xD9 => return Ok(()),
            // Markers without a length.
            0x01 | 0xD0..=0xD7 => {}
            _ => {
                let Some(len) = b
                    .get(i..i + 2)
                    .map(|l| u16::from_be_bytes([l[0], l[1]]) as usize)
                else {
                    return truncated();
                };
                if len < 2 || i + len > b.len() {
                    return truncated();
                }
                i += len;
                if code == 0xDA {
                    // Entropy-coded data: runs to the next marker that is not a stuffed
                    // 0xFF 0x00 or a restart marker.
                    loop {
                        while i < b.len() && b[i] != 0xFF {
                            i += 1;
                        }
                        match b.get(i + 1) {
                            None => return truncated(),
                            Some(0x00 | 0xD0..=0xD7 | 0xFF) => i += 1,
                            Some(_) => break,
                        }
                    }
                }
            }
        }
    }
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

/// The central square crop whose side is `fraction` of the shorter side (the offset rounds as
/// `((W - side + 1) // 2, (H - side + 1) // 2)`).
pub fn center_crop(img: &image::RgbImage, fraction: f64) -> image::RgbImage {
    let (w, h) = img.dimensions();
    let (x, y, side) = crop_square(w, h, fraction);
    // Row by row (a copy of the view pixel by pixel took ~5% of `glimpse classify`).
    let (row, side_bytes) = (w as usize * 3, side as usize * 3);
    let mut out = Vec::with_capacity(side_bytes * side as usize);
    for r in img.as_raw().chunks_exact(row).skip(y).take(side as usize) {
        out.extend_from_slice(&r[x * 3..x * 3 + side_bytes]);
    }
    image::RgbImage::from_raw(side, side, out).expect("side x side RGB values")
}

/// Left, top and side of the central square crop of a `w x h` image (see [`center_crop`]).
fn crop_square(w: u32, h: u32, fraction: f64) -> (usize, usize, u32) {
    let side = ((fraction * w.min(h) as f64) as u32).clamp(1, w.min(h));
    let x = (w - side).div_ceil(2) as usize;
    let y = (h - side).div_ceil(2) as usize;
    (x, y, side)
}

fn bicubic(x: f64) -> f64 {
    const A: f64 = -0.5;
    let x = x.abs();
    if x < 1.0 {
        ((A + 2.0) * x - (A + 3.0)) * x * x + 1.0
    } else if x < 2.0 {
        (((x - 5.0) * x + 8.0) * x - 4.0) * A
    } else {
        0.0
    }
}

/// Fraction bits of PIL's fixed-point filter weights for 8-bit images (`PRECISION_BITS`: 32
/// minus 8 for the pixel, minus 2 for the filter's overshoot), so the sums fit an `i32`.
const PRECISION_BITS: u32 = 32 - 8 - 2;

/// Per output position: first input index and the weights in PIL's fixed point (its resampling
/// rule: the filter widens by the scale when shrinking, so shrinking averages instead of
/// aliasing; the weights are normalised in `f64`, then rounded half away from zero to
/// [`PRECISION_BITS`] fraction bits, each step as Pillow's `precompute_coeffs` and
/// `normalize_coeffs_8bpc` do it, so the results are PIL's to the last value).
fn coefficients(input: u32, output: u32) -> Vec<(usize, Vec<i32>)> {
    let scale = input as f64 / output as f64;
    let filter_scale = scale.max(1.0);
    let support = 2.0 * filter_scale;
    let inverse = 1.0 / filter_scale;
    let one = (1u32 << PRECISION_BITS) as f64;
    (0..output)
        .map(|o| {
            let center = (o as f64 + 0.5) * scale;
            let lo = ((center - support + 0.5) as i64).max(0) as usize;
            let hi = ((center + support + 0.5) as i64).min(input as i64) as usize;
            let mut w: Vec<f64> = (lo..hi)
                .map(|i| bicubic((i as f64 - center + 0.5) * inverse))
                .collect();
            let sum: f64 = w.iter().sum();
            if sum != 0.0 {
                w.iter_mut().for_each(|v| *v /= sum);
            }
            let fixed = w
                .iter()
                .map(|&k| {
                    if k < 0.0 {
                        (-0.5 + k * one) as i32
                    } else {
                        (0.5 + k * one) as i32
                    }
                })
                .collect();
            (lo, fixed)
        })
        .collect()
}

/// Bicubic resize exactly as PIL's `Image.resize(..., BICUBIC)` does it on 8-bit images:
/// separable, horizontal pass first, each pass a fixed-point sum rounded and clamped to 8 bits
/// (integer arithmetic, [`glimpse_kernels::resample`]: SIMD in the browser, AVX2 natively where
/// the CPU has it).
pub fn resize_bicubic(img: &image::RgbImage, width: u32, height: u32) -> image::RgbImage {
    use glimpse_kernels::resample;
    let (sw, sh) = img.dimensions();
    let cx = coefficients(sw, width);
    let row = width as usize * 3;
    let mut tmp = vec![0u8; row * sh as usize];
    resample::horizontal(img.as_raw(), sw as usize, &cx, PRECISION_BITS, &mut tmp);
    let cy = coefficients(sh, height);
    let mut out = vec![0u8; row * height as usize];
    resample::vertical(&tmp, row, &cy, PRECISION_BITS, &mut out);
    image::RgbImage::from_raw(width, height, out).expect("sizes match")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The row-by-row crop gives the image crate's view crop, offsets rounding as documented.
    #[test]
    fn center_crop_matches_a_view_copy() {
        for (w, h, fraction) in [
            (500, 375, 0.875),
            (375, 500, 0.875),
            (7, 7, 1.0),
            (9, 4, 0.5),
        ] {
            let img = image::RgbImage::from_fn(w, h, |x, y| {
                image::Rgb([x as u8, y as u8, (x * 7 + y * 3) as u8])
            });
            let side = ((fraction * w.min(h) as f64) as u32).max(1);
            let (x, y) = ((w - side).div_ceil(2), (h - side).div_ceil(2));
            let want = image::imageops::crop_imm(&img, x, y, side, side).to_image();
            assert_eq!(center_crop(&img, fraction), want, "{w}x{h} at {fraction}");
        }
    }

    #[test]
    fn nearest_matches_pil_rule() {
        let img = image::RgbImage::from_fn(4, 2, |x, y| image::Rgb([x as u8, y as u8, 0]));
        let r = resize_nearest(&img, 2, 1);
        // PIL: x' = floor((x + 0.5) * 2) -> 1, 3; y' = floor(0.5 * 2) = 1
        assert_eq!(r.get_pixel(0, 0).0, [1, 1, 0]);
        assert_eq!(r.get_pixel(1, 0).0, [3, 1, 0]);
    }

    /// The source images of tests/fixtures/resize/make_pil_bicubic.py (its generator).
    fn generated(w: u32, h: u32, seed: u32) -> image::RgbImage {
        let mut s = seed;
        image::RgbImage::from_fn(w, h, |_, _| {
            let mut px = [0u8; 3];
            for p in &mut px {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                *p = (s >> 24) as u8;
            }
            image::Rgb(px)
        })
    }

    /// Value for value PIL's `Image.resize(..., BICUBIC)` (Pillow 13; the images in
    /// tests/fixtures/resize, made by the script there): shrinking, enlarging, one of each,
    /// and 224 x 224, on random pixels that overshoot 0..255.
    #[test]
    fn bicubic_is_pils_exactly() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/resize");
        // (source size, generator seed, target sizes)
        type Case = ((u32, u32), u32, &'static [(u32, u32)]);
        let cases: [Case; 2] = [
            ((53, 31), 7, &[(17, 9), (80, 47), (20, 60)]),
            ((301, 211), 11, &[(224, 224), (100, 70)]),
        ];
        for ((sw, sh), seed, targets) in cases {
            let img = generated(sw, sh, seed);
            for &(w, h) in targets {
                let file = dir.join(format!("pil_bicubic_{sw}x{sh}_to_{w}x{h}.png"));
                let want = image::open(&file).expect("fixture").to_rgb8();
                let got = resize_bicubic(&img, w, h);
                let off = got
                    .as_raw()
                    .iter()
                    .zip(want.as_raw())
                    .filter(|(a, b)| a != b)
                    .count();
                assert_eq!(
                    off, 0,
                    "{sw}x{sh} -> {w}x{h}: {off} values differ from PIL's"
                );
            }
        }
    }

    /// The crop taken from the RGBA bytes is the crop of the whole converted image.
    #[test]
    fn crop_from_rgba_matches_crop_of_the_image() {
        for (w, h, fraction) in [(53, 31, 0.5), (31, 53, 0.875), (7, 7, 1.0), (9, 4, 0.3)] {
            let rgba: Vec<u8> = (0..w * h * 4).map(|i| (i * 7 % 251) as u8).collect();
            let whole = from_rgba(&rgba, w, h, "x").expect("valid");
            let want = center_crop(&whole, fraction);
            let got = from_rgba_cropped(&rgba, w, h, fraction, "x").expect("valid");
            assert_eq!(got, want, "{w}x{h} at {fraction}");
            // What the browser glue does: only crop_box's part, then no crop.
            let (x, y, cw, ch) = crop_box(w, h, fraction).expect("valid");
            let part: Vec<u8> = rgba
                .chunks_exact(w as usize * 4)
                .skip(y as usize)
                .take(ch as usize)
                .flat_map(|r| r[x as usize * 4..(x + cw) as usize * 4].to_vec())
                .collect();
            let from_part = from_rgba(&part, cw, ch, "x").expect("valid");
            assert_eq!(from_part, want, "{w}x{h} at {fraction}, from the box");
        }
        assert!(from_rgba_cropped(&[0; 16], 2, 2, 0.0, "x").is_err());
        assert!(crop_box(2, 2, 1.5).is_err());
    }

    #[test]
    fn rejects_non_images() {
        assert!(decode(b"definitely not an image", "x").is_err());
    }

    #[test]
    fn truncated_jpegs_are_errors_and_trailing_bytes_are_not() {
        let img = generated(64, 48, 7);
        let mut jpeg = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut jpeg, 90)
            .encode_image(&img)
            .unwrap();
        let whole = decode(&jpeg, "whole.jpg").unwrap();
        assert_eq!(whole.dimensions(), (64, 48));
        for cut in [jpeg.len() - 2, jpeg.len() * 3 / 5, 200] {
            let e = decode(&jpeg[..cut], "cut.jpg").unwrap_err();
            assert!(
                e.to_string().contains("truncated JPEG"),
                "cut at {cut}: {e}"
            );
        }
        let mut extra = jpeg.clone();
        extra.extend_from_slice(&[0xFF, 0xDA, 1, 2, 3, 0, 0, 0]);
        assert_eq!(decode(&extra, "extra.jpg").unwrap(), whole);
    }

    #[test]
    fn preparation_sizes_are_bounded() {
        let p = Prepare {
            height: 100_000,
            width: 100_000,
            crop_fraction: 1.0,
            resize: "nearest".into(),
            scale: 1.0,
        };
        let e = p.apply(&generated(4, 4, 1)).unwrap_err();
        assert!(e.to_string().contains("100000 x 100000"), "{e}");
    }
}

/// An RGB image from the RGBA bytes a browser canvas gives (`ImageData.data`); alpha is
/// dropped, as PIL's `convert("RGB")` does.
pub fn from_rgba(rgba: &[u8], width: u32, height: u32, source: &str) -> Result<image::RgbImage> {
    from_rgba_cropped(rgba, width, height, 1.0, source)
}

/// [`center_crop`]`(`[`from_rgba`]`(..), fraction)` (`fraction` in (0, 1]), converting only the
/// crop's pixels: a phone photo's full RGBA copy was a fifth of preparing it in the browser.
pub fn from_rgba_cropped(
    rgba: &[u8],
    width: u32,
    height: u32,
    fraction: f64,
    source: &str,
) -> Result<image::RgbImage> {
    let expected = width as usize * height as usize * 4;
    if width == 0 || height == 0 || rgba.len() != expected {
        return Err(Error::Shape {
            context: format!("image pixels of {source}"),
            expected: format!("{width} x {height} x 4 RGBA bytes ({expected}), at least 1 x 1"),
            found: format!("{} bytes", rgba.len()),
        });
    }
    if width.max(height) > MAX_SIDE {
        return Err(Error::input(
            source,
            format!("{width} x {height} pixels exceeds the limit of {MAX_SIDE} a side"),
        ));
    }
    let (x, y, w, h) = crop_box(width, height, fraction)?;
    let (x, y) = (x as usize, y as usize);
    let row = width as usize * 4;
    let mut rgb = Vec::with_capacity(w as usize * h as usize * 3);
    for r in rgba.chunks_exact(row).skip(y).take(h as usize) {
        glimpse_kernels::resample::rgba_to_rgb(&r[x * 4..(x + w as usize) * 4], &mut rgb);
    }
    Ok(image::RgbImage::from_raw(w, h, rgb).expect("size checked"))
}

/// Left, top, width and height of the part of a `width x height` image that a central crop
/// of `fraction` (in (0, 1]) keeps: the central square of [`center_crop`], or the whole image
/// at 1. The browser glue draws only this part of a photo (a phone photo is 48 MB as RGBA).
pub fn crop_box(width: u32, height: u32, fraction: f64) -> Result<(u32, u32, u32, u32)> {
    check_crop_fraction(fraction)?;
    if fraction < 1.0 && width > 0 && height > 0 {
        let (x, y, side) = crop_square(width, height, fraction);
        return Ok((x as u32, y as u32, side, side));
    }
    Ok((0, 0, width, height))
}

/// A central crop's fraction of the shorter side must be in (0, 1].
fn check_crop_fraction(fraction: f64) -> Result<()> {
    if fraction > 0.0 && fraction <= 1.0 {
        return Ok(());
    }
    Err(Error::input(
        "preprocessing",
        format!("crop fraction must be in (0, 1], found {fraction}"),
    ))
}

/// How an image becomes a network input.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Prepare {
    /// Input height and width.
    pub height: usize,
    /// Input width.
    pub width: usize,
    /// Central square crop of this fraction of the shorter side first (1: no crop).
    pub crop_fraction: f64,
    /// `"bicubic"` (PIL's rule, antialiased) or `"nearest"` (Keras' `load_img` default).
    pub resize: String,
    /// Multiplies every 0..255 value (e.g. 1/255 for models trained on 0..1 inputs).
    pub scale: f32,
}

impl Prepare {
    /// The network input (HWC floats) for `img`.
    pub fn apply(&self, img: &image::RgbImage) -> Result<Vec<f32>> {
        check_crop_fraction(self.crop_fraction)?;
        let side = MAX_SIDE as usize;
        if self.height == 0 || self.width == 0 || self.height > side || self.width > side {
            return Err(Error::input(
                "preprocessing",
                format!(
                    "input size {} x {} is outside 1 x 1 to {side} x {side}",
                    self.height, self.width
                ),
            ));
        }
        let cropped;
        let src = if self.crop_fraction < 1.0 {
            cropped = center_crop(img, self.crop_fraction);
            &cropped
        } else {
            img
        };
        let (w, h) = (self.width as u32, self.height as u32);
        let resized = match self.resize.as_str() {
            "bicubic" => resize_bicubic(src, w, h),
            "nearest" => resize_nearest(src, w, h),
            other => {
                return Err(Error::input(
                    "preprocessing",
                    format!("unknown resize filter '{other}'; expected 'bicubic' or 'nearest'"),
                ))
            }
        };
        Ok(resized
            .as_raw()
            .iter()
            .map(|&b| b as f32 * self.scale)
            .collect())
    }
}
