//! Explicit wasm SIMD (128-bit, 4 floats) for the browser build.
//!
//! The size-tuned browser build links everything with fat LTO at `opt-level = "z"`, and LLVM
//! runs its loop and SLP vectorisers only after that link, at the link's level, where they are
//! off: so no plain loop in the wasm module is vectorised (`wasm-objdump` of it found no
//! `f32x4` instruction in this crate's kernels, while burn's explicit-SIMD kernels have them).
//! Natively nothing changes: the plain loops vectorise as written.

use core::arch::wasm32::*;

/// Loads 4 floats from `p` (no alignment needed).
///
/// # Safety
/// `p..p + 4` must be readable.
#[inline(always)]
pub unsafe fn load(p: *const f32) -> v128 {
    core::ptr::read_unaligned(p as *const v128)
}

/// Stores 4 floats at `p` (no alignment needed).
///
/// # Safety
/// `p..p + 4` must be writable.
#[inline(always)]
pub unsafe fn store(p: *mut f32, v: v128) {
    core::ptr::write_unaligned(p as *mut v128, v)
}

simd_fn! {
    /// `a * b + c` lane by lane: one fused multiply-add in the relaxed-SIMD build (rounded once;
    /// an engine without an FMA unit may round twice, which relaxed SIMD allows), else a multiply
    /// then an add.
    pub fn madd(a: v128, b: v128, c: v128) -> v128 {
        #[cfg(feature = "relaxed-simd")]
        return f32x4_relaxed_madd(a, b, c);
        #[allow(unreachable_code)]
        f32x4_add(f32x4_mul(a, b), c)
    }
}

/// `v` clamped into `[lo, hi]` lane by lane, as [`crate::scalar::clamp_value`] (a NaN
/// becomes `lo`): `pmax(lo, v)` is `lo < v ? v : lo`, `pmin(v, hi)` is `hi < v ? hi : v`.
#[inline(always)]
pub fn clamp(v: v128, lo: v128, hi: v128) -> v128 {
    f32x4_pmin(f32x4_pmax(lo, v), hi)
}

/// `v * s + o` for every value of `values`, in place (a multiply then an add, as the scalar
/// rule rounds).
pub fn affine_slice(values: &mut [f32], s: f32, o: f32) {
    let (sv, ov) = (f32x4_splat(s), f32x4_splat(o));
    let mut chunks = values.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: c holds 4 floats.
        unsafe {
            store(
                c.as_mut_ptr(),
                f32x4_add(f32x4_mul(load(c.as_ptr()), sv), ov),
            )
        };
    }
    for v in chunks.into_remainder() {
        *v = *v * s + o;
    }
}

/// Clamps every value of `values` into `[lo, hi]` in place.
pub fn clamp_slice(values: &mut [f32], lo: f32, hi: f32) {
    let (l, h) = (f32x4_splat(lo), f32x4_splat(hi));
    let mut chunks = values.chunks_exact_mut(4);
    for c in &mut chunks {
        // SAFETY: c holds 4 floats.
        unsafe { store(c.as_mut_ptr(), clamp(load(c.as_ptr()), l, h)) };
    }
    for v in chunks.into_remainder() {
        *v = crate::scalar::clamp_value(*v, lo, hi);
    }
}

/// Writes `src` at `dst`, 4 floats at a time, then one by one.
///
/// # Safety
/// `dst .. dst + src.len()` must be writable.
#[inline(always)]
pub unsafe fn copy_raw(dst: *mut f32, src: &[f32]) {
    let n = src.len();
    let mut i = 0;
    // SAFETY: i + 4 <= n for src, and for dst as the caller promises.
    unsafe {
        while i + 4 <= n {
            store(dst.add(i), load(src.as_ptr().add(i)));
            i += 4;
        }
        while i < n {
            *dst.add(i) = src[i];
            i += 1;
        }
    }
}

/// Splits `src` into its even- and odd-indexed values: `even[i] = src[2i]`, `odd[i] =
/// src[2i + 1]`, for `i < even.len()` (`odd` as long, `src` twice as long), 4 at a time with
/// two shuffles.
pub fn deinterleave(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    let n = even.len();
    assert!(
        odd.len() == n && src.len() >= 2 * n,
        "deinterleave: lengths"
    );
    let mut i = 0;
    // SAFETY: reads src[2i..2i + 8] with 2i + 8 <= 2n <= src.len(); writes even/odd[i..i + 4]
    // with i + 4 <= n.
    unsafe {
        while i + 4 <= n {
            let a = load(src.as_ptr().add(2 * i));
            let b = load(src.as_ptr().add(2 * i + 4));
            store(even.as_mut_ptr().add(i), i32x4_shuffle::<0, 2, 4, 6>(a, b));
            store(odd.as_mut_ptr().add(i), i32x4_shuffle::<1, 3, 5, 7>(a, b));
            i += 4;
        }
    }
    for j in i..n {
        even[j] = src[2 * j];
        odd[j] = src[2 * j + 1];
    }
}
