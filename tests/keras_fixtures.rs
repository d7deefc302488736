//! Every fixture made by real Keras (tests/fixtures/make_fixtures.py): Glimpse's output must
//! match Keras' within 1e-4 (relative to the output's magnitude when it exceeds 1), and its
//! summary must list the same layers, shapes and parameter counts.

mod common;

use common::*;
use glimpse::{default_device, keras::parse_model, Model};
use std::path::Path;

const TOL: f32 = 1e-4;

fn load_variants(dir: &Path) -> Vec<(String, Model)> {
    let dev = default_device();
    let json = read_text(dir, "model.json");
    let m = meta(dir);
    if m["weights"] == "formula" {
        let spec = parse_model(&json).unwrap();
        let model = Model::from_spec_with(spec, &dev, |l, i, p| Ok(formula(l, i, p))).unwrap();
        return vec![("json+formula".into(), model)];
    }
    let mut out = Vec::new();
    for f in m["formats"].as_array().unwrap() {
        let f = f.as_str().unwrap();
        let bytes = std::fs::read(dir.join(f)).unwrap();
        let model = if f.ends_with(".keras") || f == "model.h5" {
            Model::from_archive(bytes, f, &dev)
        } else {
            Model::from_json_and_weights(&json, bytes, f, &dev)
        };
        out.push((
            f.to_string(),
            model.unwrap_or_else(|e| panic!("{}: {f}: {e}", dir.display())),
        ));
    }
    out
}

fn check_outputs(flavor: &str) -> usize {
    let dirs = fixture_dirs(flavor);
    let mut checked = 0;
    let mut failures = Vec::new();
    for dir in &dirs {
        let (x, xs) = npy(&dir.join("input.npy"));
        let (y, ys) = npy(&dir.join("output.npy"));
        for (variant, model) in load_variants(dir) {
            let (out, shape) = model.predict(x.clone(), &xs).unwrap();
            assert_eq!(shape, ys, "{}: output shape", dir.display());
            let d = max_rel_diff(&out, &y);
            eprintln!(
                "{:>22} {variant:<18} max diff {d:.2e}",
                dir.file_name().unwrap().to_string_lossy()
            );
            if d.is_nan() || d > TOL {
                failures.push(format!("{} ({variant}): {d:e}", dir.display()));
            }
            checked += 1;
        }
    }
    assert!(
        failures.is_empty(),
        "outputs differ from Keras:\n{}",
        failures.join("\n")
    );
    checked
}

#[test]
fn keras3_fixtures_match_keras() {
    let n = check_outputs("keras3");
    assert!(
        n >= 20,
        "expected the Keras 3 fixtures to be present, checked {n}"
    );
}

#[test]
fn keras2_fixtures_match_tf_keras() {
    // tf.keras 2 fixtures exist when make_fixtures.py --tf-keras could run.
    let n = check_outputs("keras2");
    if fixture_dirs("keras2").is_empty() {
        eprintln!("no tf.keras 2 fixtures");
    } else {
        assert!(n > 0);
    }
}

fn check_summaries(flavor: &str) {
    for dir in fixture_dirs(flavor) {
        let want: serde_json::Value =
            serde_json::from_str(&read_text(&dir, "summary.json")).unwrap();
        let (_, model) = load_variants(&dir).into_iter().next().unwrap();
        let s = model.summary();
        let name = dir.display();
        assert_eq!(
            s.total as u64,
            want["total"].as_u64().unwrap(),
            "{name}: total params"
        );
        assert_eq!(
            s.trainable as u64,
            want["trainable"].as_u64().unwrap(),
            "{name}: trainable params"
        );
        assert_eq!(
            s.non_trainable as u64,
            want["non_trainable"].as_u64().unwrap(),
            "{name}: non-trainable"
        );
        // Every Keras layer that Glimpse keeps as a layer (nested models are inlined) has the
        // same class, output shape and count.
        for row in want["layers"].as_array().unwrap() {
            let lname = row["name"].as_str().unwrap();
            let Some(ours) = s.rows.iter().find(|r| r.name == lname) else {
                let class = row["class_name"].as_str().unwrap();
                assert!(
                    matches!(class, "InputLayer" | "Sequential" | "Functional"),
                    "{name}: layer {lname} missing from summary"
                );
                continue;
            };
            let shape: Vec<Option<usize>> =
                serde_json::from_value(row["output_shape"].clone()).unwrap();
            assert_eq!(ours.output_shape, shape, "{name}: {lname} output shape");
            assert_eq!(
                ours.params as u64,
                row["params"].as_u64().unwrap(),
                "{name}: {lname} params"
            );
        }
    }
}

