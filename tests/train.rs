//! Training: Keras' optimizer steps reproduced, a small model learns, save → load round trips.

mod common;

use common::*;
use glimpse::keras::{build, parse_model};
use glimpse::train::{
    self, block_on, init, Dataset, FitConfig, Loss, Optimizer, OptimizerConfig, Rng, Samples,
    Silent,
};
use glimpse::weights::hdf5;
use glimpse::{default_device, Model};

fn step_fixture(name: &str) {
    let dir = fixtures().join("train").join(name);
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let before = std::fs::read(dir.join("before.weights.h5")).unwrap();
    let after = hdf5::read_weights(
        std::fs::read(dir.join("after.weights.h5")).unwrap(),
        "after",
    )
    .unwrap();
    let meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("meta.json")).unwrap()).unwrap();
    let mut model =
        Model::from_json_and_weights(&json, before, "before", &default_device()).unwrap();
    let (x, _) = npy(&dir.join("x.npy"));
    let (labels, _) = npy(&dir.join("labels.npy"));
    let labels: Vec<u32> = labels.iter().map(|&l| l as u32).collect();
    let cfg = OptimizerConfig::from_keras(&serde_json::json!({
        "class_name": meta["optimizer"]["name"], "config": meta["optimizer"]
    }))
    .unwrap();
    let shape: Vec<usize> = model.params().iter().map(Vec::len).collect();
    let mut opt = Optimizer::new(cfg, &shape);
    for step in 0..2 {
        let (loss, _) = train::train_step(
            &mut model,
            &mut opt,
            Loss::CategoricalCrossentropy,
            x.clone(),
            &labels,
        )
        .unwrap();
        let l = loss.into_data().try_into_vec::<f32>().unwrap()[0];
        let want = meta["losses"][step].as_f64().unwrap() as f32;
        assert!(
            (l - want).abs() < 1e-5,
            "{name} step {step}: loss {l} vs Keras {want}"
        );
    }
    let got = model.keras_values().unwrap();
    for (li, layer) in model.spec.layers.iter().enumerate() {
        let Some(want) = after.layers.get(&layer.name) else {
            continue;
        };
        for (vi, w) in want.iter().enumerate() {
            let d = got[li][vi]
                .iter()
                .zip(&w.data)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            assert!(
                d <= 1e-5,
                "{name}: {}/{} differs from Keras by {d:e}",
                layer.name,
                model.graph.params[li][vi].name
            );
        }
    }
}

#[test]
fn adam_steps_match_keras() {
    step_fixture("adam");
}

#[test]
fn sgd_momentum_steps_match_keras() {
    step_fixture("sgd");
}

#[test]
fn rmsprop_steps_match_keras() {
    step_fixture("rmsprop");
}

/// Two classes of 8x8 images: a bright top half or a bright bottom half, with noise.
fn halves(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng(seed);
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for i in 0..n {
        let label = (i % 2) as u32;
        for y in 0..8 {
            for _x in 0..8 {
                let bright = (y < 4) == (label == 0);
                for _c in 0..3 {
                    let noise = (rng.next_u64() % 60) as u8;
                    data.push(if bright { 180 + noise } else { 20 + noise });
                }
            }
        }
        labels.push(label);
    }
    Dataset {
        sample_shape: vec![8, 8, 3],
        samples: Samples::U8(data),
        labels,
        classes: vec!["top".into(), "bottom".into()],
        skipped: vec![],
    }
}

fn small_net() -> String {
    build::sequential(
        "tiny",
        vec![
            build::input("in", &[8, 8, 3]),
            build::conv2d("c", 4, 3, "same", "relu"),
            build::max_pool("p", 2),
            build::dropout("d", 0.2),
            build::flatten("f"),
            build::dense("out", 2, "softmax"),
        ],
    )
}

#[test]
fn a_small_model_learns_and_round_trips_through_keras_files() {
    let json = small_net();
    let mut rng = Rng(5);
    let mut model =
        Model::from_spec_with(parse_model(&json).unwrap(), &default_device(), |_, _, p| {
            Ok(init::keras_default(p, &mut rng))
        })
        .unwrap();
    let train_ds = halves(96, 1);
    let val = halves(32, 2);
    let cfg = FitConfig {
        epochs: 6,
        batch_size: 16,
        ..Default::default()
    };
    let h = block_on(train::fit(
        &mut model,
        &train_ds,
        Some(&val),
        &cfg,
        &mut Silent,
    ))
    .unwrap();
    assert_eq!(h.epochs.len(), 6);
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(
        last.loss < first.loss,
        "loss should fall: {first:?} -> {last:?}"
    );
    assert!(
        last.val_accuracy.unwrap() >= 0.9,
        "validation accuracy {last:?}"
    );
    // The PNG plot decodes.
    assert!(image::load_from_memory(&h.plot_png()).is_ok());

    // Save as Keras files, load back, predict the same.
    let weights = model.keras3_weights().unwrap();
    let loaded =
        Model::from_json_and_weights(&json, weights, "saved.weights.h5", &default_device())
            .unwrap();
    let (x, _) = val.batch(&(0..8).collect::<Vec<_>>());
    let a = model.predict(x.clone(), &[8, 8, 8, 3]).unwrap().0;
    let b = loaded.predict(x, &[8, 8, 8, 3]).unwrap().0;
    assert_eq!(a, b);
}

