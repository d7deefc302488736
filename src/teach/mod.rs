//! Teaching a network new classes (transfer learning), written once for every surface: the
//! CLI's `fine-tune`, the wasm API's `teach` (which the JS package's `transfer()` calls) and
//! the page.
//!
//! A surface computes what is computed once per photo (the network's features, or with
//! fine-tuning its activations where the blocks to tune begin; varied copies of the training
//! photos too), because that is where the photos, the cache and the threads are. Everything
//! after that is here: which photos are held out ([`holdout`]), the head, its training, Keras'
//! second step (the network's top and the head together, slowly), the held-out predictions,
//! and the end-to-end model with its structure (the augmentation layers inside, as Keras would
//! save a model trained with them).

use crate::error::{Error, Result};
use crate::model::transfer;
use crate::model::Model;
use crate::rng::Rng;
use crate::train::{self, Dataset, FitConfig, FitOptions, History, Progress, Samples};
pub mod augment;

use augment::Augment;

/// Samples per prediction when the network's top turns activations into features.
const TOP_BATCH: usize = 32;

/// Which samples a transfer-learning run holds out: [`holdout`]'s answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Holdout {
    /// Training samples (indices into the labels), in a seeded mixed order.
    pub train: Vec<usize>,
    /// Held-out samples, class by class.
    pub validation: Vec<usize>,
    /// What the user should know: a class too small to test or to learn reliably, a class
    /// given no samples this time.
    pub warnings: Vec<String>,
}

/// The hold-out rule of teaching (the page, `transfer()` and `glimpse fine-tune`): the
/// shuffled subset of `image_dataset_from_directory(validation_split=...)`, drawn from each
/// class in proportion so that a small class is tested too. Each class's samples are shuffled
/// with `seed`; `round(n * fraction)` of them are held out, at least one when the class has two
/// or more, and at least one always stays for training. A class with fewer than 5 samples gets
/// a warning; a class with none (teaching a taught model further, where it keeps what it
/// learned) gets one that says so. `fraction` 0 holds out nothing.
pub fn holdout(labels: &[u32], classes: &[String], fraction: f64, seed: u64) -> Result<Holdout> {
    if !(fraction == 0.0 || (fraction > 0.0 && fraction < 1.0)) {
        return Err(Error::input(
            "validation split",
            format!("expected 0, or a fraction between 0 and 1 (exclusive), found {fraction}"),
        ));
    }
    if let Some(bad) = labels.iter().find(|&&l| l as usize >= classes.len()) {
        return Err(Error::input(
            "labels",
            format!("label {bad} is out of range for {} classes", classes.len()),
        ));
    }
    let mut by_class: Vec<Vec<usize>> = vec![Vec::new(); classes.len()];
    for (i, &l) in labels.iter().enumerate() {
        by_class[l as usize].push(i);
    }
    let (mut train, mut validation, mut warnings) = (Vec::new(), Vec::new(), Vec::new());
    for (c, idx) in by_class.iter_mut().enumerate() {
        let name = &classes[c];
        if idx.is_empty() {
            warnings.push(format!(
                "'{name}' had no photos this time: it keeps what it learned before, but training \
                 only on the other classes makes the model choose it less often (add a few photos \
                 of it to keep it reliable)"
            ));
            continue;
        }
        Rng(seed.wrapping_add(7919 * c as u64)).shuffle(idx);
        let n = idx.len();
        let k = if fraction > 0.0 && n >= 2 {
            ((n as f64 * fraction).round() as usize).clamp(1, n - 1)
        } else {
            0
        };
        validation.extend_from_slice(&idx[..k]);
        train.extend_from_slice(&idx[k..]);
        if n < 5 {
            let none = if k == 0 && fraction > 0.0 {
                "none could be held out, so the test accuracy says nothing about it; "
            } else {
                ""
            };
            warnings.push(format!(
                "'{name}' has only {n} photo{}: {none}add at least 5 for a model that recognises \
                 it reliably",
                if n == 1 { "" } else { "s" }
            ));
        }
    }
    // Training samples mixed (fit shuffles them again each epoch; this keeps batches mixed
    // when it does not).
    Rng(seed).shuffle(&mut train);
    Ok(Holdout {
        train,
        validation,
        warnings,
    })
}

