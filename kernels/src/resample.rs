//! The two passes of a separable 8-bit RGB resize with fixed-point weights (the caller's filter
//! and rounding, e.g. PIL's bicubic), and the RGBA-to-RGB copy of a browser canvas's pixels.
//!
//! Each output value is `clamp((half + sum over taps k of w[k] * v[first + k]) >> bits, 0, 255)`
//! in `i32`, so any order of the sum gives the same value: the browser build sums the three
//! channels of a pixel (horizontal pass) or four values of a row (vertical pass) in one wasm
//! SIMD vector; natively the loops are written so that the compiler vectorises them.

/// One output position's window: the first input index and one weight per tap.
pub type Window = (usize, Vec<i32>);

/// `(sum >> bits)` clamped into a byte.
#[inline(always)]
fn clip8(sum: i32, bits: u32) -> u8 {
    (sum >> bits).clamp(0, 255) as u8
}

/// The horizontal pass: `src` holds rows of `width` RGB pixels; each row becomes
/// `windows.len()` pixels in `out` (row after row), pixel `x` summing the input pixels of
/// `windows[x]`.
///
/// # Panics
/// When `src` is not whole rows, `out` is not as many rows of `windows.len()` pixels, or a
/// window reaches past a row.
pub fn horizontal(src: &[u8], width: usize, windows: &[Window], bits: u32, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { x86::horizontal(src, width, windows, bits, out) };
    }
    horizontal_with(src, width, windows, bits, out)
}

/// [`horizontal`]'s loops, inlined into each caller's target features.
#[inline(always)]
fn horizontal_with(src: &[u8], width: usize, windows: &[Window], bits: u32, out: &mut [u8]) {
    let (row_in, row_out) = (width * 3, windows.len() * 3);
    assert!(
        row_in > 0 && src.len().is_multiple_of(row_in),
        "resample: whole input rows"
    );
    let rows = src.len() / row_in;
    assert_eq!(out.len(), rows * row_out, "resample: output rows");
    assert!(
        windows.iter().all(|(first, w)| first + w.len() <= width),
        "resample: a window reaches past the row"
    );
    let half = 1i32 << bits.saturating_sub(1);
    for (srow, orow) in src.chunks_exact(row_in).zip(out.chunks_exact_mut(row_out)) {
        for ((first, w), px) in windows.iter().zip(orow.chunks_exact_mut(3)) {
            let sums = pixel_sum(&srow[first * 3..], w, half);
            for (o, s) in px.iter_mut().zip(sums) {
                *o = clip8(s, bits);
            }
        }
    }
}

/// `half + sum over k of w[k] * px[3k + c]` for the three channels `c` of RGB pixels `px`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn pixel_sum(px: &[u8], w: &[i32], half: i32) -> [i32; 3] {
    // Four lanes (the fourth always zero): one vector multiply-add per tap where the compiler
    // vectorises it.
    let mut acc = [half, half, half, 0];
    for (&wk, p) in w.iter().zip(px.chunks_exact(3)) {
        let q = [p[0] as i32, p[1] as i32, p[2] as i32, 0];
        for (a, v) in acc.iter_mut().zip(q) {
            *a += wk * v;
        }
    }
    [acc[0], acc[1], acc[2]]
}

/// [`pixel_sum`] with wasm SIMD: each tap's pixel widened to four `i32` lanes (R, G, B and the
/// next byte, whose lane is dropped), one multiply and one add per tap.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn pixel_sum(px: &[u8], w: &[i32], half: i32) -> [i32; 3] {
    use core::arch::wasm32::*;
    let taps = w.len().min(px.len() / 3);
    // Taps whose 4-byte load stays inside `px` (the last pixel's fourth byte may not exist).
    let wide = if px.len() > taps * 3 {
        taps
    } else {
        taps.saturating_sub(1)
    };
    let mut acc = i32x4_splat(half);
    for (k, &wk) in w.iter().enumerate().take(wide) {
        // SAFETY: 3k + 4 <= 3 * wide + 1 <= px.len().
        let bytes = unsafe { v128_load32_zero(px.as_ptr().add(3 * k) as *const u32) };
        let v = u32x4_extend_low_u16x8(u16x8_extend_low_u8x16(bytes));
        acc = i32x4_add(acc, i32x4_mul(v, i32x4_splat(wk)));
    }
    let mut sums = [
        i32x4_extract_lane::<0>(acc),
        i32x4_extract_lane::<1>(acc),
        i32x4_extract_lane::<2>(acc),
    ];
    for (k, &wk) in w.iter().enumerate().take(taps).skip(wide) {
        for (c, s) in sums.iter_mut().enumerate() {
            *s += wk * px[3 * k + c] as i32;
        }
    }
    sums
}

