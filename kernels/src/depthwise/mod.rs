//! Depthwise 2-D convolution (one filter per channel, depth multiplier 1) on NCHW data.
//!
//! burn's CPU backend convolves each channel plane with a loop along output rows, which stays
//! mostly scalar for a mobile network's short rows and strided taps. Here each zero-padded
//! channel plane is first split into its stride phases (for stride 1, the padded plane itself;
//! for stride 2, four planes of the even/odd rows and columns). Every tap then reads its
//! inputs at one fixed offset from the output's, so a tap is one contiguous multiply-add over
//! the whole output plane, which the compiler vectorises (wasm SIMD, SSE/AVX, NEON).
//!
//! The channels are shared out over [`crate::pool`]'s threads (natively the cores; in the
//! browser the threaded engine's workers), and on x86-64 with AVX2 the loops are compiled a
//! second time for it (chosen at run time).

use core::mem::MaybeUninit;

pub use crate::geometry::Geometry;

/// Depthwise convolution of `x` `[batch, channels, h, w]` with `weight` `[channels, kh, kw]`
/// (burn's `[c, 1, kh, kw]`) plus an optional `bias` `[channels]`, each result then clamped
/// into `clip` `(lo, hi)` when given (a fused ReLU / ReLU6, see
/// [`crate::scalar::clamp_value`]); returns
/// `[batch, channels, oh, ow]`, or `None` when the geometry is not [`Geometry::supported`].
///
/// # Panics
/// When a slice is shorter than the geometry says.
pub fn depthwise_nchw(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    clip: Option<(f32, f32)>,
    g: &Geometry,
) -> Option<Vec<f32>> {
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let c = g.channels;
    assert!(x.len() >= g.batch * c * h * w, "depthwise: input too short");
    assert!(weight.len() >= c * kh * kw, "depthwise: weight too short");
    if let Some(b) = bias {
        assert!(b.len() >= c, "depthwise: bias too short");
    }
    if !g.supported() {
        return None;
    }
    let plane = g.output[0] * g.output[1];
    let total = g.batch * c * plane;
    // Every value is written once by a job (never zero-filled first).
    let mut out: Vec<f32> = Vec::with_capacity(total);
    // Jobs: per image, the channels in `parts` ranges; each job writes its own contiguous
    // slice of `out`.
    let parts = threads(g.batch * c * plane * kh * kw);
    let per = c.div_ceil(parts);
    let mut jobs = Vec::new();
    let mut rest = &mut out.spare_capacity_mut()[..total];
    for image in 0..g.batch {
        for first in (0..c).step_by(per) {
            let end = (first + per).min(c);
            let (dst, tail) = rest.split_at_mut((end - first) * plane);
            jobs.push(Job {
                image,
                channels: first..end,
                dst,
            });
            rest = tail;
        }
    }
    let task = Task {
        x,
        weight,
        bias,
        clip,
        g,
    };
    run_jobs(jobs, parts, &|job| task.run(job));
    // SAFETY: the jobs cover the first `total` values (each image's channels in order) and
    // each writes every value of its slice (every row of every plane, in `phases`).
    unsafe { out.set_len(total) };
    Some(out)
}

/// Multiply-adds per thread below which splitting a call costs more than it saves.
const MIN_WORK_PER_THREAD: usize = 200_000;

/// How many threads a call with `work` multiply-adds gets: up to [`crate::pool::threads`].
fn threads(work: usize) -> usize {
    crate::pool::threads()
        .min(work / MIN_WORK_PER_THREAD)
        .max(1)
}

/// Runs `jobs`: in parallel over [`crate::pool`]'s threads when `threads` > 1, else one after
/// the other on this thread.
fn run_jobs<'a>(jobs: Vec<Job<'a>>, threads: usize, f: &(dyn Fn(Job<'a>) + Sync)) {
    if threads > 1 {
        crate::pool::for_each_owned(jobs, f);
        return;
    }
    jobs.into_iter().for_each(f);
}

/// One image's channels `channels`, written to `dst` (`[channels.len(), oh, ow]`).
struct Job<'a> {
    image: usize,
    channels: std::ops::Range<usize>,
    dst: &'a mut [MaybeUninit<f32>],
}

/// What every job of one call reads.
struct Task<'a> {
    x: &'a [f32],
    weight: &'a [f32],
    bias: Option<&'a [f32]>,
    clip: Option<(f32, f32)>,
    g: &'a Geometry,
}

impl Task<'_> {
    fn run(&self, job: Job) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2 (checked just above).
            unsafe { self.run_avx2(job) };
            return;
        }
        phases(self, job);
    }

    /// The same loops compiled for AVX2 (8 floats per instruction instead of SSE's 4).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn run_avx2(&self, job: Job) {
        phases(self, job);
    }
}

