//! The wasm SIMD tiles of the matrix product (plain SIMD, and fused multiply-add in the
//! relaxed-SIMD build): the full `MR x NR` tile and the narrow one for a last block.

use super::*;

simd_fn! {
    /// One `MR x NR` tile: `clip(bias + panel * block)` with `panel` `[depth][MR]` and `block`
    /// `[depth][NR]`, clamped into `clip` when given.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub(super) fn tile(
        panel: &[f32],
        block: &[f32],
        depth: usize,
        bias: &[f32; MR],
        clip: Option<(f32, f32)>,
    ) -> [[f32; NR]; MR] {
        use crate::simd::{clamp, load, madd, store};
        use core::arch::wasm32::*;
        assert!(panel.len() >= depth * MR && block.len() >= depth * NR);
        let mut acc = [[f32x4_splat(0.0); 2]; MR];
        for (r, a) in acc.iter_mut().enumerate() {
            *a = [f32x4_splat(bias[r]); 2];
        }
        let (wp, xp) = (panel.as_ptr(), block.as_ptr());
        // SAFETY: k < depth, so the reads stay inside panel (depth * MR) and block (depth * NR),
        // both checked above.
        unsafe {
            for k in 0..depth {
                let x0 = load(xp.add(k * NR));
                let x1 = load(xp.add(k * NR + 4));
                let w = wp.add(k * MR);
                for (r, a) in acc.iter_mut().enumerate() {
                    let wr = v128_load32_splat(w.add(r) as *const u32);
                    a[0] = madd(wr, x0, a[0]);
                    a[1] = madd(wr, x1, a[1]);
                }
            }
        }
        if let Some((lo, hi)) = clip {
            let (l, h) = (f32x4_splat(lo), f32x4_splat(hi));
            for a in &mut acc {
                *a = [clamp(a[0], l, h), clamp(a[1], l, h)];
            }
        }
        let mut sums = [[0.0f32; NR]; MR];
        for (s, a) in sums.iter_mut().zip(&acc) {
            // SAFETY: s holds NR = 8 floats.
            unsafe {
                store(s.as_mut_ptr(), a[0]);
                store(s.as_mut_ptr().add(4), a[1]);
            }
        }
        sums
    }
}

simd_fn! {
    /// A last block of 1 to 4 columns ([`Narrow`]) with the rows in the vector lanes: each
    /// vector holds one panel's 4 rows of one column, so no lane is spent on a missing column.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub(super) fn narrow(job: Narrow) {
        match job.cols {
            1 => narrow_sums::<8, 1>(job),
            2 => narrow_sums::<4, 2>(job),
            _ => narrow_sums::<2, 4>(job),
        }
    }
}

simd_fn! {
    /// [`narrow`] with `Q` panels and `C` columns at once (`cols <= C`; the block is
    /// zero-padded past `cols`, and only `cols` are stored): `Q x C` independent chains.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    fn narrow_sums<const Q: usize, const C: usize>(job: Narrow) {
        use crate::simd::{clamp, load, madd, store};
        use core::arch::wasm32::*;
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
        let (wp, xp) = (panels.as_ptr(), block.as_ptr());
        let (lo, hi) = clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        let (l, h) = (f32x4_splat(lo), f32x4_splat(hi));
        let mut first = 0;
        while first < count {
            // Vector q holds panel first + q; the last panel stands in for missing ones
            // (computed, not stored).
            let panel = |q: usize| (first + q).min(count - 1);
            let mut acc = [[f32x4_splat(0.0); C]; Q];
            // SAFETY (all reads): panel(q) < count, so its bias ends within count * MR and its
            // weights within count * MR * depth = panels.len(); k < depth and c < C <= NR, so
            // block reads stay within depth * NR. All asserted above.
            unsafe {
                for (q, sums) in acc.iter_mut().enumerate() {
                    *sums = [load(bias.as_ptr().add(panel(q) * MR)); C];
                }
                let base: [*const f32; Q] =
                    core::array::from_fn(|q| wp.add(panel(q) * MR * depth));
                for k in 0..depth {
                    let x: [v128; C] = core::array::from_fn(|c| {
                        v128_load32_splat(xp.add(k * NR + c) as *const u32)
                    });
                    for (sums, w) in acc.iter_mut().zip(&base) {
                        let w = load(w.add(k * MR));
                        for (s, &xv) in sums.iter_mut().zip(&x) {
                            *s = madd(w, xv, *s);
                        }
                    }
                }
            }
            for (q, sums) in acc.iter().enumerate() {
                let p = first + q;
                for (c, &s) in sums.iter().enumerate().take(cols) {
                    let s = if clip.is_some() { clamp(s, l, h) } else { s };
                    let mut v = [0.0f32; MR];
                    // SAFETY: v holds 4 floats.
                    unsafe { store(v.as_mut_ptr(), s) };
                    for (r, &value) in v.iter().enumerate() {
                        let row = p * MR + r;
                        if p < count && row < rows {
                            out[row * n + c].write(value);
                        }
                    }
                }
            }
            first += Q;
        }
    }
}
