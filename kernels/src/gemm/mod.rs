//! A convolution's matrix product with its weights packed once: `out = clip(w * x + bias)`
//! for `w` `[rows, depth]` (a one-group convolution's kernel, one row per output channel),
//! `x` `[depth, n]` (one image's channels, or its unfolding, one column per output pixel).
//!
//! A general `gemm` packs both operands on every call, then leaves the bias and the activation
//! to passes of their own. Here the weights are packed once, when a model is prepared
//! ([`PackedWeights`]), into panels of [`MR`] rows stored depth-major, so the inner loop reads
//! [`MR`] consecutive weights and one packed run of [`NR`] columns of `x` per step of the depth,
//! and keeps the `MR x NR` tile of sums in registers (8 vectors: wasm SIMD, with relaxed SIMD's
//! fused multiply-add in that build; natively AVX2 + FMA, chosen at run time) until it is
//! finished: bias added first, clamped, then stored once, into memory that is never
//! zero-filled. Each block of [`NR`] columns of `x` is first copied into a small contiguous
//! buffer (zero-padded at the right edge), so the inner loop's reads are sequential and stay in
//! the first-level cache while every panel of weights passes over them.

use core::mem::MaybeUninit;

/// Rows of the weight matrix (output channels) per panel and per tile.
pub const MR: usize = 4;
/// Columns (output pixels) per tile: two vectors (wasm SIMD: 8 floats; natively on x86-64,
/// AVX: 16).
pub const NR: usize = if cfg!(target_arch = "x86_64") { 16 } else { 8 };

/// Weights `[rows, depth]` packed for [`gemm_bias_clip`]: panel `p` holds rows `p * MR ..
/// p * MR + MR` as `[depth][MR]` (the last panel zero-padded).
#[derive(Debug, Clone, PartialEq)]
pub struct PackedWeights {
    rows: usize,
    depth: usize,
    panels: Vec<f32>,
}

impl PackedWeights {
    /// Packs `w` `[rows, depth]` (row-major).
    ///
    /// # Panics
    /// When `w` does not hold `rows * depth` values.
    pub fn new(w: &[f32], rows: usize, depth: usize) -> Self {
        assert_eq!(w.len(), rows * depth, "PackedWeights: w is [rows, depth]");
        let mut panels = vec![0.0f32; rows.div_ceil(MR) * MR * depth];
        // (With depth 0 there is nothing to pack.)
        for (p, panel) in panels.chunks_exact_mut((MR * depth).max(1)).enumerate() {
            for r in 0..MR.min(rows - p * MR) {
                let row = &w[(p * MR + r) * depth..(p * MR + r + 1) * depth];
                for (k, &v) in row.iter().enumerate() {
                    panel[k * MR + r] = v;
                }
            }
        }
        PackedWeights {
            rows,
            depth,
            panels,
        }
    }

    /// Rows (output channels).
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// Depth (inputs per output).
    pub fn depth(&self) -> usize {
        self.depth
    }

    /// The weights back as `[rows, depth]` (row-major).
    pub fn unpack(&self) -> Vec<f32> {
        let mut w = vec![0.0f32; self.rows * self.depth];
        for (i, row) in w.chunks_exact_mut(self.depth.max(1)).enumerate() {
            let panel = &self.panels[(i / MR) * MR * self.depth..];
            for (k, v) in row.iter_mut().enumerate() {
                *v = panel[k * MR + i % MR];
            }
        }
        w
    }
}

