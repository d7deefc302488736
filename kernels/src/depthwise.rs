//! Depthwise 2-D convolution (one filter per channel, depth multiplier 1) on NCHW data.
//!
//! burn's CPU backend convolves each channel plane with a loop along output rows. Two cases
//! of a mobile network leave that loop mostly scalar, and those are the ones handled here:
//!
//! * **Small planes** (the 14x14 and 7x7 stages, hundreds of channels): rows of 7 or 14
//!   values are too short for SIMD. Here the input is rewritten channels-last with its zero
//!   padding, and each output pixel accumulates its taps 16 channels at a time.
//! * **Stride 2**: the row loop reads every other input. Here each padded input row is split
//!   once into its even and odd columns, so every tap becomes a contiguous multiply-add.

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

/// Which of this module's kernels suits a geometry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Channels-last, 16 channels per step (small planes).
    ChannelsLast,
    /// Even/odd columns per row (stride 2).
    SplitColumns,
}

/// Output planes up to this many values count as small.
const SMALL_PLANE: usize = 256;

impl Geometry {
    /// The kernel to use, or `None` where burn's own loop is as good (large planes, stride 1).
    pub fn strategy(&self) -> Option<Strategy> {
        let [oh, ow] = self.output;
        if self.channels == 0 || self.batch == 0 || oh == 0 || ow == 0 {
            return None;
        }
        if oh * ow <= SMALL_PLANE {
            Some(Strategy::ChannelsLast)
        } else if self.stride == [2, 2] {
            Some(Strategy::SplitColumns)
        } else {
            None
        }
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
/// `[batch, channels, oh, ow]`, or `None` when [`Geometry::strategy`] declines.
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
    assert!(
        x.len() >= g.batch * g.channels * h * w,
        "depthwise: input too short"
    );
    assert!(
        weight.len() >= g.channels * kh * kw,
        "depthwise: weight too short"
    );
    if let Some(b) = bias {
        assert!(b.len() >= g.channels, "depthwise: bias too short");
    }
    match g.strategy()? {
        Strategy::ChannelsLast => Some(channels_last(x, weight, bias, g)),
        Strategy::SplitColumns => Some(split_columns(x, weight, bias, g)),
    }
}

const BLOCK: usize = 16;

fn channels_last(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Geometry) -> Vec<f32> {
    let c = g.channels;
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [oh, ow] = g.output;
    let [sh, sw] = g.stride;
    let [dh, dw] = g.dilation;
    let [pt, pl] = g.pad_before;
    let [hp, wp] = g.padded();
    let cb = c.div_ceil(BLOCK) * BLOCK;
    let taps = kh * kw;
    let mut wt = vec![0.0f32; taps * cb];
    for ch in 0..c {
        for t in 0..taps {
            wt[t * cb + ch] = weight[ch * taps + t];
        }
    }
    let mut bv = vec![0.0f32; cb];
    if let Some(b) = bias {
        bv[..c].copy_from_slice(&b[..c]);
    }
    let plane = oh * ow;
    let mut out = vec![0.0f32; g.batch * c * plane];
    let mut xt = vec![0.0f32; hp * wp * cb];
    let mut ot = vec![0.0f32; plane * cb];
    for b in 0..g.batch {
        let xb = &x[b * c * h * w..(b + 1) * c * h * w];
        for ch in 0..c {
            let src = &xb[ch * h * w..(ch + 1) * h * w];
            for (y, row) in src.chunks_exact(w).enumerate() {
                let base = ((y + pt) * wp + pl) * cb + ch;
                for (xx, &v) in row.iter().enumerate() {
                    xt[base + xx * cb] = v;
                }
            }
        }
        for oy in 0..oh {
            for ox in 0..ow {
                let o = (oy * ow + ox) * cb;
                for blk in (0..cb).step_by(BLOCK) {
                    let mut acc = [0.0f32; BLOCK];
                    acc.copy_from_slice(&bv[blk..blk + BLOCK]);
                    for ky in 0..kh {
                        let row = (oy * sh + ky * dh) * wp + ox * sw;
                        for kx in 0..kw {
                            let xi = (row + kx * dw) * cb + blk;
                            let wi = (ky * kw + kx) * cb + blk;
                            let xs: &[f32; BLOCK] = xt[xi..xi + BLOCK].try_into().unwrap();
                            let ws: &[f32; BLOCK] = wt[wi..wi + BLOCK].try_into().unwrap();
                            for i in 0..BLOCK {
                                acc[i] += xs[i] * ws[i];
                            }
                        }
                    }
                    ot[o + blk..o + blk + BLOCK].copy_from_slice(&acc);
                }
            }
        }
        let ob = &mut out[b * c * plane..(b + 1) * c * plane];
        for (ch, dst) in ob.chunks_exact_mut(plane).enumerate() {
            for (p, v) in dst.iter_mut().enumerate() {
                *v = ot[p * cb + ch];
            }
        }
    }
    out
}

fn split_columns(x: &[f32], weight: &[f32], bias: Option<&[f32]>, g: &Geometry) -> Vec<f32> {
    let c = g.channels;
    let [h, w] = g.input;
    let [kh, kw] = g.kernel;
    let [oh, ow] = g.output;
    let [dh, dw] = g.dilation;
    let [pt, pl] = g.pad_before;
    let [_, wp] = g.padded();
    // Columns 2j of the padded row go to `even[j]`, 2j+1 to `odd[j]`; a tap at column offset
    // k reads `even[ox + k/2]` (k even) or `odd[ox + (k-1)/2]` (k odd) for output column ox.
    let half = wp.div_ceil(2);
    let plane = oh * ow;
    let mut out = vec![0.0f32; g.batch * c * plane];
    let mut padded = vec![0.0f32; 2 * half];
    // Split rows of one channel, zero rows where the padding is.
    let mut even = vec![0.0f32; h * half];
    let mut odd = vec![0.0f32; h * half];
    let taps = kh * kw;
    for b in 0..g.batch {
        for ch in 0..c {
            let src = &x[(b * c + ch) * h * w..(b * c + ch + 1) * h * w];
            for (y, row) in src.chunks_exact(w).enumerate() {
                padded[pl..pl + w].copy_from_slice(row);
                let e = &mut even[y * half..(y + 1) * half];
                let o = &mut odd[y * half..(y + 1) * half];
                for ((e, o), pair) in e.iter_mut().zip(o.iter_mut()).zip(padded.chunks_exact(2)) {
                    *e = pair[0];
                    *o = pair[1];
                }
            }
            let wc = &weight[ch * taps..(ch + 1) * taps];
            let bias_v = bias.map_or(0.0, |bb| bb[ch]);
            let dst = &mut out[(b * c + ch) * plane..(b * c + ch + 1) * plane];
            for (oy, orow) in dst.chunks_exact_mut(ow).enumerate() {
                orow.fill(bias_v);
                for ky in 0..kh {
                    // Padded row index oy*2 + ky*dh; rows outside the input are zero.
                    let Some(iy) = (oy * 2 + ky * dh).checked_sub(pt) else {
                        continue;
                    };
                    if iy >= h {
                        continue;
                    }
                    for kx in 0..kw {
                        let k = kx * dw;
                        let wv = wc[ky * kw + kx];
                        let (plane_half, start) = if k % 2 == 0 {
                            (&even, k / 2)
                        } else {
                            (&odd, (k - 1) / 2)
                        };
                        let srow = &plane_half[iy * half + start..iy * half + start + ow];
                        for (o, &v) in orow.iter_mut().zip(srow) {
                            *o += wv * v;
                        }
                    }
                }
            }
        }
    }
    out
}
