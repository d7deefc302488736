//! One vector of floats, whatever the architecture: the operations the register-blocked
//! kernels (the matrix product's tile, the depthwise sum of taps) are written with once, for
//! wasm SIMD (4 lanes; fused in the relaxed-SIMD build) and AVX2 + FMA (8 lanes).
//!
//! Every method is `unsafe` and inlined into its caller, which must run where the vector's
//! instructions exist: a `simd_fn!` in the browser build, a `#[target_feature(enable =
//! "avx2,fma")]` function natively (after `has_avx2_fma`).

/// A vector of [`Lanes::N`] floats.
pub(crate) trait Lanes: Copy {
    /// How many floats it holds.
    const N: usize;

    /// Every lane `v`.
    ///
    /// # Safety
    /// The CPU has the vector's instructions.
    unsafe fn splat(v: f32) -> Self;

    /// Every lane `*p` (one load that fills the vector).
    ///
    /// # Safety
    /// As [`Lanes::splat`], and `p` is readable.
    unsafe fn load_splat(p: *const f32) -> Self;

    /// `N / 4` runs of 4 floats: lanes `4h .. 4h + 4` from `p[h]` (wasm: `p[0]`; AVX: `p[0]`
    /// low, `p[1]` high).
    ///
    /// # Safety
    /// As [`Lanes::splat`], and `p[h] .. p[h] + 4` is readable for `h < N / 4`.
    unsafe fn load_quads(p: [*const f32; 2]) -> Self;

    /// `N` floats from `p` (no alignment needed).
    ///
    /// # Safety
    /// As [`Lanes::splat`], and `p .. p + N` is readable.
    unsafe fn load(p: *const f32) -> Self;

    /// Stores the `N` floats at `p` (no alignment needed).
    ///
    /// # Safety
    /// As [`Lanes::splat`], and `p .. p + N` is writable.
    unsafe fn store(self, p: *mut f32);

    /// `a * b + c` lane by lane, rounded as the architecture's kernels round it.
    ///
    /// # Safety
    /// As [`Lanes::splat`].
    unsafe fn madd(a: Self, b: Self, c: Self) -> Self;

    /// Each lane clamped into `[lo, hi]` as [`crate::scalar::clamp_value`] (a NaN becomes `lo`).
    ///
    /// # Safety
    /// As [`Lanes::splat`].
    unsafe fn clamp(self, lo: Self, hi: Self) -> Self;

    /// `a * b + c` for one float, rounded as [`Lanes::madd`] rounds each lane (for the values
    /// after the last whole vector).
    fn madd_one(a: f32, b: f32, c: f32) -> f32;
}

/// wasm SIMD's 128-bit vector.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
#[derive(Clone, Copy)]
pub(crate) struct Wasm(core::arch::wasm32::v128);

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
impl Lanes for Wasm {
    const N: usize = 4;

    // Only the multiply-add needs relaxed SIMD; the rest inline everywhere (a hinted inline
    // with a target feature stayed a call in the size-tuned link: 4 % slower batches).
    #[inline(always)]
    unsafe fn splat(v: f32) -> Self {
        Wasm(core::arch::wasm32::f32x4_splat(v))
    }

    #[inline(always)]
    unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: as the caller promises.
        Wasm(unsafe { core::arch::wasm32::v128_load32_splat(p as *const u32) })
    }

    #[inline(always)]
    unsafe fn load_quads(p: [*const f32; 2]) -> Self {
        // SAFETY: as the caller promises.
        unsafe { Self::load(p[0]) }
    }

    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: as the caller promises.
        Wasm(unsafe { crate::simd::load(p) })
    }

    #[inline(always)]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: as the caller promises.
        unsafe { crate::simd::store(p, self.0) }
    }

    simd_fn! {
        unsafe fn madd(a: Self, b: Self, c: Self) -> Self {
            #[cfg(feature = "relaxed-simd")]
            return Wasm(core::arch::wasm32::f32x4_relaxed_madd(a.0, b.0, c.0));
            #[allow(unreachable_code)]
            Wasm(core::arch::wasm32::f32x4_add(
                core::arch::wasm32::f32x4_mul(a.0, b.0),
                c.0,
            ))
        }
    }

    #[inline(always)]
    unsafe fn clamp(self, lo: Self, hi: Self) -> Self {
        Wasm(crate::simd::clamp(self.0, lo.0, hi.0))
    }

    #[inline(always)]
    fn madd_one(a: f32, b: f32, c: f32) -> f32 {
        // The plain build multiplies then adds; the relaxed one may fuse each lane, and these
        // last values stay unfused (within relaxed SIMD's own latitude).
        a * b + c
    }
}

/// AVX's 256-bit vector (used with FMA).
#[cfg(target_arch = "x86_64")]
#[derive(Clone, Copy)]
pub(crate) struct Avx(core::arch::x86_64::__m256);

#[cfg(target_arch = "x86_64")]
impl Lanes for Avx {
    const N: usize = 8;

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn splat(v: f32) -> Self {
        Avx(core::arch::x86_64::_mm256_set1_ps(v))
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load_splat(p: *const f32) -> Self {
        // SAFETY: as the caller promises.
        Avx(unsafe { core::arch::x86_64::_mm256_broadcast_ss(&*p) })
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load_quads(p: [*const f32; 2]) -> Self {
        // SAFETY: as the caller promises.
        Avx(unsafe { core::arch::x86_64::_mm256_loadu2_m128(p[1], p[0]) })
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn load(p: *const f32) -> Self {
        // SAFETY: as the caller promises.
        Avx(unsafe { core::arch::x86_64::_mm256_loadu_ps(p) })
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn store(self, p: *mut f32) {
        // SAFETY: as the caller promises.
        unsafe { core::arch::x86_64::_mm256_storeu_ps(p, self.0) }
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn madd(a: Self, b: Self, c: Self) -> Self {
        Avx(core::arch::x86_64::_mm256_fmadd_ps(a.0, b.0, c.0))
    }

    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn clamp(self, lo: Self, hi: Self) -> Self {
        use core::arch::x86_64::{_mm256_max_ps, _mm256_min_ps};
        // max(v, lo) then min(.., hi): a NaN becomes lo (maxps returns its second operand).
        Avx(_mm256_min_ps(_mm256_max_ps(self.0, lo.0), hi.0))
    }

    #[inline(always)]
    fn madd_one(a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
}
