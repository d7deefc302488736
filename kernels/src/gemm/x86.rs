//! The AVX2 + FMA tile: `MR x NR` = 4 x 16 sums in 8 registers.
//! (The x86-64 half of the matrix product; `mod.rs` has the driver and the packing.)

use super::{Narrow, MR, NR};
use std::arch::x86_64::*;

/// A last block of 1 to 4 columns ([`Narrow`]) with the rows in the vector lanes instead of
/// the columns: each register holds 8 rows (two panels) of one column, so no lane is spent
/// on a missing column. `Q` registers of rows times `C` columns are summed at once (8 or
/// more independent chains).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn narrow(a: Narrow) {
    // SAFETY: as the caller promises.
    unsafe {
        match a.cols {
            1 => narrow_sums::<8, 1>(a),
            2 => narrow_sums::<4, 2>(a),
            _ => narrow_sums::<2, 4>(a),
        }
    }
}

/// [`narrow`] with `Q` registers of 8 rows and `C` columns (`cols <= C`; the block is
/// zero-padded past `cols`, and only `cols` are stored).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn narrow_sums<const Q: usize, const C: usize>(job: Narrow) {
    let (count, rows) = job.shape(C);
    let Narrow {
        panels,
        block,
        depth,
        cols,
        bias,
        clip,
        out,
        n,
    } = job;
    let (wp, xp, bp) = (panels.as_ptr(), block.as_ptr(), bias.as_ptr());
    let (lo, hi) = clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
    let (l, h) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
    let mut first = 0;
    while first < count {
        // Register q holds panels first + 2q (low lanes) and first + 2q + 1 (high lanes);
        // the last panel stands in for missing ones (computed, not stored).
        let panel = |i: usize| (first + i).min(count - 1);
        let mut acc = [[_mm256_setzero_ps(); C]; Q];
        // SAFETY (all reads): panel(i) < count, so its bias ends within count * MR and its
        // weights within count * MR * depth = panels.len(); k < depth and c < C <= NR, so
        // block reads stay within depth * NR. All asserted above.
        unsafe {
            for (q, sums) in acc.iter_mut().enumerate() {
                let b =
                    _mm256_loadu2_m128(bp.add(panel(2 * q + 1) * MR), bp.add(panel(2 * q) * MR));
                *sums = [b; C];
            }
            let base: [[*const f32; 2]; Q] =
                core::array::from_fn(|q| [2 * q, 2 * q + 1].map(|i| wp.add(panel(i) * MR * depth)));
            for k in 0..depth {
                let x: [__m256; C] =
                    core::array::from_fn(|c| _mm256_broadcast_ss(&*xp.add(k * NR + c)));
                for (sums, [low, high]) in acc.iter_mut().zip(&base) {
                    let w = _mm256_loadu2_m128(high.add(k * MR), low.add(k * MR));
                    for (s, &xv) in sums.iter_mut().zip(&x) {
                        *s = _mm256_fmadd_ps(w, xv, *s);
                    }
                }
            }
        }
        for (q, sums) in acc.iter().enumerate() {
            for (c, &s) in sums.iter().enumerate().take(cols) {
                // max then min: a NaN becomes lo, as clamp_value.
                let s = if clip.is_some() {
                    _mm256_min_ps(_mm256_max_ps(s, l), h)
                } else {
                    s
                };
                let mut v = [0.0f32; 8];
                // SAFETY: v holds 8 floats.
                unsafe { _mm256_storeu_ps(v.as_mut_ptr(), s) };
                for (half, p) in [first + 2 * q, first + 2 * q + 1].into_iter().enumerate() {
                    for (r, &value) in v[half * MR..half * MR + MR].iter().enumerate() {
                        let row = p * MR + r;
                        if p < count && row < rows {
                            out[row * n + c].write(value);
                        }
                    }
                }
            }
        }
        first += 2 * Q;
    }
}

/// One tile (see the portable [`super::tile`]).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
#[inline]
pub unsafe fn tile(
    panel: &[f32],
    block: &[f32],
    depth: usize,
    bias: &[f32; MR],
    clip: Option<(f32, f32)>,
) -> [[f32; NR]; MR] {
    assert!(panel.len() >= depth * MR && block.len() >= depth * NR);
    let mut acc = [[_mm256_setzero_ps(); 2]; MR];
    for (a, &b) in acc.iter_mut().zip(bias) {
        *a = [_mm256_set1_ps(b); 2];
    }
    let (wp, xp) = (panel.as_ptr(), block.as_ptr());
    // SAFETY: k < depth, so the reads stay inside panel (depth * MR) and block
    // (depth * NR), both checked above.
    unsafe {
        for k in 0..depth {
            let x0 = _mm256_loadu_ps(xp.add(k * NR));
            let x1 = _mm256_loadu_ps(xp.add(k * NR + 8));
            for (r, a) in acc.iter_mut().enumerate() {
                let wr = _mm256_broadcast_ss(&*wp.add(k * MR + r));
                a[0] = _mm256_fmadd_ps(wr, x0, a[0]);
                a[1] = _mm256_fmadd_ps(wr, x1, a[1]);
            }
        }
    }
    if let Some((lo, hi)) = clip {
        // max(v, lo) then min(.., hi): a NaN becomes lo, as clamp_value.
        let (l, h) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
        for a in &mut acc {
            *a = a.map(|v| _mm256_min_ps(_mm256_max_ps(v, l), h));
        }
    }
    let mut sums = [[0.0f32; NR]; MR];
    for (s, a) in sums.iter_mut().zip(&acc) {
        // SAFETY: s holds NR = 16 floats.
        unsafe {
            _mm256_storeu_ps(s.as_mut_ptr(), a[0]);
            _mm256_storeu_ps(s.as_mut_ptr().add(8), a[1]);
        }
    }
    sums
}
