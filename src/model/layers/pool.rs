//! MaxPooling2D, AveragePooling2D (padding excluded from the mean, as TensorFlow does) and
//! the global poolings.

use super::conv::{image_input, window2};
use super::{BuildCtx, Built, Op};
use crate::error::Result;
use crate::keras::{GlobalPoolConfig, Pair, Pool2DConfig};
use burn::tensor::module::{avg_pool2d, max_pool2d};
use burn::tensor::ops::{AvgPoolOptions, MaxPoolOptions};
use burn::tensor::Tensor;

/// Max or average.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PoolKind {
    /// Maximum over the window.
    Max,
    /// Mean over the window.
    Avg,
}

/// A windowed pooling.
#[derive(Debug, Clone)]
pub struct Pool {
    /// Max or average.
    pub kind: PoolKind,
    /// Window.
    pub kernel: [usize; 2],
    /// Strides.
    pub strides: [usize; 2],
    /// (before, after) per spatial axis.
    pub padding: [(usize, usize); 2],
}

impl Pool {
    /// Pools `[N, C, H, W]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self.kind {
            PoolKind::Max => max_pool2d(
                x,
                MaxPoolOptions::new(self.kernel)
                    .with_stride(self.strides)
                    .with_padding_pairs(self.padding),
            ),
            PoolKind::Avg => avg_pool2d(
                x,
                AvgPoolOptions::new(self.kernel)
                    .with_stride(self.strides)
                    .with_padding_pairs(self.padding)
                    .with_count_include_pad(false),
            ),
        }
    }
}

/// Builds `MaxPooling2D` / `AveragePooling2D`.
pub fn build_pool(ctx: &BuildCtx, c: &Pool2DConfig, kind: PoolKind) -> Result<Built> {
    let (h, w, ch) = image_input(ctx, c.data_format)?;
    let strides = c.strides.unwrap_or(c.pool_size);
    let ((oh, ow), padding) = window2(ctx, (h, w), c.pool_size, strides, Pair(1, 1), c.padding)?;
    Ok(Built {
        op: Op::Pool(Pool {
            kind,
            kernel: [c.pool_size.0, c.pool_size.1],
            strides: [strides.0, strides.1],
            padding,
        }),
        out_shape: vec![oh, ow, ch],
        params: vec![],
    })
}

/// Global pooling over the spatial axes; internally always `[N, C, 1, 1]`.
#[derive(Debug, Clone)]
pub struct GlobalPool {
    /// Max or average.
    pub kind: PoolKind,
}

impl GlobalPool {
    /// Pools `[N, C, H, W]` to `[N, C, 1, 1]`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        match self.kind {
            PoolKind::Avg => x.mean_dim(3).mean_dim(2),
            PoolKind::Max => x.max_dim(3).max_dim(2),
        }
    }
}

/// Builds the global poolings.
pub fn build_global(ctx: &BuildCtx, c: &GlobalPoolConfig, kind: PoolKind) -> Result<Built> {
    let (_, _, ch) = image_input(ctx, c.data_format)?;
    Ok(Built {
        op: Op::GlobalPool(GlobalPool { kind }),
        out_shape: if c.keepdims { vec![1, 1, ch] } else { vec![ch] },
        params: vec![],
    })
}