#[test]
fn summaries_match_keras() {
    check_summaries("keras3");
    check_summaries("keras2");
}

#[test]
fn course_cnn_summary_prints_keras_table() {
    let dir = fixtures().join("keras3/cifar_cnn");
    let want: serde_json::Value = serde_json::from_str(&read_text(&dir, "summary.json")).unwrap();
    let (_, model) = load_variants(&dir).into_iter().next().unwrap();
    let text = model.summary().to_string();
    assert!(text.contains("Total params: 1,250,858 (4.77 MB)"), "{text}");
    // The rows of Keras' own printed table appear in ours.
    let keras_text = want["text"].as_str().unwrap();
    for line in keras_text.lines().filter(|l| l.starts_with('│')) {
        let cells: Vec<String> = line
            .split('│')
            .map(|c| c.trim().to_string())
            .filter(|c| !c.is_empty())
            .collect();
        assert!(
            text.lines()
                .any(|l| cells.iter().all(|c| l.contains(c.as_str()))),
            "Keras row {cells:?} not in:\n{text}"
        );
    }
}

#[test]
fn async_readback_gives_the_same_values() {
    let dir = fixtures().join("keras3/convs");
    let (x, xs) = npy(&dir.join("input.npy"));
    let (_, model) = load_variants(&dir).into_iter().next().unwrap();
    let sync = model.predict(x.clone(), &xs).unwrap();
    use std::future::Future;
    let mut fut = std::pin::pin!(model.predict_async(x, &xs));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let got = loop {
        if let std::task::Poll::Ready(r) = fut.as_mut().poll(&mut cx) {
            break r.unwrap();
        }
    };
    assert_eq!(got, sync);
}

/// A fully convolutional model whose input leaves height and width unknown runs at the size
/// it is given, as Keras does.
#[test]
fn a_model_with_unknown_input_size_runs_at_the_given_size() {
    let dir = fixtures().join("keras3/fully_conv");
    let bytes = std::fs::read(dir.join("model.keras")).unwrap();
    let model = Model::from_archive(bytes, "fully_conv.keras", &default_device()).unwrap();
    assert!(model.has_free_axes());
    for (i, o) in [
        ("input.npy", "output.npy"),
        ("input_b.npy", "output_b.npy"),
        ("input.npy", "output.npy"),
    ] {
        let (x, xs) = npy(&dir.join(i));
        let (y, ys) = npy(&dir.join(o));
        let (out, shape) = model.predict(x, &xs).unwrap();
        assert_eq!(shape, ys);
        let d = max_rel_diff(&out, &y);
        assert!(d <= TOL, "{i}: {d:e}");
    }
    let s = model.summary();
    assert_eq!(
        s.rows[1].output_shape,
        vec![None, None, None, Some(6)],
        "{s}"
    );
    // Any size runs ("same" padding throughout), but the channels are fixed.
    assert_eq!(
        model.predict(vec![0.5; 3], &[1, 1, 1, 3]).unwrap().1,
        vec![1, 3]
    );
    let err = model.predict(vec![0.0; 8], &[1, 2, 2, 2]).unwrap_err();
    assert!(err.to_string().contains("shape mismatch"), "{err}");
}
