//! Glimpse's hand-written CPU kernels, for the spots where burn's CPU backend stays slow in the
//! browser (found by profiling EfficientNet-Lite0 in Chromium), and the image resampling that
//! prepares a photo for it. They work on plain slices and are written so that the compiler
//! vectorises them natively (AVX, NEON), with explicit wasm SIMD where the browser build needs
//! it; this crate is its own package so that the size-optimised wasm build can still compile it
//! at full speed (`[profile.wasm.package.glimpse-kernels]`).

#![warn(missing_docs)]

/// A SIMD kernel function: in the relaxed-SIMD browser build compiled with that feature (so
/// that relaxed SIMD's instructions inline into it; a function with a target feature may not be
/// `inline(always)`), otherwise always inlined (natively into its `target_feature` caller).
#[allow(unused_macros)]
macro_rules! simd_fn {
    ($item:item) => {
        #[cfg_attr(
            all(target_arch = "wasm32", feature = "relaxed-simd"),
            target_feature(enable = "relaxed-simd"),
            inline
        )]
        #[cfg_attr(
            not(all(target_arch = "wasm32", feature = "relaxed-simd")),
            inline(always)
        )]
        $item
    };
}

pub mod depthwise;
pub mod elementwise;
pub mod gemm;
pub mod geometry;
pub mod im2col;
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod lanes;
pub mod layout;
pub mod pool;
pub mod resample;
pub mod scalar;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub mod simd;

/// Whether this x86-64 CPU has AVX2 and FMA (checked once): the kernels' x86 paths need both.
#[cfg(target_arch = "x86_64")]
fn has_avx2_fma() -> bool {
    static HAS: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *HAS.get_or_init(|| {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    })
}

/// `dst.copy_from_slice(src)` for the kernels' short rows and blocks; in the browser as an
/// inline vector loop, because a slice copy of a length unknown at compile time is a `memcpy`
/// call there. (Natively an SSE loop against glibc's memmove made no difference measurable on
/// this machine.)
#[inline(always)]
pub(crate) fn copy(dst: &mut [f32], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy: lengths");
    // SAFETY: dst holds src.len() floats.
    unsafe { copy_raw(dst.as_mut_ptr(), src) }
}

/// [`copy`] into memory that need not be initialised.
#[inline(always)]
pub(crate) fn copy_out(dst: &mut [core::mem::MaybeUninit<f32>], src: &[f32]) {
    assert_eq!(dst.len(), src.len(), "copy: lengths");
    // SAFETY: dst holds src.len() values; writing floats into them is what
    // `MaybeUninit::write` does.
    unsafe { copy_raw(dst.as_mut_ptr().cast::<f32>(), src) }
}

/// Writes `src` at `dst`.
///
/// # Safety
/// `dst .. dst + src.len()` must be writable.
#[inline(always)]
unsafe fn copy_raw(dst: *mut f32, src: &[f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    // SAFETY: as the caller promises.
    return unsafe { crate::simd::copy_raw(dst, src) };
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    // SAFETY: as the caller promises.
    unsafe {
        std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len())
    }
}
