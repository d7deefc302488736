//! Transfer-learning building blocks: truncating a model, joining a new head, saving the joined
//! model (structure JSON + weights, and as one `.keras` file) and loading it back.

mod common;

use glimpse::model::transfer;
use glimpse::weights::archive;
use glimpse::{default_device, Model};

fn small_cnn() -> (String, Model) {
    let dir = common::fixtures().join("keras3/small_cnn");
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let weights = std::fs::read(dir.join("model.weights.h5")).unwrap();
    let m = Model::from_json_and_weights(&json, weights, "small_cnn", &default_device()).unwrap();
    (json, m)
}

fn input(m: &Model, n: usize) -> (Vec<f32>, Vec<usize>) {
    let mut shape = vec![n];
    shape.extend(m.input_shapes()[0].iter());
    let len: usize = shape.iter().product();
    (
        (0..len).map(|i| ((i * 37) % 101) as f32 / 101.0).collect(),
        shape,
    )
}

#[test]
fn joined_model_equals_head_on_truncated_features() {
    let (_, base) = small_cnn();
    let fx = base.truncated("flatten").unwrap();
    let width: usize = fx.output_shapes()[0].iter().product();
    let head = transfer::new_head(width, 3, Some(5), 7, &default_device()).unwrap();
    let joined = transfer::join(&base, "flatten", &head, "joined").unwrap();
    assert_eq!(joined.output_shapes()[0], vec![3]);
    let (x, shape) = input(&base, 4);
    let (feats, _) = fx.predict(x.clone(), &shape).unwrap();
    let (via_head, _) = head.predict(feats, &[4, width]).unwrap();
    let (direct, _) = joined.predict(x, &shape).unwrap();
    let diff = via_head
        .iter()
        .zip(&direct)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(diff < 1e-6, "joined vs head(features): {diff}");
    // Probabilities: each row sums to 1.
    for row in direct.chunks(3) {
        assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}

#[test]
fn joined_model_saves_and_loads_back_in_both_formats() {
    let (_, base) = small_cnn();
    let head = transfer::new_head(
        base.truncated("flatten").unwrap().output_shapes()[0][0],
        2,
        None,
        1,
        &default_device(),
    )
    .unwrap();
    let joined = transfer::join(&base, "flatten", &head, "joined").unwrap();
    let json = transfer::joined_structure(&base, "flatten", &head, "joined").unwrap();
    let h5 = joined.keras3_weights().unwrap();
    let (x, shape) = input(&base, 2);
    let (want, _) = joined.predict(x.clone(), &shape).unwrap();

    let back =
        Model::from_json_and_weights(&json, h5.clone(), "joined", &default_device()).unwrap();
    assert_eq!(back.predict(x.clone(), &shape).unwrap().0, want);

    let zip = archive::write_keras_zip(&json, &h5, &[("labels.txt", b"ants\nbees\n")]).unwrap();
    let from_zip = Model::from_archive(zip.clone(), "joined.keras", &default_device()).unwrap();
    assert_eq!(from_zip.predict(x, &shape).unwrap().0, want);
    assert_eq!(
        archive::zip_entry(&zip, "labels.txt").as_deref(),
        Some(&b"ants\nbees\n"[..])
    );
    assert!(archive::zip_entry(&zip, "missing.txt").is_none());
}

#[test]
fn a_truncated_model_writes_the_layers_up_to_the_cut_and_loads_back() {
    let (_, base) = small_cnn();
    let cut = base.truncated("flatten").unwrap();
    let json = cut.structure_json().unwrap();
    let spec = glimpse::keras::parse_model(&json).unwrap();
    assert_eq!(spec.layers.last().unwrap().name, "flatten");
    assert_eq!(spec.layers.len(), cut.spec.layers.len());
    assert!(spec.layers.len() < base.spec.layers.len());
    let back = Model::from_json_and_weights(
        &json,
        cut.keras3_weights().unwrap(),
        "cut",
        &default_device(),
    )
    .unwrap();
    let (x, shape) = input(&base, 2);
    assert_eq!(
        back.predict(x.clone(), &shape).unwrap().0,
        cut.predict(x, &shape).unwrap().0
    );
    let err = base.truncated("nope").unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
}

#[test]
fn bad_heads_and_joins_are_errors() {
    let (_, base) = small_cnn();
    let dev = default_device();
    assert!(transfer::new_head(0, 2, None, 1, &dev).is_err());
    assert!(transfer::new_head(8, 1, None, 1, &dev).is_err());
    assert!(transfer::new_head(8, 2, Some(0), 1, &dev).is_err());
    // A head whose input width differs from the cut layer's output.
    let head = transfer::new_head(7, 2, None, 1, &dev).unwrap();
    let err = transfer::join(&base, "flatten", &head, "j").unwrap_err();
    assert!(err.to_string().to_lowercase().contains("shape"), "{err}");
    let err = transfer::join(&base, "no_such_layer", &head, "j").unwrap_err();
    assert!(err.to_string().contains("no_such_layer"), "{err}");
}

#[test]
fn rgba_pixels_prepare_like_the_cli() {
    use glimpse::image::{from_rgba, Prepare};
    assert!(from_rgba(&[0; 15], 2, 2, "x").is_err());
    assert!(from_rgba(&[], 0, 0, "x").is_err());
    let rgba: Vec<u8> = (0..4 * 4 * 4).map(|i| (i * 3 % 256) as u8).collect();
    let img = from_rgba(&rgba, 4, 4, "x").unwrap();
    let same = Prepare {
        height: 4,
        width: 4,
        crop_fraction: 1.0,
        resize: "nearest".into(),
        scale: 0.5,
    };
    let x = same.apply(&img).unwrap();
    let want: Vec<f32> = rgba
        .chunks(4)
        .flat_map(|p| [p[0], p[1], p[2]])
        .map(|v| v as f32 * 0.5)
        .collect();
    assert_eq!(x, want);
    let bad = Prepare {
        resize: "lanczos".into(),
        ..same.clone()
    };
    assert!(bad.apply(&img).unwrap_err().to_string().contains("lanczos"));
    let bad = Prepare {
        crop_fraction: 0.0,
        ..same
    };
    assert!(bad.apply(&img).is_err());
}
