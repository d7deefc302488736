//! The TensorFlow.js layers format: every fixture made by real TF.js
//! (tests/fixtures/tfjs/make_tfjs.mjs) predicts what TF.js predicts from the same files, and
//! broken `model.json` files, manifests and shards get typed errors naming what is wrong.

mod common;

use common::*;
use glimpse::{default_device, Error, Model};
use std::path::Path;

fn load_dir(dir: &Path) -> glimpse::Result<Model> {
    let json = read_text(dir, "model.json");
    Model::from_tfjs(
        &json,
        &dir.join("model.json").display().to_string(),
        |p| {
            std::fs::read(dir.join(p))
                .map_err(|e| Error::input(p, format!("cannot read the shard: {e}")))
        },
        &default_device(),
    )
}

#[test]
fn tfjs_fixtures_match_tfjs() {
    let dirs = fixture_dirs("tfjs");
    assert!(
        dirs.len() >= 9,
        "expected the TF.js fixtures, found {}",
        dirs.len()
    );
    let mut failures = Vec::new();
    for dir in &dirs {
        let model = load_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        let (x, xs) = npy(&dir.join("input.npy"));
        let (y, ys) = npy(&dir.join("output.npy"));
        let (out, shape) = model.predict(x, &xs).unwrap();
        assert_eq!(shape, ys, "{}", dir.display());
        let d = max_rel_diff(&out, &y);
        eprintln!(
            "{:>20} max diff {d:.2e}",
            dir.file_name().unwrap().to_string_lossy()
        );
        if d.is_nan() || d > 1e-4 {
            failures.push(format!("{}: {d:e}", dir.display()));
        }
    }
    assert!(
        failures.is_empty(),
        "differ from TF.js:\n{}",
        failures.join("\n")
    );
}

/// A copy of the `cnn_layers` fixture with `model.json` edited by `edit` (and the shard kept,
/// or replaced by `shard`).
fn broken(edit: impl Fn(&mut serde_json::Value), shard: Option<Vec<u8>>) -> glimpse::Result<Model> {
    let dir = fixtures().join("tfjs/cnn_layers");
    let mut v: serde_json::Value = serde_json::from_str(&read_text(&dir, "model.json")).unwrap();
    edit(&mut v);
    let bytes = shard.unwrap_or_else(|| std::fs::read(dir.join("group1-shard1of1.bin")).unwrap());
    Model::from_tfjs(
        &v.to_string(),
        "broken/model.json",
        |p| {
            if p == "group1-shard1of1.bin" {
                Ok(bytes.clone())
            } else {
                Err(Error::input(
                    "broken/model.json",
                    format!("no weight file '{p}'"),
                ))
            }
        },
        &default_device(),
    )
}

fn err_text(r: glimpse::Result<Model>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn broken_tfjs_models_get_errors_that_name_the_problem() {
    let not_json = Model::from_tfjs(
        "{\"modelTopology\": [",
        "m/model.json",
        |_| Ok(vec![]),
        &default_device(),
    );
    let e = err_text(not_json);
    assert!(e.contains("m/model.json") && e.contains("not JSON"), "{e}");

    let e = err_text(broken(|v| v["format"] = "graph-model".into(), None));
    assert!(e.contains("graph model"), "{e}");

    let e = err_text(broken(
        |v| v["weightsManifest"][0]["paths"][0] = "gone.bin".into(),
        None,
    ));
    assert!(e.contains("gone.bin"), "{e}");

    let e = err_text(broken(|_| {}, Some(vec![0u8; 100])));
    assert!(e.contains("declares") && e.contains("hold 100"), "{e}");

    let e = err_text(broken(
        |v| {
            v["weightsManifest"][0]["weights"][0]["quantization"] =
                serde_json::json!({"dtype": "int4", "scale": 1.0, "min": 0.0});
        },
        None,
    ));
    assert!(e.contains("int4") && e.contains("conv2d"), "{e}");

    let e = err_text(broken(
        |v| {
            v["weightsManifest"][0]["weights"][0]["quantization"] =
                serde_json::json!({"dtype": "uint8", "min": 0.0});
        },
        None,
    ));
    assert!(e.contains("scale"), "{e}");

    // A shape that would need 2^60 values is refused before anything is allocated.
    let e = err_text(broken(
        |v| {
            v["weightsManifest"][0]["weights"][0]["shape"] =
                serde_json::json!([1u64 << 30, 1u64 << 30])
        },
        None,
    ));
    assert!(
        e.contains("GLIMPSE_MAX_PARAMS") || e.contains("overflows"),
        "{e}"
    );

    let e = err_text(broken(
        |v| v["modelTopology"]["config"]["layers"][1]["class_name"] = "Conv3D".into(),
        None,
    ));
    assert!(e.contains("Conv3D"), "{e}");

    // A weight in the wrong place is a strict-loading error naming it.
    let e = err_text(broken(
        |v| v["weightsManifest"][0]["weights"][0]["name"] = "nowhere/kernel".into(),
        None,
    ));
    assert!(e.contains("nowhere"), "{e}");

    let e = err_text(broken(
        |v| v["weightsManifest"] = serde_json::json!({"paths": 1}),
        None,
    ));
    assert!(e.contains("weightsManifest"), "{e}");
}
