//! Keras' image preprocessing and augmentation layers: `Resizing`, `CenterCrop`, `RandomCrop`,
//! `RandomFlip`, `RandomRotation`, `RandomZoom`, `RandomTranslation`, `RandomContrast` and
//! `RandomBrightness`.
//!
//! At inference they compute what Keras 3 computes: resizing is the JAX backend's
//! `jax.image.resize` (half-pixel centres, weights normalised over the pixels inside the image,
//! no antialiasing unless the layer asks for it), written as one interpolation matrix per axis;
//! the random layers are the identity. In training (`fit`) the random layers draw one transform
//! per image as Keras' layers do (same distributions and formulas) from a generator seeded by
//! the layer's `seed` (its name when it has none) and the number of batches it has seen, so a
//! run is reproducible.

use super::conv::image_input;
use super::{BuildCtx, Built, Op};
use crate::error::Result;
use crate::keras::{
    AffineConfig, ColorConfig, CropConfig, FlipConfig, ResizingConfig, ScalarOrList,
};
use burn::tensor::ops::PadMode;
use burn::tensor::{Int, Tensor, TensorData};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Interpolation kernels of `jax.image.resize`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Interp {
    /// Nearest neighbour (`floor((i + 0.5) * in / out)`).
    Nearest,
    /// Triangle kernel.
    Bilinear,
    /// Keys cubic, a = -0.5, weights normalised over the pixels inside the image (JAX).
    Bicubic,
    /// TensorFlow's `resize_bicubic` (what tf.keras computes): Keys cubic, a = -0.5, read
    /// from a table of 1024 steps (the sample's position rounded to 1/1024), taps outside the
    /// image dropped and the rest renormalised, in float32.
    BicubicTf,
    /// Lanczos with radius 3 or 5.
    Lanczos(f64),
    /// Box overlap.
    Area,
}

impl Interp {
    fn parse(name: &str, ctx: &BuildCtx) -> Result<Self> {
        Ok(match name {
            "nearest" => Interp::Nearest,
            "bilinear" => Interp::Bilinear,
            "bicubic" if ctx.flavor == crate::keras::KerasFlavor::Keras2 => Interp::BicubicTf,
            "bicubic" => Interp::Bicubic,
            "lanczos3" => Interp::Lanczos(3.0),
            "lanczos5" => Interp::Lanczos(5.0),
            "area" => Interp::Area,
            other => {
                return Err(ctx.unsupported(format!(
                    "interpolation='{other}' (Glimpse has nearest, bilinear, bicubic, \
                     lanczos3, lanczos5 and area)"
                )))
            }
        })
    }

    fn kernel(self, x: f64) -> f64 {
        match self {
            Interp::Bilinear => (1.0 - x).max(0.0),
            Interp::Bicubic | Interp::BicubicTf => {
                if x >= 2.0 {
                    0.0
                } else if x >= 1.0 {
                    ((-0.5 * x + 2.5) * x - 4.0) * x + 2.0
                } else {
                    ((1.5 * x - 2.5) * x) * x + 1.0
                }
            }
            Interp::Lanczos(r) => {
                if x > r {
                    0.0
                } else if x > 1e-3 {
                    let pi = std::f64::consts::PI;
                    r * (pi * x).sin() * (pi * x / r).sin() / (pi * pi * x * x)
                } else {
                    1.0
                }
            }
            Interp::Nearest | Interp::Area => unreachable!("not a distance kernel"),
        }
    }
}