/// How to teach: Keras' settings of the two steps.
#[derive(Debug, Clone, PartialEq)]
pub struct TeachOptions {
    /// Passes of the head's training.
    pub epochs: usize,
    /// Samples per step (both steps).
    pub batch_size: usize,
    /// A hidden Dense layer (relu) of this many units before the classifier.
    pub hidden: Option<usize>,
    /// Adam's learning rate for the head (default Keras' 1e-3).
    pub learning_rate: Option<f64>,
    /// Seed of the head's initial weights, the shuffling and the augmentation layers.
    pub seed: u64,
    /// Passes of the second step (with a network top to tune).
    pub fine_tune_epochs: usize,
    /// Adam's learning rate in the second step (small: the pretrained weights move little).
    pub fine_tune_learning_rate: f64,
    /// The augmentation the training photos' varied copies were made with: the end-to-end
    /// model holds its layers (the identity at inference).
    pub augment: Option<Augment>,
    /// The end-to-end model's name.
    pub name: String,
}

impl Default for TeachOptions {
    fn default() -> Self {
        TeachOptions {
            epochs: 20,
            batch_size: 16,
            hidden: None,
            learning_rate: None,
            seed: 1337,
            fine_tune_epochs: 5,
            fine_tune_learning_rate: 1e-4,
            augment: None,
            name: "glimpse_transfer".into(),
        }
    }
}

/// [`TeachOptions`] as a caller gives them (the JS options object, through serde; the CLI's
/// flags): each `None` is the default, numbers as given, checked by
/// [`TeachSettings::resolve`].
#[derive(Debug, Clone, Default, PartialEq, serde::Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TeachSettings {
    /// [`TeachOptions::epochs`].
    pub epochs: Option<f64>,
    /// [`TeachOptions::batch_size`].
    pub batch_size: Option<f64>,
    /// [`TeachOptions::hidden`].
    pub hidden: Option<f64>,
    /// [`TeachOptions::learning_rate`].
    pub learning_rate: Option<f64>,
    /// [`TeachOptions::seed`].
    pub seed: Option<f64>,
    /// [`TeachOptions::fine_tune_epochs`].
    pub fine_tune_epochs: Option<f64>,
    /// [`TeachOptions::fine_tune_learning_rate`].
    pub fine_tune_learning_rate: Option<f64>,
    /// [`TeachOptions::augment`].
    pub augment: Option<Augment>,
    /// [`TeachOptions::name`].
    pub name: Option<String>,
}

impl TeachSettings {
    /// The options, each checked (whole numbers in range, learning rates positive).
    pub fn resolve(&self) -> Result<TeachOptions> {
        use crate::train::compile::{
            check_batch_size, check_epochs, check_hidden_units, check_learning_rate, whole,
        };
        let d = TeachOptions::default();
        let count = |what: &str, v: Option<f64>, default: usize, min: u64| -> Result<usize> {
            v.map_or(Ok(default), |v| Ok(whole(what, v, min)? as usize))
        };
        Ok(TeachOptions {
            epochs: check_epochs(count("epochs", self.epochs, d.epochs, 1)?)?,
            batch_size: check_batch_size(count("batch size", self.batch_size, d.batch_size, 1)?)?,
            hidden: self
                .hidden
                .map(|h| check_hidden_units(whole("hidden units", h, 1)? as usize))
                .transpose()?,
            learning_rate: self.learning_rate.map(check_learning_rate).transpose()?,
            seed: self.seed.map_or(Ok(d.seed), |v| whole("seed", v, 0))?,
            fine_tune_epochs: count(
                "fine-tune epochs",
                self.fine_tune_epochs,
                d.fine_tune_epochs,
                0,
            )?,
            fine_tune_learning_rate: check_learning_rate(
                self.fine_tune_learning_rate
                    .unwrap_or(d.fine_tune_learning_rate),
            )?,
            augment: self.augment.clone().filter(|a| !a.is_empty()),
            name: self.name.clone().unwrap_or(d.name),
        })
    }
}

