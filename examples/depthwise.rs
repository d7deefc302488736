//! Glimpse's depthwise kernels against burn's CPU `conv2d` on every depthwise shape of
//! EfficientNet-Lite0 (224 px input), same process, same data: best of several runs each, and
//! the ratio (Glimpse time / burn time; below 1 is faster).
//!
//!     cargo run --release --example depthwise [-- BATCH [RUNS]]

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use glimpse::model::cpu::{depthwise_conv2d, depthwise_plan};
use std::time::Instant;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<usize>().expect("a number"));
    let batch = args.next().unwrap_or(1);
    let runs = args.next().unwrap_or(20);
    let dev = Device::flex();
    // (channels, input side, kernel, stride, count in the network)
    let shapes = [
        (32, 112, 3, 1, 1),
        (96, 112, 3, 2, 1),
        (144, 56, 3, 1, 1),
        (144, 56, 5, 2, 1),
        (240, 28, 5, 1, 1),
        (240, 28, 3, 2, 1),
        (480, 14, 3, 1, 2),
        (480, 14, 5, 1, 1),
        (672, 14, 5, 1, 2),
        (672, 14, 5, 2, 1),
        (1152, 7, 5, 1, 3),
        (1152, 7, 3, 1, 1),
    ];
    println!(
        "batch {batch}, best of {runs} runs, {} threads available",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    );
    println!("| channels x side, kernel / stride | burn ms | Glimpse ms | ratio |");
    println!("|---|---|---|---|");
    let (mut total_burn, mut total_ours) = (0.0, 0.0);
    for (c, side, k, s, count) in shapes {
        let n = batch * c * side * side;
        let x = Tensor::<4>::from_data(
            TensorData::new(
                (0..n)
                    .map(|i| ((i * 7919) % 255) as f32 / 255.0)
                    .collect::<Vec<_>>(),
                [batch, c, side, side],
            ),
            &dev,
        );
        let w = Tensor::<4>::from_data(
            TensorData::new(
                (0..c * k * k)
                    .map(|i| ((i * 31) % 17) as f32 / 17.0 - 0.5)
                    .collect::<Vec<_>>(),
                [c, 1, k, k],
            ),
            &dev,
        );
        let b = Tensor::<1>::from_data(TensorData::new(vec![0.1f32; c], [c]), &dev);
        // TF "same" padding: the extra row/column goes after.
        let out = side.div_ceil(s);
        let pad = ((out - 1) * s + k).saturating_sub(side);
        let opts = ConvOptions::new_with_padding(
            [s, s],
            [(pad / 2, pad - pad / 2), (pad / 2, pad - pad / 2)],
            [1, 1],
            c,
        );
        // Each run gets its own copy of the input (made before the clock starts), as in a
        // network where the layer before hands over its output.
        let best = |f: &dyn Fn(Tensor<4>) -> Tensor<4>| {
            (0..runs)
                .map(|_| {
                    let input = Tensor::<4>::from_data(x.to_data(), &dev);
                    let t = Instant::now();
                    let y = f(input);
                    let _ = y.into_data();
                    t.elapsed().as_secs_f64() * 1e3
                })
                .fold(f64::MAX, f64::min)
        };
        let burn_ms = best(&|x| conv2d(x, w.clone(), Some(b.clone()), opts.clone()));
        let plan = depthwise_plan(&x, w.dims(), &opts).expect("Glimpse's kernel applies");
        // Glimpse reads the weights out once per model (see `Conv::prepare`).
        let ws = w.to_data().try_into_vec::<f32>().expect("f32");
        let bs = vec![0.1f32; c];
        let ours_ms = best(&|x| depthwise_conv2d(x, &ws, Some(&bs), None, &plan));
        let want = conv2d(x.clone(), w.clone(), Some(b.clone()), opts.clone());
        let diff = (depthwise_conv2d(x.clone(), &ws, Some(&bs), None, &plan) - want)
            .abs()
            .max()
            .into_scalar::<f32>();
        assert!(
            diff < 1e-4,
            "{c}x{side} k{k} s{s}: results differ by {diff}"
        );
        println!(
            "| {c} x {side}, {k}x{k} / {s} | {burn_ms:.3} | {ours_ms:.3} | {:.2} |",
            ours_ms / burn_ms
        );
        total_burn += burn_ms * count as f64;
        total_ours += ours_ms * count as f64;
    }
    println!("| all of EfficientNet-Lite0's depthwise layers | {total_burn:.2} | {total_ours:.2} | {:.2} |", total_ours / total_burn);
}
