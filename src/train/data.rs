//! Training data held compactly: images as u8 (scaled to 0..1 when batched) or float features,
//! with class labels. Loaders for image folders and the CIFAR-10 binary files.

use crate::error::{Error, Result};
use crate::rng::Rng;

/// Sample values.
#[derive(Debug, Clone)]
pub enum Samples {
    /// Pixels 0..255, batched as value / 255.
    U8(Vec<u8>),
    /// Values used as they are.
    F32(Vec<f32>),
}

/// A labelled data set.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// Keras shape of one sample (e.g. `[32, 32, 3]`).
    pub sample_shape: Vec<usize>,
    /// All samples, back to back.
    pub samples: Samples,
    /// Class index of each sample.
    pub labels: Vec<u32>,
    /// Class names, index order.
    pub classes: Vec<String>,
    /// Files that were skipped, with the reason.
    pub skipped: Vec<(String, String)>,
}

impl Dataset {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per sample.
    pub fn sample_len(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// The samples at `idx` as float32 (Keras layout) and their labels.
    pub fn batch(&self, idx: &[usize]) -> (Vec<f32>, Vec<u32>) {
        let n = self.sample_len();
        let mut x = Vec::with_capacity(idx.len() * n);
        for &i in idx {
            match &self.samples {
                Samples::U8(v) => x.extend(v[i * n..(i + 1) * n].iter().map(|&b| b as f32 / 255.0)),
                Samples::F32(v) => x.extend_from_slice(&v[i * n..(i + 1) * n]),
            }
        }
        (x, idx.iter().map(|&i| self.labels[i]).collect())
    }

    /// The samples at `idx` as a new data set.
    pub fn subset(&self, idx: &[usize]) -> Dataset {
        let n = self.sample_len();
        let samples = match &self.samples {
            Samples::U8(v) => Samples::U8(
                idx.iter()
                    .flat_map(|&i| v[i * n..(i + 1) * n].iter().copied())
                    .collect(),
            ),
            Samples::F32(v) => Samples::F32(
                idx.iter()
                    .flat_map(|&i| v[i * n..(i + 1) * n].iter().copied())
                    .collect(),
            ),
        };
        Dataset {
            sample_shape: self.sample_shape.clone(),
            samples,
            labels: idx.iter().map(|&i| self.labels[i]).collect(),
            classes: self.classes.clone(),
            skipped: Vec::new(),
        }
    }

    /// Keras' `image_dataset_from_directory(validation_split=..., seed=...)`: the samples
    /// shuffled with `seed`, then the last `int(fraction * n)` held out for validation.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(Dataset, Dataset)> {
        let (train, val) = self.split_indices(fraction, seed)?;
        Ok((self.subset(&train), self.subset(&val)))
    }

    /// The sample indices [`Dataset::split`] puts on each side: (training, validation).
    pub fn split_indices(&self, fraction: f64, seed: u64) -> Result<(Vec<usize>, Vec<usize>)> {
        let mut idx: Vec<usize> = (0..self.len()).collect();
        Rng(seed).shuffle(&mut idx);
        let at = split_point(self.len(), fraction)?;
        let (train, val) = idx.split_at(at);
        Ok((train.to_vec(), val.to_vec()))
    }

    /// Keras' `model.fit(validation_split=fraction)`: the last `fraction` of the samples, in
    /// their order and before any shuffling, held out (training gets the first
    /// `int(n * (1 - fraction))`).
    pub fn holdout_tail(&self, fraction: f64) -> Result<(Dataset, Dataset)> {
        let at = ((self.len() as f64) * (1.0 - check_fraction(fraction)?)).floor() as usize;
        if at == 0 || at == self.len() {
            return Err(empty_side(fraction, self.len()));
        }
        let idx: Vec<usize> = (0..self.len()).collect();
        Ok((self.subset(&idx[..at]), self.subset(&idx[at..])))
    }