#[test]
fn labels_that_do_not_match_the_output_are_refused() {
    let json = small_net().replace("\"units\":2", "\"units\":3");
    let mut model =
        Model::from_spec_with(parse_model(&json).unwrap(), &default_device(), |_, _, p| {
            Ok(vec![0.0; p.size()])
        })
        .unwrap();
    let err = block_on(train::fit(
        &mut model,
        &halves(8, 1),
        None,
        &FitConfig::default(),
        &mut Silent,
    ))
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("2 classes but the model outputs 3"),
        "{err}"
    );
}

/// The layers added for real models train: PReLU's slopes are learned (gradients flow through
/// UpSampling2D and Permute), the loss falls, and the saved weights load back.
#[test]
fn prelu_upsampling_and_permute_train() {
    let dir = fixtures().join("keras3/more_layers");
    let json = std::fs::read_to_string(dir.join("model.json")).unwrap();
    let weights = std::fs::read(dir.join("model.weights.h5")).unwrap();
    let mut model =
        Model::from_json_and_weights(&json, weights, "more_layers", &default_device()).unwrap();
    let mut rng = Rng(3);
    let n = 16;
    let data: Vec<f32> = (0..n * 6 * 5 * 4)
        .map(|_| (rng.next_u64() % 1000) as f32 / 500.0 - 1.0)
        .collect();
    let ds = Dataset {
        sample_shape: vec![6, 5, 4],
        samples: Samples::F32(data),
        labels: (0..n as u32).map(|i| i % 5).collect(),
        classes: (0..5).map(|i| i.to_string()).collect(),
        skipped: vec![],
    };
    let prelu = model
        .spec
        .layers
        .iter()
        .position(|l| l.name == "prelu_full")
        .unwrap();
    let before = model.keras_values().unwrap()[prelu][0].clone();
    let cfg = FitConfig {
        epochs: 8,
        batch_size: 8,
        // The head is linear (logits): a squared error against the one-hot targets.
        loss: Loss::MeanSquaredError,
        ..Default::default()
    };
    let h = block_on(train::fit(&mut model, &ds, None, &cfg, &mut Silent)).unwrap();
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(last.loss < first.loss, "{first:?} -> {last:?}");
    let after = model.keras_values().unwrap()[prelu][0].clone();
    assert_ne!(before, after, "the PReLU slopes were trained");
    let saved = model.keras3_weights().unwrap();
    let loaded =
        Model::from_json_and_weights(&json, saved, "saved.weights.h5", &default_device()).unwrap();
    let (x, shape) = npy(&dir.join("input.npy"));
    assert_eq!(
        model.predict(x.clone(), &shape).unwrap().0,
        loaded.predict(x, &shape).unwrap().0
    );
}

/// A Keras layer value for tests: `{"class_name": class, "config": config + name}`.
fn layer(class: &str, name: &str, mut config: serde_json::Value) -> serde_json::Value {
    config["name"] = name.into();
    serde_json::json!({"class_name": class, "config": config})
}

/// Images whose class is which half is bright: left (0) or right (1).
fn sides(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng(seed);
    let mut data = Vec::new();
    for i in 0..n {
        for _y in 0..8 {
            for x in 0..8 {
                let bright = (x < 4) == (i % 2 == 0);
                for _c in 0..3 {
                    let noise = (rng.next_u64() % 60) as u8;
                    data.push(if bright { 180 + noise } else { 20 + noise });
                }
            }
        }
    }
    Dataset {
        sample_shape: vec![8, 8, 3],
        samples: Samples::U8(data),
        labels: (0..n as u32).map(|i| i % 2).collect(),
        classes: vec!["left".into(), "right".into()],
        skipped: vec![],
    }
}

fn flip_net(with_flip: bool) -> String {
    let mut layers = vec![build::input("in", &[8, 8, 3])];
    if with_flip {
        let cfg = serde_json::json!({"mode": "horizontal", "seed": 7});
        layers.push(layer("RandomFlip", "flip", cfg));
    }
    layers.push(build::rescaling("scale", 1.0 / 255.0, 0.0));
    layers.push(build::flatten("f"));
    layers.push(build::dense("out", 2, "softmax"));
    build::sequential("flips", layers)
}

