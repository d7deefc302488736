//! Element-wise maps done in place, in one pass.

/// `v` clamped into `[lo, hi]`, written as comparisons and selects so that it compiles to one
/// vector max and min (x86 `maxps`/`minps`, wasm `f32x4.pmax`/`pmin`); `f32::max`/`min` would
/// add NaN handling that keeps the loop from vectorising on wasm (a scalar `fmaxf` call per
/// value). A NaN becomes `lo`, as burn's CPU `clamp_min` then `clamp_max` give.
#[inline(always)]
pub fn clamp_value(v: f32, lo: f32, hi: f32) -> f32 {
    let v = if v > lo { v } else { lo };
    if v < hi {
        v
    } else {
        hi
    }
}

/// Clamps every value into `[lo, hi]` in place (see [`clamp_value`]).
pub fn clamp(values: &mut [f32], lo: f32, hi: f32) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return crate::simd::clamp_slice(values, lo, hi);
    #[allow(unreachable_code)]
    for v in values {
        *v = clamp_value(*v, lo, hi);
    }
}
