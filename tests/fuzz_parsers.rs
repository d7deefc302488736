//! Deterministic mutation fuzzing of the parsers: structure JSON, HDF5, .keras zips and .npy.
//! Every mutated input must give `Ok` or an `Err`, never a panic.

mod common;

use common::*;
use glimpse::{default_device, keras::parse_model, Model};

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, data: &[u8]) -> Vec<u8> {
    let mut d = data.to_vec();
    match rng.below(4) {
        0 => d.truncate(rng.below(d.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let i = rng.below(d.len());
                d[i] = rng.next() as u8;
            }
        }
        2 => {
            let i = rng.below(d.len());
            let j = (i + rng.below(64)).min(d.len());
            d.drain(i..j);
        }
        _ => {
            let i = rng.below(d.len());
            let j = (i + rng.below(64)).min(d.len());
            let chunk = d[i..j].to_vec();
            let k = rng.below(d.len());
            d.splice(k..k, chunk);
        }
    }
    d
}

#[test]
fn mutated_json_never_panics() {
    let json = std::fs::read(fixtures().join("keras3/convs/model.json")).unwrap();
    let mut rng = Rng(0x9e3779b97f4a7c15);
    for _ in 0..400 {
        let m = mutate(&mut rng, &json);
        if let Ok(text) = std::str::from_utf8(&m) {
            if let Ok(spec) = parse_model(text) {
                let _ = Model::from_spec_with(spec, &default_device(), |_, _, p| {
                    Ok(vec![0.0; p.size()])
                });
            }
        }
    }
}

#[test]
fn mutated_weight_files_never_panic() {
    let dir = fixtures().join("keras3/small_cnn");
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let h5 = std::fs::read(dir.join("model.weights.h5")).unwrap();
    let full = std::fs::read(dir.join("model.h5")).unwrap();
    let keras = std::fs::read(dir.join("model.keras")).unwrap();
    let mut rng = Rng(42);
    let dev = default_device();
    for _ in 0..150 {
        let _ = Model::from_json_and_weights(&json, mutate(&mut rng, &h5), "w", &dev);
        let _ = Model::from_archive(mutate(&mut rng, &full), "m.h5", &dev);
        let _ = Model::from_archive(mutate(&mut rng, &keras), "m.keras", &dev);
    }
}

#[test]
fn mutated_npy_never_panics() {
    let bytes = std::fs::read(fixtures().join("keras3/convs/input.npy")).unwrap();
    let mut rng = Rng(7);
    for _ in 0..500 {
        let _ = glimpse::io::read_npy(&mutate(&mut rng, &bytes), "x.npy");
    }
}
