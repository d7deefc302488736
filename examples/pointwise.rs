//! Glimpse's packed matrix product against burn's CPU `conv2d` (the general `gemm`) on every
//! pointwise (1x1) convolution shape of EfficientNet-Lite0 (224 px input), same process, same
//! data, one image at a time on one thread: best of several runs each, multiply-adds per
//! nanosecond, and the ratio (Glimpse time / burn time; below 1 is faster). The last line
//! weights each shape by how often the network has it.
//!
//!     RAYON_NUM_THREADS=1 cargo run --release --example pointwise [-- RUNS]

use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};
use glimpse::model::cpu::{gemm_conv2d, gemm_plan};
use glimpse_kernels::gemm::PackedWeights;
use std::time::{Duration, Instant};

fn main() {
    let runs = std::env::args()
        .nth(1)
        .map_or(20, |a| a.parse::<usize>().expect("a number"));
    let dev = Device::flex();
    // (in channels, out channels, side, count in the network)
    let shapes = [
        (32, 16, 112, 1),
        (16, 96, 112, 1),
        (96, 24, 56, 1),
        (24, 144, 56, 1),
        (144, 24, 56, 1),
        (144, 40, 28, 1),
        (40, 240, 28, 1),
        (240, 40, 28, 1),
        (240, 80, 14, 1),
        (80, 480, 14, 3),
        (480, 80, 14, 2),
        (480, 112, 14, 1),
        (112, 672, 14, 2),
        (672, 112, 14, 2),
        (672, 192, 7, 1),
        (192, 1152, 7, 4),
        (1152, 192, 7, 3),
        (1152, 320, 7, 1),
        (320, 1280, 7, 1),
    ];
    let value = |i: usize| ((i * 7919) % 1000) as f32 / 1000.0 - 0.5;
    let best = |f: &mut dyn FnMut()| {
        f();
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .min()
            .expect("runs > 0")
    };
    let (mut ours_total, mut burn_total) = (Duration::ZERO, Duration::ZERO);
    println!("| in | out | side | Glimpse MAC/ns | burn MAC/ns | ratio |");
    println!("|---|---|---|---|---|---|");
    for (cin, cout, side, count) in shapes {
        let x = Tensor::<4>::from_data(
            TensorData::new(
                (0..cin * side * side).map(value).collect::<Vec<_>>(),
                [1, cin, side, side],
            ),
            &dev,
        );
        let w: Vec<f32> = (0..cout * cin).map(|i| value(i + 3)).collect();
        let b: Vec<f32> = (0..cout).map(value).collect();
        let wt = Tensor::<4>::from_data(TensorData::new(w.clone(), [cout, cin, 1, 1]), &dev);
        let bt = Tensor::<1>::from_data(TensorData::new(b.clone(), [cout]), &dev);
        let opts = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let g = gemm_plan(&x, [cout, cin, 1, 1], &opts).expect("a one-group convolution");
        let packed = PackedWeights::new(&w, cout, cin);
        let clip = Some((0.0, 6.0));
        let ours = best(&mut || {
            gemm_conv2d(x.clone(), &packed, &b, clip, &g);
        });
        let theirs = best(&mut || {
            conv2d(x.clone(), wt.clone(), Some(bt.clone()), opts.clone())
                .clamp_min(0.0)
                .clamp_max(6.0);
        });
        ours_total += ours * count;
        burn_total += theirs * count;
        let macs = (cin * cout * side * side) as f64;
        println!(
            "| {cin} | {cout} | {side} | {:.1} | {:.1} | {:.2} |",
            macs / ours.as_nanos() as f64,
            macs / theirs.as_nanos() as f64,
            ours.as_secs_f64() / theirs.as_secs_f64()
        );
    }
    println!(
        "network's pointwise convolutions: Glimpse {:.2} ms, burn {:.2} ms, ratio {:.2}",
        ours_total.as_secs_f64() * 1e3,
        burn_total.as_secs_f64() * 1e3,
        ours_total.as_secs_f64() / burn_total.as_secs_f64()
    );
}
