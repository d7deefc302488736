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

    /// Packs `wt` `[depth, rows]` (row-major), the transpose of [`PackedWeights::new`]'s `w`:
    /// a Dense layer's kernel as Keras keeps it (`[inputs, units]`), read in runs of [`MR`].
    ///
    /// # Panics
    /// When `wt` does not hold `rows * depth` values.
    pub fn from_columns(wt: &[f32], rows: usize, depth: usize) -> Self {
        assert_eq!(wt.len(), rows * depth, "PackedWeights: wt is [depth, rows]");
        let mut panels = vec![0.0f32; rows.div_ceil(MR) * MR * depth];
        for (p, panel) in panels.chunks_exact_mut((MR * depth).max(1)).enumerate() {
            let live = MR.min(rows - p * MR);
            for (k, dst) in panel.chunks_exact_mut(MR).enumerate() {
                let at = k * rows + p * MR;
                dst[..live].copy_from_slice(&wt[at..at + live]);
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
    let job = |cols: core::ops::Range<usize>| Job {
        x,
        n,
        depth,
        clip,
        cols,
    };
    let out = Out::new(out, rows, n);
    let threads = crate::pool::threads();
    let (panels, blocks) = (rows.div_ceil(MR), n.div_ceil(NR));
    if !(parallel && threads > 1 && depth > 0 && (panels > 1 || blocks > 1)) {
        job(0..n).run(&w.panels, &bias_padded, out);
        return;
    }
    // Split by columns (each task packs and reads only its blocks of `x`) or by rows (each
    // task takes whole panels of the weights, and packs every block of `x` itself), whichever
    // gives the smaller task: costs in multiply-adds, a packed value counted as PACK of them.
    // A network's early layers have few rows and many columns, its last ones the reverse
    // (at 7x7 the columns make 4 blocks natively, so a split by columns is uneven).
    const PACK: usize = 4;
    let col_tasks = threads.min(blocks);
    let per_task_cols = blocks.div_ceil(col_tasks) * NR;
    let by_cols = per_task_cols * depth * (panels * MR + PACK);
    let row_tasks = threads.min(panels);
    let per_task_panels = panels.div_ceil(row_tasks);
    let by_rows = (per_task_panels * MR + PACK) * depth * n;
    if by_cols <= by_rows {
        crate::pool::for_each(n.div_ceil(per_task_cols), &|t| {
            let first = t * per_task_cols;
            // The tasks write disjoint columns of `out`.
            job(first..n.min(first + per_task_cols)).run(&w.panels, &bias_padded, out);
        });
    } else {
        crate::pool::for_each(panels.div_ceil(per_task_panels), &|t| {
            let first = t * per_task_panels * MR;
            let count = (per_task_panels * MR).min(rows - first);
            let panels = &w.panels[first * depth..(first + count).div_ceil(MR) * MR * depth];
            // The tasks write disjoint rows of `out`.
            job(0..n).run(panels, &bias_padded[first..], out.rows_from(first, count));
        });
    }
}

/// Where a product writes: `rows` rows of `n` values, shared by the tasks of one call, each of
/// which writes only its own rows or its own columns (no two tasks' values overlap).
#[derive(Clone, Copy)]
struct Out<'a> {
    ptr: *mut MaybeUninit<f32>,
    rows: usize,
    n: usize,
    _out: core::marker::PhantomData<&'a mut [MaybeUninit<f32>]>,
}

// SAFETY: the tasks sharing an `Out` write disjoint values (see `gemm_bias_clip`), and f32 is
// Send.
unsafe impl Send for Out<'_> {}
// SAFETY: as above.
unsafe impl Sync for Out<'_> {}

impl<'a> Out<'a> {
    /// The first `rows * n` values of `out`.
    fn new(out: &'a mut [MaybeUninit<f32>], rows: usize, n: usize) -> Self {
        assert!(out.len() >= rows * n, "gemm: out is [rows, n]");
        Out {
            ptr: out.as_mut_ptr(),
            rows,
            n,
            _out: core::marker::PhantomData,
        }
    }

    /// Rows `first .. first + count`.
    fn rows_from(self, first: usize, count: usize) -> Self {
        assert!(first + count <= self.rows, "gemm: rows out of range");
        Out {
            // SAFETY: `first * n` is within the `rows * n` values (asserted above).
            ptr: unsafe { self.ptr.add(first * self.n) },
            rows: count,
            ..self
        }
    }

    /// Values `col .. col + len` of row `r`.
    ///
    /// # Safety
    /// No other task of the call writes or holds these values while the slice lives.
    #[inline(always)]
    #[allow(clippy::mut_from_ref)]
    unsafe fn row(&self, r: usize, col: usize, len: usize) -> &mut [MaybeUninit<f32>] {
        assert!(
            r < self.rows && col + len <= self.n,
            "gemm: out of the output"
        );
        // SAFETY: inside the `rows * n` values (asserted); not shared, as the caller promises.
        unsafe { core::slice::from_raw_parts_mut(self.ptr.add(r * self.n + col), len) }
    }
}

/// What every part of one product reads: `x` `[depth, n]`, the columns `cols` of it this part
/// computes, and the clamp.
struct Job<'a> {
    x: &'a [f32],
    n: usize,
    depth: usize,
    clip: Option<(f32, f32)>,
    cols: core::ops::Range<usize>,
}