/// What is taught on: the network, where its features end, and the part to fine-tune.
pub struct Lesson<'a> {
    /// The whole network (a pretrained one, or a taught classifier taught further).
    pub network: &'a Model,
    /// The layer whose output the head takes (the network's features).
    pub cut: &'a str,
    /// The network from where the cached activations were taken up to `cut`, to fine-tune
    /// with the head (Keras' second step; its BatchNormalization frozen): then the samples are
    /// those activations. `None`: the samples are the features themselves.
    pub top: Option<&'a Model>,
    /// The head to train on from its weights (teaching a taught classifier further, its
    /// classes remapped: [`transfer::remap_classes`]); `None` makes a new one.
    pub head: Option<Model>,
}

/// What teaching gives.
pub struct Taught {
    /// The end-to-end model: the network up to its features, then the head (fine-tuned parts
    /// written back), with the augmentation layers when there were any.
    pub model: Model,
    /// The trained head alone (after fine-tuning: its tuned weights).
    pub head: Model,
    /// Both steps' epochs, numbered on.
    pub history: History,
    /// The held-out samples' accuracy after the head's step (before fine-tuning).
    pub head_accuracy: Option<f64>,
    /// The predicted class of each held-out sample, by the final model.
    pub predictions: Vec<u32>,
}

/// `top` run over `rows` (its input, one sample after another) in batches: the features.
async fn through_top(top: &Model, rows: &[f32], progress: &mut dyn Progress) -> Result<Vec<f32>> {
    let shape = top.input_shapes()[0].clone();
    let per: usize = shape.iter().product();
    let mut out = Vec::new();
    for chunk in rows.chunks(per * TOP_BATCH) {
        if progress.cancelled() {
            return Err(Error::input("teaching", "stopped"));
        }
        let mut s = vec![chunk.len() / per];
        s.extend(&shape);
        out.extend(top.predict_async(chunk.to_vec(), &s).await?.0);
        crate::runtime::yield_now().await;
    }
    Ok(out)
}

fn values(d: &Dataset) -> &[f32] {
    match &d.samples {
        Samples::F32(v) => v,
        Samples::U8(_) => &[],
    }
}

fn with_samples(d: &Dataset, sample_shape: Vec<usize>, samples: Vec<f32>) -> Dataset {
    Dataset {
        sample_shape,
        samples: Samples::F32(samples),
        labels: d.labels.clone(),
        classes: d.classes.clone(),
        skipped: Vec::new(),
    }
}

