//! The wasm SIMD sum of a depthwise convolution's taps (fused multiply-adds in the
//! relaxed-SIMD build).

/// The same sum with explicit wasm SIMD (see [`crate::simd`] for why explicit): 32 outputs at
/// a time held in eight registers across every tap, then clamped (when `clip` is given) and
/// stored once, instead of a load and a store of `acc` per tap; fused multiply-adds in the
/// relaxed-SIMD build.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[inline(always)]
pub(super) fn accumulate(
    acc: &mut [f32],
    ph: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
    clip: Option<(f32, f32)>,
) {
    // SAFETY: in the relaxed-SIMD build, only loaded where the browser validates it
    // (pkg/index.js); otherwise a plain call.
    #[allow(unused_unsafe)]
    unsafe {
        match clip {
            Some((lo, hi)) => sum_taps::<true>(acc, ph, offsets, weights, bias, lo, hi),
            None => sum_taps::<false>(acc, ph, offsets, weights, bias, 0.0, 0.0),
        }
    }
}

simd_fn! {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    fn sum_taps<const CLIP: bool>(
        acc: &mut [f32],
        ph: &[f32],
        offsets: &[usize],
        weights: &[f32],
        bias: f32,
        lo: f32,
        hi: f32,
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
            while i + 32 <= wide {
                sum_block::<8, CLIP>(acc, ph, i, offsets, weights, [bias, lo, hi]);
                i += 32;
            }
            // `wide` is a multiple of 16: the rest in one block of four chains, not four blocks
            // of one.
            if i + 16 <= wide {
                sum_block::<4, CLIP>(acc, ph, i, offsets, weights, [bias, lo, hi]);
                i += 16;
            }
            while i + 4 <= wide {
                sum_block::<1, CLIP>(acc, ph, i, offsets, weights, [bias, lo, hi]);
                i += 4;
            }
        }
        for (j, o) in acc.iter_mut().enumerate().skip(i) {
            let mut v = bias;
            for (&off, &w) in offsets.iter().zip(weights) {
                v += w * ph[off + j];
            }
            *o = if CLIP {
                crate::scalar::clamp_value(v, lo, hi)
            } else {
                v
            };
        }
    }
}

simd_fn! {
    /// Outputs `i .. i + 4 * V` of [`sum_taps`]: `V` vectors of sums held in registers across
    /// every tap, so that `V` independent chains of multiply-adds are in flight (with two, each
    /// add waited for the one before: the loop ran at the adder's latency, not its throughput).
    ///
    /// # Safety
    /// `acc[i .. i + 4V]` and `ph[offsets[k] + i .. + 4V]` for every tap `k` must be in bounds.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe fn sum_block<const V: usize, const CLIP: bool>(
        acc: &mut [f32],
        ph: &[f32],
        i: usize,
        offsets: &[usize],
        weights: &[f32],
        [bias, lo, hi]: [f32; 3],
    ) {
        use crate::simd::{clamp, load, madd, store};
        use core::arch::wasm32::*;
        let src = ph.as_ptr().add(i);
        let mut v = [f32x4_splat(bias); V];
        for (&off, &w) in offsets.iter().zip(weights) {
            let w = f32x4_splat(w);
            let p = src.add(off);
            for (j, s) in v.iter_mut().enumerate() {
                *s = madd(w, load(p.add(4 * j)), *s);
            }
        }
        let (l, h) = (f32x4_splat(lo), f32x4_splat(hi));
        let dst = acc.as_mut_ptr().add(i);
        for (j, s) in v.iter().enumerate() {
            store(dst.add(4 * j), if CLIP { clamp(*s, l, h) } else { *s });
        }
    }
}
