//! The AVX2 + FMA sum of a depthwise convolution's taps (chosen at run time): 64 outputs at a
//! time in eight registers across every tap.

use std::arch::x86_64::*;

/// The register-blocked sum of [`super::accumulate`] with AVX2 + FMA: 64 outputs at a
/// time in eight registers (eight independent chains of multiply-adds, enough to cover the
/// fused multiply-add's latency; with two, the loop waited on it), then the rest of the
/// vectors in one block, then any last values one by one.
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn sum_taps(
    acc: &mut [f32],
    ph: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
    clip: Option<(f32, f32)>,
) {
    let wide = acc.len();
    assert!(
        offsets.iter().all(|&o| o + wide <= ph.len()) && weights.len() >= offsets.len(),
        "depthwise: a tap reads past its phase"
    );
    let mut i = 0;
    // SAFETY: each block reads at offsets[k] + i + j with i + j < wide, inside ph (asserted
    // above), and writes at i + j < wide = acc.len().
    unsafe {
        while i + 64 <= wide {
            sum_block::<8>(acc, ph, i, offsets, weights, bias, clip);
            i += 64;
        }
        // The rest in one block, its vectors summed side by side (small planes: 1152 x 7
        // x 7 with 5x5 taps is 80 wide, 16 after the first 64; one chain at a time waited
        // on each multiply-add).
        let args = (&mut *acc, ph, i, offsets, weights, bias, clip);
        let rest = (wide - i) / 8;
        match rest {
            1 => sum_rest::<1>(args),
            2 => sum_rest::<2>(args),
            3 => sum_rest::<3>(args),
            4 => sum_rest::<4>(args),
            5 => sum_rest::<5>(args),
            6 => sum_rest::<6>(args),
            7 => sum_rest::<7>(args),
            _ => {}
        }
        i += 8 * rest;
    }
    for j in i..wide {
        let mut v = bias;
        for (&off, &w) in offsets.iter().zip(weights) {
            v = w.mul_add(ph[off + j], v);
        }
        acc[j] = match clip {
            Some((lo, hi)) => crate::scalar::clamp_value(v, lo, hi),
            None => v,
        };
    }
}

/// The arguments of [`sum_block`].
type Args<'a> = (
    &'a mut [f32],
    &'a [f32],
    usize,
    &'a [usize],
    &'a [f32],
    f32,
    Option<(f32, f32)>,
);

/// [`sum_block`] with its arguments in one tuple.
///
/// # Safety
/// As [`sum_block`].
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn sum_rest<const V: usize>((acc, ph, i, offsets, weights, bias, clip): Args) {
    // SAFETY: as the caller promises.
    unsafe { sum_block::<V>(acc, ph, i, offsets, weights, bias, clip) }
}

/// Outputs `i .. i + 8 * V` of [`sum_taps`], `V` vectors of sums held in registers across
/// every tap.
///
/// # Safety
/// The CPU must have AVX2 and FMA; `acc[i .. i + 8V]` and `ph[offsets[k] + i .. + 8V]` for
/// every tap `k` must be in bounds.
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn sum_block<const V: usize>(
    acc: &mut [f32],
    ph: &[f32],
    i: usize,
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
    clip: Option<(f32, f32)>,
) {
    // SAFETY (loads and stores): in bounds, as the caller promises.
    unsafe {
        let src = ph.as_ptr().add(i);
        let mut v = [_mm256_set1_ps(bias); V];
        for (&off, &w) in offsets.iter().zip(weights) {
            let w = _mm256_set1_ps(w);
            let p = src.add(off);
            for (j, s) in v.iter_mut().enumerate() {
                *s = _mm256_fmadd_ps(w, _mm256_loadu_ps(p.add(8 * j)), *s);
            }
        }
        if let Some((lo, hi)) = clip {
            // max(v, lo) then min(.., hi): a NaN becomes lo, as clamp_value.
            let (l, h) = (_mm256_set1_ps(lo), _mm256_set1_ps(hi));
            for s in &mut v {
                *s = _mm256_min_ps(_mm256_max_ps(*s, l), h);
            }
        }
        let dst = acc.as_mut_ptr().add(i);
        for (j, s) in v.iter().enumerate() {
            _mm256_storeu_ps(dst.add(8 * j), *s);
        }
    }
}