/// The vertical pass: `src` holds rows of `row` bytes; output row `y` (of `windows.len()`, in
/// `out`) sums the input rows of `windows[y]`, byte by byte.
///
/// # Panics
/// When `src` is not whole rows, `out` is not `windows.len()` rows, or a window reaches past
/// the last row.
pub fn vertical(src: &[u8], row: usize, windows: &[Window], bits: u32, out: &mut [u8]) {
    #[cfg(target_arch = "x86_64")]
    if std::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2 (checked just above).
        return unsafe { x86::vertical(src, row, windows, bits, out) };
    }
    vertical_with(src, row, windows, bits, out)
}

/// [`vertical`]'s loops, inlined into each caller's target features.
#[inline(always)]
fn vertical_with(src: &[u8], row: usize, windows: &[Window], bits: u32, out: &mut [u8]) {
    assert!(
        row > 0 && src.len().is_multiple_of(row),
        "resample: whole input rows"
    );
    let rows = src.len() / row;
    assert_eq!(out.len(), windows.len() * row, "resample: output rows");
    assert!(
        windows.iter().all(|(first, w)| first + w.len() <= rows),
        "resample: a window reaches past the last row"
    );
    let half = 1i32 << bits.saturating_sub(1);
    let mut acc = vec![0i32; row];
    for ((first, w), orow) in windows.iter().zip(out.chunks_exact_mut(row)) {
        acc.fill(half);
        for (&wk, srow) in w.iter().zip(src[first * row..].chunks_exact(row)) {
            add_row(&mut acc, srow, wk);
        }
        for (o, &a) in orow.iter_mut().zip(&acc) {
            *o = clip8(a, bits);
        }
    }
}

/// `acc[i] += w * src[i]`.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn add_row(acc: &mut [i32], src: &[u8], w: i32) {
    for (a, &p) in acc.iter_mut().zip(src) {
        *a += w * p as i32;
    }
}

/// [`add_row`] with wasm SIMD, 16 bytes at a time.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
fn add_row(acc: &mut [i32], src: &[u8], w: i32) {
    use core::arch::wasm32::*;
    let n = acc.len().min(src.len());
    let wv = i32x4_splat(w);
    let mut i = 0;
    // SAFETY: every access is below i + 16 <= n, inside both slices.
    unsafe {
        while i + 16 <= n {
            let bytes = v128_load(src.as_ptr().add(i) as *const v128);
            let (lo, hi) = (
                u16x8_extend_low_u8x16(bytes),
                u16x8_extend_high_u8x16(bytes),
            );
            let parts = [
                u32x4_extend_low_u16x8(lo),
                u32x4_extend_high_u16x8(lo),
                u32x4_extend_low_u16x8(hi),
                u32x4_extend_high_u16x8(hi),
            ];
            for (j, v) in parts.into_iter().enumerate() {
                let a = acc.as_mut_ptr().add(i + 4 * j) as *mut v128;
                v128_store(a, i32x4_add(v128_load(a), i32x4_mul(v, wv)));
            }
            i += 16;
        }
    }
    for (a, &p) in acc[i..n].iter_mut().zip(&src[i..n]) {
        *a += w * p as i32;
    }
}

/// The passes compiled for AVX2 (natively, chosen at run time): the baseline has no 32-bit
/// vector multiply, so its loops built each product from two 64-bit ones.
#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::Window;

    /// [`super::horizontal`] with AVX2.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn horizontal(src: &[u8], width: usize, w: &[Window], bits: u32, out: &mut [u8]) {
        super::horizontal_with(src, width, w, bits, out)
    }

    /// [`super::vertical`] with AVX2.
    ///
    /// # Safety
    /// The CPU must have AVX2.
    #[target_feature(enable = "avx2")]
    pub unsafe fn vertical(src: &[u8], row: usize, w: &[Window], bits: u32, out: &mut [u8]) {
        super::vertical_with(src, row, w, bits, out)
    }
}

