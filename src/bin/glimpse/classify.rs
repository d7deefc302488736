//! `glimpse classify` and `glimpse features`: a network folder's photos in batches.

use super::zoo::{net_dir, FILES};
use glimpse::io::write_npy;
use glimpse::zoo::{efficientnet, Preprocessing};
use glimpse::{default_device, Error, Model, Result};
use std::path::{Path, PathBuf};

/// A pretrained or fine-tuned network as the CLI uses it: a model folder's bundle
/// ([`glimpse::bundle::Bundle::open_dir`]) that has its labels and the zoo's preprocessing.
pub struct Net {
    pub model: Model,
    pub labels: Vec<String>,
    pub pre: Preprocessing,
}

pub fn open(dir: &Path) -> Result<Net> {
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
    Ok(Net {
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
pub const BATCH: usize = 4;

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
pub fn extract(b: &Net, fx: &Model, files: &[PathBuf]) -> Result<(Vec<f32>, Vec<String>)> {
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

/// Values per image of `fx`'s output.
pub fn width(fx: &Model) -> usize {
    fx.output_shapes()[0].iter().product()
}

/// What `fx` computes, for progress lines.
pub fn what(fx: &Model) -> &'static str {
    if fx.output_shapes()[0].len() == 1 {
        "features"
    } else {
        "activations"
    }
}
