//! `glimpse train` and `glimpse evaluate` as a user runs them, including bad input.

mod common;

use common::glimpse_cli;

use std::path::{Path, PathBuf};

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glimpse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// DIR/<class>/*.png: "top" images bright above, "bottom" bright below.
fn image_folder(dir: &Path, per_class: u32, classes: &[&str]) {
    for (ci, c) in classes.iter().enumerate() {
        std::fs::create_dir_all(dir.join(c)).unwrap();
        for i in 0..per_class {
            let img = image::RgbImage::from_fn(8, 8, |x, y| {
                let bright = (y < 4) == (ci == 0);
                let v = if bright { 200 } else { 30 } + ((x * 7 + y * 3 + i * 11) % 40) as u8;
                image::Rgb([v, v, v])
            });
            img.save(dir.join(c).join(format!("{i}.png"))).unwrap();
        }
    }
}

fn tiny_model(dir: &Path, classes: usize) -> PathBuf {
    let json = glimpse::keras::build::sequential(
        "tiny",
        vec![
            glimpse::keras::build::input("in", &[8, 8, 3]),
            glimpse::keras::build::conv2d("c", 4, 3, "same", "relu"),
            glimpse::keras::build::max_pool("p", 2),
            glimpse::keras::build::flatten("f"),
            glimpse::keras::build::dense("out", classes, "softmax"),
        ],
    );
    let p = dir.join(format!("tiny{classes}.json"));
    std::fs::write(&p, json).unwrap();
    p
}

#[test]
fn train_then_evaluate_then_predict() {
    let root = tmp("train");
    let data = root.join("data");
    image_folder(&data, 24, &["bottom", "top"]);
    std::fs::write(data.join("top/broken.png"), b"\x89PNG\r\n\x1a\n truncated").unwrap();
    let model = tiny_model(&root, 2);
    let out = root.join("out");
    let (ok, stdout, stderr) = glimpse_cli(&[
        "train",
        "--data",
        data.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--epochs",
        "8",
        "--batch-size",
        "8",
        "--validation-split",
        "0.25",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(
        stderr.contains("skipped") && stderr.contains("broken.png"),
        "{stderr}"
    );
    assert!(stdout.contains("Skipped 1 unreadable image"), "{stdout}");
    assert!(
        stdout.contains("Epoch 8/8") && stdout.contains("val_accuracy"),
        "{stdout}"
    );
    for f in [
        "model_structure.json",
        "model_weights.weights.h5",
        "labels.txt",
        "history.json",
        "history.png",
    ] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    assert_eq!(
        std::fs::read_to_string(out.join("labels.txt")).unwrap(),
        "bottom\ntop\n"
    );
    let history: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("history.json")).unwrap()).unwrap();
    let epochs = history["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 8);
    assert!(epochs[7]["loss"].as_f64().unwrap() < epochs[0]["loss"].as_f64().unwrap());

    let structure = out.join("model_structure.json");
    let weights = out.join("model_weights.weights.h5");
    let (ok, stdout, stderr) = glimpse_cli(&[
        "evaluate",
        structure.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--data",
        data.to_str().unwrap(),
        "--json",
    ]);
    assert!(ok, "{stderr}");
    let ev: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(ev["accuracy"].as_f64().unwrap() >= 0.9, "{ev}");
    assert_eq!(ev["confusion_matrix"].as_array().unwrap().len(), 2);
    assert_eq!(ev["skipped"], 1);

    let (ok, stdout, stderr) = glimpse_cli(&[
        "predict",
        structure.to_str().unwrap(),
        "--weights",
        weights.to_str().unwrap(),
        "--labels",
        out.join("labels.txt").to_str().unwrap(),
        "--top",
        "1",
        data.join("top/3.png").to_str().unwrap(),
    ]);
    assert!(ok, "{stderr}");
    assert!(stdout.contains("top (1)"), "{stdout}");
}

#[test]
fn bad_training_input_fails_cleanly_and_writes_nothing() {
    let root = tmp("trainbad");
    let model2 = tiny_model(&root, 2);
    let model3 = tiny_model(&root, 3);
    let empty = root.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let one = root.join("one");
    image_folder(&one, 4, &["only"]);
    let two = root.join("two");
    image_folder(&two, 4, &["a", "b"]);
    let hollow = root.join("hollow");
    image_folder(&hollow, 4, &["a"]);
    std::fs::create_dir_all(hollow.join("b")).unwrap();
    let cases: Vec<(&Path, &Path, &str)> = vec![
        (&empty, &model2, "no class folders"),
        (&one, &model2, "at least two"),
        (&two, &model3, "2 classes but the model outputs 3"),
        (&hollow, &model2, "has no images"),
        (Path::new("/nonexistent/data"), &model2, "/nonexistent/data"),
    ];
    for (i, (data, model, needle)) in cases.into_iter().enumerate() {
        let out = root.join(format!("out{i}"));
        let (ok, _, stderr) = glimpse_cli(&[
            "train",
            "--data",
            data.to_str().unwrap(),
            "--model",
            model.to_str().unwrap(),
            "--epochs",
            "1",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(!ok, "case {i} should fail");
        assert!(stderr.contains(needle), "case {i}: {stderr}");
        assert!(!out.exists(), "case {i}: {out:?} was written");
    }
    // A non-empty output folder is refused before any work.
    let busy = root.join("busy");
    std::fs::create_dir_all(&busy).unwrap();
    std::fs::write(busy.join("keep.txt"), "mine").unwrap();
    let (ok, _, stderr) = glimpse_cli(&[
        "train",
        "--data",
        two.to_str().unwrap(),
        "--model",
        model2.to_str().unwrap(),
        "--out",
        busy.to_str().unwrap(),
    ]);
    assert!(!ok && stderr.contains("not empty"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(busy.join("keep.txt")).unwrap(),
        "mine"
    );
}
