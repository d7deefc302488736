//! Element-wise merges (Add, Subtract, Multiply, Average, Maximum, Minimum, and Keras 3's
//! numpy op layers with constants) and Concatenate.

use super::{BuildCtx, Built, Op};
use crate::error::Result;
use crate::keras::{ConcatConfig, MergeOp};
use crate::model::axes::{dims_text, internal_axis};
use burn::tensor::Tensor;

/// An element-wise merge of tensors and constants.
#[derive(Debug, Clone)]
pub struct Merge {
    /// The operation.
    pub op: MergeOp,
    /// Arguments in order: `None` takes the next tensor input, `Some(c)` is a constant.
    pub slots: Vec<Option<f64>>,
}

// Short-lived values of a fold; boxing the tensor would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Operand {
    T(Tensor<4>),
    S(f64),
}

fn combine(op: MergeOp, a: Operand, b: Operand) -> Operand {
    use Operand::{S, T};
    match (a, b) {
        (T(a), T(b)) => T(match op {
            MergeOp::Add | MergeOp::Average => a + b,
            MergeOp::Subtract => a - b,
            MergeOp::Multiply => a * b,
            MergeOp::Maximum => a.max_pair(b),
            MergeOp::Minimum => a.min_pair(b),
            MergeOp::Divide => a / b,
        }),
        (T(a), S(s)) => T(match op {
            MergeOp::Add | MergeOp::Average => a.add_scalar(s),
            MergeOp::Subtract => a.sub_scalar(s),
            MergeOp::Multiply => a.mul_scalar(s),
            MergeOp::Maximum => a.clamp_min(s),
            MergeOp::Minimum => a.clamp_max(s),
            MergeOp::Divide => a.div_scalar(s),
        }),
        (S(s), T(b)) => T(match op {
            MergeOp::Add | MergeOp::Average => b.add_scalar(s),
            MergeOp::Subtract => b.neg().add_scalar(s),
            MergeOp::Multiply => b.mul_scalar(s),
            MergeOp::Maximum => b.clamp_min(s),
            MergeOp::Minimum => b.clamp_max(s),
            MergeOp::Divide => b.recip().mul_scalar(s),
        }),
        (S(a), S(b)) => S(match op {
            MergeOp::Add | MergeOp::Average => a + b,
            MergeOp::Subtract => a - b,
            MergeOp::Multiply => a * b,
            MergeOp::Maximum => a.max(b),
            MergeOp::Minimum => a.min(b),
            MergeOp::Divide => a / b,
        }),
    }
}

impl Merge {
    /// Folds the arguments left to right (Average divides by their count).
    pub fn forward(&self, inputs: Vec<Tensor<4>>) -> Tensor<4> {
        let mut tensors = inputs.into_iter();
        let mut acc: Option<Operand> = None;
        for slot in &self.slots {
            let next = match slot {
                None => Operand::T(tensors.next().expect("checked at build")),
                Some(c) => Operand::S(*c),
            };
            acc = Some(match acc {
                None => next,
                Some(a) => combine(self.op, a, next),
            });
        }
        let out = match acc.expect("at least one argument") {
            Operand::T(t) => t,
            Operand::S(_) => unreachable!("checked at build: a tensor argument"),
        };
        if self.op == MergeOp::Average {
            out.div_scalar(self.slots.len() as f64)
        } else {
            out
        }
    }
}

/// Broadcasts Keras shapes (aligned from the right).
fn broadcast(ctx: &BuildCtx) -> Result<Vec<usize>> {
    let rank = ctx.inputs.iter().map(Vec::len).max().unwrap_or(0);
    let mut out = vec![1usize; rank];
    for s in ctx.inputs {
        if s.len() != rank && s.len() != 1 {
            return Err(ctx.shape_error(
                "inputs of the same rank (or per-channel vectors)",
                ctx.inputs
                    .iter()
                    .map(|s| format!("({})", dims_text(s)))
                    .collect::<Vec<_>>()
                    .join(" and "),
            ));
        }
        let off = rank - s.len();
        for (i, &d) in s.iter().enumerate() {
            let o = &mut out[off + i];
            if *o == 1 {
                *o = d;
            } else if d != 1 && d != *o {
                return Err(ctx.shape_error(
                    "shapes that broadcast",
                    ctx.inputs
                        .iter()
                        .map(|s| format!("({})", dims_text(s)))
                        .collect::<Vec<_>>()
                        .join(" and "),
                ));
            }
        }
    }
    Ok(out)
}

/// Builds an element-wise merge.
pub fn build_merge(ctx: &BuildCtx, op: MergeOp) -> Result<Built> {
    if ctx.inputs.is_empty() {
        return Err(ctx.shape_error("at least one tensor input", "none"));
    }
    if ctx.slots.len() < 2 && ctx.inputs.len() < 2 {
        return Err(ctx.shape_error("at least two inputs", ctx.slots.len().to_string()));
    }
    Ok(Built {
        op: Op::Merge(Merge {
            op,
            slots: ctx.slots.to_vec(),
        }),
        out_shape: broadcast(ctx)?,
        params: vec![],
    })
}

/// Builds `Concatenate`.
pub fn build_concat(ctx: &BuildCtx, c: &ConcatConfig) -> Result<Built> {
    let first = ctx
        .inputs
        .first()
        .ok_or_else(|| ctx.shape_error("inputs", "none"))?;
    let rank = first.len();
    let k = if c.axis < 0 {
        (rank as i64 + 1).saturating_add(c.axis)
    } else {
        c.axis
    };
    if k <= 0 || k > rank as i64 {
        return Err(ctx.unsupported(format!("axis {} (batch axis or out of range)", c.axis)));
    }
    let k = k as usize - 1;
    let mut out = first.clone();
    out[k] = 0;
    for s in ctx.inputs {
        let same = s.len() == rank && s.iter().enumerate().all(|(i, &d)| i == k || d == first[i]);
        if !same {
            return Err(ctx.shape_error(
                format!(
                    "inputs matching ({}) except on axis {}",
                    dims_text(first),
                    c.axis
                ),
                format!("({})", dims_text(s)),
            ));
        }
        out[k] = ctx.add(out[k], s[k], "the concatenated size")?;
    }
    Ok(Built {
        op: Op::Concat(internal_axis(c.axis, rank, &ctx.context())?),
        out_shape: out,
        params: vec![],
    })
}