/// `out[r][j] = clip(bias[r] + sum_k w[r][k] * x[k][j])` for `x` `[depth, n]` and `out`
/// `[rows, n]`, both row-major; `clip` `(lo, hi)` as [`crate::scalar::clamp_value`].
/// Every one of the first `rows * n` values of `out` is written, so it need not be initialised.
/// With `parallel`, the panels are shared out over [`crate::pool`]'s threads (each packs the
/// blocks of `x` it reads).
///
/// # Panics
/// When a slice is shorter than the shapes say.
pub fn gemm_bias_clip(
    w: &PackedWeights,
    x: &[f32],
    n: usize,
    bias: &[f32],
    clip: Option<(f32, f32)>,
    out: &mut [MaybeUninit<f32>],
    parallel: bool,
) {
    let (rows, depth) = (w.rows, w.depth);
    assert!(x.len() >= depth * n, "gemm: x is [depth, n]");
    assert!(out.len() >= rows * n, "gemm: out is [rows, n]");
    assert!(bias.len() >= rows, "gemm: bias is [rows]");
    let mut bias_padded = vec![0.0f32; rows.div_ceil(MR) * MR];
    bias_padded[..rows].copy_from_slice(&bias[..rows]);
    let job = Job { x, n, depth, clip };
    let out = &mut out[..rows * n];
    let threads = crate::pool::threads();
    let blocks = n.div_ceil(NR);
    if parallel && threads > 1 && blocks > 1 && depth > 0 {
        // By columns: each thread packs only the blocks of `x` it reads, into its own
        // contiguous copy, and writes its columns of `out`.
        let tasks = threads.min(blocks);
        let per = blocks.div_ceil(tasks) * NR;
        let dst = crate::pool::Shared::new(out.as_mut_ptr());
        crate::pool::for_each(n.div_ceil(per), &|t| {
            let j0 = t * per;
            let cols = per.min(n - j0);
            let mut part = Vec::with_capacity(depth * cols);
            for k in 0..depth {
                part.extend_from_slice(&x[k * n + j0..k * n + j0 + cols]);
            }
            let mut local: Vec<MaybeUninit<f32>> = Vec::with_capacity(rows * cols);
            // SAFETY: MaybeUninit values need no initialisation.
            unsafe { local.set_len(rows * cols) };
            let sub = Job {
                x: &part,
                n: cols,
                depth,
                clip,
            };
            sub.run(&w.panels, &bias_padded, &mut local);
            for (r, row) in local.chunks_exact(cols).enumerate() {
                // SAFETY: this task alone writes columns j0 .. j0 + cols of each row of `out`
                // (rows * n values, alive for the call).
                unsafe {
                    std::ptr::copy_nonoverlapping(row.as_ptr(), dst.get().add(r * n + j0), cols)
                };
            }
        });
        return;
    }
    job.run(&w.panels, &bias_padded, out);
}

/// What every part of one product reads: `x` `[depth, n]` and the clamp.
struct Job<'a> {
    x: &'a [f32],
    n: usize,
    depth: usize,
    clip: Option<(f32, f32)>,
}

impl Job<'_> {
    /// Rows `out.len() / n` of the product from their `panels` (`[depth][MR]` each) and
    /// `bias` (padded to whole panels).
    fn run(&self, panels: &[f32], bias: &[f32], out: &mut [MaybeUninit<f32>]) {
        #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
        // SAFETY: this build is only loaded where the browser validates relaxed SIMD
        // (pkg/index.js probes for it); a module with the instructions fails to compile
        // anywhere else.
        #[allow(unused_unsafe)]
        unsafe {
            self.blocks_relaxed(panels, bias, out)
        }
        #[cfg(target_arch = "x86_64")]
        if crate::has_avx2_fma() {
            // SAFETY: the CPU has AVX2 and FMA (checked just above).
            unsafe { self.blocks_fma(panels, bias, out) };
            return;
        }
        #[cfg(not(all(target_arch = "wasm32", feature = "relaxed-simd")))]
        self.blocks(panels, bias, out, tile, NARROW_TILES)
    }

    /// [`Job::blocks`] with relaxed SIMD's fused multiply-add.
    #[cfg(all(target_arch = "wasm32", feature = "relaxed-simd"))]
    #[target_feature(enable = "relaxed-simd")]
    fn blocks_relaxed(&self, panels: &[f32], bias: &[f32], out: &mut [MaybeUninit<f32>]) {
        self.blocks(
            panels,
            bias,
            out,
            |p, b, d, bias, clip| tile(p, b, d, bias, clip),
            Some(&|job: Narrow| narrow(job)),
        )
    }

    /// [`Job::blocks`] with AVX2 and FMA tiles.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn blocks_fma(&self, panels: &[f32], bias: &[f32], out: &mut [MaybeUninit<f32>]) {
        self.blocks(
            panels,
            bias,
            out,
            |p, b, d, bias, clip| {
                // SAFETY: only reached from here, where the CPU has AVX2 and FMA.
                unsafe { x86::tile(p, b, d, bias, clip) }
            },
            Some(&|narrow: Narrow| {
                // SAFETY: as above.
                unsafe { x86::narrow(narrow) }
            }),
        )
    }

    /// The product by blocks of [`NR`] columns, each tile computed by `tile`; a last block of at
    /// most [`NARROW`] columns by `narrow` when given.
    #[inline(always)]
    fn blocks(
        &self,
        panels: &[f32],
        bias: &[f32],
        out: &mut [MaybeUninit<f32>],
        tile: impl Fn(&[f32], &[f32], usize, &[f32; MR], Option<(f32, f32)>) -> [[f32; NR]; MR],
        narrow: Option<&dyn Fn(Narrow)>,
    ) {
        let (x, n, depth) = (self.x, self.n, self.depth);
        if n == 0 || depth == 0 {
            // No columns, or an empty sum: every output is its bias, clamped.
            for (row, &b) in out.chunks_exact_mut(n.max(1)).zip(bias) {
                let v = self
                    .clip
                    .map_or(b, |(lo, hi)| crate::scalar::clamp_value(b, lo, hi));
                row.iter_mut().for_each(|d| {
                    d.write(v);
                });
            }
            return;
        }
        let rows = out.len() / n;
        let mut block = vec![0.0f32; depth * NR];
        let mut j = 0;
        while j < n {
            let cols = NR.min(n - j);
            pack_block(x, n, j, cols, &mut block);
            if let (Some(narrow), true) = (narrow, cols <= NARROW) {
                narrow(Narrow {
                    panels,
                    block: &block,
                    depth,
                    cols,
                    bias,
                    clip: self.clip,
                    out: &mut out[j..],
                    n,
                });
                break;
            }
            for (p, panel) in panels.chunks_exact(MR * depth).enumerate() {
                let r0 = p * MR;
                let live = MR.min(rows - r0);
                let b = bias[r0..r0 + MR].try_into().expect("MR values");
                let sums = tile(panel, &block, depth, b, self.clip);
                let dst = &mut out[r0 * n + j..];
                if live == MR && cols == NR {
                    store_tile(&sums, dst, n);
                } else {
                    for (r, s) in sums.iter().enumerate().take(live) {
                        dst[r * n..r * n + cols].write_copy_of_slice(&s[..cols]);
                    }
                }
            }
            j += NR;
        }
    }
}

