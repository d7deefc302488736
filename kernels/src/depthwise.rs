//! Depthwise 2-D convolution (one filter per channel, depth multiplier 1) on NCHW data.
//!
//! burn's CPU backend convolves each channel plane with a loop along output rows, which stays
//! mostly scalar for a mobile network's short rows and strided taps. Here each zero-padded
//! channel plane is first split into its stride phases (for stride 1, the padded plane itself;
//! for stride 2, four planes of the even/odd rows and columns). Every tap then reads its
//! inputs at one fixed offset from the output's, so a tap is one contiguous multiply-add over
//! the whole output plane, which the compiler vectorises (wasm SIMD, SSE/AVX, NEON).
//!
//! Natively the channels are shared out among the machine's cores (scoped threads), and on
//! x86-64 with AVX2 the loops are compiled a second time for it (chosen at run time). In the
//! browser they run on the page's one thread.

/// The geometry of one depthwise convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    /// Batch size.
    pub batch: usize,
    /// Channels (input = output).
    pub channels: usize,
    /// Input height and width.
    pub input: [usize; 2],
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Strides (rows, columns).
    pub stride: [usize; 2],
    /// Dilations (rows, columns).
    pub dilation: [usize; 2],
    /// Zero rows above / columns left of the input.
    pub pad_before: [usize; 2],
    /// Output height and width.
    pub output: [usize; 2],
}

impl Geometry {
    /// Whether [`depthwise_nchw`] computes this convolution: not for an empty one, nor for a
    /// zero stride or dilation.
    pub fn supported(&self) -> bool {
        let [oh, ow] = self.output;
        let sizes = [self.channels, self.batch, oh, ow];
        !(sizes.contains(&0) || self.stride.contains(&0) || self.dilation.contains(&0))
    }

    /// Padded input extent (rows, columns) that covers every tap of every output.
    fn padded(&self) -> [usize; 2] {
        let span = |i: usize| {
            let need =
                (self.output[i] - 1) * self.stride[i] + (self.kernel[i] - 1) * self.dilation[i] + 1;
            need.max(self.pad_before[i] + self.input[i])
        };
        [span(0), span(1)]
    }
}

/// Depthwise convolution of `x` `[batch, channels, h, w]` with `weight` `[channels, kh, kw]`
/// (burn's `[c, 1, kh, kw]`) plus an optional `bias` `[channels]`; returns
/// `[batch, channels, oh, ow]`, or `None` when the geometry is not [`Geometry::supported`].
///
/// # Panics
/// When a slice is shorter than the geometry says.
pub fn depthwise_nchw(
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
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
    let mut out = vec![0.0f32; g.batch * c * plane];
    // Jobs: per image, the channels in `parts` ranges; each job writes its own contiguous
    // slice of `out`.
    let parts = threads(g.batch * c * plane * kh * kw);
    let per = c.div_ceil(parts);
    let mut jobs = Vec::new();
    let mut rest = out.as_mut_slice();
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
    let task = Task { x, weight, bias, g };
    run_jobs(jobs, parts, &|job| task.run(job));
    Some(out)
}

/// Multiply-adds per thread below which splitting a call costs more than it saves.
#[cfg(not(target_arch = "wasm32"))]
const MIN_WORK_PER_THREAD: usize = 200_000;

/// How many threads a call with `work` multiply-adds gets: natively up to the machine's cores;
/// in the browser one (the page's).
fn threads(work: usize) -> usize {
    #[cfg(target_arch = "wasm32")]
    {
        let _ = work;
        1
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        let cores =
            *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        cores.min(work / MIN_WORK_PER_THREAD).max(1)
    }
}

/// Runs `jobs` on `threads` threads (this one included), job i on thread i % threads.
fn run_jobs<'a>(jobs: Vec<Job<'a>>, threads: usize, f: &(dyn Fn(Job<'a>) + Sync)) {
    if threads <= 1 {
        jobs.into_iter().for_each(f);
        return;
    }
    let mut lists: Vec<Vec<Job>> = (0..threads).map(|_| Vec::new()).collect();
    for (i, job) in jobs.into_iter().enumerate() {
        lists[i % threads].push(job);
    }
    std::thread::scope(|s| {
        let mut lists = lists.into_iter();
        let mine = lists.next().unwrap_or_default();
        for list in lists {
            s.spawn(move || list.into_iter().for_each(f));
        }
        mine.into_iter().for_each(f);
    });
}

/// One image's channels `channels`, written to `dst` (`[channels.len(), oh, ow]`).
struct Job<'a> {
    image: usize,
    channels: std::ops::Range<usize>,
    dst: &'a mut [f32],
}

/// What every job of one call reads.
struct Task<'a> {
    x: &'a [f32],
    weight: &'a [f32],
    bias: Option<&'a [f32]>,
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
    let wide = oh * len;
    // Reads for the dropped columns may run past the last phase: a tail of zeros covers them.
    let mut ph = vec![0.0f32; sh * sw * block + len + kw * dw];
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
                ph[base + pl..base + pl + w].copy_from_slice(row);
            } else {
                // The padded row, then every sw-th column of it into each column phase.
                padded[pl..pl + w].copy_from_slice(row);
                for p in 0..sw {
                    let dst = &mut ph[base + p * block..base + p * block + len];
                    for (d, cols) in dst.iter_mut().zip(padded.chunks_exact(sw)) {
                        *d = cols[p];
                    }
                }
            }
        }
        acc.fill(t.bias.map_or(0.0, |b| b[ch]));
        for (&off, &wv) in offsets.iter().zip(&t.weight[ch * taps..(ch + 1) * taps]) {
            for (o, &v) in acc.iter_mut().zip(&ph[off..off + wide]) {
                *o += wv * v;
            }
        }
        for (d, a) in dst.chunks_exact_mut(ow).zip(acc.chunks_exact(len)) {
            d.copy_from_slice(&a[..ow]);
        }
    }
}