/// The `[input, output]` matrix that resizes one axis as `jax.image.resize` does.
pub fn resize_matrix(input: usize, output: usize, interp: Interp, antialias: bool) -> Vec<f32> {
    let mut m = vec![0f32; input * output];
    if input == output {
        for i in 0..input {
            m[i * output + i] = 1.0;
        }
        return m;
    }
    let inv_scale = input as f64 / output as f64;
    if interp == Interp::Nearest {
        for o in 0..output {
            // JAX computes the offsets in float32.
            let f = ((o as f32 + 0.5) * input as f32 / output as f32).floor() as usize;
            m[f.min(input - 1) * output + o] = 1.0;
        }
        return m;
    }
    if interp == Interp::BicubicTf {
        const STEPS: f32 = 1024.0;
        let scale = input as f32 / output as f32;
        for o in 0..output {
            let at = (o as f32 + 0.5) * scale - 0.5;
            let base = at.floor();
            let delta = ((at - base) * STEPS).round_ties_even() / STEPS;
            let taps = [1.0 + delta, delta, 1.0 - delta, 2.0 - delta];
            let mut w = [0f32; 4];
            let mut idx = [0usize; 4];
            for (k, &x) in taps.iter().enumerate() {
                let j = base as i64 - 1 + k as i64;
                if (0..input as i64).contains(&j) {
                    w[k] = interp.kernel(x as f64) as f32;
                    idx[k] = j as usize;
                }
            }
            let sum: f32 = w.iter().sum();
            if sum.abs() >= 1000.0 * f32::MIN_POSITIVE {
                for k in 0..4 {
                    m[idx[k] * output + o] += w[k] / sum;
                }
            }
        }
        return m;
    }
    let kernel_scale = if antialias { inv_scale.max(1.0) } else { 1.0 };
    let mut col = vec![0f64; input];
    for o in 0..output {
        let sample = (o as f64 + 0.5) * inv_scale - 0.5;
        for (j, w) in col.iter_mut().enumerate() {
            *w = if interp == Interp::Area {
                let (l, r) = (o as f64 * inv_scale, (o as f64 + 1.0) * inv_scale);
                (r.min(j as f64 + 1.0) - l.max(j as f64)).max(0.0)
            } else {
                interp.kernel((sample - j as f64).abs() / kernel_scale)
            };
        }
        let total: f64 = col.iter().sum();
        let inside = sample >= -0.5 && sample <= input as f64 - 0.5;
        if total.abs() > 1000.0 * f32::EPSILON as f64 && inside {
            for (j, w) in col.iter().enumerate() {
                m[j * output + o] = (w / total) as f32;
            }
        }
    }
    m
}

/// Resizing (with Keras' optional crop or pad to the target aspect ratio first).
#[derive(Debug, Clone)]
pub struct Resize {
    /// `(top, height, left, width)` of the centred crop, if any.
    pub crop: Option<[usize; 4]>,
    /// `((top, bottom), (left, right))` padding and its value, if any.
    pub pad: Option<([(usize, usize); 2], f32)>,
    /// Height matrix `[in, out]` (`None`: unchanged).
    pub rows: Option<(usize, usize, Vec<f32>)>,
    /// Width matrix `[in, out]` (`None`: unchanged).
    pub cols: Option<(usize, usize, Vec<f32>)>,
}

impl Resize {
    /// Plans a resize of `(h, w)` to `(out_h, out_w)`.
    fn plan(
        (h, w): (usize, usize),
        (out_h, out_w): (usize, usize),
        interp: Interp,
        antialias: bool,
        crop_to_aspect: bool,
        pad_to_aspect: Option<f32>,
    ) -> Resize {
        let (mut h, mut w) = (h, w);
        let mut crop = None;
        let mut pad = None;
        if crop_to_aspect {
            let ch = ((w as f64 * out_h as f64) / out_w as f64) as usize;
            let ch = ch.min(h).max(1);
            let cw = ((h as f64 * out_w as f64) / out_h as f64) as usize;
            let cw = cw.min(w).max(1);
            let top = (h - ch) / 2;
            let left = (w - cw) / 2;
            if (ch, cw) != (h, w) {
                crop = Some([top, ch, left, cw]);
            }
            (h, w) = (ch, cw);
        } else if let Some(fill) = pad_to_aspect {
            let ph = (((w as f64 * out_h as f64) / out_w as f64) as usize).max(h);
            let pw = (((h as f64 * out_w as f64) / out_h as f64) as usize).max(w);
            // Keras pads one axis only, by the same amount on both sides.
            let top = (ph - h) / 2;
            let left = (pw - w) / 2;
            if top > 0 {
                pad = Some(([(top, top), (0, 0)], fill));
                h += 2 * top;
            } else if left > 0 {
                pad = Some(([(0, 0), (left, left)], fill));
                w += 2 * left;
            }
        }
        let axis =
            |i: usize, o: usize| (i != o).then(|| (i, o, resize_matrix(i, o, interp, antialias)));
        Resize {
            crop,
            pad,
            rows: axis(h, out_h),
            cols: axis(w, out_w),
        }
    }

