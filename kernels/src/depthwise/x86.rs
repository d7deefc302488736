//! The AVX2 + FMA sum of a depthwise convolution's taps (chosen at run time): the shared
//! register-blocked sum with AVX's vectors, 64 outputs at a time in eight registers.

use super::taps::sum_taps as sum;
use crate::lanes::Avx;

/// The register-blocked sum of [`super::accumulate`] ([`super::taps::sum_taps`]) with AVX2 +
/// FMA.
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
    // SAFETY: the CPU has AVX2 and FMA, as the caller promises.
    unsafe {
        match clip {
            Some((lo, hi)) => sum::<Avx, true>(acc, ph, offsets, weights, bias, [lo, hi]),
            None => sum::<Avx, false>(acc, ph, offsets, weights, bias, [0.0, 0.0]),
        }
    }
}