impl Job<'_> {
    /// Columns `cols` of the rows `out.rows` of the product, from their `panels` (`[depth][MR]`
    /// each) and `bias` (padded to whole panels); no other task writes those values meanwhile.
    fn run(&self, panels: &[f32], bias: &[f32], out: Out) {
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
    fn blocks_relaxed(&self, panels: &[f32], bias: &[f32], out: Out) {
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
    unsafe fn blocks_fma(&self, panels: &[f32], bias: &[f32], out: Out) {
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
        out: Out,
        tile: impl Fn(&[f32], &[f32], usize, &[f32; MR], Option<(f32, f32)>) -> [[f32; NR]; MR],
        narrow: Option<&dyn Fn(Narrow)>,
    ) {
        let (x, n, depth) = (self.x, self.n, self.depth);
        let (start, end) = (self.cols.start, self.cols.end.min(n));
        let rows = out.rows;
        if start >= end {
            return;
        }
        if depth == 0 {
            // An empty sum: every output is its bias, clamped.
            for (r, &b) in bias.iter().enumerate().take(rows) {
                let v = self
                    .clip
                    .map_or(b, |(lo, hi)| crate::scalar::clamp_value(b, lo, hi));
                // SAFETY: this part alone writes its columns of its rows (run's contract).
                unsafe { out.row(r, start, end - start) }
                    .iter_mut()
                    .for_each(|d| {
                        d.write(v);
                    });
            }
            return;
        }
        let clip = self.clip;
        // Rows r0 .. r0 + live of a tile's sums into columns j .. j + cols.
        let store = |sums: &[[f32; NR]; MR], r0: usize, live: usize, j: usize, cols: usize| {
            for (r, s) in sums.iter().enumerate().take(live) {
                // SAFETY: this part alone writes its columns of its rows (run's contract).
                let dst = unsafe { out.row(r0 + r, j, cols) };
                if cols == NR {
                    crate::copy_out(dst, s);
                } else {
                    dst.write_copy_of_slice(&s[..cols]);
                }
            }
        };
        let run_narrow = |block: &[f32], j: usize| {
            if let Some(narrow) = narrow {
                narrow(Narrow {
                    panels,
                    block,
                    depth,
                    cols: end - j,
                    bias,
                    clip,
                    out,
                    col: j,
                });
            }
        };
        // Where the narrow tiles take over: the last block, when it has at most NARROW columns.
        let tail = (end - start) % NR;
        let wide_end = if narrow.is_some() && (1..=NARROW).contains(&tail) {
            end - tail
        } else {
            end
        };
        let mut block = vec![0.0f32; depth * NR];
        let count = panels.len() / (MR * depth);
        if depth <= SHALLOW && count > GROUP && end - start >= 16 * NR {
            // A shallow product over many columns with many rows (the early, high-resolution
            // layers: 16 to 27 values per output, 96 or 144 rows) is bound by its stores, not
            // its multiply-adds: every block of x is packed once, then the rows are taken
            // GROUP panels at a time along all the blocks, so the writes go to GROUP * MR
            // sequential streams (block by block, every block wrote a short piece into every
            // row of the output).
            let blocks = (wide_end - start).div_ceil(NR);
            let mut packed = vec![0.0f32; blocks * depth * NR];
            for (b, dst) in packed.chunks_exact_mut(depth * NR).enumerate() {
                let j = start + b * NR;
                pack_block(x, n, j, NR.min(wide_end - j), dst);
            }
            for (g, group) in panels.chunks(GROUP * MR * depth).enumerate() {
                for (k, packed) in packed.chunks_exact(depth * NR).enumerate() {
                    let j = start + k * NR;
                    for (p, panel) in group.chunks_exact(MR * depth).enumerate() {
                        let r0 = (g * GROUP + p) * MR;
                        let live = MR.min(rows - r0);
                        let b = bias[r0..r0 + MR].try_into().expect("MR values");
                        let sums = tile(panel, packed, depth, b, clip);
                        store(&sums, r0, live, j, NR.min(wide_end - j));
                    }
                }
            }
            if wide_end < end {
                pack_block(x, n, wide_end, end - wide_end, &mut block);
                run_narrow(&block, wide_end);
            }
            return;
        }
        let mut j = start;
        while j < end {
            let cols = NR.min(end - j);
            pack_block(x, n, j, cols, &mut block);
            if j >= wide_end {
                run_narrow(&block, j);
                break;
            }
            for (p, panel) in panels.chunks_exact(MR * depth).enumerate() {
                let r0 = p * MR;
                let live = MR.min(rows - r0);
                let b = bias[r0..r0 + MR].try_into().expect("MR values");
                let sums = tile(panel, &block, depth, b, clip);
                store(&sums, r0, live, j, cols);
            }
            j += NR;
        }
    }
}

/// The deepest product [`Job::blocks`] computes [`GROUP`] panels at a time over all its packed
/// blocks (deeper ones, block by block over all panels, keep each block in the first-level
/// cache while the weights pass).
const SHALLOW: usize = 32;

/// Panels per pass over the blocks for shallow products (16 rows: 16 streams of writes).
const GROUP: usize = 4;

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
    out: Out<'a>,
    /// The block's first column in `out`.
    col: usize,
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
        let rows = self.out.rows;
        assert!(
            count > 0
                && self.cols <= c
                && c <= NR
                && self.block.len() >= self.depth * NR
                && self.bias.len() >= count * MR
                && rows <= count * MR
                && self.col + self.cols <= self.out.n,
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
            // The same panels from the transpose.
            let mut wt = vec![0.0; rows * depth];
            for r in 0..rows {
                for k in 0..depth {
                    wt[k * rows + r] = w[r * depth + k];
                }
            }
            assert_eq!(PackedWeights::from_columns(&wt, rows, depth), p);
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
            // Split by columns when parallel (few rows, many columns; the last task's columns
            // end in a partial block, and in a narrow one).
            (8, 16, 200),
            (6, 10, 333),
            (5, 7, 130),
            // Shallow and wide with many rows: groups of panels over all blocks (in each part
            // when parallel), ending in a narrow block, a partial one, a whole one.
            (37, 16, 1027),
            (96, 27, 1030),
            (20, 32, 1024),
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
                    cols: 0..n,
                };
                let view = Out::new(&mut portable, rows, n);
                job.blocks(&packed.panels, &bias_padded, view, tile, None);
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