    /// Resizes `[N, C, H, W]`.
    pub fn forward(&self, mut x: Tensor<4>) -> Tensor<4> {
        if let Some([top, ch, left, cw]) = self.crop {
            let [n, c, _, _] = x.dims();
            x = x.slice([0..n, 0..c, top..top + ch, left..left + cw]);
        }
        if let Some((sides, fill)) = self.pad {
            x = x.pad(sides, PadMode::Constant(fill));
        }
        if let Some((i, o, m)) = &self.cols {
            x = along_last(x, *i, *o, m);
        }
        if let Some((i, o, m)) = &self.rows {
            x = along_last(x.swap_dims(2, 3), *i, *o, m).swap_dims(2, 3);
        }
        x
    }
}

/// Multiplies the last axis of `[N, C, A, in]` by an `[in, out]` matrix.
fn along_last(x: Tensor<4>, input: usize, output: usize, m: &[f32]) -> Tensor<4> {
    let [n, c, a, _] = x.dims();
    let m = Tensor::<2>::from_data(TensorData::new(m.to_vec(), [input, output]), &x.device());
    x.reshape([n * c * a, input])
        .matmul(m)
        .reshape([n, c, a, output])
}

/// Builds `Resizing`.
pub fn build_resizing(ctx: &BuildCtx, c: &ResizingConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let interp = Interp::parse(&c.interpolation, ctx)?;
    if c.height == 0 || c.width == 0 {
        return Err(ctx.unsupported("height and width must be positive"));
    }
    if c.crop_to_aspect_ratio && c.pad_to_aspect_ratio {
        return Err(ctx.unsupported("both crop_to_aspect_ratio and pad_to_aspect_ratio"));
    }
    if c.fill_mode != "constant" {
        return Err(ctx.unsupported(format!(
            "fill_mode='{}' (Keras resizes with 'constant' only)",
            c.fill_mode
        )));
    }
    check_resize(ctx, (h, w), (c.height, c.width))?;
    let pad = c.pad_to_aspect_ratio.then_some(c.fill_value as f32);
    let op = Resize::plan(
        (h, w),
        (c.height, c.width),
        interp,
        c.antialias,
        c.crop_to_aspect_ratio,
        pad,
    );
    Ok(Built {
        op: Op::Resize(op),
        out_shape: vec![c.height, c.width, ch],
        params: vec![],
    })
}

/// The interpolation matrices are `in × out` per axis: bounded like a layer output.
fn check_resize(ctx: &BuildCtx, (h, w): (usize, usize), (oh, ow): (usize, usize)) -> Result<()> {
    let rows = ctx.mul(h.max(1), oh, "the height interpolation matrix")?;
    let cols = ctx.mul(w.max(1), ow, "the width interpolation matrix")?;
    crate::limits::check(
        format!("the interpolation matrix of {}", ctx.context()),
        Some(rows.max(cols) as u64),
        crate::limits::get().max_activation,
        "GLIMPSE_MAX_ACTIVATION",
    )
}

/// Builds `CenterCrop` (Keras: a centred crop, or a crop-to-aspect resize when the image is
/// smaller than the target).
pub fn build_center_crop(ctx: &BuildCtx, c: &CropConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    if c.height == 0 || c.width == 0 {
        return Err(ctx.unsupported("height and width must be positive"));
    }
    let op = if h >= c.height && w >= c.width {
        let (top, left) = ((h - c.height) / 2, (w - c.width) / 2);
        Resize {
            crop: Some([top, c.height, left, c.width]),
            pad: None,
            rows: None,
            cols: None,
        }
    } else {
        check_resize(ctx, (h, w), (c.height, c.width))?;
        Resize::plan(
            (h, w),
            (c.height, c.width),
            Interp::Bilinear,
            false,
            true,
            None,
        )
    };
    Ok(Built {
        op: Op::Resize(op),
        out_shape: vec![c.height, c.width, ch],
        params: vec![],
    })
}

/// `RandomCrop`: a random window in training (when the image is larger than the target in
/// both axes), otherwise the largest centred window of the target's aspect ratio, resized.
#[derive(Debug, Clone)]
pub struct RandomCrop {
    /// What inference computes.
    pub center: Resize,
    /// Input `(h, w)` and target `(h, w)`.
    pub sizes: [(usize, usize); 2],
    /// The random stream.
    pub rng: Stream,
}

