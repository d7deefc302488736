//! The portable tile of the matrix product (no wasm SIMD): plain loops the compiler
//! vectorises natively.

use super::*;

/// One `MR x NR` tile (see the wasm version), in plain loops the compiler vectorises natively.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
pub(super) fn tile(
    panel: &[f32],
    block: &[f32],
    depth: usize,
    bias: &[f32; MR],
    clip: Option<(f32, f32)>,
) -> [[f32; NR]; MR] {
    let mut acc = [[0.0f32; NR]; MR];
    for (a, &b) in acc.iter_mut().zip(bias) {
        *a = [b; NR];
    }
    for (w, x) in panel
        .chunks_exact(MR)
        .zip(block.chunks_exact(NR))
        .take(depth)
    {
        for (a, &wr) in acc.iter_mut().zip(w) {
            for (s, &xv) in a.iter_mut().zip(x) {
                *s += wr * xv;
            }
        }
    }
    if let Some((lo, hi)) = clip {
        for s in acc.iter_mut().flatten() {
            *s = crate::scalar::clamp_value(*s, lo, hi);
        }
    }
    acc
}
