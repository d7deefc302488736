//! `glimpse train` and `glimpse evaluate`.

use glimpse::io::{check_empty_outdir, write_outdir};
use glimpse::keras::{self, build::course_cnn};
use glimpse::train::{self, block_on, data, Dataset, EpochLog, FitConfig, FitOptions, Progress};
use glimpse::{default_device, Error, Model, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// `glimpse train` arguments.
#[derive(clap::Args)]
pub struct Args {
    /// Training images: DIR/<class>/<images>, or a folder with data_batch_1..5.bin.
    #[arg(long)]
    pub data: PathBuf,
    /// Structure JSON of the model to train (default: the course's CIFAR-10 CNN).
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// Passes over the data.
    #[arg(long, default_value_t = 10, value_parser = crate::flags::epochs)]
    pub epochs: usize,
    /// Samples per step.
    #[arg(long, default_value_t = 32, value_parser = crate::flags::batch_size)]
    pub batch_size: usize,
    /// Validation images (DIR/<class>/<images>).
    #[arg(long, conflicts_with = "validation_split")]
    pub validation_data: Option<PathBuf>,
    /// Fraction of the training data held out for validation.
    #[arg(long, value_parser = crate::flags::split)]
    pub validation_split: Option<f64>,
    /// Keep the data order (no reshuffling each epoch).
    #[arg(long)]
    pub no_shuffle: bool,
    /// Seed for initialization, shuffling, splitting and dropout.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Optimizer: adam, sgd or rmsprop (default: the JSON's compile_config, else adam).
    #[arg(long)]
    pub optimizer: Option<String>,
    /// Learning rate (default: the optimizer's Keras default).
    #[arg(long, value_parser = crate::flags::learning_rate)]
    pub learning_rate: Option<f64>,
    /// Output folder (created; must not exist or be empty).
    #[arg(long)]
    pub out: PathBuf,
}

/// A progress bar within the epoch (stderr) and one line per epoch (stdout).
struct Console {
    epochs: usize,
    last: web_time::Instant,
}

impl Progress for Console {
    fn batch(&mut self, epoch: usize, batch: usize, batches: usize, loss: f64, acc: f64) {
        if self.last.elapsed().as_millis() < 200 && batch + 1 != batches {
            return;
        }
        self.last = web_time::Instant::now();
        let width = 30;
        let filled = (batch + 1) * width / batches.max(1);
        eprint!(
            "\rEpoch {}/{} [{}{}] {}/{} loss: {loss:.4} accuracy: {acc:.4}   ",
            epoch + 1,
            self.epochs,
            "=".repeat(filled),
            ".".repeat(width - filled),
            batch + 1,
            batches
        );
        let _ = std::io::stderr().flush();
    }

    fn epoch(&mut self, e: &EpochLog) {
        eprint!("\r{}\r", " ".repeat(100));
        let mut line = format!(
            "Epoch {}/{} - {:.1}s - loss: {:.4} - accuracy: {:.4}",
            e.epoch, self.epochs, e.seconds, e.loss, e.accuracy
        );
        if let (Some(l), Some(a)) = (e.val_loss, e.val_accuracy) {
            line.push_str(&format!(" - val_loss: {l:.4} - val_accuracy: {a:.4}"));
        }
        println!("{line}");
    }
}

fn loading(what: &'static str) -> impl Fn(usize, usize) + Sync {
    move |done, total| {
        eprint!("\rLoading {what}: {done}/{total} images");
        if done == total {
            eprintln!();
        }
    }
}

fn is_cifar_bin(dir: &Path) -> bool {
    dir.join("data_batch_1.bin").is_file()
}

fn report_skipped(d: &Dataset) {
    for (f, why) in &d.skipped {
        eprintln!("warning: skipped {f}: {why}");
    }
}

pub fn run(a: Args) -> Result<()> {
    // Refuse a non-empty OUTDIR before any work.
    check_empty_outdir(&a.out)?;
    let device = default_device();
    // The structure: the given JSON or the course CNN sized to the data.
    let user_json = match &a.model {
        Some(p) => Some(
            String::from_utf8(glimpse::io::read_capped(p, glimpse::io::MAX_MODEL_FILE)?)
                .map_err(|_| Error::input(p.display().to_string(), "not UTF-8"))?,
        ),
        None => None,
    };
    let user_spec = user_json.as_deref().map(keras::parse_model).transpose()?;
    let input_shape = match &user_spec {
        Some(s) => Model::from_spec_with(s.clone(), &device, |_, _, p| Ok(vec![0.0; p.size()]))?
            .input_shapes()[0]
            .clone(),
        None => vec![32, 32, 3],
    };
    let [h, w, 3] = input_shape[..] else {
        return Err(Error::input(
            "--model",
            format!(
                "training on images needs an input of (H, W, 3); the model takes {input_shape:?}"
            ),
        ));
    };
    // Data.
    let (mut train_ds, mut val_ds) = if is_cifar_bin(&a.data) {
        let (tr, te) = data::load_cifar_bin(&a.data)?;
        (
            tr,
            if a.validation_split.is_none() {
                Some(te)
            } else {
                None
            },
        )
    } else {
        (
            data::load_folder(&a.data, (h, w), &loading("training data"))?,
            None,
        )
    };
    report_skipped(&train_ds);
    let skipped = train_ds.skipped.len();
    train_ds.check_classes(&a.data.display().to_string())?;
    if let Some(v) = &a.validation_data {
        let vd = data::load_folder(v, (h, w), &loading("validation data"))?;
        report_skipped(&vd);
        if vd.classes != train_ds.classes {
            return Err(Error::input(
                v.display().to_string(),
                format!(
                    "classes {:?} differ from the training classes {:?}",
                    vd.classes, train_ds.classes
                ),
            ));
        }
        val_ds = Some(vd);
    }
    if let Some(f) = a.validation_split {
        let (t, v) = train_ds.split(f, a.seed)?;
        train_ds = t;
        val_ds = Some(v);
    }
    let classes = train_ds.classes.len();
    let json = user_json.unwrap_or_else(|| course_cnn(&input_shape, classes));
    let spec = keras::parse_model(&json)?;
    let mut model = Model::initialized(spec, &device, a.seed)?.with_structure(json);
    train::check_outputs(&model, &train_ds)?;
    // Compile settings: the flags, else the JSON's compile_config, else Keras' defaults.
    let cfg = FitConfig::resolve(
        &model,
        &FitOptions {
            epochs: Some(a.epochs as f64),
            batch_size: Some(a.batch_size as f64),
            shuffle: Some(!a.no_shuffle),
            seed: Some(a.seed as f64),
            optimizer: a.optimizer.clone(),
            learning_rate: a.learning_rate,
            validation_split: None,
        },
    )?;
    println!(
        "Training on {} images ({} classes){}, {} epochs, batch {}, {:?}",
        train_ds.len(),
        classes,
        val_ds
            .as_ref()
            .map(|v| format!(", validating on {}", v.len()))
            .unwrap_or_default(),
        cfg.epochs,
        cfg.batch_size,
        cfg.optimizer
    );
    if skipped > 0 {
        println!("Skipped {skipped} unreadable image(s).");
    }
    let mut console = Console {
        epochs: cfg.epochs,
        last: web_time::Instant::now(),
    };
    let history = block_on(train::fit(
        &mut model,
        &train_ds,
        val_ds.as_ref(),
        &cfg,
        &mut console,
    ))?;
    write_outdir(
        &a.out,
        &[
            ("model_structure.json", model.structure_json()?.into_bytes()),
            ("model_weights.weights.h5", model.keras3_weights()?),
            (
                "labels.txt",
                (train_ds.classes.join("\n") + "\n").into_bytes(),
            ),
            (
                "history.json",
                serde_json::to_vec_pretty(&history).expect("serializable"),
            ),
            ("history.png", history.plot_png()),
        ],
    )?;
    println!(
        "Saved the model, weights, labels and history to {}",
        a.out.display()
    );
    Ok(())
}

pub fn evaluate(model: &Model, dir: &Path, json: bool) -> Result<()> {
    let shape = model.input_shapes()[0].clone();
    let [h, w, 3] = shape[..] else {
        return Err(Error::input(
            "model",
            format!("evaluating images needs an input of (H, W, 3); the model takes {shape:?}"),
        ));
    };
    let ds = data::load_folder(dir, (h, w), &loading("images"))?;
    report_skipped(&ds);
    train::check_outputs(model, &ds)?;
    let loss = FitConfig::resolve(model, &FitOptions::default())?.loss;
    let (l, acc, pred) = block_on(train::evaluate(model, &ds, loss, 64))?;
    let k = ds.classes.len();
    let mut confusion = vec![vec![0usize; k]; k];
    for (&p, &t) in pred.iter().zip(&ds.labels) {
        confusion[t as usize][(p as usize).min(k - 1)] += 1;
    }
    let per_class: Vec<f64> = (0..k)
        .map(|i| confusion[i][i] as f64 / confusion[i].iter().sum::<usize>().max(1) as f64)
        .collect();
    if json {
        println!(
            "{}",
            serde_json::json!({"loss": l, "accuracy": acc, "classes": ds.classes, "per_class_accuracy": per_class,
                "confusion_matrix": confusion, "images": ds.len(), "skipped": ds.skipped.len()})
        );
        return Ok(());
    }
    println!(
        "{} images, {} classes{}",
        ds.len(),
        k,
        if ds.skipped.is_empty() {
            String::new()
        } else {
            format!(" ({} skipped)", ds.skipped.len())
        }
    );
    println!("loss: {l:.4}  accuracy: {acc:.4}");
    let wname = ds.classes.iter().map(String::len).max().unwrap_or(5).max(5);
    println!("\nper-class accuracy:");
    for (c, a) in ds.classes.iter().zip(&per_class) {
        println!("  {c:<wname$}  {a:.4}");
    }
    println!("\nconfusion matrix (rows: true, columns: predicted):");
    print!("  {:<wname$}", "");
    for i in 0..k {
        print!(" {i:>6}");
    }
    println!();
    for (i, row) in confusion.iter().enumerate() {
        print!("  {:<wname$}", ds.classes[i]);
        for v in row {
            print!(" {v:>6}");
        }
        println!(" ({i})");
    }
    Ok(())
}