/// Builds `RandomCrop`.
pub fn build_random_crop(ctx: &BuildCtx, c: &CropConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    if c.height == 0 || c.width == 0 {
        return Err(ctx.unsupported("height and width must be positive"));
    }
    check_resize(ctx, (h, w), (c.height, c.width))?;
    let center = Resize::plan(
        (h, w),
        (c.height, c.width),
        Interp::Bilinear,
        false,
        true,
        None,
    );
    Ok(Built {
        op: Op::RandomCrop(RandomCrop {
            center,
            sizes: [(h, w), (c.height, c.width)],
            rng: Stream::new(c.seed, &ctx.layer.name),
        }),
        out_shape: vec![c.height, c.width, ch],
        params: vec![],
    })
}

impl RandomCrop {
    /// Crops `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        let [(h, w), (th, tw)] = self.sizes;
        if !training || h <= th || w <= tw {
            return self.center.forward(x);
        }
        // Keras draws one window for the whole batch.
        let mut r = self.rng.next_batch();
        let top = (r.uniform(0.0, (h - th + 1) as f64) as usize).min(h - th);
        let left = (r.uniform(0.0, (w - tw + 1) as f64) as usize).min(w - tw);
        let [n, c, _, _] = x.dims();
        x.slice([0..n, 0..c, top..top + th, left..left + tw])
    }
}

/// A reproducible stream of random numbers for one augmentation layer: batch `k` of the run
/// draws from a generator seeded by `(seed, k)`.
#[derive(Debug, Clone)]
pub struct Stream {
    seed: u64,
    batches: Arc<AtomicU64>,
}

impl Stream {
    /// A stream seeded by `seed`, or by the layer's name when the layer has none.
    pub fn new(seed: Option<i64>, layer: &str) -> Stream {
        let seed = match seed {
            Some(s) => s as u64,
            None => layer.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            }),
        };
        Stream {
            seed,
            batches: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The generator for the next batch.
    pub fn next_batch(&self) -> Rng {
        let k = self.batches.fetch_add(1, Ordering::Relaxed);
        Rng(self.seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    }
}

/// SplitMix64.
pub struct Rng(u64);

impl Rng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `[lo, hi)`.
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        let u = (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
        lo + (hi - lo) * u
    }
}

/// Keras' `(lower, upper)` of a factor: a number `f` is `(-|f|, |f|)` clipped below at
/// `floor`, a pair is sorted.
fn factor_range(f: &ScalarOrList, floor: f64, ctx: &BuildCtx, what: &str) -> Result<(f64, f64)> {
    match f {
        ScalarOrList::Scalar(v) => Ok(((-v.abs()).max(floor), v.abs())),
        ScalarOrList::List(l) if l.len() == 2 => Ok((l[0].min(l[1]), l[0].max(l[1]))),
        ScalarOrList::List(l) => Err(ctx.shape_error(
            format!("{what}: a number or a pair"),
            format!("a list of {}", l.len()),
        )),
    }
}

/// How `RandomFlip` flips.
#[derive(Debug, Clone)]
pub struct Flip {
    /// Left-right.
    pub horizontal: bool,
    /// Up-down.
    pub vertical: bool,
    /// The random stream.
    pub rng: Stream,
}

/// Builds `RandomFlip`.
pub fn build_flip(ctx: &BuildCtx, c: &FlipConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let (horizontal, vertical) = match c.mode.as_str() {
        "horizontal" => (true, false),
        "vertical" => (false, true),
        "horizontal_and_vertical" => (true, true),
        other => {
            return Err(ctx.unsupported(format!(
                "mode='{other}' (Keras has horizontal, vertical and horizontal_and_vertical)"
            )))
        }
    };
    Ok(Built {
        op: Op::Flip(Flip {
            horizontal,
            vertical,
            rng: Stream::new(c.seed, &ctx.layer.name),
        }),
        out_shape: vec![h, w, ch],
        params: vec![],
    })
}

/// A `[N, 1, 1, 1]` tensor of per-image values.
fn per_image(values: Vec<f32>, x: &Tensor<4>) -> Tensor<4> {
    let n = values.len();
    Tensor::<4>::from_data(TensorData::new(values, [n, 1, 1, 1]), &x.device())
}

