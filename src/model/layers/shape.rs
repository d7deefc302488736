//! Flatten, Reshape, ZeroPadding2D and Cropping2D: moving values without computing.

use super::conv::image_input;
use super::{BuildCtx, Built, Op};
use crate::error::Result;
use crate::keras::{
    CroppingConfig, PermuteConfig, ReshapeConfig, UpSamplingConfig, ZeroPaddingConfig,
};
use crate::model::axes::{dims_text, from_keras_order, internal_dims, to_keras_order};
use burn::tensor::ops::PadMode;
use burn::tensor::Tensor;

/// Flatten in Keras' (channels-last) element order.
#[derive(Debug, Clone)]
pub struct Flatten {
    /// Number of features out.
    pub features: usize,
}

impl Flatten {
    /// `[N, C, s1, s2]` → `[N, s1*s2*C, 1, 1]` in Keras order.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, _, a, b] = x.dims();
        if a == 1 && b == 1 {
            return x;
        }
        to_keras_order(x).reshape([n, self.features, 1, 1])
    }
}

/// Builds `Flatten`.
pub fn build_flatten(ctx: &BuildCtx) -> Result<Built> {
    let features = ctx
        .one_input()?
        .iter()
        .try_fold(1usize, |acc, &d| ctx.mul(acc, d, "the flattened size"))?;
    Ok(Built {
        op: Op::Flatten(Flatten { features }),
        out_shape: vec![features],
        params: vec![],
    })
}

/// Reshape in Keras' element order.
#[derive(Debug, Clone)]
pub struct Reshape {
    /// Target in Keras order `[s1, s2, C]` (padded with 1).
    pub keras_order: [usize; 3],
}

impl Reshape {
    /// Reshapes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let n = x.dims()[0];
        let [a, b, c] = self.keras_order;
        from_keras_order(to_keras_order(x).reshape([n, a, b, c]))
    }
}

/// Builds `Reshape` (one -1 allowed).
pub fn build_reshape(ctx: &BuildCtx, c: &ReshapeConfig) -> Result<Built> {
    let s = ctx.one_input()?;
    let total = s
        .iter()
        .try_fold(1usize, |acc, &d| ctx.mul(acc, d, "the number of values"))?;
    // A product past i64 (a wrapping target) is as wrong as a zero one.
    let known: i64 = c
        .target_shape
        .iter()
        .filter(|&&d| d != -1)
        .try_fold(1i64, |acc, &d| acc.checked_mul(d))
        .unwrap_or(0);
    let unknown = c.target_shape.iter().filter(|&&d| d == -1).count();
    let bad = || {
        ctx.shape_error(
            format!("a shape with {total} values"),
            format!("{:?}", c.target_shape),
        )
    };
    if unknown > 1 || known <= 0 || c.target_shape.iter().any(|&d| d < -1 || d == 0) {
        return Err(bad());
    }
    let Ok(known) = usize::try_from(known) else {
        return Err(bad());
    };
    let target: Vec<usize> = c
        .target_shape
        .iter()
        .map(|&d| if d == -1 { total / known } else { d as usize })
        .collect();
    if crate::limits::checked_product(&target) != Some(total as u64) {
        return Err(bad());
    }
    let [ch, a, b] = internal_dims(&target, &ctx.context())?;
    Ok(Built {
        op: Op::Reshape(Reshape {
            keras_order: [a, b, ch],
        }),
        out_shape: target,
        params: vec![],
    })
}

/// Zero padding of the spatial axes.
#[derive(Debug, Clone)]
pub struct Pad {
    /// ((top, bottom), (left, right)).
    pub sides: [(usize, usize); 2],
}

impl Pad {
    /// Pads `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.pad(self.sides, PadMode::Constant(0.0))
    }
}

/// Builds `ZeroPadding2D`.
pub fn build_pad(ctx: &BuildCtx, c: &ZeroPaddingConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let ((t, b), (l, r)) = (c.padding.0, c.padding.1);
    let oh = ctx.add(h, t, "the padded height")?;
    let oh = ctx.add(oh, b, "the padded height")?;
    let ow = ctx.add(w, l, "the padded width")?;
    let ow = ctx.add(ow, r, "the padded width")?;
    Ok(Built {
        op: Op::Pad(Pad {
            sides: [(t, b), (l, r)],
        }),
        out_shape: vec![oh, ow, ch],
        params: vec![],
    })
}

/// Cropping of the spatial axes.
#[derive(Debug, Clone)]
pub struct Crop {
    /// (start, length) on H and on W.
    pub keep: [(usize, usize); 2],
}

impl Crop {
    /// Crops `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        x.narrow(2, self.keep[0].0, self.keep[0].1)
            .narrow(3, self.keep[1].0, self.keep[1].1)
    }
}

