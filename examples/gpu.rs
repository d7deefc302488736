//! EfficientNet-Lite0 on burn's wgpu backend, natively: the kernels the browser's WebGPU engine
//! runs, for a machine with a GPU where no browser can start (a server, a CI runner). Times the
//! first prediction (which compiles the kernels), single predictions and a batch, and checks the
//! probabilities against the CPU engine's. Prints one markdown table.
//!
//!     cargo run --release --features webgpu --example gpu [-- RUNS BATCH]
//!
//! wgpu picks the platform's graphics API (Vulkan, Metal or DX12) and its adapter; without a
//! GPU, Mesa's lavapipe (a CPU Vulkan driver) stands in, slowly, as SwiftShader does in the
//! browser. Needs the zoo model (`glimpse zoo fetch`, `GLIMPSE_ZOO_DIR`).

use burn::tensor::Device;
use glimpse::model::{default_device, Model};
use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .map_or(20, |a| a.parse().expect("RUNS: a number"));
    let batch: usize = args
        .next()
        .map_or(32, |a| a.parse().expect("BATCH: a number"));
    let zoo = std::env::var_os("GLIMPSE_ZOO_DIR")
        .map_or_else(|| PathBuf::from("/var/tmp/glimpse-zoo"), PathBuf::from)
        .join("efficientnet-lite0");
    let json = std::fs::read_to_string(zoo.join("model.json"))
        .unwrap_or_else(|e| panic!("{}: {e}; run `glimpse zoo fetch` first", zoo.display()));
    let weights = std::fs::read(zoo.join("model.weights.h5")).expect("model.weights.h5");

    let t = Instant::now();
    let (device, setup) = Device::wgpu_options()
        .init_with_setup()
        .expect("a wgpu adapter (a GPU, or a CPU driver such as Mesa's lavapipe)");
    let info = setup.adapter.get_info();
    let init_ms = ms(t);
    let gpu = Model::from_json_and_weights(&json, weights.clone(), "model.weights.h5", &device)
        .expect("the model on the GPU");
    let cpu = Model::from_json_and_weights(&json, weights, "model.weights.h5", &default_device())
        .expect("the model on the CPU");

    // The inputs the browser bench's A/B uses: a fixed pattern of pixel values in [0, 255).
    let image = |n: usize| -> Vec<f32> {
        (0..n * 224 * 224 * 3)
            .map(|i| ((i * 7919) % 255) as f32)
            .collect()
    };
    let one = image(1);
    let shape = [1, 224, 224, 3];
    let t = Instant::now();
    let (got, _) = gpu.predict(one.clone(), &shape).expect("a prediction");
    let first_ms = ms(t);
    let (want, _) = cpu.predict(one.clone(), &shape).expect("a prediction");
    let diff = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    let top = |p: &[f32]| {
        p.iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    };

    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let t = Instant::now();
            gpu.predict(one.clone(), &shape).expect("a prediction");
            ms(t)
        })
        .collect();
    times.sort_by(f64::total_cmp);
    let p50 = times[times.len() / 2];
    let many = image(batch);
    let bshape = [batch, 224, 224, 3];
    gpu.predict(many.clone(), &bshape).expect("a batch");
    let t = Instant::now();
    const BATCHES: usize = 3;
    for _ in 0..BATCHES {
        gpu.predict(many.clone(), &bshape).expect("a batch");
    }
    let img_s = (BATCHES * batch) as f64 / (ms(t) / 1e3);

    println!("| adapter | init ms | first prediction ms | p50 ms ({runs} runs) | batch {batch} img/s | top-1 GPU / CPU | max abs diff of probabilities vs CPU |");
    println!("|---|---|---|---|---|---|---|");
    println!(
        "| {} ({:?}, {}) | {init_ms:.0} | {first_ms:.0} | {p50:.1} | {img_s:.1} | {} / {} | {diff:.1e} |",
        info.name,
        info.backend,
        info.driver,
        top(&got),
        top(&want)
    );
}

fn ms(t: Instant) -> f64 {
    t.elapsed().as_secs_f64() * 1e3
}
