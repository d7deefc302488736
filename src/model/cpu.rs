//! Where Glimpse's own CPU kernels ([`glimpse_kernels`]) replace burn's: chosen by profiling
//! EfficientNet-Lite0 in Chromium (one thread, wasm SIMD) and natively (`perf`), and measured
//! against burn's by `cargo run --release --example depthwise`.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use glimpse_kernels::depthwise::{self, Geometry};
use glimpse_kernels::gemm::PackedWeights;
use std::mem::MaybeUninit;

/// Whether `x` lives on the plain CPU backend (no autodiff tape to keep), where these kernels
/// may stand in for burn's.
pub fn on_plain_cpu(x: &Tensor<4>) -> bool {
    let d = x.device();
    is_cpu(&d) && !d.is_autodiff()
}

/// Whether `device` is burn's flex CPU backend (with or without autodiff).
pub fn is_cpu(device: &Device) -> bool {
    *device == Device::flex()
}

/// The geometry of burn's `conv2d(x, weight, options)` when it is a depthwise convolution
/// with multiplier 1 (`groups == in == out channels`); `None` otherwise.
pub fn depthwise_geometry(
    x: [usize; 4],
    weight: [usize; 4],
    options: &ConvOptions<2>,
) -> Option<Geometry> {
    let c = x[1];
    if weight[0] != c || weight[1] != 1 || options.groups != c {
        return None;
    }
    geometry(x, weight, options)
}