/// Appends the RGB bytes of RGBA pixels `rgba` to `out` (alpha dropped).
pub fn rgba_to_rgb(rgba: &[u8], out: &mut Vec<u8>) {
    assert!(rgba.len().is_multiple_of(4), "rgba_to_rgb: whole pixels");
    let start = out.len();
    let n = rgba.len() / 4;
    out.resize(start + n * 3, 0);
    let dst = &mut out[start..];
    let i = rgba_to_rgb_vectors(rgba, dst);
    for (d, s) in dst[3 * i..]
        .chunks_exact_mut(3)
        .zip(rgba[4 * i..].chunks_exact(4))
    {
        d.copy_from_slice(&s[..3]);
    }
}

/// The first pixels of [`rgba_to_rgb`] with wasm SIMD, 4 at a time (16 bytes in, 12 out, as a
/// 16-byte store whose last 4 the next step overwrites; it stops 16 bytes short of the end);
/// returns how many it did.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
fn rgba_to_rgb_vectors(rgba: &[u8], dst: &mut [u8]) -> usize {
    use core::arch::wasm32::*;
    let n = (rgba.len() / 4).min(dst.len() / 3);
    let mut i = 0;
    // SAFETY: reads 4i .. 4i + 16 <= 4n <= rgba.len(); writes 3i .. 3i + 16 <= 3n <=
    // dst.len(), as i + 6 <= n.
    unsafe {
        while i + 6 <= n {
            let v = v128_load(rgba.as_ptr().add(4 * i) as *const v128);
            let rgb = i8x16_shuffle::<0, 1, 2, 4, 5, 6, 8, 9, 10, 12, 13, 14, 0, 0, 0, 0>(v, v);
            v128_store(dst.as_mut_ptr().add(3 * i) as *mut v128, rgb);
            i += 4;
        }
    }
    i
}

/// Natively the plain loop of [`rgba_to_rgb`] does every pixel.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
fn rgba_to_rgb_vectors(_rgba: &[u8], _dst: &mut [u8]) -> usize {
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(n: usize, seed: u32) -> Vec<u8> {
        let mut s = seed;
        (0..n)
            .map(|_| {
                s = s.wrapping_mul(1664525).wrapping_add(1013904223);
                (s >> 24) as u8
            })
            .collect()
    }

    /// Against the sums written out, with weights that overshoot both ends (clipping).
    #[test]
    fn passes_match_the_plain_sums() {
        let bits = 22;
        let windows: Vec<Window> = vec![
            (0, vec![1 << 21, 1 << 21]),
            (1, vec![-(1 << 20), 3 << 21, -(1 << 20)]),
            (4, vec![1 << 22]),
            (3, vec![5 << 20, 0, -(1 << 20)]),
        ];
        let (width, rows) = (6, 5);
        let src = bytes(width * rows * 3, 3);
        let mut out = vec![0u8; rows * windows.len() * 3];
        horizontal(&src, width, &windows, bits, &mut out);
        let half = 1i64 << (bits - 1);
        let clip = |s: i64| (s >> bits).clamp(0, 255) as u8;
        for y in 0..rows {
            for (x, (first, w)) in windows.iter().enumerate() {
                for c in 0..3 {
                    let s: i64 = w
                        .iter()
                        .enumerate()
                        .map(|(k, &wk)| wk as i64 * src[(y * width + first + k) * 3 + c] as i64)
                        .sum();
                    assert_eq!(out[(y * windows.len() + x) * 3 + c], clip(half + s));
                }
            }
        }
        // The vertical pass on rows of 37 bytes (past one 16-byte block, with a tail).
        let (row, rows) = (37, 6);
        let src = bytes(row * rows, 5);
        let mut out = vec![0u8; windows.len() * row];
        vertical(&src, row, &windows, bits, &mut out);
        for (y, (first, w)) in windows.iter().enumerate() {
            for i in 0..row {
                let s: i64 = w
                    .iter()
                    .enumerate()
                    .map(|(k, &wk)| wk as i64 * src[(first + k) * row + i] as i64)
                    .sum();
                assert_eq!(out[y * row + i], clip(half + s));
            }
        }
    }

    #[test]
    fn rgba_to_rgb_drops_alpha() {
        for n in [0, 1, 5, 6, 7, 13] {
            let rgba = bytes(n * 4, n as u32);
            let mut out = vec![9];
            rgba_to_rgb(&rgba, &mut out);
            let want: Vec<u8> = std::iter::once(9)
                .chain(rgba.chunks_exact(4).flat_map(|p| [p[0], p[1], p[2]]))
                .collect();
            assert_eq!(out, want, "{n} pixels");
        }
    }
}
