//! Moving tensor axes on plain row-major `f32` data.

/// Permutes row-major `data` of `shape` so that output axis `i` is input axis `perm[i]`;
/// returns the values and the permuted shape.
pub fn permute(data: &[f32], shape: &[usize], perm: &[usize]) -> (Vec<f32>, Vec<usize>) {
    debug_assert_eq!(perm.len(), shape.len());
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    // Axes of size 1 do not move any value: without them a 1x1 convolution's kernel (Keras'
    // [1, 1, in, out] to burn's [out, in, 1, 1]) is a plain transpose whose innermost run is
    // `in` long, instead of runs of one value each.
    let kept: Vec<usize> = (0..shape.len()).filter(|&a| shape[a] != 1).collect();
    let shape: Vec<usize> = kept.iter().map(|&a| shape[a]).collect();
    let perm: Vec<usize> = perm
        .iter()
        .filter(|&&p| kept.contains(&p))
        .map(|&p| kept.iter().position(|&a| a == p).expect("kept"))
        .collect();
    let values = permute_axes(data, &shape, &perm);
    (values, out_shape)
}

/// [`permute`]'s values for axes that all have more than one value (or none).
fn permute_axes(data: &[f32], shape: &[usize], perm: &[usize]) -> Vec<f32> {
    let rank = shape.len();
    let out_shape: Vec<usize> = perm.iter().map(|&p| shape[p]).collect();
    let mut in_strides = vec![1usize; rank];
    for i in (0..rank.saturating_sub(1)).rev() {
        in_strides[i] = in_strides[i + 1] * shape[i + 1];
    }
    let strides: Vec<usize> = perm.iter().map(|&p| in_strides[p]).collect();
    let mut out = Vec::with_capacity(data.len());
    if rank == 0 || data.is_empty() {
        out.extend_from_slice(data);
        return out;
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
    out
}
