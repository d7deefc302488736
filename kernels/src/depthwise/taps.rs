//! The register-blocked sum of a depthwise convolution's taps, written once over [`Lanes`]:
//! eight vectors of outputs held in registers across every tap (eight independent chains of
//! multiply-adds, enough to cover the multiply-add's latency; with two, the loop waited on
//! it), then clamped and stored once, instead of a load and a store of `acc` per tap.

use crate::lanes::Lanes;

simd_fn! {
    /// `acc[i] = bias + sum over taps k of weights[k] * ph[offsets[k] + i]`, clamped into
    /// `[lo, hi]` when `CLIP`: blocks of eight vectors, the rest of the vectors in one block,
    /// then any last values one by one.
    ///
    /// # Safety
    /// The CPU has `V`'s instructions.
    pub(super) unsafe fn sum_taps<V: Lanes, const CLIP: bool>(
        acc: &mut [f32],
        ph: &[f32],
        offsets: &[usize],
        weights: &[f32],
        bias: f32,
        [lo, hi]: [f32; 2],
    ) {
        let wide = acc.len();
        assert!(
            offsets.iter().all(|&o| o + wide <= ph.len()) && weights.len() >= offsets.len(),
            "depthwise: a tap reads past its phase"
        );
        let args = (offsets, weights, [bias, lo, hi]);
        let mut i = 0;
        // SAFETY: each block reads at offsets[k] + i + j with i + j < wide, inside ph (asserted
        // above), and writes at i + j < wide = acc.len(); the CPU has V's instructions, as the
        // caller promises.
        unsafe {
            while i + 8 * V::N <= wide {
                sum_block::<V, 8, CLIP>(acc, ph, i, args);
                i += 8 * V::N;
            }
            // The rest in one block, its vectors summed side by side (small planes: 1152 x 7 x 7
            // with 5x5 taps is 80 wide, 16 after the first 64; one chain at a time waited on
            // each multiply-add).
            let rest = (wide - i) / V::N;
            match rest {
                1 => sum_block::<V, 1, CLIP>(acc, ph, i, args),
                2 => sum_block::<V, 2, CLIP>(acc, ph, i, args),
                3 => sum_block::<V, 3, CLIP>(acc, ph, i, args),
                4 => sum_block::<V, 4, CLIP>(acc, ph, i, args),
                5 => sum_block::<V, 5, CLIP>(acc, ph, i, args),
                6 => sum_block::<V, 6, CLIP>(acc, ph, i, args),
                7 => sum_block::<V, 7, CLIP>(acc, ph, i, args),
                _ => {}
            }
            i += V::N * rest;
        }
        for (j, o) in acc.iter_mut().enumerate().skip(i) {
            let mut v = bias;
            for (&off, &w) in offsets.iter().zip(weights) {
                v = V::madd_one(w, ph[off + j], v);
            }
            *o = if CLIP {
                crate::scalar::clamp_value(v, lo, hi)
            } else {
                v
            };
        }
    }
}

/// The taps' offsets and weights, and `[bias, lo, hi]`.
type Taps<'a> = (&'a [usize], &'a [f32], [f32; 3]);

simd_fn! {
    /// Outputs `i .. i + B * V::N` of [`sum_taps`]: `B` vectors of sums held in registers
    /// across every tap.
    ///
    /// # Safety
    /// The CPU has `V`'s instructions; `acc[i .. i + B * V::N]` and `ph[offsets[k] + i ..
    /// + B * V::N]` for every tap `k` are in bounds.
    unsafe fn sum_block<V: Lanes, const B: usize, const CLIP: bool>(
        acc: &mut [f32],
        ph: &[f32],
        i: usize,
        (offsets, weights, [bias, lo, hi]): Taps,
    ) {
        // SAFETY (loads and stores): in bounds, as the caller promises.
        unsafe {
            let src = ph.as_ptr().add(i);
            let mut v = [V::splat(bias); B];
            for (&off, &w) in offsets.iter().zip(weights) {
                let w = V::splat(w);
                let p = src.add(off);
                for (j, s) in v.iter_mut().enumerate() {
                    *s = V::madd(w, V::load(p.add(V::N * j)), *s);
                }
            }
            let (l, h) = (V::splat(lo), V::splat(hi));
            let dst = acc.as_mut_ptr().add(i);
            for (j, s) in v.iter().enumerate() {
                let s = if CLIP { s.clamp(l, h) } else { *s };
                s.store(dst.add(V::N * j));
            }
        }
    }
}
