//! The AVX2 + FMA tiles: the shared `MR x NR` = 4 x 16 sums in 8 registers, and the narrow
//! tiles of a last block, with AVX's vectors. (The x86-64 half of the matrix product; `mod.rs`
//! has the driver and the packing.)

use super::{Narrow, MR, NR};

/// A last block of 1 to 4 columns ([`super::tile::narrow`] with AVX's vectors: two panels'
/// rows of one column in each).
///
/// # Safety
/// The CPU must have AVX2 and FMA.
#[target_feature(enable = "avx2,fma")]
pub unsafe fn narrow(job: Narrow) {
    // SAFETY: the CPU has AVX2 and FMA, as the caller promises; a vector holds 2 * MR floats.
    unsafe { super::tile::narrow::<crate::lanes::Avx>(job) }
}

/// One tile ([`super::tile::tile`] with AVX's vectors: 4 x 16 sums in 8 registers).
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
    // SAFETY: the CPU has AVX2 and FMA, as the caller promises; NR = 16 = 2 * 8.
    unsafe { super::tile::tile::<crate::lanes::Avx>(panel, block, depth, bias, clip) }
}
