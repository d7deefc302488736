//! Bad input gives a typed error with context, never a panic.

mod common;

use common::*;
use glimpse::{default_device, Error, Model};

fn small_cnn() -> (String, Vec<u8>) {
    let dir = fixtures().join("keras3/small_cnn");
    (
        std::fs::read_to_string(dir.join("model.json")).unwrap(),
        std::fs::read(dir.join("model.weights.h5")).unwrap(),
    )
}

#[test]
fn malformed_json_is_a_json_error() {
    let (json, w) = small_cnn();
    let err =
        Model::from_json_and_weights(&json[..json.len() / 2], w.clone(), "w", &default_device())
            .unwrap_err();
    assert!(matches!(err, Error::Json { .. }), "{err}");
    let err = Model::from_json_and_weights(
        "{\"class_name\": \"Sequential\"}",
        w,
        "w",
        &default_device(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("missing \"config\""), "{err}");
}

#[test]
fn unknown_layer_is_named_before_weights_are_read() {
    let (json, _) = small_cnn();
    let json = json.replacen("\"class_name\": \"Flatten\"", "\"class_name\": \"LSTM\"", 1);
    // Garbage weights: the layer error must come first.
    let err = Model::from_json_and_weights(&json, b"not hdf5".to_vec(), "w", &default_device())
        .unwrap_err();
    match &err {
        Error::UnsupportedLayer {
            layer, class_name, ..
        } => {
            assert_eq!(layer, "flatten");
            assert_eq!(class_name, "LSTM");
        }
        other => panic!("expected UnsupportedLayer, got {other}"),
    }
    assert!(
        err.to_string()
            .contains("unsupported layer 'flatten' of class 'LSTM'"),
        "{err}"
    );
}

#[test]
fn truncated_and_corrupt_h5_are_weights_file_errors() {
    let (json, w) = small_cnn();
    for cut in [0, 7, 100, w.len() / 2, w.len() - 10] {
        let err =
            Model::from_json_and_weights(&json, w[..cut].to_vec(), "cut.h5", &default_device())
                .unwrap_err();
        assert!(
            matches!(err, Error::WeightsFile { .. }),
            "cut at {cut}: {err}"
        );
        assert!(err.to_string().contains("cut.h5"), "{err}");
    }
    let err = Model::from_json_and_weights(
        &json,
        b"PK\x03\x04 zip?".to_vec(),
        "z.h5",
        &default_device(),
    )
    .unwrap_err();
    assert!(err.to_string().contains("not an HDF5 file"), "{err}");
}

#[test]
fn weights_of_another_model_list_missing_and_unexpected() {
    let (_, w) = small_cnn();
    let convs = std::fs::read_to_string(fixtures().join("keras3/convs/model.json")).unwrap();
    let err =
        Model::from_json_and_weights(&convs, w, "small.weights.h5", &default_device()).unwrap_err();
    let Error::WeightsMismatch(report) = &err else {
        panic!("expected a mismatch report, got {err}")
    };
    assert!(
        report.missing.iter().any(|m| m == "c_same_s2/kernel"),
        "{report}"
    );
    assert!(report.unexpected.iter().any(|u| u == "conv2d"), "{report}");
    assert!(err.to_string().contains("missing from the file"), "{err}");
}

#[test]
fn misshaped_weights_are_reported_by_name() {
    let (json, w) = small_cnn();
    let json = json.replacen("\"units\": 7", "\"units\": 8", 1);
    let err = Model::from_json_and_weights(&json, w, "w.h5", &default_device()).unwrap_err();
    let Error::WeightsMismatch(report) = &err else {
        panic!("expected a mismatch report, got {err}")
    };
    assert_eq!(report.mismatched[0].name, "dense/kernel");
    assert_eq!(report.mismatched[0].expected, vec![60, 8]);
    assert_eq!(report.mismatched[0].found, vec![60, 7]);
}

#[test]
fn wrong_input_shape_is_a_shape_error() {
    let (json, w) = small_cnn();
    let m = Model::from_json_and_weights(&json, w, "w", &default_device()).unwrap();
    let err = m
        .predict(vec![0.0; 2 * 10 * 12 * 3], &[2, 10, 12, 3])
        .unwrap_err();
    assert!(matches!(err, Error::Shape { .. }), "{err}");
    assert!(
        err.to_string()
            .contains("expected (batch, 12, 10, 3), found (2, 10, 12, 3)"),
        "{err}"
    );
    let err = m.predict(vec![0.0; 5], &[1, 12, 10, 3]).unwrap_err();
    assert!(err.to_string().contains("needs 360 values, got 5"), "{err}");
}

#[test]
fn unsupported_configs_are_explained() {
    let (json, w) = small_cnn();
    let cf = json.replacen("\"channels_last\"", "\"channels_first\"", 1);
    let err = Model::from_json_and_weights(&cf, w.clone(), "w", &default_device()).unwrap_err();
    assert!(err.to_string().contains("channels_first"), "{err}");
    let dynamic = json.replacen(
        "\"batch_shape\": [null, 12, 10, 3]",
        "\"batch_shape\": [null, null, null, 3]",
        1,
    );
    // Unknown height and width: a fully convolutional model runs at any size, but this one
    // flattens into a Dense layer whose kernel depends on it (Keras cannot build it either).
    let err =
        Model::from_json_and_weights(&dynamic, w.clone(), "w", &default_device()).unwrap_err();
    assert!(
        err.to_string().contains("mis-shaped") || err.to_string().contains("dense"),
        "{err}"
    );
    let channels = json.replacen(
        "\"batch_shape\": [null, 12, 10, 3]",
        "\"batch_shape\": [null, 12, 10, null]",
        1,
    );
    let err = Model::from_json_and_weights(&channels, w, "w", &default_device()).unwrap_err();
    assert!(err.to_string().contains("channels unknown"), "{err}");
}

/// A model with several unsupported classes (one inside a nested model) names them all in one
/// error, before any weights are read.
#[test]
fn every_unsupported_class_is_named_at_once() {
    let (json, _) = small_cnn();
    let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let layers = v["config"]["layers"].as_array_mut().unwrap();
    let mut renamed = 0;
    for l in layers.iter_mut() {
        match l["class_name"].as_str() {
            Some("Flatten") => l["class_name"] = "LSTM".into(),
            Some("Dense") if renamed == 0 => {
                l["class_name"] = "GRU".into();
                renamed += 1;
            }
            _ => {}
        }
    }
    // A nested Sequential holding a third.
    layers.push(
        serde_json::json!({"class_name": "Sequential", "config": {"name": "inner",
        "layers": [{"class_name": "Bidirectional", "config": {"name": "bi"}}]}}),
    );
    let err =
        Model::from_json_and_weights(&v.to_string(), b"not hdf5".to_vec(), "w", &default_device())
            .unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::UnsupportedLayers { .. }), "{msg}");
    for needle in [
        "LSTM",
        "GRU",
        "Bidirectional",
        "'bi'",
        "Glimpse supports InputLayer",
    ] {
        assert!(msg.contains(needle), "{needle} missing from: {msg}");
    }
}

/// The README's table of supported layers lists every class of the registry the parser uses.
#[test]
fn readme_lists_every_registered_layer_class() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let start = readme.find("## Supported Keras").unwrap();
    let section = &readme[start..start + readme[start..].find("\nChecked against").unwrap()];
    for class in glimpse::keras::supported_layers() {
        assert!(
            section.contains(class),
            "README's Supported Keras table does not name {class}"
        );
    }
}
