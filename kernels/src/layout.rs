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

/// IEEE half precision to single (exact: every half is a single).
#[inline]
pub fn f16_to_f32(h: u16) -> f32 {
    let sign = ((h >> 15) as u32) << 31;
    let exp = ((h >> 10) & 0x1f) as u32;
    let mant = (h & 0x3ff) as u32;
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let shift = m.leading_zeros() - 21;
            let m = (m << shift) & 0x3ff;
            sign | ((113 - shift) << 23) | (m << 13)
        }
        (0x1f, 0) => sign | 0x7f80_0000,
        (0x1f, m) => sign | 0x7fc0_0000 | (m << 13),
        (e, m) => sign | ((e + 112) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

/// Halves of two bytes each in `raw` (little or big endian) as singles into `out`.
pub fn f16_bytes_to_f32(raw: &[u8], big_endian: bool, out: &mut [f32]) {
    for (o, b) in out.iter_mut().zip(raw.chunks_exact(2)) {
        let b = [b[0], b[1]];
        *o = f16_to_f32(if big_endian {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        });
    }
}

/// Little-endian halves split into byte planes, as HDF5's shuffle filter stores them: value `i`
/// is `lo[i] | hi[i] << 8`. As singles into `out` (as many as the shortest of the three).
pub fn f16_planes_to_f32(lo: &[u8], hi: &[u8], out: &mut [f32]) {
    for ((o, &l), &h) in out.iter_mut().zip(lo).zip(hi) {
        *o = f16_to_f32(u16::from(l) | u16::from(h) << 8);
    }
}

#[cfg(test)]
mod tests {
    use super::f16_to_f32;

    #[test]
    fn half_floats_decode() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x03ff), 1023.0 * 2f32.powi(-24));
        assert!(f16_to_f32(0x7c00).is_infinite());
        assert!(f16_to_f32(0x7e00).is_nan());
        assert_eq!(f16_to_f32(0x8000).to_bits(), 0x8000_0000);
    }
}