/// Teaches `lesson`'s network `train`'s classes: a head on its features (from `train`'s rows,
/// through `lesson.top` when there is one), validated on `validation`, then with a top, the top
/// and the head together for `fine_tune_epochs`; returns the end-to-end model. Progress
/// reports the phases `train` and `fine-tune`; a cancel keeps what was learned.
pub async fn teach(
    lesson: Lesson<'_>,
    train: &Dataset,
    validation: Option<&Dataset>,
    o: &TeachOptions,
    progress: &mut dyn Progress,
) -> Result<Taught> {
    let classes = train.classes.len();
    let validation = validation.filter(|v| !v.is_empty());
    let tensors = |d: &Dataset| -> Result<Dataset> {
        if matches!(d.samples, Samples::U8(_)) {
            return Err(Error::input(
                "teaching",
                "expected features or activations (float values), found pixels",
            ));
        }
        Ok(d.clone())
    };
    let (train_rows, val_rows) = (tensors(train)?, validation.map(tensors).transpose()?);
    // The head's samples: the features.
    let (train_f, val_f) = match lesson.top {
        Some(top) => {
            let width: usize = top.output_shapes()[0].iter().product();
            let f = through_top(top, values(&train_rows), progress).await?;
            let v = match &val_rows {
                Some(v) => Some(with_samples(
                    v,
                    vec![width],
                    through_top(top, values(v), progress).await?,
                )),
                None => None,
            };
            (with_samples(&train_rows, vec![width], f), v)
        }
        None => (train_rows.clone(), val_rows.clone()),
    };
    let width = train_f.sample_len();
    let mut head = match lesson.head {
        Some(h) => h,
        None => transfer::new_head(width, classes, o.hidden, o.seed, &lesson.network.device)?,
    };
    let options = FitOptions {
        epochs: Some(o.epochs as f64),
        batch_size: Some(o.batch_size as f64),
        seed: Some(o.seed as f64),
        learning_rate: o.learning_rate,
        ..FitOptions::default()
    };
    let cfg = FitConfig::resolve(&head, &options)?;
    progress.phase("train");
    let mut history = train::fit(&mut head, &train_f, val_f.as_ref(), &cfg, progress).await?;
    let head_accuracy = history.epochs.last().and_then(|e| e.val_accuracy);
    let mut tuned = None;
    if let Some(top) = lesson
        .top
        .filter(|_| o.fine_tune_epochs > 0 && !progress.cancelled())
    {
        // Keras' second step: the network's top and the head, slowly, on the activations.
        let mut both = transfer::join(top, lesson.cut, &head, "fine_tune")?;
        let cfg = FitConfig::resolve(
            &both,
            &FitOptions {
                epochs: Some(o.fine_tune_epochs as f64),
                learning_rate: Some(o.fine_tune_learning_rate),
                ..options
            },
        )?;
        progress.phase("fine-tune");
        let more = train::fit(&mut both, &train_rows, val_rows.as_ref(), &cfg, progress).await?;
        history.append(more);
        tuned = Some(both);
    }
    let predictions = match (&tuned, &val_rows, &val_f) {
        (Some(t), Some(v), _) => train::evaluate(t, v, cfg.loss, TOP_BATCH).await?.2,
        (None, _, Some(v)) => train::evaluate(&head, v, cfg.loss, TOP_BATCH).await?.2,
        _ => Vec::new(),
    };
    let mut model = transfer::join(lesson.network, lesson.cut, &head, &o.name)?;
    if let Some(t) = &tuned {
        // The fine-tuned top and head written back into the whole network.
        model = model.with_variables_of(t)?.0;
        head = head.with_variables_of(t)?.0;
    }
    if let Some(aug) = o.augment.as_ref().filter(|a| !a.is_empty()) {
        model = augment::augmented(&model, aug, o.seed)?;
    }
    Ok(Taught {
        model,
        head,
        history,
        head_accuracy,
        predictions,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|c| format!("c{c}")).collect()
    }

    #[test]
    fn holdout_draws_from_each_class_and_warns_of_small_ones() {
        // 10 of class 0, 3 of class 1, 1 of class 2, none of class 3.
        let labels: Vec<u32> = [vec![0; 10], vec![1; 3], vec![2; 1]].concat();
        let h = holdout(&labels, &names(4), 0.2, 7).unwrap();
        let count = |side: &[usize], c: u32| side.iter().filter(|&&i| labels[i] == c).count();
        assert_eq!(
            (count(&h.validation, 0), count(&h.validation, 1)),
            (2, 1),
            "round(10 * 0.2) and at least 1 of 3"
        );
        assert_eq!(count(&h.validation, 2), 0, "a class of one keeps it");
        assert_eq!(h.train.len() + h.validation.len(), labels.len());
        let mut all: Vec<usize> = h.train.iter().chain(&h.validation).copied().collect();
        all.sort();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        assert_eq!(h.warnings.len(), 3, "{:?}", h.warnings);
        assert!(h.warnings[0].starts_with("'c1' has only 3 photos: add"));
        assert!(h.warnings[1].contains("none could be held out"));
        assert!(h.warnings[2].starts_with("'c3' had no photos this time"));
        // The same seed, the same split; another seed, another one.
        assert_eq!(holdout(&labels, &names(4), 0.2, 7).unwrap(), h);
        assert_ne!(
            holdout(&labels, &names(4), 0.2, 8).unwrap().validation,
            h.validation
        );
        // Nothing held out at 0; out-of-range fractions and labels refused.
        assert!(holdout(&labels, &names(4), 0.0, 7)
            .unwrap()
            .validation
            .is_empty());
        assert!(holdout(&labels, &names(4), 1.0, 7).is_err());
        assert!(holdout(&labels, &names(2), 0.2, 7).is_err());
    }
}