impl Flip {
    /// Flips each image of `[N, C, H, W]` with probability 1/2 in training (Keras draws one
    /// decision per image, used for both axes).
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        if !training {
            return x;
        }
        let n = x.dims()[0];
        let mut r = self.rng.next_batch();
        let flips: Vec<f32> = (0..n)
            .map(|_| f32::from(u8::from(r.uniform(0.0, 1.0) <= 0.5)))
            .collect();
        let m = per_image(flips, &x);
        let mut x = x;
        for (on, axis) in [(self.horizontal, 3), (self.vertical, 2)] {
            if on {
                let flipped = x.clone().flip([axis]);
                x = x.clone() + (flipped - x) * m.clone();
            }
        }
        x
    }
}

/// How a geometric augmentation fills pixels that come from outside the image.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// `d c b a | a b c d | d c b a`.
    Reflect,
    /// `c b | a b c d | c b`.
    Mirror,
    /// `a b c d | a b c d`.
    Wrap,
    /// `a a | a b c d | d d`.
    Nearest,
    /// A constant value.
    Constant(f32),
}

impl Fill {
    fn parse(mode: &str, value: f64, ctx: &BuildCtx) -> Result<Self> {
        Ok(match mode {
            "reflect" => Fill::Reflect,
            "mirror" => Fill::Mirror,
            "wrap" => Fill::Wrap,
            "nearest" => Fill::Nearest,
            "constant" => Fill::Constant(value as f32),
            other => {
                return Err(ctx.unsupported(format!(
                    "fill_mode='{other}' (Keras has reflect, mirror, wrap, nearest, constant)"
                )))
            }
        })
    }

    /// The pixel index that stands for `i` on an axis of `n`, or `None` for the constant.
    fn index(self, i: i64, n: i64) -> Option<i64> {
        if (0..n).contains(&i) {
            return Some(i);
        }
        Some(match self {
            Fill::Constant(_) => return None,
            Fill::Nearest => i.clamp(0, n - 1),
            Fill::Wrap => i.rem_euclid(n),
            Fill::Reflect => {
                let j = i.rem_euclid(2 * n);
                if j < n {
                    j
                } else {
                    2 * n - 1 - j
                }
            }
            Fill::Mirror => {
                if n == 1 {
                    0
                } else {
                    let j = i.rem_euclid(2 * n - 2);
                    if j < n {
                        j
                    } else {
                        2 * n - 2 - j
                    }
                }
            }
        })
    }
}

/// Which geometric augmentation.
#[derive(Debug, Clone)]
pub enum AffineKind {
    /// Angle range in turns.
    Rotation(f64, f64),
    /// Height and width zoom ranges (`None`: the width follows the height).
    Zoom((f64, f64), Option<(f64, f64)>),
    /// Height and width shift ranges, as fractions of the size.
    Translation((f64, f64), (f64, f64)),
}

/// `RandomRotation`, `RandomZoom` and `RandomTranslation`: one affine map per image, sampled
/// bilinearly (or nearest) with Keras' fill modes.
#[derive(Debug, Clone)]
pub struct Affine {
    /// Which transform.
    pub kind: AffineKind,
    /// Bilinear or nearest.
    pub bilinear: bool,
    /// Outside pixels.
    pub fill: Fill,
    /// The random stream.
    pub rng: Stream,
}

/// Builds `RandomRotation`, `RandomZoom` or `RandomTranslation`.
pub fn build_affine(ctx: &BuildCtx, c: &AffineConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let need = |f: &Option<ScalarOrList>, what: &str| {
        f.as_ref()
            .ok_or_else(|| ctx.unsupported(format!("no {what}")))
            .and_then(|f| factor_range(f, f64::NEG_INFINITY, ctx, what))
    };
    let kind = match ctx.layer.class_name.as_str() {
        "RandomRotation" => {
            let (a, b) = need(&c.factor, "factor")?;
            AffineKind::Rotation(a, b)
        }
        "RandomZoom" => AffineKind::Zoom(
            need(&c.height_factor, "height_factor")?,
            match &c.width_factor {
                Some(_) => Some(need(&c.width_factor, "width_factor")?),
                None => None,
            },
        ),
        _ => AffineKind::Translation(
            need(&c.height_factor, "height_factor")?,
            need(&c.width_factor, "width_factor")?,
        ),
    };
    let bilinear = match c.interpolation.as_str() {
        "bilinear" => true,
        "nearest" => false,
        other => {
            return Err(ctx.unsupported(format!(
                "interpolation='{other}' (Keras has bilinear and nearest)"
            )))
        }
    };
    Ok(Built {
        op: Op::Affine(Affine {
            kind,
            bilinear,
            fill: Fill::parse(&c.fill_mode, c.fill_value, ctx)?,
            rng: Stream::new(c.seed, &ctx.layer.name),
        }),
        out_shape: vec![h, w, ch],
        params: vec![],
    })
}

