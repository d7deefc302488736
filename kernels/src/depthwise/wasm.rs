//! The wasm SIMD sum of a depthwise convolution's taps (fused multiply-adds in the
//! relaxed-SIMD build): the shared register-blocked sum with wasm's vectors, 32 outputs at a
//! time in eight registers.

/// The register-blocked sum of [`super::taps::sum_taps`] with explicit wasm SIMD (see
/// [`crate::simd`] for why explicit).
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
    use super::taps::sum_taps;
    use crate::lanes::Wasm;
    // SAFETY: this build has wasm SIMD; in the relaxed-SIMD build, it is only loaded where the
    // browser validates relaxed SIMD (pkg/engine.js).
    #[allow(unused_unsafe)]
    unsafe {
        match clip {
            Some((lo, hi)) => sum_taps::<Wasm, true>(acc, ph, offsets, weights, bias, [lo, hi]),
            None => sum_taps::<Wasm, false>(acc, ph, offsets, weights, bias, [0.0, 0.0]),
        }
    }
}
