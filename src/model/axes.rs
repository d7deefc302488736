//! Glimpse's internal tensor layout.
//!
//! Every activation is a rank-4 burn tensor `[N, C, s1, s2]`: the Keras channel (last) axis
//! second, the other Keras axes after it, padded with 1s. A Keras `[N, H, W, C]` tensor is
//! `[N, C, H, W]` (what burn's convolutions take), `[N, L, C]` is `[N, C, L, 1]` and `[N, C]`
//! is `[N, C, 1, 1]`. "Keras order" `[N, s1, s2, C]` is one permute away and has Keras'
//! row-major element order, which Flatten, Reshape and Dense on images rely on.

use crate::error::{Error, Result};
use burn::tensor::Tensor;

/// The internal `[C, s1, s2]` dims of a Keras shape (without batch). Ranks 1 to 3.
pub fn internal_dims(keras: &[usize], context: &str) -> Result<[usize; 3]> {
    match keras {
        [c] => Ok([*c, 1, 1]),
        [l, c] => Ok([*c, *l, 1]),
        [h, w, c] => Ok([*c, *h, *w]),
        _ => Err(Error::Shape {
            context: context.to_string(),
            expected: "a tensor of rank 2 to 4 (batch included)".into(),
            found: format!("(None, {})", dims_text(keras)),
        }),
    }
}

/// Formats dims as Keras prints them.
pub fn dims_text(d: &[usize]) -> String {
    d.iter()
        .map(|x| x.to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Maps a Keras axis (batch = 0, negative from the end) of a tensor whose non-batch rank is
/// `rank` to the internal axis.
pub fn internal_axis(axis: i64, rank: usize, context: &str) -> Result<usize> {
    let full = rank as i64 + 1;
    let a = if axis < 0 { full + axis } else { axis };
    if a < 0 || a >= full {
        return Err(Error::Shape {
            context: context.to_string(),
            expected: format!("an axis in [-{full}, {})", full),
            found: axis.to_string(),
        });
    }
    let a = a as usize;
    Ok(if a == 0 {
        0
    } else if a == rank {
        1
    } else {
        a + 1
    })
}

/// `[N, C, s1, s2]` → `[N, s1, s2, C]` (Keras element order).
pub fn to_keras_order(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 2, 3, 1])
}

/// `[N, s1, s2, C]` → `[N, C, s1, s2]`.
pub fn from_keras_order(x: Tensor<4>) -> Tensor<4> {
    x.permute([0, 3, 1, 2])
}

/// `[N, ...keras dims]` flattened row-major data's internal shape `[N, C, s1, s2]`.
pub fn internal_shape(batch: usize, keras: &[usize], context: &str) -> Result<[usize; 4]> {
    let [c, a, b] = internal_dims(keras, context)?;
    Ok([batch, c, a, b])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_map_channel_last_to_second() {
        assert_eq!(internal_axis(-1, 3, "t").unwrap(), 1);
        assert_eq!(internal_axis(3, 3, "t").unwrap(), 1);
        assert_eq!(internal_axis(1, 3, "t").unwrap(), 2);
        assert_eq!(internal_axis(2, 3, "t").unwrap(), 3);
        assert_eq!(internal_axis(-1, 1, "t").unwrap(), 1);
        assert_eq!(internal_axis(1, 2, "t").unwrap(), 2);
        assert!(internal_axis(4, 3, "t").is_err());
        assert!(internal_dims(&[1, 2, 3, 4], "t").is_err());
    }
}