impl Affine {
    /// The map from output `(x, y)` to input `(x, y)` for one image: `[a0, a1, a2, b0, b1, b2]`
    /// as Keras' transforms write it.
    fn draw(&self, r: &mut Rng, h: usize, w: usize) -> [f64; 6] {
        let (hf, wf) = (h as f64, w as f64);
        match &self.kind {
            AffineKind::Rotation(lo, hi) => {
                let t = (r.uniform(lo * 360.0, hi * 360.0)).to_radians();
                let (cos, sin) = (t.cos(), t.sin());
                let (cx, cy) = (0.5 * (wf - 1.0), 0.5 * (hf - 1.0));
                [
                    cos,
                    -sin,
                    cx - cx * cos + cy * sin,
                    sin,
                    cos,
                    cy - cx * sin - cy * cos,
                ]
            }
            AffineKind::Zoom(hr, wr) => {
                let zy = r.uniform(1.0 + hr.0, 1.0 + hr.1);
                let zx = match wr {
                    Some(wr) => r.uniform(1.0 + wr.0, 1.0 + wr.1),
                    None => zy,
                };
                [
                    zx,
                    0.0,
                    (wf - 1.0) / 2.0 * (1.0 - zx),
                    0.0,
                    zy,
                    (hf - 1.0) / 2.0 * (1.0 - zy),
                ]
            }
            AffineKind::Translation(hr, wr) => {
                let ty = r.uniform(hr.0, hr.1) * hf;
                let tx = r.uniform(wr.0, wr.1) * wf;
                [1.0, 0.0, -tx, 0.0, 1.0, -ty]
            }
        }
    }

    /// Transforms each image of `[N, C, H, W]` in training.
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        if !training {
            return x;
        }
        let [n, c, h, w] = x.dims();
        let dev = x.device();
        let mut r = self.rng.next_batch();
        let taps = if self.bilinear { 4 } else { 1 };
        let mut out = Vec::with_capacity(n);
        for img in x.chunk(n, 0) {
            let m = self.draw(&mut r, h, w);
            let mut idx = vec![0i64; taps * h * w];
            let mut wts = vec![0f32; taps * h * w];
            let mut bias = vec![0f32; h * w];
            for y in 0..h {
                for xo in 0..w {
                    let p = y * w + xo;
                    let sx = m[0] * xo as f64 + m[1] * y as f64 + m[2];
                    let sy = m[3] * xo as f64 + m[4] * y as f64 + m[5];
                    let taps_of: Vec<(i64, i64, f64)> = if self.bilinear {
                        let (x0, y0) = (sx.floor(), sy.floor());
                        let (fx, fy) = (sx - x0, sy - y0);
                        let (x0, y0) = (x0 as i64, y0 as i64);
                        vec![
                            (y0, x0, (1.0 - fy) * (1.0 - fx)),
                            (y0, x0 + 1, (1.0 - fy) * fx),
                            (y0 + 1, x0, fy * (1.0 - fx)),
                            (y0 + 1, x0 + 1, fy * fx),
                        ]
                    } else {
                        vec![((sy + 0.5).floor() as i64, (sx + 0.5).floor() as i64, 1.0)]
                    };
                    for (t, (ty, tx, wt)) in taps_of.into_iter().enumerate() {
                        let k = t * h * w + p;
                        match (self.fill.index(ty, h as i64), self.fill.index(tx, w as i64)) {
                            (Some(yy), Some(xx)) => {
                                idx[k] = yy * w as i64 + xx;
                                wts[k] = wt as f32;
                            }
                            _ => {
                                if let Fill::Constant(v) = self.fill {
                                    bias[p] += v * wt as f32;
                                }
                            }
                        }
                    }
                }
            }
            let idx = Tensor::<1, Int>::from_data(TensorData::new(idx, [taps * h * w]), &dev);
            let wts = Tensor::<2>::from_data(TensorData::new(wts, [taps, h * w]), &dev);
            let bias = Tensor::<2>::from_data(TensorData::new(bias, [1, h * w]), &dev);
            let flat = img
                .reshape([c, h * w])
                .select(1, idx)
                .reshape([c, taps, h * w]);
            let sampled = (flat * wts.unsqueeze_dim::<3>(0))
                .sum_dim(1)
                .reshape([c, h * w]);
            out.push((sampled + bias).reshape([1, c, h, w]));
        }
        Tensor::cat(out, 0)
    }
}

