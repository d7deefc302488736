//! The `glimpse` command line, run as a user runs it.

mod common;

use common::*;

fn fx(p: &str) -> String {
    fixtures().join(p).display().to_string()
}

#[test]
fn summary_of_the_course_cnn_matches_keras_counts() {
    let tmp = std::env::temp_dir().join(format!("glimpse-cnn-{}.json", std::process::id()));
    std::fs::write(
        &tmp,
        read_text(&fixtures().join("keras3/cifar_cnn"), "model.json"),
    )
    .unwrap();
    let (ok, out, err) = glimpse_cli(&["summary", tmp.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("Total params: 1,250,858 (4.77 MB)"), "{out}");
    assert!(out.contains("(None, 30, 30, 32)"), "{out}");
    assert!(
        out.contains("dense_1 (Dense)") || out.contains("(Dense)"),
        "{out}"
    );
}

#[test]
fn predict_every_format_agrees_with_keras_and_saves_output() {
    let tmp = std::env::temp_dir().join(format!("glimpse-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let (want, _) = npy(&fixtures().join("keras3/small_cnn/output.npy"));
    let input = fx("keras3/small_cnn/input.npy");
    let variants: Vec<Vec<String>> = vec![
        vec![
            fx("keras3/small_cnn/model.json"),
            "--weights".into(),
            fx("keras3/small_cnn/model.weights.h5"),
        ],
        vec![fx("keras3/small_cnn/model.keras")],
        vec![fx("keras3/small_cnn/model.h5")],
    ];
    for (i, v) in variants.iter().enumerate() {
        let out_path = tmp.join(format!("out{i}.npy"));
        let mut args: Vec<&str> = vec!["predict"];
        args.extend(v.iter().map(String::as_str));
        args.extend([
            "--json",
            "--top",
            "3",
            "--save-output",
            out_path.to_str().unwrap(),
            &input,
        ]);
        let (ok, out, err) = glimpse_cli(&args);
        assert!(ok, "{v:?}: {err}");
        let lines: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["top"].as_array().unwrap().len(), 3);
        let (got, shape) = npy(&out_path);
        assert_eq!(shape, vec![3, 7]);
        assert!(
            max_rel_diff(&got, &want) <= 1e-4,
            "{}",
            max_rel_diff(&got, &want)
        );
        // Top-1 is Keras' argmax.
        let best = (0..7).max_by(|&a, &b| want[a].total_cmp(&want[b])).unwrap();
        assert_eq!(lines[0]["top"][0]["index"], best);
    }
}

#[test]
fn predict_images_with_labels() {
    let tmp = std::env::temp_dir().join(format!("glimpse-img-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let png = tmp.join("photo.png");
    image::RgbImage::from_fn(40, 30, |x, y| {
        image::Rgb([(x * 6) as u8, (y * 8) as u8, 128])
    })
    .save(&png)
    .unwrap();
    let grey = tmp.join("grey.png");
    image::GrayImage::from_fn(9, 9, |x, _| image::Luma([(x * 20) as u8]))
        .save(&grey)
        .unwrap();
    let labels = tmp.join("labels.txt");
    std::fs::write(&labels, "a\nb\nc\nd\ne\nf\ng\n").unwrap();
    let (ok, out, err) = glimpse_cli(&[
        "predict",
        &fx("keras3/small_cnn/model.keras"),
        "--labels",
        labels.to_str().unwrap(),
        "--top",
        "2",
        png.to_str().unwrap(),
        grey.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    assert!(
        out.contains("photo.png:") && out.contains("grey.png:"),
        "{out}"
    );
    assert!(
        out.lines().filter(|l| l.starts_with("  ")).count() == 4,
        "{out}"
    );

    std::fs::write(&labels, "a\nb\n").unwrap();
    let (ok, _, err) = glimpse_cli(&[
        "predict",
        &fx("keras3/small_cnn/model.keras"),
        "--labels",
        labels.to_str().unwrap(),
        png.to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(err.contains("2 labels for a model with 7 outputs"), "{err}");
}

#[test]
fn bad_inputs_exit_non_zero_with_a_message() {
    let tmp = std::env::temp_dir().join(format!("glimpse-bad-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let junk = tmp.join("junk.jpg");
    std::fs::write(&junk, b"\xff\xd8\xff\xe0 this is not really a jpeg").unwrap();
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec![
                "predict".into(),
                fx("keras3/small_cnn/model.keras"),
                junk.display().to_string(),
            ],
            "junk.jpg",
        ),
        (
            vec![
                "predict".into(),
                fx("keras3/small_cnn/model.json"),
                fx("keras3/small_cnn/input.npy"),
            ],
            "needs --weights",
        ),
        (
            vec![
                "predict".into(),
                fx("keras3/small_cnn/model.keras"),
                fx("keras3/convs/input.npy"),
            ],
            "shape mismatch",
        ),
        (
            vec!["summary".into(), "/nonexistent/model.json".into()],
            "/nonexistent/model.json",
        ),
        (
            vec!["summary".into(), fx("keras3/small_cnn/input.npy")],
            "not an HDF5 file",
        ),
    ];
    for (args, needle) in cases {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (ok, _, err) = glimpse_cli(&a);
        assert!(!ok, "{args:?} should fail");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{err}");
    }
}

/// A TF.js model is given as its folder or its model.json; Teachable Machine's metadata.json
/// names the classes; `summary` reads it too; a manifest cannot reach outside the folder.
#[test]
fn predict_reads_a_tfjs_folder_with_its_teachable_machine_labels() {
    let dir = fx("tfjs/teachable_like");
    let input = fx("tfjs/teachable_like/input.npy");
    let tmp = std::env::temp_dir().join(format!("glimpse-tfjs-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let out_path = tmp.join("out.npy");
    let model_json = format!("{dir}/model.json");
    for m in [&dir, &model_json] {
        let (ok, out, err) = glimpse_cli(&[
            "predict",
            m,
            "--save-output",
            out_path.to_str().unwrap(),
            &input,
        ]);
        assert!(ok, "{err}");
        assert!(out.contains("Class 2") && out.contains("Class 3"), "{out}");
        let (got, _) = npy(&out_path);
        let (want, _) = npy(&fixtures().join("tfjs/teachable_like/output.npy"));
        assert!(max_rel_diff(&got, &want) < 1e-4);
    }
    let (ok, out, err) = glimpse_cli(&["summary", &model_json]);
    assert!(ok, "{err}");
    assert!(out.contains("Conv1 (Conv2D)"), "{out}");

    // A manifest that points outside its folder is refused.
    let evil = tmp.join("evil");
    std::fs::create_dir_all(&evil).unwrap();
    let text = read_text(&fixtures().join("tfjs/teachable_like"), "model.json")
        .replace("\"weights.bin\"", "\"../../weights.bin\"");
    std::fs::write(evil.join("model.json"), text).unwrap();
    let (ok, _, err) = glimpse_cli(&["predict", evil.to_str().unwrap(), &input]);
    assert!(!ok && err.contains("outside the model's folder"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}

/// `convert` writes a Keras 3 `.keras` from a TF.js model (nested Teachable Machine layout,
/// labels from metadata.json) and from a Keras 2.0.x `.h5`; Glimpse reads the result back as a
/// Keras 3 file and predicts the same. (That real Keras 3 loads them too is checked by
/// scripts/real-models/check_converted.py, which needs Keras.)
#[test]
fn convert_writes_keras3_files_that_predict_the_same() {
    let tmp = std::env::temp_dir().join(format!("glimpse-convert-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    for (src, fixture) in [
        ("tfjs/teachable_like", "tfjs/teachable_like"),
        ("tfjs/quant_uint8", "tfjs/quant_uint8"),
        (
            "keras2/small_cnn_keras20/model.h5",
            "keras2/small_cnn_keras20",
        ),
        ("keras3/conv_transpose/model.h5", "keras3/conv_transpose"),
    ] {
        let out = tmp.join(format!("{}.keras", fixture.replace('/', "_")));
        let (ok, stdout, err) = glimpse_cli(&["convert", &fx(src), out.to_str().unwrap()]);
        assert!(ok, "{src}: {err}");
        assert!(stdout.contains("wrote"), "{stdout}");
        let bytes = std::fs::read(&out).unwrap();
        let config = glimpse::weights::archive::zip_entry(&bytes, "config.json").unwrap();
        let config: serde_json::Value = serde_json::from_slice(&config).unwrap();
        assert_eq!(config["class_name"], "Functional", "{src}");
        assert_eq!(
            config["config"]["layers"][1]["module"], "keras.layers",
            "{src}"
        );
        let pred = tmp.join("pred.npy");
        let input = fx(&format!("{fixture}/input.npy"));
        let (ok, _, err) = glimpse_cli(&[
            "predict",
            out.to_str().unwrap(),
            "--save-output",
            pred.to_str().unwrap(),
            &input,
        ]);
        assert!(ok, "{src}: {err}");
        let (got, _) = npy(&pred);
        let (want, _) = npy(&fixtures().join(fixture).join("output.npy"));
        assert!(max_rel_diff(&got, &want) < 1e-4, "{src}");
        if src.starts_with("tfjs/teachable") {
            let labels = glimpse::weights::archive::zip_entry(&bytes, "labels.txt").unwrap();
            assert_eq!(
                String::from_utf8(labels).unwrap(),
                "Class 1\nClass 2\nClass 3\n"
            );
            // The .keras brings its labels back: predict names the classes without --labels.
            let (ok, stdout, err) = glimpse_cli(&["predict", out.to_str().unwrap(), &input]);
            assert!(ok && stdout.contains("Class "), "{stdout}{err}");
        }
    }
    // Keras 3 would compute Keras 2's hard_sigmoid differently: refused, naming the layers.
    let out = tmp.join("acts.keras");
    let (ok, _, err) = glimpse_cli(&[
        "convert",
        &fx("keras2/dense_acts/model.h5"),
        out.to_str().unwrap(),
    ]);
    assert!(
        !ok && err.contains("hard_sigmoid") && err.contains("a_hard_sigmoid"),
        "{err}"
    );
    let (ok, _, err) = glimpse_cli(&["convert", &fx("tfjs/cnn_layers"), "/tmp/x.h5"]);
    assert!(!ok && err.contains(".keras"), "{err}");
    let _ = std::fs::remove_dir_all(&tmp);
}
