//! Careless and hostile input to the command line (issue 22): each case must end with a
//! non-zero exit and an error that names the problem, never a panic (exit 101), an abort, a
//! hang or unbounded memory. Every run here has a time limit and a memory limit
//! (`ulimit -v`), so a regression fails the test instead of taking the machine down.

mod common;

use common::*;
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Virtual memory a case may take (KiB): far below what any of these inputs asks for.
const MEMORY_KIB: u64 = 3 << 20;
/// Wall time a case may take.
const TIME: Duration = Duration::from_secs(60);

struct Outcome {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the CLI under the memory and time limits; a run over the time limit is killed and
/// fails the test.
fn run(args: &[&str]) -> Outcome {
    run_env(args, &[])
}

fn run_env(args: &[&str], env: &[(&str, &str)]) -> Outcome {
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("ulimit -v {MEMORY_KIB}; exec \"$0\" \"$@\""))
        .arg(env!("CARGO_BIN_EXE_glimpse"))
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let readers = (
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = out.read_to_string(&mut s);
            s
        }),
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            s
        }),
    );
    let start = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if start.elapsed() > TIME {
            let _ = child.kill();
            panic!("glimpse {args:?} ran past {TIME:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Outcome {
        code: status.code(),
        stdout: readers.0.join().unwrap(),
        stderr: readers.1.join().unwrap(),
    }
}

/// Asserts a clean refusal: exit status 1 (not a panic's 101 or a signal), `error: ` and
/// every needle in the message.
#[track_caller]
fn refused(o: &Outcome, needles: &[&str]) {
    assert_eq!(
        o.code,
        Some(1),
        "expected exit 1; stdout {}\nstderr {}",
        o.stdout,
        o.stderr
    );
    assert!(
        o.stderr.lines().any(|l| l.starts_with("error: ")),
        "{}",
        o.stderr
    );
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "missing '{n}' in: {}", o.stderr);
    }
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("glimpse-hostile-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write_json(dir: &Path, name: &str, v: &Value) -> String {
    let p = dir.join(name);
    std::fs::write(&p, v.to_string()).unwrap();
    p.display().to_string()
}

/// A Keras 3 Sequential model on `input` (without batch) with `layers`.
fn sequential(input: Value, layers: Vec<Value>) -> Value {
    let mut all = vec![json!({"class_name": "InputLayer",
        "config": {"name": "input", "batch_shape": std::iter::once(Value::Null)
            .chain(input.as_array().unwrap().iter().cloned()).collect::<Vec<_>>()}})];
    all.extend(layers);
    json!({"module": "keras", "class_name": "Sequential",
        "config": {"name": "hostile", "layers": all}})
}

fn layer(class: &str, name: &str, config: Value) -> Value {
    let mut c = config;
    c["name"] = json!(name);
    json!({"class_name": class, "config": c})
}

