#!/bin/sh
# The browser benchmark's GPU group only (Glimpse WebGPU, onnxruntime-web webgpu, TF.js webgl and
# webgpu), on a machine with a real GPU:
#   bench/gpu.sh [more run.mjs options, e.g. --out DIR --iters 50]
# Chromium gets flags for a real GPU (WebGPU on, Vulkan, ANGLE on Vulkan, no blocklist) through
# $CHROMIUM_ARGS, which replaces them when set (e.g. --use-angle=metal elsewhere); $CHROMIUM names
# the browser (default /usr/bin/chromium). --real-gpu gives the group the CPU group's workload
# sizes and cold pages, not the small ones meant for SwiftShader. The rows' labels name the
# adapter each engine found: a "swiftshader" there means the flags did not reach the GPU.
# Needs what run.mjs needs (its header comment). Where no browser can start on the GPU machine,
# `cargo run --release --features webgpu --example gpu` runs the same burn-wgpu kernels natively.
set -eu
cd "$(dirname "$0")/.."
CHROMIUM_ARGS="${CHROMIUM_ARGS:---enable-unsafe-webgpu --enable-features=Vulkan --use-angle=vulkan --ignore-gpu-blocklist}"
export CHROMIUM_ARGS
exec node bench/browser/run.mjs --engines glimpse-webgpu,ort-webgpu,tfjs-webgl,tfjs-webgpu \
  --work infer,train,transfer --real-gpu "$@"
