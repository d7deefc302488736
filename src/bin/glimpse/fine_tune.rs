//! `glimpse fine-tune`: the features (or activations) of a photo folder computed once and
//! cached, varied copies with `--augment`, then the library's teaching ([`glimpse::teach`]).

use super::classify::{extract, open, what, width, Net, BATCH};
use super::zoo::{cache_dir, net_dir};
use glimpse::io::{check_empty_outdir, write_npy, write_outdir};
use glimpse::model::transfer;
use glimpse::teach;
use glimpse::train::{self, block_on, data, Dataset, Samples};
use glimpse::zoo::efficientnet;
use glimpse::{default_device, Error, Model, Result};
use std::path::{Path, PathBuf};

/// `glimpse fine-tune` arguments.
#[derive(clap::Args)]
pub struct FineTune {
    /// DIR/<class>/<images>.
    #[arg(long)]
    pub data: PathBuf,
    /// Output folder for the end-to-end model.
    #[arg(long)]
    pub out: PathBuf,
    /// Passes over the features.
    #[arg(long, default_value_t = 30, value_parser = crate::flags::epochs)]
    pub epochs: usize,
    /// Fraction held out for validation.
    #[arg(long, default_value_t = 0.2, value_parser = crate::flags::split)]
    pub validation_split: f64,
    /// A hidden Dense layer (relu) of this many units before the classifier.
    #[arg(long, value_parser = crate::flags::hidden_units)]
    pub hidden_units: Option<usize>,
    /// Samples per step.
    #[arg(long, default_value_t = 32, value_parser = crate::flags::batch_size)]
    pub batch_size: usize,
    /// Seed for the split, initialization and shuffling.
    #[arg(long, default_value_t = 1337)]
    pub seed: u64,
    /// Vary the training photos with Keras' augmentation layers:
    /// `flip,rotate=0.1,zoom=0.1,contrast=0.1` (also `shift=F`, `brightness=F`; `standard`,
    /// `none`). Each training photo adds --views varied copies, their features computed once.
    #[arg(long, value_parser = crate::flags::augment)]
    pub augment: Option<glimpse::teach::augment::Augment>,
    /// Varied copies per training photo with --augment.
    #[arg(long, default_value_t = 3, value_parser = crate::flags::views)]
    pub views: usize,
    /// After the head, fine-tune the network's last N blocks and its top convolution with it
    /// (Keras' second transfer-learning step; BatchNormalization stays in inference mode), on
    /// activations computed once at the start of those blocks.
    #[arg(long, value_parser = crate::flags::unfreeze_blocks)]
    pub unfreeze_blocks: Option<usize>,
    /// Passes of that fine-tuning (on the hymenoptera photos the loss is near 0 after 3-4).
    #[arg(long, default_value_t = 5, value_parser = crate::flags::epochs)]
    pub fine_tune_epochs: usize,
    /// Adam's learning rate while fine-tuning (small: the pretrained weights move little).
    #[arg(long, default_value_t = 1e-4, value_parser = crate::flags::learning_rate)]
    pub fine_tune_learning_rate: f64,
    /// The pretrained network to build on: efficientnet-lite0, efficientnet-lite1 or
    /// efficientnet-lite2 (`glimpse zoo fetch NAME` first).
    #[arg(long, default_value = "efficientnet-lite0")]
    pub net: String,
}

/// The outputs of `fx` for `views` augmented copies of each of `files` (the training photos),
/// cached like the photos' own, in file order then view order.
fn view_features(
    b: &Net,
    fx: &Model,
    files: &[PathBuf],
    aug: &glimpse::teach::augment::Augment,
    views: usize,
    seed: u64,
    cache: &Path,
) -> Result<Vec<f32>> {
    if let Some(a) = std::fs::read(cache)
        .ok()
        .and_then(|bytes| glimpse::io::read_npy(&bytes, "cache").ok())
        .filter(|a| a.shape == [files.len() * views, width(fx)])
    {
        eprintln!(
            "augmented {}: {} views (cached)",
            what(fx),
            files.len() * views
        );
        return Ok(a.data);
    }
    let w = width(fx);
    let size = b.pre.size;
    let device = default_device();
    let mut out = Vec::with_capacity(files.len() * views * w);
    let total = files.len() * views;
    let mut done = 0;
    for (k, chunk) in files.chunks(BATCH).enumerate() {
        use rayon::prelude::*;
        let x: Vec<Vec<f32>> = chunk
            .par_iter()
            .map(|p| {
                glimpse::io::read_capped(p, glimpse::io::MAX_IMAGE_FILE)
                    .and_then(|bytes| glimpse::image::decode(&bytes, &p.display().to_string()))
                    .and_then(|img| b.pre.apply(&img))
            })
            .collect::<Result<_>>()?;
        let n = chunk.len();
        let x: Vec<f32> = x.concat();
        let shape = [n, size, size, 3];
        let vs = aug.views(&x, &shape, views, seed, k as u64, &device)?;
        // Photo-major: photo i's views are rows i * views .. (i + 1) * views.
        let mut per_view = Vec::with_capacity(views);
        for v in vs {
            let y = fx.forward(vec![v], false).swap_remove(0);
            per_view.push(
                glimpse::model::axes::to_keras_order(y)
                    .into_data()
                    .try_into_vec::<f32>()
                    .map_err(|e| Error::Backend(format!("{e:?}")))?,
            );
            done += n;
            eprint!("\raugmented {}: {done}/{total}", what(fx));
        }
        for i in 0..n {
            for f in &per_view {
                out.extend_from_slice(&f[i * w..(i + 1) * w]);
            }
        }
    }
    eprintln!();
    if let Some(d) = cache.parent() {
        let _ = std::fs::create_dir_all(d);
    }
    let _ = std::fs::write(cache, write_npy(&[files.len() * views, w], &out));
    Ok(out)
}