/// Which colour augmentation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ColorKind {
    /// `(x - mean) * f + mean`, `f` in `[1 - lower, 1 + upper]`.
    Contrast,
    /// `x + d * range`, `d` in `[lower, upper]`.
    Brightness,
}

/// `RandomContrast` and `RandomBrightness`.
#[derive(Debug, Clone)]
pub struct Color {
    /// Which.
    pub kind: ColorKind,
    /// The factor's `(lower, upper)`.
    pub range: (f64, f64),
    /// Values are clipped to this range.
    pub value_range: (f64, f64),
    /// The random stream.
    pub rng: Stream,
}

/// Builds `RandomContrast` or `RandomBrightness`.
pub fn build_color(ctx: &BuildCtx, c: &ColorConfig) -> Result<Built> {
    let s = ctx.one_input()?.to_vec();
    let kind = if ctx.layer.class_name == "RandomContrast" {
        ColorKind::Contrast
    } else {
        ColorKind::Brightness
    };
    // Keras' bounds on the factor: [0, 1] for contrast, [-1, 1] for brightness.
    let floor = if kind == ColorKind::Contrast {
        0.0
    } else {
        -1.0
    };
    let range = factor_range(&c.factor, floor, ctx, "factor")?;
    let value_range = match c.value_range.as_deref() {
        None => (0.0, 255.0),
        Some([a, b]) => (a.min(*b), a.max(*b)),
        Some(other) => {
            return Err(ctx.shape_error("value_range: a pair", format!("{other:?}")));
        }
    };
    Ok(Built {
        op: Op::Color(Color {
            kind,
            range,
            value_range,
            rng: Stream::new(c.seed, &ctx.layer.name),
        }),
        out_shape: s,
        params: vec![],
    })
}