/// Augmentation acts in training only: with a horizontal flip inside the model, "which half is
/// bright" cannot be learned (half the photos of each class arrive mirrored, as the other
/// class), while the same model without the flip learns it; and predictions are unflipped.
#[test]
fn augmentation_layers_act_in_fit_and_not_in_predict() {
    let train_ds = sides(64, 1);
    let cfg = FitConfig {
        epochs: 8,
        batch_size: 16,
        optimizer: OptimizerConfig::Adam {
            learning_rate: 0.01,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        },
        ..Default::default()
    };
    let mut acc = Vec::new();
    for with_flip in [false, true] {
        let json = flip_net(with_flip);
        let mut rng = Rng(5);
        let mut model =
            Model::from_spec_with(parse_model(&json).unwrap(), &default_device(), |_, _, p| {
                Ok(init::keras_default(p, &mut rng))
            })
            .unwrap();
        let h = block_on(train::fit(&mut model, &train_ds, None, &cfg, &mut Silent)).unwrap();
        let last = h.epochs.last().unwrap().clone();
        // Inference: the flip is the identity, so predictions follow the photo as given.
        let (x, _) = train_ds.batch(&(0..2).collect::<Vec<_>>());
        let one = model.predict(x.clone(), &[2, 8, 8, 3]).unwrap().0;
        let two = model.predict(x, &[2, 8, 8, 3]).unwrap().0;
        assert_eq!(one, two, "predict is deterministic (no flips at inference)");
        acc.push(last.accuracy);
    }
    assert!(
        acc[0] >= 0.95,
        "without the flip the task is learned: {acc:?}"
    );
    assert!(
        acc[1] <= 0.75,
        "with the flip in training it cannot be: {acc:?}"
    );
}

/// In training, RandomFlip returns each image or its mirror, both occur, and the draws are
/// seeded by the layer's seed: two models from the same file flip the same images.
#[test]
fn random_flip_in_training_mirrors_whole_images_reproducibly() {
    let json = build::sequential(
        "flip_only",
        vec![
            build::input("in", &[4, 5, 1]),
            layer(
                "RandomFlip",
                "flip",
                serde_json::json!({"mode": "horizontal", "seed": 3}),
            ),
        ],
    );
    let make = || {
        Model::from_spec_with(parse_model(&json).unwrap(), &default_device(), |_, _, p| {
            Ok(vec![0.0; p.size()])
        })
        .unwrap()
    };
    let n = 32;
    let data: Vec<f32> = (0..n * 20).map(|v| v as f32).collect();
    let run = |m: &Model| {
        let x = m.input_tensor(0, data.clone(), &[n, 4, 5, 1]).unwrap();
        let y = m.forward(vec![x], true).remove(0);
        y.into_data().try_into_vec::<f32>().unwrap()
    };
    let (a, b) = (make(), make());
    let ya = run(&a);
    assert_eq!(ya, run(&b), "same seed, same flips");
    assert_ne!(ya, run(&a), "the next batch draws again");
    let mut flipped = 0;
    for i in 0..n {
        let img = &data[i * 20..(i + 1) * 20];
        let out = &ya[i * 20..(i + 1) * 20];
        let mirror: Vec<f32> = (0..4)
            .flat_map(|r| (0..5).rev().map(move |c| img[r * 5 + c]))
            .collect();
        if out == mirror.as_slice() {
            flipped += 1;
        } else {
            assert_eq!(out, img, "image {i} is itself or its mirror");
        }
    }
    assert!((4..=28).contains(&flipped), "{flipped} of {n} flipped");
    let x = a.input_tensor(0, data.clone(), &[n, 4, 5, 1]).unwrap();
    let y = a
        .forward(vec![x], false)
        .remove(0)
        .into_data()
        .try_into_vec::<f32>()
        .unwrap();
    assert_eq!(y, data, "identity at inference");
}