/// Builds `Cropping2D`.
pub fn build_crop(ctx: &BuildCtx, c: &CroppingConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let ((t, b), (l, r)) = (c.cropping.0, c.cropping.1);
    let (ch_sum, cw_sum) = (t.saturating_add(b), l.saturating_add(r));
    if ch_sum >= h || cw_sum >= w {
        return Err(ctx.shape_error(
            format!("an input larger than the cropping ({t}+{b}, {l}+{r})"),
            dims_text(&[h, w, ch]),
        ));
    }
    Ok(Built {
        op: Op::Crop(Crop {
            keep: [(t, h - t - b), (l, w - l - r)],
        }),
        out_shape: vec![h - t - b, w - l - r, ch],
        params: vec![],
    })
}

/// Nearest-neighbour upsampling of the spatial axes by whole factors (each pixel repeated).
#[derive(Debug, Clone)]
pub struct UpSampling {
    /// Repeats along height and width.
    pub size: (usize, usize),
}

impl UpSampling {
    /// Upsamples `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let [n, c, h, w] = x.dims();
        let (sh, sw) = self.size;
        x.reshape([n, c, h, 1, w, 1])
            .expand([n, c, h, sh, w, sw])
            .reshape([n, c, h * sh, w * sw])
    }
}

/// Builds `UpSampling2D` (`interpolation='nearest'`).
pub fn build_upsampling(ctx: &BuildCtx, c: &UpSamplingConfig) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let (sh, sw) = (c.size.0, c.size.1);
    if sh == 0 || sw == 0 {
        return Err(ctx.unsupported("size must be positive"));
    }
    let out = (
        ctx.mul(h, sh, "the upsampled height")?,
        ctx.mul(w, sw, "the upsampled width")?,
    );
    let op = if c.interpolation == "nearest" {
        Op::UpSampling(UpSampling { size: (sh, sw) })
    } else {
        // Keras resizes with `ops.image.resize` for every other interpolation.
        let resizing = crate::keras::ResizingConfig {
            height: out.0,
            width: out.1,
            interpolation: c.interpolation.clone(),
            crop_to_aspect_ratio: false,
            pad_to_aspect_ratio: false,
            fill_mode: "constant".into(),
            fill_value: 0.0,
            antialias: false,
            data_format: c.data_format,
        };
        return super::preprocess::build_resizing(ctx, &resizing);
    };
    Ok(Built {
        op,
        out_shape: vec![out.0, out.1, ch],
        params: vec![],
    })
}

/// Keras' axis order `[s1, s2, s3]` of a shape of rank 1 to 3 (batch excluded), as Glimpse's
/// Keras-order tensors hold it (`[.., .., C]`, padded with 1s before the channels).
fn keras_order_dims(dims: &[usize]) -> [usize; 3] {
    match *dims {
        [c] => [1, 1, c],
        [l, c] => [l, 1, c],
        [h, w, c] => [h, w, c],
        _ => [1, 1, 1],
    }
}

/// Permute of the non-batch axes.
#[derive(Debug, Clone)]
pub struct Permute {
    /// The input's Keras dims padded to three at the end.
    pub input: [usize; 3],
    /// The permutation of those three (0-based; padding axes stay in place).
    pub order: [usize; 3],
    /// The output's Keras-order dims (see `keras_order_dims`).
    pub output: [usize; 3],
}

impl Permute {
    /// Permutes.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let n = x.dims()[0];
        let [a, b, c] = self.input;
        let [p, q, r] = self.order;
        let [o1, o2, o3] = self.output;
        let k = to_keras_order(x)
            .reshape([n, a, b, c])
            .permute([0, p + 1, q + 1, r + 1]);
        from_keras_order(k.reshape([n, o1, o2, o3]))
    }
}

/// Builds `Permute`: `dims` must order the non-batch axes 1..rank.
pub fn build_permute(ctx: &BuildCtx, c: &PermuteConfig) -> Result<Built> {
    let s = ctx.one_input()?;
    let r = s.len();
    let mut seen = vec![false; r];
    let valid = c.dims.len() == r
        && c.dims.iter().all(|&d| {
            let ok = d >= 1 && (d as usize) <= r && !seen[d as usize - 1];
            if ok {
                seen[d as usize - 1] = true;
            }
            ok
        });
    if !valid {
        return Err(ctx.unsupported(format!(
            "dims {:?} is not an order of the axes 1..{r}",
            c.dims
        )));
    }
    let mut order = [0, 1, 2];
    for (i, &d) in c.dims.iter().enumerate() {
        order[i] = d as usize - 1;
    }
    let out: Vec<usize> = (0..r).map(|i| s[order[i]]).collect();
    let mut input = [1, 1, 1];
    input[..r].copy_from_slice(s);
    internal_dims(&out, &ctx.context())?;
    Ok(Built {
        op: Op::Permute(Permute {
            input,
            order,
            output: keras_order_dims(&out),
        }),
        out_shape: out,
        params: vec![],
    })
}