#[test]
fn impossible_layer_sizes_are_errors_not_panics() {
    let dir = scratch("sizes");
    let cases: Vec<(&str, Value, Vec<&str>)> = vec![
        (
            "conv_filters_0",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "Conv2D",
                    "conv",
                    json!({"filters": 0, "kernel_size": [3, 3]}),
                )],
            ),
            vec!["conv", "at least 1"],
        ),
        (
            "dense_units_0",
            sequential(
                json!([4]),
                vec![layer("Dense", "dense", json!({"units": 0}))],
            ),
            vec!["dense", "at least 1"],
        ),
        (
            "kernel_overflow",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "Conv2D",
                    "conv",
                    json!({"filters": 4, "kernel_size": [u64::MAX / 2, 3],
                        "dilation_rate": [4, 1], "padding": "same"}),
                )],
            ),
            vec!["conv", "in 64 bits"],
        ),
        (
            "cropping_sum_overflow",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "Cropping2D",
                    "crop",
                    json!({"cropping": [[u64::MAX - 1, 4], [0, 0]]}),
                )],
            ),
            vec!["crop", "larger than the cropping"],
        ),
        (
            "reshape_wraps",
            sequential(
                json!([4]),
                vec![layer(
                    "Reshape",
                    "reshape",
                    json!({"target_shape": [4294967296i64, 4294967296i64, 4]}),
                )],
            ),
            vec!["reshape", "a shape with 4 values"],
        ),
        (
            "filters_1e9",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "Conv2D",
                    "wide",
                    json!({"filters": 1_000_000_000u64, "kernel_size": [3, 3]}),
                )],
            ),
            vec!["wide", "over the limit", "GLIMPSE_MAX_"],
        ),
        (
            "depth_multiplier_1e9",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "DepthwiseConv2D",
                    "dw",
                    json!({"kernel_size": [3, 3], "depth_multiplier": 1_000_000_000u64}),
                )],
            ),
            vec!["dw", "over the limit"],
        ),
        (
            "dense_1e12",
            sequential(
                json!([16]),
                vec![layer(
                    "Dense",
                    "huge",
                    json!({"units": 1_000_000_000_000u64}),
                )],
            ),
            vec!["huge", "over the limit"],
        ),
        (
            "padding_1e9",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "ZeroPadding2D",
                    "pad",
                    json!({"padding": [[1_000_000_000u64, 1], [1_000_000_000u64, 1]]}),
                )],
            ),
            vec!["pad", "over the limit"],
        ),
        (
            "padding_2_63",
            sequential(
                json!([8, 8, 3]),
                vec![layer(
                    "ZeroPadding2D",
                    "pad",
                    json!({"padding": [[1u64 << 63, 1u64 << 63], [0, 0]]}),
                )],
            ),
            vec!["pad", "in 64 bits"],
        ),
        (
            "input_1e6_square",
            sequential(
                json!([1_000_000, 1_000_000, 3]),
                vec![layer("Flatten", "flat", json!({}))],
            ),
            vec!["input", "over the limit"],
        ),
        (
            "input_2_32_square",
            sequential(
                json!([4294967296u64, 4294967296u64, 3]),
                vec![layer("Flatten", "flat", json!({}))],
            ),
            vec!["input", "over the limit"],
        ),
        (
            "dropout_rate_1",
            sequential(
                json!([4]),
                vec![layer("Dropout", "drop", json!({"rate": 1.0}))],
            ),
            vec!["drop", "rate=1"],
        ),
    ];
    for (name, model, needles) in cases {
        let p = write_json(&dir, &format!("{name}.json"), &model);
        for cmd in ["summary", "predict"] {
            let o = if cmd == "summary" {
                run(&["summary", &p])
            } else {
                let w = fixtures().join("keras3/small_cnn/model.weights.h5");
                let w = w.display().to_string();
                let x = fixtures().join("keras3/small_cnn/input.npy");
                run(&["predict", &p, "--weights", &w, &x.display().to_string()])
            };
            eprintln!("{name} {cmd}: {}", o.stderr.trim());
            refused(&o, &needles);
        }
    }
    // A batch the model's activations cannot hold.
    let model = sequential(json!([64]), vec![layer("Dense", "d", json!({"units": 64}))]);
    let p = write_json(&dir, "batch.json", &model);
    let o = run_env(&["summary", &p], &[("GLIMPSE_MAX_PARAMS", "100")]);
    refused(
        &o,
        &["the model's variables", "4096", "over the limit of 100"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_input_layers_in_a_sequential_are_refused() {
    let dir = scratch("inputs");
    let mut model = sequential(json!([4]), vec![layer("Dense", "d", json!({"units": 2}))]);
    let input2 = json!({"class_name": "InputLayer",
        "config": {"name": "second", "batch_shape": [null, 2]}});
    model["config"]["layers"]
        .as_array_mut()
        .unwrap()
        .push(input2);
    let p = write_json(&dir, "two.json", &model);
    refused(&run(&["summary", &p]), &["second", "one input"]);
    let _ = std::fs::remove_dir_all(&dir);
}

/// 100,000 layers in a chain: built without deep recursion (it used to abort with a stack
/// overflow past about 8,000), as Sequential and as Keras 2 Functional.
#[test]
fn a_100000_layer_model_builds_and_runs() {
    let dir = scratch("deep");
    let n = 100_000;
    let acts: Vec<Value> = (0..n)
        .map(|i| {
            layer(
                "Activation",
                &format!("a{i}"),
                json!({"activation": "relu"}),
            )
        })
        .collect();
    let seq = write_json(&dir, "seq.json", &sequential(json!([2]), acts));
    let o = run(&["summary", &seq]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    assert!(o.stdout.contains("a99999"), "summary lists the last layer");

    let mut layers = vec![json!({"class_name": "InputLayer", "name": "in",
        "config": {"name": "in", "batch_input_shape": [null, 2]}, "inbound_nodes": []})];
    for i in 0..n {
        let prev = if i == 0 {
            "in".to_string()
        } else {
            format!("a{}", i - 1)
        };
        layers.push(json!({"class_name": "Activation", "name": format!("a{i}"),
            "config": {"name": format!("a{i}"), "activation": "relu"},
            "inbound_nodes": [[[prev, 0, 0, {}]]]}));
    }
    let functional = json!({"class_name": "Functional", "keras_version": "2.15.0",
        "config": {"name": "deep", "layers": layers,
            "input_layers": [["in", 0, 0]], "output_layers": [[format!("a{}", n - 1), 0, 0]]}});
    let f = write_json(&dir, "functional.json", &functional);
    let o = run(&["summary", &f]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    // And it runs: no variables (an empty weights file), relu 100,000 times.
    let mut fb = hdf5_pure::FileBuilder::new();
    let layers = fb.create_group("layers");
    fb.add_group(layers.finish());
    let w = dir.join("empty.weights.h5");
    std::fs::write(&w, fb.finish().unwrap()).unwrap();
    let x = dir.join("x.npy");
    std::fs::write(&x, glimpse::io::write_npy(&[1, 2], &[-1.5, 2.5])).unwrap();
    let out = dir.join("y.npy");
    let o = run(&[
        "predict",
        &f,
        "--weights",
        &w.display().to_string(),
        "--save-output",
        &out.display().to_string(),
        &x.display().to_string(),
    ]);
    assert_eq!(o.code, Some(0), "{}", o.stderr);
    let (y, shape) = npy(&out);
    assert_eq!((y, shape), (vec![0.0, 2.5], vec![1, 2]));
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn weight_files_that_name_more_than_they_hold_are_refused() {
    let dir = scratch("h5");
    let hostile = fixtures().join("hostile");
    let dense = write_json(
        &dir,
        "dense.json",
        &sequential(
            json!([1000]),
            vec![layer("Dense", "dense", json!({"units": 1000}))],
        ),
    );
    let cases = [
        (
            "never_written.weights.h5",
            vec!["1000000000", "more data than the file"],
        ),
        ("hard_links.weights.h5", vec!["more data than the file"]),
        ("repeated_names.h5", vec!["lists 'dense/kernel:0' twice"]),
        (
            "dangling.weights.h5",
            vec!["layers/dense", "dangling soft link"],
        ),
    ];
    for (file, needles) in cases {
        let w = hostile.join(file).display().to_string();
        let o = run(&["summary", &dense, "--weights", &w]);
        eprintln!("{file}: {}", o.stderr.trim());
        refused(&o, &needles);
    }

    // A group of 20,000 datasets is read in linear time (it took 75 s, quadratic).
    let mut fb = hdf5_pure::FileBuilder::new();
    let mut layers = fb.create_group("layers");
    let mut g = layers.create_group("dense");
    let mut vars = g.create_group("vars");
    for i in 0..20_000u32 {
        vars.create_dataset(&i.to_string())
            .with_f32_data(&[i as f32])
            .with_shape(&[1]);
    }
    g.add_group(vars.finish());
    layers.add_group(g.finish());
    fb.add_group(layers.finish());
    let many = dir.join("many.weights.h5");
    std::fs::write(&many, fb.finish().unwrap()).unwrap();
    let small = write_json(
        &dir,
        "small.json",
        &sequential(
            json!([4]),
            vec![layer("Dense", "dense", json!({"units": 2}))],
        ),
    );
    let t = Instant::now();
    let o = run(&["summary", &small, "--weights", &many.display().to_string()]);
    refused(&o, &["dense"]);
    assert!(t.elapsed() < Duration::from_secs(20), "{:?}", t.elapsed());
    let _ = std::fs::remove_dir_all(&dir);
}

/// float16 weights (what a half-size download stores) load into the float32 model: the
/// small CNN predicts within float16's rounding of Keras' float32 output.
#[test]
fn float16_weights_load_and_predict() {
    let d = fixtures().join("keras3/small_cnn");
    let json = std::fs::read_to_string(d.join("model.json")).unwrap();
    let w16 = std::fs::read(fixtures().join("hostile/small_cnn_f16.weights.h5")).unwrap();
    let m = glimpse::Model::from_json_and_weights(
        &json,
        w16,
        "small_cnn_f16.weights.h5",
        &glimpse::default_device(),
    )
    .unwrap();
    let (x, xs) = npy(&d.join("input.npy"));
    let (want, _) = npy(&d.join("output.npy"));
    let (got, _) = m.predict(x, &xs).unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    // Measured: 1.1e-4 (real Keras on the same float16 file agrees with Glimpse to 9e-8).
    assert!(worst < 1e-3, "float16 weights differ by {worst}");
    assert!(worst > 0.0, "the weights really are float16");
}

fn zip_with(entries: &[(&str, &[u8])], method: zip::CompressionMethod) -> Vec<u8> {
    use std::io::Write;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(method)
        .large_file(true);
    for (name, bytes) in entries {
        z.start_file(*name, opts).unwrap();
        z.write_all(bytes).unwrap();
    }
    z.finish().unwrap().into_inner()
}

#[test]
fn keras_archives_are_read_with_caps() {
    let dir = scratch("zip");
    let write = |name: &str, bytes: Vec<u8>| {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    // A 300 MB config.json of spaces, deflated to a few hundred KB.
    let spaces = vec![b' '; 300 << 20];
    let bomb = write(
        "bomb.keras",
        zip_with(
            &[("config.json", &spaces), ("model.weights.h5", b"x")],
            zip::CompressionMethod::Deflated,
        ),
    );
    refused(&run(&["summary", &bomb]), &["config.json", "bytes"]);
    // The weights entry is 300 MB of zeros: its missing signature is seen first.
    let config = std::fs::read(fixtures().join("keras3/small_cnn/model.json")).unwrap();
    let zeros = vec![0u8; 200 << 20];
    let bad_h5 = write(
        "zeros.keras",
        zip_with(
            &[("config.json", &config), ("model.weights.h5", &zeros)],
            zip::CompressionMethod::Deflated,
        ),
    );
    refused(&run(&["summary", &bad_h5]), &["not an HDF5 file"]);
    let empty = write("empty.keras", zip_with(&[], zip::CompressionMethod::Stored));
    refused(&run(&["summary", &empty]), &["an empty zip archive"]);
    let other = write(
        "other.keras",
        zip_with(&[("readme.txt", b"hi")], zip::CompressionMethod::Stored),
    );
    refused(
        &run(&["summary", &other]),
        &["no 'config.json'", "readme.txt"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flags_out_of_range_are_refused_before_any_work() {
    let dir = scratch("flags");
    let data = dir.join("data");
    let out = dir.join("out").display().to_string();
    let data_s = data.display().to_string();
    for (flag, value, needle) in [
        ("--learning-rate", "NaN", "learning rate"),
        ("--learning-rate", "inf", "learning rate"),
        ("--learning-rate", "-1", "learning rate"),
        ("--learning-rate", "1e30", "learning rate"),
        ("--epochs", "18446744073709551615", "epochs"),
        ("--epochs", "0", "epochs"),
        ("--batch-size", "0", "batch size"),
        ("--validation-split", "1.5", "validation split"),
    ] {
        let t = Instant::now();
        let arg = format!("{flag}={value}");
        let o = run(&["train", "--data", &data_s, "--out", &out, &arg]);
        assert_ne!(o.code, Some(0), "{flag} {value}");
        assert_ne!(o.code, Some(101), "{flag} {value}: {}", o.stderr);
        assert!(o.stderr.contains(needle), "{flag} {value}: {}", o.stderr);
        assert!(t.elapsed() < Duration::from_secs(10));
    }
    let o = run(&[
        "fine-tune",
        "--data",
        &data_s,
        "--out",
        &out,
        "--hidden-units",
        "1000000000",
    ]);
    assert!(o.stderr.contains("1 to 65536"), "{}", o.stderr);
    let o = run(&["classify", "--top", "0", &data_s]);
    assert!(o.stderr.contains("at least 1"), "{}", o.stderr);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn compile_configs_glimpse_cannot_honour_are_named() {
    let dir = scratch("compile");
    let data = dir.join("data");
    for c in ["a", "b"] {
        std::fs::create_dir_all(data.join(c)).unwrap();
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([40, 90, 200]));
        img.save(data.join(c).join("x.png")).unwrap();
    }
    let mut model = sequential(
        json!([8, 8, 3]),
        vec![
            layer("Flatten", "f", json!({})),
            layer("Dense", "d", json!({"units": 2, "activation": "softmax"})),
        ],
    );
    for (compile, needle) in [
        (
            json!({"optimizer": "adamw", "loss": "categorical_crossentropy"}),
            "'adamw'",
        ),
        (json!({"optimizer": "adam", "loss": "hinge"}), "'hinge'"),
    ] {
        model["compile_config"] = compile;
        let p = write_json(&dir, "m.json", &model);
        let out = dir.join("out").display().to_string();
        let o = run(&[
            "train",
            "--data",
            &data.display().to_string(),
            "--model",
            &p,
            "--epochs",
            "1",
            "--out",
            &out,
        ]);
        refused(&o, &["compile_config", needle]);
        assert!(!dir.join("out").exists());
    }
    // A training model with a zero-size convolution is refused, not a panic.
    let zero = sequential(
        json!([8, 8, 3]),
        vec![layer(
            "Conv2D",
            "c",
            json!({"filters": 0, "kernel_size": 3}),
        )],
    );
    let p = write_json(&dir, "zero.json", &zero);
    let out = dir.join("out").display().to_string();
    let o = run(&[
        "train",
        "--data",
        &data.display().to_string(),
        "--model",
        &p,
        "--out",
        &out,
    ]);
    refused(&o, &["c/kernel"]);
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn output_paths_that_would_lose_work_are_refused_first() {
    let dir = scratch("outputs");
    let data = dir.join("data");
    std::fs::create_dir_all(data.join("a")).unwrap();
    std::fs::create_dir_all(dir.join("real")).unwrap();
    std::os::unix::fs::symlink(dir.join("real"), dir.join("link")).unwrap();
    let t = Instant::now();
    let o = run(&[
        "train",
        "--data",
        &data.display().to_string(),
        "--out",
        &dir.join("link").display().to_string(),
    ]);
    refused(&o, &["symbolic link"]);
    assert!(
        t.elapsed() < Duration::from_secs(10),
        "checked before training"
    );
    let o = run(&[
        "features",
        &data.display().to_string(),
        "--out",
        &dir.join("features.txt").display().to_string(),
    ]);
    refused(&o, &["must name a .npy file"]);
    assert!(!dir.join("features.txt").exists());
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(unix)]
#[test]
fn photo_folders_with_loops_devices_and_fifos_end() {
    let dir = scratch("walk");
    let photos = dir.join("photos");
    std::fs::create_dir_all(photos.join("sub")).unwrap();
    std::os::unix::fs::symlink(&photos, photos.join("sub/again")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", photos.join("zero.jpg")).unwrap();
    let _ = Command::new("mkfifo").arg(photos.join("pipe.jpg")).status();
    let o = run(&[
        "predict",
        &fixtures()
            .join("keras3/small_cnn/model.keras")
            .display()
            .to_string(),
        &photos.join("zero.jpg").display().to_string(),
    ]);
    refused(&o, &["zero.jpg", "not a regular file"]);
    if photos.join("pipe.jpg").exists() {
        let o = run(&[
            "predict",
            &fixtures()
                .join("keras3/small_cnn/model.keras")
                .display()
                .to_string(),
            &photos.join("pipe.jpg").display().to_string(),
        ]);
        refused(&o, &["pipe.jpg", "not a regular file"]);
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// JSON nested 100,000 deep is a JSON error (serde_json stops at 128 levels), not a stack
/// overflow.
#[test]
fn deeply_nested_json_is_an_error() {
    let dir = scratch("nested");
    let depth = 100_000;
    let mut text = String::from(r#"{"class_name": "Sequential", "config": {"layers": "#);
    text.push_str(&"[".repeat(depth));
    text.push_str(&"]".repeat(depth));
    text.push_str("}}");
    let p = dir.join("nested.json");
    std::fs::write(&p, text).unwrap();
    refused(
        &run(&["summary", &p.display().to_string()]),
        &["model JSON", "recursion limit"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}
