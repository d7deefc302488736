//! The wasm SIMD tiles of the matrix product (plain SIMD, and fused multiply-add in the
//! relaxed-SIMD build): the shared full `MR x NR` tile and narrow tiles of a last block, with
//! wasm's vectors.

use super::*;

simd_fn! {
    /// One `MR x NR` tile ([`super::tile::tile`] with wasm SIMD's vectors).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub(super) fn tile(
        panel: &[f32],
        block: &[f32],
        depth: usize,
        bias: &[f32; MR],
        clip: Option<(f32, f32)>,
    ) -> [[f32; NR]; MR] {
        // SAFETY: this build has wasm SIMD (and relaxed SIMD where this function has it), and
        // NR = 8 = 2 * 4.
        #[allow(unused_unsafe)]
        unsafe {
            super::tile::tile::<crate::lanes::Wasm>(panel, block, depth, bias, clip)
        }
    }
}

simd_fn! {
    /// A last block of 1 to 4 columns ([`super::tile::narrow`] with wasm SIMD's vectors: one
    /// panel's 4 rows of one column in each).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    pub(super) fn narrow(job: Narrow) {
        // SAFETY: this build has wasm SIMD (and relaxed SIMD where this function has it); a
        // vector holds MR = 4 floats.
        #[allow(unused_unsafe)]
        unsafe {
            super::tile::narrow::<crate::lanes::Wasm>(job)
        }
    }
}
