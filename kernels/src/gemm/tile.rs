//! The `MR x NR` register tile of the matrix product, written once over [`Lanes`]: two vectors
//! of sums per row (`NR = 2 * Lanes::N`), so `2 * MR` = 8 independent chains of multiply-adds.
//! Also the narrow tiles of a last block of 1 to 4 columns. The wasm and x86 halves call them
//! with their vector type.

use super::{Narrow, MR, NR};
use crate::lanes::Lanes;

simd_fn! {
    /// `clip(bias + panel * block)` with `panel` `[depth][MR]` and `block` `[depth][NR]`,
    /// clamped into `clip` when given.
    ///
    /// # Safety
    /// The CPU has `V`'s instructions, and `V::N * 2 == NR`.
    pub(super) unsafe fn tile<V: Lanes>(
        panel: &[f32],
        block: &[f32],
        depth: usize,
        bias: &[f32; MR],
        clip: Option<(f32, f32)>,
    ) -> [[f32; NR]; MR] {
        assert!(V::N * 2 == NR, "tile: two vectors per row");
        assert!(panel.len() >= depth * MR && block.len() >= depth * NR);
        // SAFETY: k < depth, so the reads stay inside panel (depth * MR) and block (depth * NR),
        // both checked above; each row of sums holds NR = 2 * V::N floats. The CPU has V's
        // instructions, as the caller promises.
        unsafe {
            let mut acc = [[V::splat(0.0); 2]; MR];
            for (a, &b) in acc.iter_mut().zip(bias) {
                *a = [V::splat(b); 2];
            }
            let (wp, xp) = (panel.as_ptr(), block.as_ptr());
            for k in 0..depth {
                let x0 = V::load(xp.add(k * NR));
                let x1 = V::load(xp.add(k * NR + V::N));
                let w = wp.add(k * MR);
                for (r, a) in acc.iter_mut().enumerate() {
                    let wr = V::load_splat(w.add(r));
                    a[0] = V::madd(wr, x0, a[0]);
                    a[1] = V::madd(wr, x1, a[1]);
                }
            }
            if let Some((lo, hi)) = clip {
                let (l, h) = (V::splat(lo), V::splat(hi));
                for a in &mut acc {
                    *a = [a[0].clamp(l, h), a[1].clamp(l, h)];
                }
            }
            let mut sums = [[0.0f32; NR]; MR];
            for (s, a) in sums.iter_mut().zip(&acc) {
                a[0].store(s.as_mut_ptr());
                a[1].store(s.as_mut_ptr().add(V::N));
            }
            sums
        }
    }
}

simd_fn! {
    /// A last block of 1 to 4 columns ([`Narrow`]) with the rows in the vector lanes instead of
    /// the columns: each vector holds `V::N / MR` panels' rows of one column (wasm one panel,
    /// AVX two), so no lane is spent on a missing column.
    ///
    /// # Safety
    /// The CPU has `V`'s instructions, and `V::N` is `MR` or `2 * MR`.
    pub(super) unsafe fn narrow<V: Lanes>(job: Narrow) {
        // SAFETY: as the caller promises.
        unsafe {
            match job.cols {
                1 => narrow_sums::<V, 8, 1>(job),
                2 => narrow_sums::<V, 4, 2>(job),
                _ => narrow_sums::<V, 2, 4>(job),
            }
        }
    }
}

simd_fn! {
    /// [`narrow`] with `Q` vectors of rows and `C` columns at once (`cols <= C`; the block is
    /// zero-padded past `cols`, and only `cols` are stored): `Q x C` independent chains.
    ///
    /// # Safety
    /// As [`narrow`].
    unsafe fn narrow_sums<V: Lanes, const Q: usize, const C: usize>(job: Narrow) {
        // Panels per vector.
        let per = V::N / MR;
        assert!(per * MR == V::N && (1..=2).contains(&per), "narrow: 1 or 2 panels per vector");
        let (count, rows) = job.shape(C);
        let Narrow {
            panels,
            block,
            depth,
            cols,
            bias,
            clip,
            out,
            col,
        } = job;
        let (wp, xp, bp) = (panels.as_ptr(), block.as_ptr(), bias.as_ptr());
        let (lo, hi) = clip.unwrap_or((f32::NEG_INFINITY, f32::INFINITY));
        let mut first = 0;
        while first < count {
            // Vector q holds panels first + per * q + h (h < per); the last panel stands in for
            // missing ones (computed, not stored).
            let panel = |q: usize, h: usize| (first + per * q + h.min(per - 1)).min(count - 1);
            // SAFETY (all reads): panel(..) < count, so its bias ends within count * MR and its
            // weights within count * MR * depth = panels.len(); k < depth and c < C <= NR, so
            // block reads stay within depth * NR. All asserted by shape(). The CPU has V's
            // instructions, as the caller promises.
            unsafe {
                let (l, h) = (V::splat(lo), V::splat(hi));
                let mut acc = [[V::splat(0.0); C]; Q];
                for (q, sums) in acc.iter_mut().enumerate() {
                    let b = V::load_quads([0, 1].map(|h| bp.add(panel(q, h) * MR)));
                    *sums = [b; C];
                }
                let base: [[*const f32; 2]; Q] = core::array::from_fn(|q| {
                    [0, 1].map(|h| wp.add(panel(q, h) * MR * depth))
                });
                for k in 0..depth {
                    let x: [V; C] = core::array::from_fn(|c| V::load_splat(xp.add(k * NR + c)));
                    for (sums, [low, high]) in acc.iter_mut().zip(&base) {
                        let w = V::load_quads([low.add(k * MR), high.add(k * MR)]);
                        for (s, &xv) in sums.iter_mut().zip(&x) {
                            *s = V::madd(w, xv, *s);
                        }
                    }
                }
                for (q, sums) in acc.iter().enumerate() {
                    for (c, &s) in sums.iter().enumerate().take(cols) {
                        let s = if clip.is_some() { s.clamp(l, h) } else { s };
                        let mut v = [0.0f32; 2 * MR];
                        s.store(v.as_mut_ptr());
                        for half in 0..per {
                            let p = first + per * q + half;
                            for (r, &value) in v[half * MR..half * MR + MR].iter().enumerate() {
                                let row = p * MR + r;
                                if p < count && row < rows {
                                    // This task alone writes these columns of these rows
                                    // (Narrow's contract), as `row` requires.
                                    out.row(row, col + c, 1)[0].write(value);
                                }
                            }
                        }
                    }
                }
            }
            first += per * Q;
        }
    }
}
