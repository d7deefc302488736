//! Every Keras ↔ burn layout conversion, in one tested place.
//!
//! Keras stores Conv2D kernels as `[kh, kw, in/groups, out]`; burn's conv2d wants
//! `[out, in/groups, kh, kw]`. Keras depthwise kernels are `[kh, kw, in, multiplier]`; as a
//! grouped burn convolution (groups = in) they become `[in * multiplier, 1, kh, kw]`, output
//! channel `c * multiplier + m`, which is also Keras' output order. Dense kernels `[in, out]`
//! are used as they are.

/// How a variable is laid out for burn, relative to Keras.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// The same as Keras.
    Keep,
    /// A Conv2D (or pointwise) kernel.
    ConvKernel,
    /// A depthwise kernel.
    DepthwiseKernel,
}

/// Permutes row-major `data` of `shape` so that output axis `i` is input axis `perm[i]`
/// (in the kernels package, compiled at full speed in the browser build: loading a model
/// converts every weight this way).
pub fn permute(data: &[f32], shape: &[usize], perm: &[usize]) -> (Vec<f32>, Vec<usize>) {
    glimpse_kernels::layout::permute(data, shape, perm)
}

impl Layout {
    /// Converts Keras-layout values to burn's layout; returns the values and burn's shape.
    pub fn to_burn(self, data: &[f32], keras_shape: &[usize]) -> (Vec<f32>, Vec<usize>) {
        match self {
            Layout::Keep => (data.to_vec(), keras_shape.to_vec()),
            Layout::ConvKernel => permute(data, keras_shape, &[3, 2, 0, 1]),
            Layout::DepthwiseKernel => {
                let (v, s) = permute(data, keras_shape, &[2, 3, 0, 1]);
                (v, vec![s[0] * s[1], 1, s[2], s[3]])
            }
        }
    }

    /// Converts burn-layout values back to Keras' layout (`keras_shape` is the target shape).
    pub fn to_keras(self, data: &[f32], keras_shape: &[usize]) -> Vec<f32> {
        match self {
            Layout::Keep => data.to_vec(),
            Layout::ConvKernel => {
                let s = keras_shape;
                permute(data, &[s[3], s[2], s[0], s[1]], &[2, 3, 1, 0]).0
            }
            Layout::DepthwiseKernel => {
                let s = keras_shape;
                permute(data, &[s[2], s[3], s[0], s[1]], &[2, 3, 0, 1]).0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn iota(n: usize) -> Vec<f32> {
        (0..n).map(|i| i as f32).collect()
    }

    #[test]
    fn conv_kernel_moves_axes() {
        // Keras [kh=2, kw=3, in=4, out=5]: element (h, w, i, o) at ((h*3+w)*4+i)*5+o.
        let k = iota(2 * 3 * 4 * 5);
        let (b, s) = Layout::ConvKernel.to_burn(&k, &[2, 3, 4, 5]);
        assert_eq!(s, vec![5, 4, 2, 3]);
        // burn (o=4, i=3, h=1, w=2) must be Keras (h=1, w=2, i=3, o=4).
        let burn_at = ((4 * 4 + 3) * 2 + 1) * 3 + 2;
        let keras_at = ((3 + 2) * 4 + 3) * 5 + 4;
        assert_eq!(b[burn_at], k[keras_at]);
        assert_eq!(Layout::ConvKernel.to_keras(&b, &[2, 3, 4, 5]), k);
    }

    #[test]
    fn depthwise_kernel_groups_by_input_channel() {
        // Keras [kh=2, kw=2, in=3, mult=2]
        let k = iota(2 * 2 * 3 * 2);
        let (b, s) = Layout::DepthwiseKernel.to_burn(&k, &[2, 2, 3, 2]);
        assert_eq!(s, vec![6, 1, 2, 2]);
        // burn out channel c*2+m = 2*2+1 = 5 (c=2, m=1), h=1, w=0
        let burn_at = 5 * 4 + 2;
        let keras_at = (2 * 3 + 2) * 2 + 1; // h=1, w=0, c=2, m=1
        assert_eq!(b[burn_at], k[keras_at]);
        assert_eq!(Layout::DepthwiseKernel.to_keras(&b, &[2, 2, 3, 2]), k);
    }
}

#[cfg(test)]
mod permute_tests {
    use super::permute;

    /// Element by element: output index -> input offset.
    fn naive(data: &[f32], shape: &[usize], perm: &[usize]) -> Vec<f32> {
        let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
        let n: usize = shape.iter().product();
        (0..n)
            .map(|flat| {
                let mut rest = flat;
                let mut idx = vec![0; shape.len()];
                for d in (0..shape.len()).rev() {
                    idx[d] = rest % out_shape[d];
                    rest /= out_shape[d];
                }
                let mut off = 0;
                for (d, &p) in perm.iter().enumerate() {
                    let stride: usize = shape[p + 1..].iter().product();
                    off += idx[d] * stride;
                }
                data[off]
            })
            .collect()
    }

    #[test]
    fn permute_matches_the_definition() {
        let cases: [(&[usize], &[usize]); 9] = [
            (&[5], &[0]),
            (&[3, 4], &[1, 0]),
            (&[2, 3, 4], &[2, 0, 1]),
            (&[3, 3, 16, 24], &[3, 2, 0, 1]),
            (&[5, 5, 7, 1], &[2, 3, 0, 1]),
            (&[1, 1, 6, 2], &[2, 3, 1, 0]),
            (&[2, 1, 3, 1, 2], &[4, 0, 3, 2, 1]),
            // A 1x1 convolution's kernel, and nothing but axes of size 1.
            (&[1, 1, 32, 16], &[3, 2, 0, 1]),
            (&[1, 1, 1], &[2, 0, 1]),
        ];
        for (shape, perm) in cases {
            let n: usize = shape.iter().product();
            let data: Vec<f32> = (0..n).map(|i| i as f32).collect();
            let (got, out_shape) = permute(&data, shape, perm);
            assert_eq!(
                got,
                naive(&data, shape, perm),
                "shape {shape:?} perm {perm:?}"
            );
            assert_eq!(
                out_shape,
                perm.iter().map(|&p| shape[p]).collect::<Vec<_>>()
            );
        }
    }
}
