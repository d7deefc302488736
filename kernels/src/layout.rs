//! Moving tensor axes on plain row-major `f32` data.

/// Permutes row-major `data` of `shape` so that output axis `i` is input axis `perm[i]`;
/// returns the values and the permuted shape.
pub fn permute(data: &[f32], shape: &[usize], perm: &[usize]) -> (Vec<f32>, Vec<usize>) {
    let rank = shape.len();
    debug_assert_eq!(perm.len(), rank);
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * shape[i + 1];
    }
    let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut out = Vec::with_capacity(data.len());
    if rank == 0 || data.is_empty() {
        out.extend_from_slice(data);
        return (out, out_shape);
    }
    // Walk the outer output axes with an odometer and copy each innermost run with one
    // constant input stride (loading the weights of a large model spent most of its time
    // recomputing every element's offset).
    let (inner, step) = (out_shape[rank - 1], strides[rank - 1]);
    let mut idx = vec![0usize; rank - 1];
    let mut base = 0usize;
    for _ in 0..data.len() / inner {
        out.extend((0..inner).map(|j| data[base + j * step]));
        for d in (0..rank - 1).rev() {
            idx[d] += 1;
            base += strides[d];
            if idx[d] < out_shape[d] {
                break;
            }
            base -= strides[d] * idx[d];
            idx[d] = 0;
        }
    }
    (out, out_shape)
}
