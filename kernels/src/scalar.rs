//! Scalar helpers that both the portable and the SIMD paths use (the floor under
//! `elementwise` and `simd`, so neither imports the other).

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
