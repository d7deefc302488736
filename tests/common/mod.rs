//! Shared helpers for the integration tests: fixture discovery, the formula weights (the same
//! formula as `tests/fixtures/make_fixtures.py`), comparisons.
#![allow(dead_code)]

use glimpse::io::read_npy;
use glimpse::model::ParamSpec;
use std::path::{Path, PathBuf};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

/// Fixture directories under `tests/fixtures/<flavor>/`.
pub fn fixture_dirs(flavor: &str) -> Vec<PathBuf> {
    let root = fixtures().join(flavor);
    let Ok(rd) = std::fs::read_dir(&root) else {
        return vec![];
    };
    let mut v: Vec<PathBuf> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("meta.json").exists())
        .collect();
    v.sort();
    v
}

/// Reads `name` from `dir`, or `name.gz` decompressed (large fixtures are stored gzipped).
pub fn read_text(dir: &Path, name: &str) -> String {
    use std::io::Read;
    if let Ok(s) = std::fs::read_to_string(dir.join(name)) {
        return s;
    }
    let gz = std::fs::read(dir.join(format!("{name}.gz")))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.join(name).display()));
    let mut s = String::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_string(&mut s)
        .unwrap();
    s
}

pub fn npy(path: &Path) -> (Vec<f32>, Vec<usize>) {
    let a = read_npy(&std::fs::read(path).unwrap(), &path.display().to_string()).unwrap();
    (a.data, a.shape)
}

pub fn meta(dir: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap()
}

fn name_seed(name: &str) -> u64 {
    name.bytes()
        .enumerate()
        .map(|(i, b)| (i as u64 + 1) * b as u64)
        .sum::<u64>()
        % 9973
}

/// The deterministic weights `make_fixtures.py` sets on large models.
pub fn formula(layer: &str, index: usize, p: &ParamSpec) -> Vec<f32> {
    let n = p.size();
    let phase = name_seed(layer) as f64 * 0.1 + index as f64 * 1.3;
    let shape = &p.keras_shape;
    let name = p.name;
    (0..n)
        .map(|j| {
            let s = (phase + j as f64 * 0.7).sin();
            let v = if name.contains("variance") {
                1.0 + 0.5 * s.abs()
            } else if name == "gamma" {
                1.0 + 0.1 * s
            } else if matches!(name, "beta" | "bias" | "moving_mean" | "mean") {
                0.1 * s
            } else if shape.len() >= 2 {
                let fan_in: usize = if name == "depthwise_kernel" {
                    shape[..shape.len() - 2].iter().product()
                } else {
                    shape[..shape.len() - 1].iter().product()
                };
                (2.0 / (fan_in as f64).sqrt()) * s
            } else {
                0.1 * s
            };
            v as f32
        })
        .collect()
}

/// Max |a - b| relative to max(1, max |b|).
pub fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len(), "output sizes differ");
    let scale = b.iter().fold(1f32, |m, x| m.max(x.abs()));
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0f32, f32::max)
        / scale
}

/// Runs the `glimpse` binary: (success, stdout, stderr).
pub fn glimpse_cli(args: &[&str]) -> (bool, String, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_glimpse"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}