/// Each channel plane, zero-padded, is split into its `sh x sw` stride phases (phase (q, p)
/// holds padded rows q, q + sh, ... and columns p, p + sw, ...), each `len` columns wide.
/// Output pixel (oy, ox) then reads tap (ky, kx) at one fixed offset from `oy * len + ox` in
/// the phase of (ky * dh, kx * dw): so every tap is one contiguous multiply-add over the whole
/// output plane, computed `len` columns wide (the columns past `ow` are dropped at the end).
#[inline(always)]
fn phases(t: &Task, job: Job) {
    let g = t.g;
    let c = g.channels;
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [oh, ow] = g.output;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let [pt, pl] = g.pad_before;
    let [hp, wp] = g.padded();
    let len = wp.div_ceil(sw);
    let rows = hp.div_ceil(sh);
    let block = rows * len;
    // Whole blocks of 16 (the vector loops then have no scalar tail): the extra outputs,
    // like the columns past `ow`, are computed and dropped.
    let wide = (oh * len).next_multiple_of(16);
    // Reads for the dropped outputs may run past the last phase: a tail of zeros covers them.
    let mut ph = vec![0.0f32; sh * sw * block + len + kw * dw + 16];
    let mut acc = vec![0.0f32; wide];
    let mut padded = vec![0.0f32; len * sw];
    let taps = kh * kw;
    let plane = oh * ow;
    // Where each tap reads, relative to the output index.
    let offsets: Vec<usize> = (0..taps)
        .map(|k| {
            let (ky, kx) = ((k / kw) * dh, (k % kw) * dw);
            ((ky % sh) * sw + kx % sw) * block + (ky / sh) * len + kx / sw
        })
        .collect();
    for (ch, dst) in job.channels.clone().zip(job.dst.chunks_exact_mut(plane)) {
        let at = (job.image * c + ch) * h * w;
        for (y, row) in t.x[at..at + h * w].chunks_exact(w).enumerate() {
            let yp = y + pt;
            let base = (yp % sh) * sw * block + (yp / sh) * len;
            if sw == 1 {
                crate::copy(&mut ph[base + pl..base + pl + w], row);
            } else {
                // The padded row, then every sw-th column of it into each column phase.
                crate::copy(&mut padded[pl..pl + w], row);
                if sw == 2 {
                    let (even, odd) = ph[base..].split_at_mut(block);
                    deinterleave(&padded, &mut even[..len], &mut odd[..len]);
                    continue;
                }
                for p in 0..sw {
                    let dst = &mut ph[base + p * block..base + p * block + len];
                    for (d, cols) in dst.iter_mut().zip(padded.chunks_exact(sw)) {
                        *d = cols[p];
                    }
                }
            }
        }
        let weights = &t.weight[ch * taps..(ch + 1) * taps];
        accumulate(&mut acc, &ph, &offsets, weights, bias(t, ch), t.clip);
        for (d, a) in dst.chunks_exact_mut(ow).zip(acc.chunks_exact(len)) {
            crate::copy_out(d, &a[..ow]);
        }
    }
}

/// `even[i] = src[2i]`, `odd[i] = src[2i + 1]`: explicit wasm SIMD in the browser; natively a
/// loop over pairs, which the compiler vectorises with shuffles (a per-phase loop over
/// `chunks_exact(sw)` stayed scalar: half of this kernel's own time in perf).
#[inline(always)]
fn deinterleave(src: &[f32], even: &mut [f32], odd: &mut [f32]) {
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    return crate::simd::deinterleave(src, even, odd);
    #[allow(unreachable_code)]
    for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(src.chunks_exact(2)) {
        *e = pair[0];
        *o = pair[1];
    }
}

fn bias(t: &Task, ch: usize) -> f32 {
    t.bias.map_or(0.0, |b| b[ch])
}

/// `acc[i] = bias + sum over taps k of weights[k] * ph[offsets[k] + i]`, clamped into `clip`
/// when given.
///
/// On x86-64 with AVX2 and FMA (chosen at run time): 64 outputs at a time held in eight
/// registers across every tap and stored once. Otherwise one pass over `acc` per tap, which
/// the compiler vectorises.
#[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
#[inline(always)]
fn accumulate(
    acc: &mut [f32],
    ph: &[f32],
    offsets: &[usize],
    weights: &[f32],
    bias: f32,
    clip: Option<(f32, f32)>,
) {
    #[cfg(target_arch = "x86_64")]
    if crate::has_avx2_fma() {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        unsafe { x86::sum_taps(acc, ph, offsets, weights, bias, clip) };
        return;
    }
    let wide = acc.len();
    acc.fill(bias);
    for (&off, &wv) in offsets.iter().zip(weights) {
        for (o, &v) in acc.iter_mut().zip(&ph[off..off + wide]) {
            *o += wv * v;
        }
    }
    if let Some((lo, hi)) = clip {
        for v in acc.iter_mut() {
            *v = crate::scalar::clamp_value(*v, lo, hi);
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod x86;

#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod taps;

#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod wasm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use wasm::accumulate;