/// Conv2DTranspose trains (gradients flow through burn's transposed convolution and Keras'
/// window of it): a decoder-style net learns the halves task and its saved weights load back.
#[test]
fn conv_transpose_trains() {
    let json = build::sequential(
        "deconv",
        vec![
            build::input("in", &[8, 8, 3]),
            build::rescaling("scale", 1.0 / 255.0, 0.0),
            build::conv2d("down", 4, 3, "same", "relu"),
            build::max_pool("pool", 2),
            layer(
                "Conv2DTranspose",
                "up",
                serde_json::json!({"filters": 2, "kernel_size": [3, 3], "strides": [2, 2],
                                   "padding": "same", "activation": "relu"}),
            ),
            build::flatten("f"),
            build::dense("out", 2, "softmax"),
        ],
    );
    let mut rng = Rng(9);
    let mut model =
        Model::from_spec_with(parse_model(&json).unwrap(), &default_device(), |_, _, p| {
            Ok(init::keras_default(p, &mut rng))
        })
        .unwrap();
    let up = model
        .spec
        .layers
        .iter()
        .position(|l| l.name == "up")
        .unwrap();
    let before = model.keras_values().unwrap()[up][0].clone();
    let cfg = FitConfig {
        epochs: 6,
        batch_size: 16,
        ..Default::default()
    };
    let h = block_on(train::fit(
        &mut model,
        &halves(64, 3),
        None,
        &cfg,
        &mut Silent,
    ))
    .unwrap();
    let (first, last) = (&h.epochs[0], h.epochs.last().unwrap());
    assert!(last.loss < first.loss, "{first:?} -> {last:?}");
    assert_ne!(
        before,
        model.keras_values().unwrap()[up][0],
        "the kernel was trained"
    );
    let saved = model.keras3_weights().unwrap();
    let loaded =
        Model::from_json_and_weights(&json, saved, "saved.weights.h5", &default_device()).unwrap();
    let (x, _) = halves(4, 4).batch(&[0, 1, 2, 3]);
    assert_eq!(
        model.predict(x.clone(), &[4, 8, 8, 3]).unwrap().0,
        loaded.predict(x, &[4, 8, 8, 3]).unwrap().0
    );
}

/// Keras' transfer-learning tutorial model: a frozen base (`trainable: false`) keeps its
/// variables in fit, its BatchNormalization runs in inference mode (moving statistics
/// unchanged), the augmentation runs, and the head learns.
#[test]
fn a_frozen_base_stays_frozen_in_fit() {
    let dir = fixtures().join("keras3/tutorial_transfer");
    let json = read_text(&dir, "model.json");
    let spec = parse_model(&json).unwrap();
    let mut model =
        Model::from_spec_with(spec, &default_device(), |l, i, p| Ok(formula(l, i, p))).unwrap();
    let (x, xs) = npy(&dir.join("input.npy"));
    let (y, _) = npy(&dir.join("output.npy"));
    assert!(max_rel_diff(&model.predict(x.clone(), &xs).unwrap().0, &y) < 1e-4);
    let before = model.keras_values().unwrap();
    let mut rng = Rng(11);
    let n = 16;
    let data: Vec<u8> = (0..n * 32 * 32 * 3)
        .map(|_| (rng.next_u64() % 256) as u8)
        .collect();
    let ds = Dataset {
        sample_shape: vec![32, 32, 3],
        samples: Samples::U8(data),
        labels: (0..n as u32).map(|i| i % 2).collect(),
        classes: vec!["a".into(), "b".into()],
        skipped: vec![],
    };
    let cfg = FitConfig {
        epochs: 2,
        batch_size: 8,
        // The tutorial's loss: its head outputs a logit.
        loss: Loss::BinaryCrossentropyLogits,
        ..Default::default()
    };
    let h = block_on(train::fit(&mut model, &ds, None, &cfg, &mut Silent)).unwrap();
    assert!(
        h.epochs.iter().all(|e| e.loss.is_finite()),
        "{:?}",
        h.epochs
    );
    let after = model.keras_values().unwrap();
    let mut frozen_same = 0;
    for (i, l) in model.spec.layers.iter().enumerate() {
        if before[i].is_empty() {
            continue;
        }
        if model.graph.frozen[i] {
            assert!(before[i] == after[i], "frozen layer {} changed", l.name);
            frozen_same += 1;
        } else {
            assert!(before[i] != after[i], "layer {} did not train", l.name);
        }
    }
    assert!(frozen_same > 50, "{frozen_same} frozen layers checked");
    assert!(model.summary().trainable < model.summary().total / 100);
}

/// The default loss follows the model's output: logits (a linear last layer, as Keras'
/// tutorials end) train with the from-logits cross-entropy, probabilities with the plain one.
#[test]
fn the_default_loss_follows_the_output_activation() {
    let load = |name: &str| {
        let dir = fixtures().join("keras3").join(name);
        let json = read_text(&dir, "model.json");
        let w = std::fs::read(dir.join("model.weights.h5")).unwrap();
        Model::from_json_and_weights(&json, w, name, &default_device()).unwrap()
    };
    let resolve = glimpse::train::compile::resolve_loss;
    assert_eq!(
        resolve(&load("tutorial_augment"), None),
        Loss::CategoricalCrossentropyLogits
    );
    assert_eq!(
        resolve(&load("small_cnn"), None),
        Loss::CategoricalCrossentropy
    );
    assert_eq!(
        resolve(
            &load("small_cnn"),
            Some(Loss::SparseCategoricalCrossentropy)
        ),
        Loss::CategoricalCrossentropy
    );
}
