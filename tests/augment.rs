//! Teaching with augmentation: the varied copies of a photo differ from it and from each
//! other, are reproducible from the seed, and the exported model with the augmentation layers
//! inside predicts exactly what the model without them predicts.

mod common;

use common::*;
use glimpse::teach::augment::{augmented, Augment};
use glimpse::{default_device, Model};

fn photo() -> (Vec<f32>, Vec<usize>) {
    // A 2-photo batch with structure (a ramp and a checkerboard), values 0..255.
    let (h, w) = (24, 20);
    let mut x = Vec::new();
    for i in 0..2 {
        for y in 0..h {
            for xx in 0..w {
                for c in 0..3 {
                    let v = if i == 0 {
                        (xx * 12 + c * 20) as f32
                    } else {
                        (((xx / 4 + y / 4) % 2) * 200 + c * 10) as f32
                    };
                    x.push(v.min(255.0));
                }
            }
        }
    }
    (x, vec![2, h, w, 3])
}

fn values(t: burn::tensor::Tensor<4>) -> Vec<f32> {
    glimpse::model::axes::to_keras_order(t)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap()
}

#[test]
fn views_differ_and_are_seeded() {
    let (x, shape) = photo();
    let dev = default_device();
    let aug = Augment::standard();
    let v1: Vec<Vec<f32>> = aug
        .views(&x, &shape, 3, 7, 0, &dev)
        .unwrap()
        .into_iter()
        .map(values)
        .collect();
    let again: Vec<Vec<f32>> = aug
        .views(&x, &shape, 3, 7, 0, &dev)
        .unwrap()
        .into_iter()
        .map(values)
        .collect();
    let other: Vec<Vec<f32>> = aug
        .views(&x, &shape, 3, 8, 0, &dev)
        .unwrap()
        .into_iter()
        .map(values)
        .collect();
    assert_eq!(v1, again, "same seed, same views");
    assert_ne!(v1, other, "another seed, other views");
    for (i, v) in v1.iter().enumerate() {
        assert_eq!(v.len(), x.len());
        let moved = v
            .iter()
            .zip(&x)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(moved > 10.0, "view {i} differs from the photos ({moved})");
        assert!(
            v.iter()
                .all(|p| p.is_finite() && (-1e-3..=255.001).contains(p)),
            "view {i} in range"
        );
    }
    assert_ne!(v1[0], v1[1]);
    assert_ne!(v1[1], v1[2]);
    // Nothing asked, nothing changed.
    assert!(Augment::parse("none").unwrap().is_empty());
    let flip = Augment::parse("flip").unwrap();
    let f = aug_values(&flip, &x, &shape);
    for img in 0..2 {
        let n = 24 * 20 * 3;
        let (a, b) = (&f[img * n..(img + 1) * n], &x[img * n..(img + 1) * n]);
        let mirrored: Vec<f32> = (0..24)
            .flat_map(|y| {
                (0..20)
                    .rev()
                    .flat_map(move |xx| (0..3).map(move |c| b[(y * 20 + xx) * 3 + c]))
            })
            .collect();
        assert!(
            a == b || a == mirrored.as_slice(),
            "a flip view is the photo or its mirror"
        );
    }
}

fn aug_values(a: &Augment, x: &[f32], shape: &[usize]) -> Vec<f32> {
    values(
        a.views(x, shape, 1, 3, 0, &default_device())
            .unwrap()
            .remove(0),
    )
}

#[test]
fn augment_specs_parse_with_errors_that_name_the_problem() {
    let a = Augment::parse("flip,rotate=0.2,zoom,contrast=0.05").unwrap();
    assert!(a.flip && a.rotate == 0.2 && a.zoom == 0.1 && a.contrast == 0.05);
    for (bad, needle) in [
        ("spin=3", "unknown transform 'spin=3'"),
        ("rotate=x", "expected a number"),
        ("zoom=2", "(0, 0.9]"),
        ("rotate=-0.1", "(0, 0.5]"),
    ] {
        let e = Augment::parse(bad).unwrap_err().to_string();
        assert!(e.contains(needle), "{bad}: {e}");
    }
}

/// The augmentation layers inside an exported model are the identity at inference, and the
/// written structure loads with the model's own weights file.
#[test]
fn a_model_with_augmentation_inside_predicts_the_same() {
    let dir = fixtures().join("keras3/fully_conv");
    let json = read_text(&dir, "model.json");
    let w = std::fs::read(dir.join("model.weights.h5")).unwrap();
    let plain = Model::from_json_and_weights(&json, w.clone(), "w", &default_device()).unwrap();
    let with = augmented(&plain, &Augment::standard(), 1).unwrap();
    let written = with.structure_json().unwrap();
    let m = Model::from_json_and_weights(&written, w, "w", &default_device()).unwrap();
    assert!(m
        .spec
        .layers
        .iter()
        .any(|l| l.class_name == "RandomRotation"));
    let (x, s) = npy(&dir.join("input.npy"));
    let want = plain.predict(x.clone(), &s).unwrap().0;
    assert_eq!(want, with.predict(x.clone(), &s).unwrap().0);
    assert_eq!(want, m.predict(x.clone(), &s).unwrap().0);
    // Taught again with other augmentation: this run's layers replace the earlier ones.
    let again = augmented(&m, &Augment::parse("flip,zoom=0.2").unwrap(), 2).unwrap();
    let w = std::fs::read(dir.join("model.weights.h5")).unwrap();
    let m2 =
        Model::from_json_and_weights(&again.structure_json().unwrap(), w, "w", &default_device())
            .unwrap();
    let classes: Vec<&str> = m2
        .spec
        .layers
        .iter()
        .map(|l| l.class_name.as_str())
        .filter(|c| c.starts_with("Random"))
        .collect();
    assert_eq!(classes, ["RandomFlip", "RandomZoom"]);
    assert_eq!(
        plain.predict(x.clone(), &s).unwrap().0,
        m2.predict(x, &s).unwrap().0
    );
}