impl Color {
    /// Adjusts each image of `[N, C, H, W]` in training.
    pub fn forward(&self, x: Tensor<4>, training: bool) -> Tensor<4> {
        if !training {
            return x;
        }
        let n = x.dims()[0];
        let mut r = self.rng.next_batch();
        let (lo, hi) = self.range;
        let (vmin, vmax) = self.value_range;
        let y = match self.kind {
            ColorKind::Contrast => {
                let f: Vec<f32> = (0..n)
                    .map(|_| r.uniform(1.0 - lo, 1.0 + hi) as f32)
                    .collect();
                let mean = x.clone().mean_dim(2).mean_dim(3);
                (x - mean.clone()) * per_image(f, &mean) + mean
            }
            ColorKind::Brightness => {
                let d: Vec<f32> = (0..n)
                    .map(|_| (r.uniform(lo, hi) * (vmax - vmin)) as f32)
                    .collect();
                let d = per_image(d, &x);
                x + d
            }
        };
        y.clamp(vmin as f32, vmax as f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::Device;

    fn image(h: usize, w: usize) -> (Vec<f32>, Tensor<4>) {
        let v: Vec<f32> = (0..h * w).map(|i| i as f32).collect();
        let t = Tensor::<4>::from_data(TensorData::new(v.clone(), [1, 1, h, w]), &Device::flex());
        (v, t)
    }

    fn affine(kind: AffineKind, fill: Fill) -> Affine {
        Affine {
            kind,
            bilinear: true,
            fill,
            rng: Stream::new(Some(1), "t"),
        }
    }

    fn values(t: Tensor<4>) -> Vec<f32> {
        t.into_data().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn fill_modes_map_outside_indices_as_keras_does() {
        let n = 4;
        let map = |f: Fill| (-5..9).map(|i| f.index(i, n)).collect::<Vec<_>>();
        let s = |v: &[i64]| v.iter().map(|&i| Some(i)).collect::<Vec<_>>();
        assert_eq!(
            map(Fill::Reflect),
            s(&[3, 3, 2, 1, 0, 0, 1, 2, 3, 3, 2, 1, 0, 0])
        );
        assert_eq!(
            map(Fill::Mirror),
            s(&[1, 2, 3, 2, 1, 0, 1, 2, 3, 2, 1, 0, 1, 2])
        );
        assert_eq!(
            map(Fill::Wrap),
            s(&[3, 0, 1, 2, 3, 0, 1, 2, 3, 0, 1, 2, 3, 0])
        );
        assert_eq!(
            map(Fill::Nearest),
            s(&[0, 0, 0, 0, 0, 0, 1, 2, 3, 3, 3, 3, 3, 3])
        );
        assert_eq!(Fill::Constant(0.0).index(-1, n), None);
        assert_eq!(Fill::Constant(0.0).index(2, n), Some(2));
    }

    /// A translation by exactly one row moves every row down and fills the first with the
    /// constant; a half-turn rotation is the image reversed.
    #[test]
    fn translation_and_rotation_move_pixels_where_keras_would() {
        let (v, x) = image(4, 5);
        let shift = affine(
            AffineKind::Translation((0.25, 0.25), (0.0, 0.0)),
            Fill::Constant(-1.0),
        );
        let y = values(shift.forward(x.clone(), true));
        let mut want = vec![-1.0; 5];
        want.extend_from_slice(&v[..15]);
        assert_eq!(y, want);
        let turn = affine(AffineKind::Rotation(0.5, 0.5), Fill::Reflect);
        let y = values(turn.forward(x.clone(), true));
        let rev: Vec<f32> = v.iter().rev().copied().collect();
        for (a, b) in y.iter().zip(&rev) {
            assert!((a - b).abs() < 1e-4, "{y:?} vs {rev:?}");
        }
        assert_eq!(
            values(turn.forward(x.clone(), false)),
            v,
            "identity at inference"
        );
        // Zooming by a factor of 1 changes nothing.
        let zoom = affine(AffineKind::Zoom((0.0, 0.0), None), Fill::Reflect);
        assert_eq!(values(zoom.forward(x, true)), v);
    }

    /// Contrast factors are drawn in Keras' `[1 - lower, 1 + upper]` around each image's mean
    /// and brightness shifts by a fraction of the value range; both clip to the range.
    #[test]
    fn colour_augmentations_stay_in_range_and_vary_per_image() {
        let data: Vec<f32> = (0..2 * 16).map(|i| (i * 8) as f32).collect();
        let x =
            Tensor::<4>::from_data(TensorData::new(data.clone(), [2, 1, 4, 4]), &Device::flex());
        for kind in [ColorKind::Contrast, ColorKind::Brightness] {
            let c = Color {
                kind,
                range: if kind == ColorKind::Contrast {
                    (0.0, 0.5)
                } else {
                    (-0.5, 0.5)
                },
                value_range: (0.0, 255.0),
                rng: Stream::new(None, "colour"),
            };
            let y = values(c.forward(x.clone(), true));
            assert!(
                y.iter().all(|v| (0.0..=255.0).contains(v)),
                "{kind:?}: {y:?}"
            );
            assert_ne!(y, data, "{kind:?} changed the images");
            assert_eq!(values(c.forward(x.clone(), false)), data);
        }
    }

    /// jax.image.resize's weights: the identity at the same size, rows that sum to 1, and
    /// nearest picks `floor((i + 0.5) * in / out)`.
    #[test]
    fn resize_matrices_are_normalised() {
        for interp in [
            Interp::Bilinear,
            Interp::Bicubic,
            Interp::Lanczos(3.0),
            Interp::Area,
        ] {
            for (i, o) in [(5, 5), (7, 3), (3, 8)] {
                let m = resize_matrix(i, o, interp, interp == Interp::Bilinear);
                for col in 0..o {
                    let s: f32 = (0..i).map(|r| m[r * o + col]).sum();
                    assert!((s - 1.0).abs() < 1e-5, "{interp:?} {i}->{o}: {s}");
                }
            }
        }
        let m = resize_matrix(5, 2, Interp::Nearest, false);
        assert_eq!(m[o_at(1, 0, 2)], 1.0);
        assert_eq!(m[o_at(3, 1, 2)], 1.0);
    }

    fn o_at(row: usize, col: usize, cols: usize) -> usize {
        row * cols + col
    }
}
