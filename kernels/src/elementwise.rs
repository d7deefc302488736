//! Element-wise maps done in place, in one pass.

/// Clamps every value into `[lo, hi]` in place: `v.max(lo).min(hi)`, so a NaN becomes `lo`
/// (as burn's CPU `clamp_min` then `clamp_max` give).
pub fn clamp(values: &mut [f32], lo: f32, hi: f32) {
    for v in values {
        *v = v.max(lo).min(hi);
    }
}
