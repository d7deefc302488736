//! Where Glimpse's own CPU kernels ([`glimpse_kernels`]) replace burn's: chosen by profiling
//! EfficientNet-Lite0 in Chromium (one thread, wasm SIMD) and natively (`perf`), and measured
//! against burn's by `cargo run --release --example depthwise`.

use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Device, Tensor, TensorData};
use glimpse_kernels::depthwise::{self, Geometry};

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
    let [n, c, h, w] = x;
    if weight[0] != c || weight[1] != 1 || options.groups != c {
        return None;
    }
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

/// When Glimpse's depthwise kernel can compute burn's `conv2d(x, weight, options)`: `x` and
/// `weight` are `f32` on the plain CPU backend, the convolution is depthwise with multiplier 1
/// and its geometry is supported. Checked before [`depthwise_conv2d`] takes `x`.
pub fn depthwise_plan(
    x: &Tensor<4>,
    weight: &Tensor<4>,
    options: &ConvOptions<2>,
) -> Option<Geometry> {
    if !on_plain_cpu(x) || x.dtype() != DType::F32 || weight.dtype() != DType::F32 {
        return None;
    }
    let g = depthwise_geometry(x.dims(), weight.dims(), options)?;
    g.supported().then_some(g)
}

/// Runs the depthwise convolution `g` (from [`depthwise_plan`]) with Glimpse's kernel. Takes
/// `x` so that its values are read without a copy.
pub fn depthwise_conv2d(
    x: Tensor<4>,
    weight: &Tensor<4>,
    bias: Option<&Tensor<1>>,
    g: &Geometry,
) -> Tensor<4> {
    let device = x.device();
    let read = |t: TensorData| {
        t.try_into_vec::<f32>()
            .expect("an f32 tensor (checked by the plan)")
    };
    let xs = read(x.into_data());
    let ws = read(weight.clone().into_data());
    let bs = bias.map(|b| read(b.clone().into_data()));
    let y = depthwise::depthwise_nchw(&xs, &ws, bs.as_deref(), g)
        .expect("a supported geometry (checked by the plan)");
    let [oh, ow] = g.output;
    Tensor::from_data(TensorData::new(y, [g.batch, g.channels, oh, ow]), &device)
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
    let mut v = x
        .into_data()
        .try_into_vec::<f32>()
        .expect("an f32 tensor (checked by can_clamp)");
    glimpse_kernels::elementwise::clamp(&mut v, lo, hi);
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
            let want = conv2d(x.clone(), wt.clone(), bias.clone(), opts.clone());
            let plan = depthwise_plan(&x, &wt, &opts).expect("a kernel applies");
            let got = depthwise_conv2d(x.clone(), &wt, bias.as_ref(), &plan);
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
        assert!(depthwise_plan(&x, &w, &ConvOptions::new([1, 1], [1, 1], [1, 1], 8)).is_none());
    }
}