/// The most columns a last block may have for [`Job::blocks`]'s `narrow` tiles: at 7x7 a
/// product has 49 columns, so a whole tile for the last one wasted a fifth of the work natively
/// (16 columns) and an eighth in the browser (8).
const NARROW: usize = 4;

/// The narrow tiles [`Job::run`] passes on: wasm SIMD's (the relaxed-SIMD build passes its own);
/// natively none (x86-64 with AVX2 and FMA passes its own).
#[cfg(all(
    target_arch = "wasm32",
    target_feature = "simd128",
    not(feature = "relaxed-simd")
))]
const NARROW_TILES: Option<&dyn Fn(Narrow)> = Some(&|job: Narrow| narrow(job));
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
const NARROW_TILES: Option<&dyn Fn(Narrow)> = None;

/// A last block of at most [`NARROW`] columns for every panel: for `c < cols` and every row
/// `r`, `out[r * n + c] = clip(bias[r] + sum over k of panel[k][r] * block[k * NR + c])`
/// (`out` starts at the block's first column).
#[cfg_attr(
    not(any(target_arch = "x86_64", target_feature = "simd128")),
    allow(dead_code)
)]
struct Narrow<'a> {
    panels: &'a [f32],
    block: &'a [f32],
    depth: usize,
    cols: usize,
    bias: &'a [f32],
    clip: Option<(f32, f32)>,
    out: &'a mut [MaybeUninit<f32>],
    n: usize,
}

impl Narrow<'_> {
    /// The number of panels and of rows, once the shapes are checked for tiles of `c` columns.
    ///
    /// # Panics
    /// When a slice is shorter than the shapes say, or there are more than `c` columns.
    #[cfg_attr(
        not(any(target_arch = "x86_64", target_feature = "simd128")),
        allow(dead_code)
    )]
    fn shape(&self, c: usize) -> (usize, usize) {
        let count = self.panels.len() / (MR * self.depth).max(1);
        let rows = self.out.len().div_ceil(self.n);
        assert!(
            count > 0
                && self.cols <= c
                && c <= NR
                && self.block.len() >= self.depth * NR
                && self.bias.len() >= count * MR
                && rows <= count * MR
                && (rows - 1) * self.n + self.cols <= self.out.len(),
            "gemm: narrow block shapes"
        );
        (count, rows)
    }
}