    /// Checks there are at least two classes and every class has samples.
    pub fn check_classes(&self, source: &str) -> Result<()> {
        if self.classes.len() < 2 {
            return Err(Error::input(
                source,
                format!(
                    "found {} class(es); training needs at least two",
                    self.classes.len()
                ),
            ));
        }
        let mut counts = vec![0usize; self.classes.len()];
        for &l in &self.labels {
            counts[l as usize] += 1;
        }
        if let Some(i) = counts.iter().position(|&c| c == 0) {
            return Err(Error::input(
                source,
                format!("class '{}' has no usable images", self.classes[i]),
            ));
        }
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use super::*;
    use rayon::prelude::*;
    use std::path::{Path, PathBuf};

    /// The class folders of `dir` (sorted by name, as Keras does) and their image files.
    pub fn list_folder(dir: &Path) -> Result<Vec<(String, Vec<PathBuf>)>> {
        let rd = std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))?;
        let mut classes: Vec<(String, PathBuf)> = rd
            .filter_map(|e| e.ok())
            .filter(|e| e.path().is_dir())
            .map(|e| (e.file_name().to_string_lossy().into_owned(), e.path()))
            .collect();
        classes.sort();
        if classes.is_empty() {
            return Err(Error::input(
                dir.display().to_string(),
                "no class folders: expected DIR/<class>/<image files>",
            ));
        }
        let mut out = Vec::new();
        for (name, path) in classes {
            let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
                .map_err(|e| Error::io(&path, e))?
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    std::fs::metadata(p).is_ok_and(|m| m.is_file()) && crate::io::is_image_name(p)
                })
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(Error::input(
                    path.display().to_string(),
                    format!("class folder '{name}' has no images (.jpg, .png)"),
                ));
            }
            out.push((name, files));
        }
        Ok(out)
    }

    /// Loads `DIR/<class>/*.jpg|png`, each image resized to `size` (height, width) like
    /// `load_img`. Images that do not decode are skipped and listed in `skipped`.
    pub fn load_folder(
        dir: &Path,
        size: (usize, usize),
        progress: &(dyn Fn(usize, usize) + Sync),
    ) -> Result<Dataset> {
        let listing = list_folder(dir)?;
        let classes: Vec<String> = listing.iter().map(|(c, _)| c.clone()).collect();
        let files: Vec<(u32, PathBuf)> = listing
            .into_iter()
            .enumerate()
            .flat_map(|(i, (_, fs))| fs.into_iter().map(move |f| (i as u32, f)))
            .collect();
        let total = files.len();
        let done = std::sync::atomic::AtomicUsize::new(0);
        let decoded: Vec<(u32, std::result::Result<Vec<u8>, String>, PathBuf)> = files
            .into_par_iter()
            .map(|(label, path)| {
                let r = crate::io::read_capped(&path, crate::io::MAX_IMAGE_FILE)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        crate::image::decode(&b, &path.display().to_string())
                            .map_err(|e| e.to_string())
                    })
                    .map(|img| {
                        crate::image::resize_nearest(&img, size.1 as u32, size.0 as u32).into_raw()
                    });
                let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                if d.is_multiple_of(256) || d == total {
                    progress(d, total);
                }
                (label, r, path)
            })
            .collect();
        let mut data = Vec::with_capacity(total * size.0 * size.1 * 3);
        let mut labels = Vec::with_capacity(total);
        let mut skipped = Vec::new();
        for (label, r, path) in decoded {
            match r {
                Ok(px) => {
                    data.extend_from_slice(&px);
                    labels.push(label);
                }
                Err(e) => skipped.push((path.display().to_string(), e)),
            }
        }
        let ds = Dataset {
            sample_shape: vec![size.0, size.1, 3],
            samples: Samples::U8(data),
            labels,
            classes,
            skipped,
        };
        if ds.is_empty() {
            return Err(Error::input(
                dir.display().to_string(),
                "no image could be decoded",
            ));
        }
        Ok(ds)
    }

    /// Loads the official CIFAR-10 binary files: `data_batch_1..5.bin` (train) and
    /// `test_batch.bin` (test), plus `batches.meta.txt` for class names when present.
    pub fn load_cifar_bin(dir: &Path) -> Result<(Dataset, Dataset)> {
        let names: Vec<String> = std::fs::read_to_string(dir.join("batches.meta.txt"))
            .map(|t| {
                t.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .map(String::from)
                    .collect()
            })
            .unwrap_or_else(|_| {
                [
                    "airplane",
                    "automobile",
                    "bird",
                    "cat",
                    "deer",
                    "dog",
                    "frog",
                    "horse",
                    "ship",
                    "truck",
                ]
                .map(String::from)
                .to_vec()
            });
        let read = |files: &[String]| -> Result<Dataset> {
            let mut data = Vec::new();
            let mut labels = Vec::new();
            for f in files {
                let p = dir.join(f);
                let bytes = std::fs::read(&p).map_err(|e| Error::io(&p, e))?;
                if bytes.len() % 3073 != 0 {
                    return Err(Error::input(
                        p.display().to_string(),
                        format!(
                            "{} bytes is not a whole number of 3073-byte CIFAR records",
                            bytes.len()
                        ),
                    ));
                }
                for rec in bytes.chunks_exact(3073) {
                    if rec[0] as usize >= names.len() {
                        return Err(Error::input(
                            p.display().to_string(),
                            format!("label {} out of range", rec[0]),
                        ));
                    }
                    labels.push(rec[0] as u32);
                    // planes R, G, B of 32x32 → HWC
                    for i in 0..1024 {
                        data.extend_from_slice(&[rec[1 + i], rec[1 + 1024 + i], rec[1 + 2048 + i]]);
                    }
                }
            }
            Ok(Dataset {
                sample_shape: vec![32, 32, 3],
                samples: Samples::U8(data),
                labels,
                classes: names.clone(),
                skipped: vec![],
            })
        };
        let train = read(
            &(1..=5)
                .map(|i| format!("data_batch_{i}.bin"))
                .collect::<Vec<_>>(),
        )?;
        let test = read(&["test_batch.bin".to_string()])?;
        Ok((train, test))
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub use native::{list_folder, load_cifar_bin, load_folder};

/// `fraction` when it is a validation split Keras takes (strictly between 0 and 1).
fn check_fraction(fraction: f64) -> Result<f64> {
    super::compile::check_split(fraction)
}

fn empty_side(fraction: f64, n: usize) -> Error {
    Error::input(
        "validation split",
        format!("{fraction} of {n} samples leaves an empty side"),
    )
}

/// Where `image_dataset_from_directory`'s split puts the validation samples: after the first
/// `n - int(fraction * n)`.
fn split_point(n: usize, fraction: f64) -> Result<usize> {
    let n_val = ((n as f64) * check_fraction(fraction)?).floor() as usize;
    if n_val == 0 || n_val == n {
        return Err(empty_side(fraction, n));
    }
    Ok(n - n_val)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn numbered(n: usize) -> Dataset {
        Dataset {
            sample_shape: vec![1],
            samples: Samples::F32((0..n).map(|i| i as f32).collect()),
            labels: vec![0; n],
            classes: vec!["a".into(), "b".into()],
            skipped: Vec::new(),
        }
    }

    fn values(d: &Dataset) -> Vec<f32> {
        d.batch(&(0..d.len()).collect::<Vec<_>>()).0
    }

    #[test]
    fn fit_holds_out_the_tail_as_keras_does() {
        // Keras: split_at = int(n * (1 - validation_split)); 10 * 0.75 = 7.5 -> 7.
        let (t, v) = numbered(10).holdout_tail(0.25).unwrap();
        assert_eq!(values(&t), (0..7).map(|i| i as f32).collect::<Vec<_>>());
        assert_eq!(values(&v), vec![7.0, 8.0, 9.0]);
        assert_eq!(
            numbered(3).holdout_tail(0.1).unwrap().1.len(),
            1,
            "int(2.7) = 2 train"
        );
        assert!(
            numbered(1).holdout_tail(0.5).is_err(),
            "nothing left to train on"
        );
        assert!(numbered(3).holdout_tail(1.0).is_err());
    }

    #[test]
    fn a_folder_split_shuffles_then_holds_out_int_of_the_fraction() {
        // image_dataset_from_directory: int(0.25 * 10) = 2 validation samples.
        let d = numbered(10);
        let (t, v) = d.split(0.25, 3).unwrap();
        assert_eq!((t.len(), v.len()), (8, 2));
        let mut all = [values(&t), values(&v)].concat();
        all.sort_by(f32::total_cmp);
        assert_eq!(all, values(&d));
        assert_eq!(d.split(0.25, 3).unwrap().1.labels, v.labels);
        assert_ne!(values(&v), vec![8.0, 9.0], "shuffled first (seed 3)");
        let e = numbered(3).split(0.2, 1).unwrap_err().to_string();
        assert!(
            e.contains("validation split") && e.contains("empty side"),
            "{e}"
        );
    }
}
