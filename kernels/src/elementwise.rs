//! Element-wise maps done in place, in one pass.

pub use crate::scalar::clamp_value;

/// Clamps every value into `[lo, hi]` in place (see [`clamp_value`]).
pub fn clamp(values: &mut [f32], lo: f32, hi: f32) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return crate::simd::clamp_slice(values, lo, hi);
    #[allow(unreachable_code)]
    for v in values {
        *v = clamp_value(*v, lo, hi);
    }
}

/// `v * scale + offset` in place for `values` `[n, channels, plane]`, with `scale` and `offset`
/// each one value or one per channel (`channels` long): Keras' `Rescaling`, as its two steps
/// (the product rounded, then the sum; no fused multiply-add), in one pass.
///
/// # Panics
/// When `plane` is 0 or a list's length is neither 1 nor `channels`.
pub fn affine(values: &mut [f32], channels: usize, plane: usize, scale: &[f32], offset: &[f32]) {
    let pick = |list: &[f32], c: usize| {
        assert!(
            list.len() == 1 || list.len() == channels,
            "affine: one value or one per channel"
        );
        list[if list.len() == 1 { 0 } else { c }]
    };
    assert!(plane > 0, "affine: empty planes");
    for (i, p) in values.chunks_mut(plane).enumerate() {
        let c = i % channels.max(1);
        let (s, o) = (pick(scale, c), pick(offset, c));
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        crate::simd::affine_slice(p, s, o);
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        for v in p {
            *v = *v * s + o;
        }
    }
}