/// The window geometry of burn's `conv2d(x, weight, options)` (`channels`: the input's);
/// `None` when the window does not fit the padded input.
fn geometry(x: [usize; 4], weight: [usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
    let [n, c, h, w] = x;
    let kernel = [weight[2], weight[3]];
    let out = |i: usize, size: usize| {
        let (before, after) = options.padding[i];
        let eff = (kernel[i].checked_sub(1)?) * options.dilation[i] + 1;
        (size + before + after)
            .checked_sub(eff)
            .map(|span| span / options.stride[i] + 1)
    };
    Some(Geometry {
        batch: n,
        channels: c,
        input: [h, w],
        kernel,
        stride: options.stride,
        dilation: options.dilation,
        pad_before: [options.padding[0].0, options.padding[1].0],
        output: [out(0, h)?, out(1, w)?],
    })
}

/// When Glimpse's depthwise kernel can compute burn's `conv2d(x, weight, options)` for a
/// weight of shape `weight`: `x` is `f32` on the plain CPU backend, the convolution is
/// depthwise with multiplier 1 and its geometry is supported. Checked before
/// [`depthwise_conv2d`] takes `x`.
pub fn depthwise_plan(
    x: &Tensor<4>,
    weight: [usize; 4],
    options: &ConvOptions<2>,
) -> Option<Geometry> {
    if !on_plain_cpu(x) || x.dtype() != DType::F32 {
        return None;
    }
    let g = depthwise_geometry(x.dims(), weight, options)?;
    g.supported().then_some(g)
}

/// The values of `x`, an `f32` tensor on the CPU (checked by the caller's plan); zero-copy when
/// `x` holds the only reference to its buffer.
pub fn host_values<const D: usize>(x: Tensor<D>) -> Vec<f32> {
    x.into_data()
        .try_into_vec::<f32>()
        .expect("an f32 tensor (checked by the plan)")
}

/// Runs the depthwise convolution `g` (from [`depthwise_plan`]) with Glimpse's kernel:
/// `weight` `[channels, kh, kw]`, `bias` `[channels]`, each result clamped into `clip` when
/// given. Takes `x` so that its values are read without a copy.
pub fn depthwise_conv2d(
    x: Tensor<4>,
    weight: &[f32],
    bias: Option<&[f32]>,
    clip: Option<(f32, f32)>,
    g: &Geometry,
) -> Tensor<4> {
    let device = x.device();
    let xs = host_values(x);
    let y = depthwise::depthwise_nchw(&xs, weight, bias, clip, g)
        .expect("a supported geometry (checked by the plan)");
    let [oh, ow] = g.output;
    Tensor::from_data(TensorData::new(y, [g.batch, g.channels, oh, ow]), &device)
}

/// When [`gemm_conv2d`] can compute burn's `conv2d(x, weight, options)` for a weight of shape
/// `weight`: `x` is `f32` on the plain CPU backend, the convolution has one group and its
/// geometry is supported. Checked before [`gemm_conv2d`] takes `x`.
pub fn gemm_plan(x: &Tensor<4>, weight: [usize; 4], options: &ConvOptions<2>) -> Option<Geometry> {
    if !on_plain_cpu(x)
        || x.dtype() != DType::F32
        || options.groups != 1
        || weight[1] != x.dims()[1]
    {
        return None;
    }
    let g = geometry(x.dims(), weight, options)?;
    g.supported().then_some(g)
}

/// Whether the convolution `g` reads its input as it is: a 1x1 kernel, stride 1, no padding.
fn is_pointwise(g: &Geometry) -> bool {
    g.kernel == [1, 1] && g.stride == [1, 1] && g.pad_before == [0, 0] && g.output == g.input
}

/// A one-group convolution `g` (from [`gemm_plan`]) on the plain CPU: per image
/// `clip(weight * cols + bias)` as one matrix product with the weights packed once
/// ([`glimpse_kernels::gemm`]), which adds the bias and clamps in registers and writes each
/// output once (into memory never zero-filled). `cols` is the image itself for a pointwise
/// convolution, else its unfolding ([`glimpse_kernels::im2col::im2col`]). `bias` is `[out]`.
///
/// burn's CPU backend zero-fills its output, runs the general `gemm` (which packs both
/// operands on every call), then adds the bias in a second pass and leaves the activation to
/// more passes; its unfolding computes indices per value (~5% of `glimpse classify` for
/// Lite0's 3x3 stem alone).
pub fn gemm_conv2d(
    x: Tensor<4>,
    weight: &PackedWeights,
    bias: &[f32],
    clip: Option<(f32, f32)>,
    g: &Geometry,
) -> Tensor<4> {
    let device = x.device();
    let cout = bias.len();
    let [h, w] = g.input;
    let [oh, ow] = g.output;
    let (cin, hw, ohw) = (g.channels, h * w, oh * ow);
    let k = cin * g.kernel[0] * g.kernel[1];
    assert_eq!(
        (weight.rows(), weight.depth()),
        (cout, k),
        "gemm_conv2d: packed weight is [out, in * kh * kw]"
    );
    let xs = host_values(x);
    let total = g.batch * cout * ohw;
    let mut out: Vec<f32> = Vec::with_capacity(total);
    let pointwise = is_pointwise(g);
    let parallel = split_product(g.batch, cout * k * ohw);
    let image = |(i, dst): (usize, &mut [MaybeUninit<f32>])| {
        let src = &xs[i * cin * hw..(i + 1) * cin * hw];
        let unfolded;
        let cols = if pointwise {
            src
        } else {
            let mut c = Vec::with_capacity(k * ohw);
            glimpse_kernels::im2col::im2col(src, g, &mut c.spare_capacity_mut()[..k * ohw]);
            // SAFETY: im2col wrote all k * ohw values (its contract).
            unsafe { c.set_len(k * ohw) };
            unfolded = c;
            &unfolded
        };
        glimpse_kernels::gemm::gemm_bias_clip(weight, cols, ohw, bias, clip, dst, parallel);
    };
    let images = &mut out.spare_capacity_mut()[..total];
    if cout * ohw > 0 {
        // The images of a batch over the kernels' threads.
        glimpse_kernels::pool::for_each_chunk_mut(images, cout * ohw, &|i, dst| image((i, dst)));
    }
    // SAFETY: gemm_bias_clip wrote every value of each image's [cout, ohw] (its contract), and
    // the images cover the first `total` values.
    unsafe { out.set_len(total) };
    Tensor::from_data(TensorData::new(out, [g.batch, cout, oh, ow]), &device)
}

/// Multiply-adds below which one image's product stays on one thread: about 50 us of work,
/// against a few microseconds to share it out (the threaded browser engine's workers spin
/// between the calls of a prediction; rayon's wake natively).
const MIN_SPLIT_PRODUCT: usize = 1 << 20;

/// Whether one image's product of `work` multiply-adds is also split across the kernels' threads
/// (natively the cores, in the threaded browser engine its workers): when the batch alone
/// cannot keep them busy and the product is at least [`MIN_SPLIT_PRODUCT`].
fn split_product(batch: usize, work: usize) -> bool {
    batch < glimpse_kernels::pool::threads() && work >= MIN_SPLIT_PRODUCT
}

/// Whether [`clamp`] applies to `x`: natively, `f32` on the plain CPU backend (burn's ops do
/// the rest). Not in the browser: there, A/B in one Chromium session (bench/ab.mjs) measured
/// predictions slower with it (a batch of 8: 723 against 596 ms); natively `glimpse classify`
/// is 3-4% faster with it (12 alternating runs each).
pub fn can_clamp(x: &Tensor<4>) -> bool {
    !cfg!(target_arch = "wasm32") && on_plain_cpu(x) && x.dtype() == DType::F32
}

/// `x` clamped into `[lo, hi]` in one pass over its own buffer (checked by [`can_clamp`]).
/// burn's CPU backend needs two passes (`clamp_min`, `clamp_max`), each into a new buffer.
pub fn clamp(x: Tensor<4>, lo: f32, hi: f32) -> Tensor<4> {
    let device = x.device();
    let dims = x.dims();
    let mut v = host_values(x);
    glimpse_kernels::elementwise::clamp(&mut v, lo, hi);
    Tensor::from_data(TensorData::new(v, dims), &device)
}

/// `x * scale + offset` (Keras' `Rescaling`), `scale` and `offset` one value or one per
/// channel, in one pass over `x`'s own buffer on the plain CPU (`x` `f32` there, checked by
/// the caller); burn's needs two, each into a new buffer.
pub fn rescale(x: Tensor<4>, scale: &[f32], offset: &[f32]) -> Tensor<4> {
    let device = x.device();
    let dims = x.dims();
    let mut v = host_values(x);
    glimpse_kernels::elementwise::affine(&mut v, dims[1], dims[2] * dims[3], scale, offset);
    Tensor::from_data(TensorData::new(v, dims), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::module::conv2d;

    fn values(n: usize, seed: u64) -> Vec<f32> {
        let mut s = seed.wrapping_add(1);
        (0..n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
            })
            .collect()
    }

    /// Every shape class of EfficientNet-Lite0 and MobileNets, odd sizes, asymmetric "same"
    /// padding, dilation, batches and channel counts that are not a multiple of the block.
    #[test]
    fn depthwise_kernels_match_burn() {
        let dev = Device::flex();
        // (batch, channels, h, w, kernel, stride, dilation, (top, bottom), (left, right), bias)
        let cases = [
            (1, 32, 14, 14, 3, 1, 1, (1, 1), (1, 1), false),
            (2, 19, 7, 7, 5, 1, 1, (2, 2), (2, 2), true),
            (1, 40, 14, 14, 5, 2, 1, (1, 2), (1, 2), true),
            (3, 5, 9, 6, 3, 1, 2, (2, 2), (2, 2), true),
            (1, 24, 40, 40, 3, 2, 1, (0, 1), (0, 1), false),
            (2, 9, 37, 45, 5, 2, 1, (2, 2), (1, 3), true),
            (1, 6, 33, 34, 3, 2, 2, (1, 1), (2, 2), true),
            // Stride 1 on larger planes; the first two are big enough to be shared among
            // threads natively (uneven channel ranges, several images).
            (2, 24, 56, 56, 3, 1, 1, (1, 1), (1, 1), true),
            (3, 100, 14, 14, 5, 1, 1, (2, 2), (2, 2), true),
            (1, 7, 23, 31, 5, 1, 2, (3, 5), (4, 4), false),
            // Stride 3 (no network here uses it; the phases generalise).
            (1, 4, 50, 47, 3, 3, 1, (1, 1), (0, 2), true),
        ];
        for (i, &(n, c, h, w, k, s, d, ph, pw, with_bias)) in cases.iter().enumerate() {
            let x = Tensor::<4>::from_data(
                TensorData::new(values(n * c * h * w, i as u64), [n, c, h, w]),
                &dev,
            );
            let wt = Tensor::<4>::from_data(
                TensorData::new(values(c * k * k, 100 + i as u64), [c, 1, k, k]),
                &dev,
            );
            let b = Tensor::<1>::from_data(TensorData::new(values(c, 200 + i as u64), [c]), &dev);
            let opts = ConvOptions::new_with_padding([s, s], [ph, pw], [d, d], c);
            let g = depthwise_geometry(x.dims(), wt.dims(), &opts).expect("depthwise");
            assert!(g.supported(), "case {i}");
            let bias = with_bias.then(|| b.clone());
            let mut want = conv2d(x.clone(), wt.clone(), bias.clone(), opts.clone());
            // Every other case with a fused ReLU6.
            let clip = (i % 2 == 1).then_some((0.0, 6.0));
            if clip.is_some() {
                want = want.clamp_min(0.0).clamp_max(6.0);
            }
            let plan = depthwise_plan(&x, wt.dims(), &opts).expect("a kernel applies");
            let ws = host_values(wt.clone());
            let bs = bias.map(|b| b.into_data().try_into_vec::<f32>().unwrap());
            let got = depthwise_conv2d(x.clone(), &ws, bs.as_deref(), clip, &plan);
            assert_eq!(got.dims(), want.dims(), "case {i}");
            let diff = (got - want).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-5, "case {i}: max difference {diff}");
        }
    }

    #[test]
    fn clamp_matches_burn() {
        let dev = Device::flex();
        let v: Vec<f32> = values(2 * 3 * 5 * 7, 9).iter().map(|v| v * 10.0).collect();
        let x = Tensor::<4>::from_data(TensorData::new(v, [2, 3, 5, 7]), &dev);
        let want = x.clone().clamp_min(0.0).clamp_max(6.0);
        assert!(can_clamp(&x));
        let got = clamp(x.clone(), 0.0, 6.0);
        assert_eq!(got.to_data(), want.to_data());
        // Some values were below, inside and above the range.
        let v = x.into_data().try_into_vec::<f32>().unwrap();
        assert!(v.iter().any(|&a| a < 0.0) && v.iter().any(|&a| a > 6.0));
        assert!(v.iter().any(|&a| (0.0..6.0).contains(&a)));
        // Autodiff tensors keep burn's ops.
        let t = Tensor::<4>::zeros([1, 1, 2, 2], &dev.autodiff());
        assert!(!can_clamp(&t));
    }

    /// The one-pass rescale gives exactly burn's two steps (product, then sum), with one value
    /// for every channel and with one per channel, on a strided (permuted) input too.
    #[test]
    fn rescale_matches_burn() {
        let dev = Device::flex();
        let v: Vec<f32> = values(2 * 3 * 5 * 7, 11)
            .iter()
            .map(|v| v * 255.0)
            .collect();
        let x =
            Tensor::<4>::from_data(TensorData::new(v, [2, 5, 7, 3]), &dev).permute([0, 3, 1, 2]);
        let got = rescale(x.clone(), &[0.0078125], &[-0.9921875]);
        let want = x.clone().mul_scalar(0.0078125).add_scalar(-0.9921875);
        assert_eq!(got.to_data(), want.to_data());
        let (s, o) = ([0.1f32, 0.2, 0.3], [-1.0f32, 0.5, 2.0]);
        let per = |v: [f32; 3]| Tensor::<1>::from_floats(v, &dev).reshape([1, 3, 1, 1]);
        let got = rescale(x.clone(), &s, &o);
        let want = x * per(s) + per(o);
        assert_eq!(got.to_data(), want.to_data());
    }

    #[test]
    fn other_convolutions_stay_with_burn() {
        let plain = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        assert!(depthwise_geometry([1, 8, 5, 5], [8, 8, 3, 3], &plain).is_none());
        let grouped = ConvOptions::new([1, 1], [0, 0], [1, 1], 4);
        assert!(depthwise_geometry([1, 8, 5, 5], [8, 2, 3, 3], &grouped).is_none());
        // Depth multiplier 2: 16 outputs from 8 channels.
        let dm = ConvOptions::new([1, 1], [0, 0], [1, 1], 8);
        assert!(depthwise_geometry([1, 8, 5, 5], [16, 1, 3, 3], &dm).is_none());
        // A window larger than the padded input.
        assert!(depthwise_geometry([1, 8, 2, 2], [8, 1, 3, 3], &dm).is_none());
        // Autodiff tensors keep burn's op (the tape needs it).
        let dev = Device::flex().autodiff();
        let x = Tensor::<4>::zeros([1, 8, 7, 7], &dev);
        let w = Tensor::<4>::zeros([8, 1, 3, 3], &dev);
        assert!(
            depthwise_plan(&x, w.dims(), &ConvOptions::new([1, 1], [1, 1], [1, 1], 8)).is_none()
        );
        // One-group convolutions only, on the plain CPU.
        let x = Tensor::<4>::zeros([1, 8, 7, 7], &Device::flex());
        assert!(gemm_plan(&x, [4, 8, 3, 3], &plain).is_some());
        assert!(gemm_plan(&x, [8, 2, 3, 3], &grouped).is_none());
        let xd = Tensor::<4>::zeros([1, 8, 7, 7], &dev);
        assert!(gemm_plan(&xd, [4, 8, 3, 3], &plain).is_none());
    }

    /// One-group convolutions against burn's `conv2d` (+ clamp): pointwise ones (the input
    /// read as it is), strided, padded (asymmetrically too), dilated and wide ones (unfolded);
    /// batches of one (the `gemm` itself split across threads natively when large) and several,
    /// sizes that are not a multiple of any block.
    #[test]
    fn gemm_convolutions_match_burn() {
        let dev = Device::flex();
        // (batch, in, out, h, w, kernel, stride, dilation, (top, bottom), (left, right), clip)
        let relu6 = Some((0.0, 6.0));
        let cases = [
            (1, 3, 5, 4, 4, 1, 1, 1, (0, 0), (0, 0), None),
            (3, 17, 9, 7, 5, 1, 1, 1, (0, 0), (0, 0), relu6),
            (
                2,
                40,
                24,
                14,
                14,
                1,
                1,
                1,
                (0, 0),
                (0, 0),
                Some((0.0, f32::INFINITY)),
            ),
            (1, 192, 320, 13, 13, 1, 1, 1, (0, 0), (0, 0), relu6),
            (5, 64, 48, 3, 1, 1, 1, 1, (0, 0), (0, 0), None),
            // Lite0's stem: 3x3 stride 2, TF "same" padding (0 before, 1 after).
            (2, 3, 32, 32, 32, 3, 2, 1, (0, 1), (0, 1), relu6),
            (1, 5, 7, 9, 11, 3, 1, 1, (1, 1), (1, 1), None),
            (3, 4, 6, 12, 10, 5, 2, 1, (2, 2), (1, 3), None),
            (1, 2, 3, 11, 13, 3, 1, 2, (2, 2), (2, 2), relu6),
            (1, 3, 8, 15, 15, 7, 3, 1, (3, 3), (3, 3), None),
            // A strided 1x1 (not pointwise: it is unfolded) and a window wider than the input
            // with padding.
            (2, 6, 4, 9, 9, 1, 2, 1, (0, 0), (0, 0), None),
            (1, 2, 3, 2, 3, 5, 1, 1, (2, 2), (2, 2), None),
            // An unfolding large enough to be shared among threads (27 rows of 3,136).
            (1, 3, 8, 112, 112, 3, 2, 1, (0, 1), (0, 1), relu6),
        ];
        for (i, &(n, cin, cout, h, w, k, s, d, ph, pw, clip)) in cases.iter().enumerate() {
            let x = Tensor::<4>::from_data(
                TensorData::new(values(n * cin * h * w, i as u64), [n, cin, h, w]),
                &dev,
            );
            let ws = values(cout * cin * k * k, 300 + i as u64);
            let bs = values(cout, 400 + i as u64);
            let wt = Tensor::<4>::from_data(TensorData::new(ws.clone(), [cout, cin, k, k]), &dev);
            let b = Tensor::<1>::from_data(TensorData::new(bs.clone(), [cout]), &dev);
            let opts = ConvOptions::new_with_padding([s, s], [ph, pw], [d, d], 1);
            let g = gemm_plan(&x, wt.dims(), &opts).expect("a one-group convolution");
            let mut want = conv2d(x.clone(), wt, Some(b), opts);
            if let Some((lo, hi)) = clip {
                want = want.clamp_min(lo).clamp_max(hi);
            }
            let packed = PackedWeights::new(&ws, cout, cin * k * k);
            let got = gemm_conv2d(x, &packed, &bs, clip, &g);
            assert_eq!(got.dims(), want.dims(), "case {i}");
            let diff = (got - want).abs().max().into_scalar::<f32>();
            assert!(diff < 1e-4, "case {i}: max difference {diff}");
        }
    }
}