/// `d` with `samples` (of the same shape) appended and `labels` as its labels.
fn with_more(d: Dataset, samples: Vec<f32>, labels: Vec<u32>) -> Dataset {
    let mut all = match d.samples {
        Samples::F32(v) => v,
        Samples::U8(v) => v.into_iter().map(f32::from).collect(),
    };
    all.extend(samples);
    Dataset {
        samples: Samples::F32(all),
        labels,
        ..d
    }
}

pub fn fine_tune(a: FineTune) -> Result<()> {
    check_empty_outdir(&a.out)?;
    let started = web_time::Instant::now();
    let b = open(&net_dir(&a.net)?)?;
    let fine_tuned = format!("{}_fine_tuned", a.net.replace('-', "_"));
    let listing = data::list_folder(&a.data)?;
    let classes: Vec<String> = listing.iter().map(|(c, _)| c.clone()).collect();
    if classes.len() < 2 {
        return Err(Error::input(
            a.data.display().to_string(),
            "fine-tuning needs at least two class folders",
        ));
    }
    let files: Vec<(u32, PathBuf)> = listing
        .iter()
        .enumerate()
        .flat_map(|(i, (_, fs))| fs.iter().map(move |f| (i as u32, f.clone())))
        .collect();
    // Features once, cached by file list, sizes and modification times.
    // (The network is part of the key: every network's features are 1280 wide.)
    let key = {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for byte in a.net.bytes() {
            h = (h ^ byte as u64).wrapping_mul(0x100_0000_01b3);
        }
        for (_, f) in &files {
            let m = std::fs::metadata(f).map_err(|e| Error::io(f, e))?;
            let stamp = format!("{}|{}|{:?}", f.display(), m.len(), m.modified().ok());
            for byte in stamp.bytes() {
                h = (h ^ byte as u64).wrapping_mul(0x100_0000_01b3);
            }
        }
        h
    };
    // With --unfreeze-blocks, activations at the start of the blocks to fine-tune are what is
    // computed once (and cached); the features come from them through the network's top.
    let cut = a
        .unfreeze_blocks
        .map(|n| efficientnet::top_blocks_cut(&b.model.spec, n))
        .transpose()?;
    let fx = b
        .model
        .truncated(cut.as_deref().unwrap_or(efficientnet::FEATURES_LAYER))?;
    let top = match &cut {
        Some(c) => Some(transfer::sub_model(
            &b.model,
            c,
            efficientnet::FEATURES_LAYER,
            "top",
            true,
        )?),
        None => None,
    };
    let act_shape = fx.output_shapes()[0].clone();
    let act_width = width(&fx);
    let suffix = cut.as_deref().map(|c| format!(".{c}")).unwrap_or_default();
    let cache = cache_dir(None)
        .join("features")
        .join(format!("{key:016x}{suffix}.npy"));
    let paths: Vec<PathBuf> = files.iter().map(|(_, f)| f.clone()).collect();
    let names_file = cache.with_extension("txt");
    let cached = std::fs::read(&cache)
        .ok()
        .and_then(|b| glimpse::io::read_npy(&b, "cache").ok());
    let cached_names = std::fs::read_to_string(&names_file)
        .ok()
        .map(|t| t.lines().map(String::from).collect::<Vec<_>>());
    let (acts, names) = match (cached, cached_names) {
        (Some(a), Some(n)) if a.shape == [n.len(), act_width] => {
            eprintln!("{}: {} images (cached)", what(&fx), n.len());
            (a.data, n)
        }
        _ => {
            let (f, n) = extract(&b, &fx, &paths)?;
            if let Some(d) = cache.parent() {
                let _ = std::fs::create_dir_all(d);
            }
            let _ = std::fs::write(&cache, write_npy(&[n.len(), act_width], &f));
            let _ = std::fs::write(&names_file, n.join("\n"));
            (f, n)
        }
    };
    let label_of: std::collections::HashMap<String, u32> = files
        .iter()
        .map(|(l, f)| (f.display().to_string(), *l))
        .collect();
    let labels: Vec<u32> = names
        .iter()
        .map(|n| label_of.get(n).copied().unwrap_or(0))
        .collect();
    if names.len() < files.len() {
        println!(
            "Skipped {} image(s) that do not decode.",
            files.len() - names.len()
        );
    }
    let feature_seconds = started.elapsed().as_secs_f64();
    let all = Dataset {
        sample_shape: act_shape,
        samples: Samples::F32(acts),
        labels,
        classes: classes.clone(),
        skipped: vec![],
    };
    all.check_classes(&a.data.display().to_string())?;
    let held = teach::holdout(&all.labels, &classes, a.validation_split, a.seed)?;
    for w in &held.warnings {
        println!("warning: {w}");
    }
    let val_rows = all.subset(&held.validation);
    let mut train_rows = all.subset(&held.train);
    drop(all);
    let aug = a.augment.clone().filter(|g| !g.is_empty());
    if let Some(aug) = &aug {
        // Views of the training photos only: a held-out photo's copies would leak into training.
        let train_files: Vec<PathBuf> = held
            .train
            .iter()
            .map(|&i| PathBuf::from(&names[i]))
            .collect();
        let vkey = {
            let stamp = format!(
                "{key:016x}|{}|{}|{}|{}",
                serde_json::to_string(aug).expect("json"),
                a.views,
                a.seed,
                a.validation_split
            );
            stamp.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
                (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
            })
        };
        let vcache = cache.with_file_name(format!("{vkey:016x}{suffix}.views.npy"));
        let va = view_features(&b, &fx, &train_files, aug, a.views, a.seed, &vcache)?;
        let mut labels = train_rows.labels.clone();
        for &l in &train_rows.labels {
            labels.extend(std::iter::repeat_n(l, a.views));
        }
        train_rows = with_more(train_rows, va, labels);
        println!(
            "augmentation: {} training photos + {} varied copies; {} held out",
            held.train.len(),
            held.train.len() * a.views,
            val_rows.len()
        );
    }
    /// One line per epoch, and a line where fine-tuning begins.
    struct Lines {
        fine_tune: String,
    }
    impl train::Progress for Lines {
        fn phase(&mut self, phase: &str) {
            if phase == "fine-tune" {
                println!("{}", self.fine_tune);
            }
        }
        fn epoch(&mut self, e: &train::EpochLog) {
            println!(
                "Epoch {} - loss: {:.4} - accuracy: {:.4} - val_loss: {:.4} - val_accuracy: {:.4}",
                e.epoch,
                e.loss,
                e.accuracy,
                e.val_loss.unwrap_or(f64::NAN),
                e.val_accuracy.unwrap_or(f64::NAN)
            );
        }
    }
    let head_variables = {
        let (k, h) = (classes.len(), a.hidden_units);
        h.map_or(1280 * k + k, |h| 1280 * h + h + h * k + k)
    };
    let mut lines = Lines {
        fine_tune: format!(
            "fine-tuning the last {} blocks and the top convolution ({} variables) for {} epochs at learning rate {}",
            a.unfreeze_blocks.unwrap_or(0),
            top.as_ref().map_or(0, Model::count_trainable) + head_variables,
            a.fine_tune_epochs,
            a.fine_tune_learning_rate
        ),
    };
    let options = teach::TeachOptions {
        epochs: a.epochs,
        batch_size: a.batch_size,
        hidden: a.hidden_units,
        learning_rate: None,
        seed: a.seed,
        fine_tune_epochs: a.fine_tune_epochs,
        fine_tune_learning_rate: a.fine_tune_learning_rate,
        augment: aug,
        name: fine_tuned,
    };
    let lesson = teach::Lesson {
        network: &b.model,
        cut: efficientnet::FEATURES_LAYER,
        top: top.as_ref(),
        head: None,
    };
    let taught = block_on(teach::teach(
        lesson,
        &train_rows,
        Some(&val_rows),
        &options,
        &mut lines,
    ))?;
    let history = &taught.history;
    write_outdir(
        &a.out,
        &[
            ("model.json", taught.model.structure_json()?.into_bytes()),
            ("model.weights.h5", taught.model.keras3_weights()?),
            ("labels.txt", (classes.join("\n") + "\n").into_bytes()),
            (
                "preprocessing.json",
                serde_json::to_vec_pretty(&b.pre).expect("json"),
            ),
            (
                "history.json",
                serde_json::to_vec_pretty(history).expect("json"),
            ),
            ("history.png", history.plot_png()),
        ],
    )?;
    let last = history.epochs.last().expect("at least one epoch");
    if a.unfreeze_blocks.is_some() {
        println!(
            "validation accuracy with the head alone {:.4}",
            taught.head_accuracy.unwrap_or(f64::NAN)
        );
    }
    println!(
        "validation accuracy {:.4} on {} held-out images; features {:.1}s, total {:.1}s; saved to {}",
        last.val_accuracy.unwrap_or(f64::NAN),
        val_rows.len(),
        feature_seconds,
        started.elapsed().as_secs_f64(),
        a.out.display()
    );
    Ok(())
}