/// Copies columns `j .. j + cols` of `x` `[depth, n]` into `block` `[depth][NR]`, zeros after
/// `cols`. Whole blocks move as vectors: a slice copy of a length unknown at compile time is a
/// `memcpy` call in the browser build, which cost more than the products for short depths.
#[inline(always)]
fn pack_block(x: &[f32], n: usize, j: usize, cols: usize, block: &mut [f32]) {
    if cols == NR {
        for (k, dst) in block.chunks_exact_mut(NR).enumerate() {
            crate::copy(dst, &x[k * n + j..k * n + j + NR]);
        }
        return;
    }
    for (k, dst) in block.chunks_exact_mut(NR).enumerate() {
        for (i, d) in dst.iter_mut().enumerate() {
            *d = if i < cols { x[k * n + j + i] } else { 0.0 };
        }
    }
}

/// Writes a whole tile: row `r` of `sums` to `dst[r * n ..]`.
#[inline(always)]
fn store_tile(sums: &[[f32; NR]; MR], dst: &mut [MaybeUninit<f32>], n: usize) {
    for (r, s) in sums.iter().enumerate() {
        crate::copy_out(&mut dst[r * n..r * n + NR], s);
    }
}

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use wasm::*;

#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
mod scalar;
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
use scalar::*;

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod tile;

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_add(7);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// The values of a buffer the product wrote in full (what the tests check).
    fn assume_init(v: Vec<MaybeUninit<f32>>) -> Vec<f32> {
        // SAFETY: gemm_bias_clip and Job::blocks write every value (their contract; the
        // sizes match), so all are initialised.
        v.into_iter().map(|x| unsafe { x.assume_init() }).collect()
    }

    #[test]
    fn pack_round_trips() {
        for (rows, depth) in [(1, 1), (3, 5), (4, 4), (9, 2), (16, 27)] {
            let w = values(rows * depth, rows as u64);
            let p = PackedWeights::new(&w, rows, depth);
            assert_eq!((p.rows(), p.depth()), (rows, depth));
            assert_eq!(p.unpack(), w);
        }
    }

    /// Against the sum written out, for sizes that are and are not multiples of the tile (and
    /// last blocks of every narrow width), with and without a clamp.
    #[test]
    fn matches_the_plain_sum() {
        for (rows, depth, n) in [
            (1, 1, 1),
            (4, 8, 8),
            (5, 3, 9),
            (24, 144, 49),
            (7, 27, 17),
            (40, 16, 70),
            (9, 0, 5),
            // Last blocks of 2, 3 and 4 columns (the narrow tiles natively), 2 columns in all.
            (12, 20, 18),
            (13, 9, 35),
            (36, 40, 196),
            (70, 5, 2),
        ] {
            let w = values(rows * depth, 1);
            let x = values(depth * n, 2);
            let bias = values(rows, 3);
            let packed = PackedWeights::new(&w, rows, depth);
            for (clip, parallel) in [
                (None, false),
                (Some((0.0, 6.0)), false),
                (Some((-0.5, 0.25)), true),
                (None, true),
            ] {
                let mut out = vec![MaybeUninit::uninit(); rows * n];
                gemm_bias_clip(&packed, &x, n, &bias, clip, &mut out, parallel);
                let out = assume_init(out);
                // The portable tile too (natively the AVX2 one runs where the CPU has it).
                let mut portable = vec![MaybeUninit::uninit(); rows * n];
                let mut bias_padded = bias.clone();
                bias_padded.resize(rows.div_ceil(MR) * MR, 0.0);
                let job = Job {
                    x: &x,
                    n,
                    depth,
                    clip,
                };
                job.blocks(&packed.panels, &bias_padded, &mut portable, tile, None);
                let portable = assume_init(portable);
                for r in 0..rows {
                    for j in 0..n {
                        let mut s = bias[r] as f64;
                        for k in 0..depth {
                            s += w[r * depth + k] as f64 * x[k * n + j] as f64;
                        }
                        let mut s = s as f32;
                        if let Some((lo, hi)) = clip {
                            s = s.clamp(lo, hi);
                        }
                        for got in [out[r * n + j], portable[r * n + j]] {
                            assert!(
                                (got - s).abs() <= 1e-5 * (depth as f32).sqrt().max(1.0),
                                "{rows}x{depth}x{n} {clip:?} [{r}][{j}]: {got} against {s}"
                            );
                        }
                    }
                }
            }
        }
    }
}
