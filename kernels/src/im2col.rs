//! Unfolding an image for a convolution as one matrix product ("im2col").

use crate::geometry::Geometry;
use core::mem::MaybeUninit;

/// Unfolds one image `x` `[channels, h, w]` for the convolution `g` (its `batch` is ignored)
/// into `cols` `[channels * kh * kw, oh * ow]`: row `(c, ky, kx)` holds, for every output
/// pixel, the input value tap `(ky, kx)` of channel `c` reads (zero in the padding). A
/// convolution with weights `[out, channels * kh * kw]` is then one matrix product.
///
/// Each row is filled output row by output row: the columns in the padding are zeroed and the
/// rest copied (one slice copy at stride 1), with no per-value index arithmetic. Every value of
/// the first `channels * kh * kw * oh * ow` is written, so `cols` need not be initialised.
///
/// # Panics
/// When `x` or `cols` is shorter than the geometry says.
pub fn im2col(x: &[f32], g: &Geometry, cols: &mut [MaybeUninit<f32>]) {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let plane = g.output[0] * g.output[1];
    assert!(x.len() >= g.channels * h * w, "im2col: input too short");
    assert!(
        cols.len() >= g.channels * kh * kw * plane,
        "im2col: output too short"
    );
    let rows = g.channels * kh * kw;
    let cols = &mut cols[..rows * plane];
    if rows * plane < MIN_SPLIT || plane == 0 {
        for (r, row) in cols.chunks_exact_mut(plane.max(1)).enumerate() {
            unfold_row(x, g, r, row);
        }
        return;
    }
    // Rows over the kernels' threads (the stem of a 224-pixel network unfolds 27 rows of 12,544).
    crate::pool::for_each_chunk_mut(cols, plane, &|r, row| unfold_row(x, g, r, row));
}

/// Values below which [`im2col`] stays on one thread.
const MIN_SPLIT: usize = 1 << 16;

/// Row `r` = `(c, ky, kx)` of [`im2col`]'s output.
fn unfold_row(x: &[f32], g: &Geometry, r: usize, row: &mut [MaybeUninit<f32>]) {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let ow = g.output[1];
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let [pt, pl] = g.pad_before;
    let (c, ky, kx) = (r / (kh * kw), (r / kw) % kh, r % kw);
    let src = &x[c * h * w..(c + 1) * h * w];
    // Input column of output column ox: ox * sw + kx * dw - pl; the ox inside [0, w).
    let shift = kx * dw;
    let first = pl.saturating_sub(shift).div_ceil(sw).min(ow);
    let end = if w + pl > shift {
        (w + pl - shift).div_ceil(sw).min(ow)
    } else {
        0
    }
    .max(first);
    for (oy, dst) in row.chunks_exact_mut(ow).enumerate() {
        let iy = (oy * sh + ky * dh).wrapping_sub(pt);
        let zero = MaybeUninit::new(0.0);
        if iy >= h || first == end {
            dst.fill(zero);
            continue;
        }
        dst[..first].fill(zero);
        dst[end..].fill(zero);
        let line = &src[iy * w..(iy + 1) * w];
        let start = first * sw + shift - pl;
        if sw == 1 {
            dst[first..end].write_copy_of_slice(&line[start..start + (end - first)]);
        } else {
            for (d, &v) in dst[first..end]
                .iter_mut()
                .zip(line[start..].iter().step_by(sw))
            {
                d.write(v);
            }
        }
    }
}
