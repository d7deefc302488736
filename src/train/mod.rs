//! Training like Keras' `model.fit`: optimizers, losses, accuracy, batches, epochs, shuffling,
//! validation, Dropout and BatchNormalization in training mode, progress callbacks.
//!
//! The loop reads values back with `into_data_async` only, so it runs unchanged where reads
//! must be asynchronous (WebGPU on wasm); natively [`block_on`] drives it.

pub mod compile;
pub mod data;
/// Keras' default initialisers (in `model`; here for the code that trains).
pub use crate::model::init;
pub(crate) mod history;

pub(crate) mod loss;
pub(crate) mod optim;

pub use crate::rng::Rng;
#[cfg(not(target_arch = "wasm32"))]
pub use crate::runtime::block_on;
pub use crate::runtime::yield_now;
pub use compile::{compile_settings, CompileSettings, FitOptions};
pub use data::{Dataset, Samples};
pub use history::{EpochLog, History};
pub use loss::Loss;
pub use optim::{Optimizer, OptimizerConfig};

use crate::error::{Error, Result};
use crate::model::{Model, Params};
use crate::runtime::TimeSlice;
use burn::tensor::{Int, Tensor, TensorData};

/// The settings of one `fit` call.
#[derive(Debug, Clone, PartialEq)]
pub struct FitConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Samples per step.
    pub batch_size: usize,
    /// Reshuffle the training data every epoch.
    pub shuffle: bool,
    /// Seed for shuffling and dropout.
    pub seed: u64,
    /// The optimizer.
    pub optimizer: OptimizerConfig,
    /// The loss.
    pub loss: Loss,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 1,
            batch_size: 32,
            shuffle: true,
            seed: 1337,
            optimizer: OptimizerConfig::adam(),
            loss: Loss::CategoricalCrossentropy,
        }
    }
}

/// What `fit` reports as it goes.
pub trait Progress {
    /// After each batch: epoch (0-based), batch, batches per epoch, running loss and accuracy.
    fn batch(&mut self, _epoch: usize, _batch: usize, _batches: usize, _loss: f64, _accuracy: f64) {
    }
    /// After each epoch.
    fn epoch(&mut self, _log: &EpochLog) {}
    /// A new phase of a longer task begins (teaching: `train`, then `fine-tune`).
    fn phase(&mut self, _phase: &str) {}
    /// Polled between batches; returning true stops training after the current batch.
    fn cancelled(&mut self) -> bool {
        false
    }
}

/// No progress reporting.
pub struct Silent;
impl Progress for Silent {}

/// One-hot targets `[N, classes]` (or 0/1 in one column for a single sigmoid output).
fn target_tensor(labels: &[u32], classes: usize, device: &burn::tensor::Device) -> Tensor<2> {
    let n = labels.len();
    let mut t = vec![0f32; n * classes];
    for (i, &l) in labels.iter().enumerate() {
        if classes == 1 {
            t[i] = l as f32;
        } else if (l as usize) < classes {
            t[i * classes + l as usize] = 1.0;
        }
    }
    Tensor::<2>::from_data(TensorData::new(t, [n, classes]), device)
}

fn label_tensor(labels: &[u32], device: &burn::tensor::Device) -> Tensor<1, Int> {
    let v: Vec<i64> = labels.iter().map(|&l| l as i64).collect();
    Tensor::<1, Int>::from_data(TensorData::new(v, [labels.len()]), device)
}

async fn read_scalar(t: Tensor<1>) -> Result<f64> {
    let v = t
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("{e:?}")))?;
    let v = v
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("{e:?}")))?;
    Ok(v.first().copied().unwrap_or(f32::NAN) as f64)
}

async fn read_ints(t: Tensor<1, Int>) -> Result<Vec<i64>> {
    let d = t
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("{e:?}")))?;
    d.convert::<i64>()
        .try_into_vec::<i64>()
        .map_err(|e| Error::Backend(format!("{e:?}")))
}

async fn read_count(t: Tensor<1, Int>) -> Result<usize> {
    Ok(read_ints(t).await?.first().copied().unwrap_or(0) as usize)
}

/// The model's output width (classes), checked against the data's classes.
pub fn check_outputs(model: &Model, data: &Dataset) -> Result<usize> {
    let out = model.output_shapes()[0].clone();
    let [c] = out[..] else {
        return Err(Error::input(
            "model",
            format!(
                "training needs a model with a flat output (None, classes); this one gives {out:?}"
            ),
        ));
    };
    let expected = if c == 1 && data.classes.len() == 2 {
        1
    } else {
        data.classes.len()
    };
    if c != expected {
        return Err(Error::input(
            "labels",
            format!(
                "the data has {} classes but the model outputs {c} values",
                data.classes.len()
            ),
        ));
    }
    if model.input_shapes()[0] != data.sample_shape {
        return Err(Error::Shape {
            context: "training data".into(),
            expected: format!(
                "samples of the model input shape {:?}",
                model.input_shapes()[0]
            ),
            found: format!("{:?}", data.sample_shape),
        });
    }
    Ok(c)
}

/// One optimizer step on a batch; returns the (unread) loss and correct-count tensors.
pub fn train_step(
    model: &mut Model,
    opt: &mut Optimizer,
    loss: Loss,
    x: Vec<f32>,
    labels: &[u32],
) -> Result<(Tensor<1>, Tensor<1, Int>)> {
    let n = labels.len();
    let mut shape = vec![n];
    shape.extend(model.input_shapes()[0].iter());
    let classes = model.output_shapes()[0].iter().product::<usize>();
    let device = model.device.clone();
    let leaves: Params = model
        .params()
        .iter()
        .zip(&model.graph.params)
        .map(|(vs, specs)| {
            vs.iter()
                .zip(specs)
                .map(|(v, s)| {
                    let t = v.clone().autodiff();
                    if s.trainable {
                        t.require_grad()
                    } else {
                        t
                    }
                })
                .collect()
        })
        .collect();
    let xin = model.input_tensor(0, x, &shape)?.autodiff();
    let mut updates = Vec::new();
    let y = model
        .forward_with(vec![xin], &leaves, true, &mut updates)
        .swap_remove(0)
        .reshape([n, classes]);
    let target = target_tensor(labels, classes, &device).autodiff();
    let l = loss.compute(y.clone(), target);
    let correct = loss::correct(
        y.detach().inner(),
        label_tensor(labels, &device),
        loss.takes_logits(),
    );
    let grads = l.backward();
    opt.begin_step();
    for (li, (leaves, specs)) in leaves.iter().zip(&model.graph.params).enumerate() {
        for (vi, (leaf, spec)) in leaves.iter().zip(specs).enumerate() {
            if !spec.trainable {
                continue;
            }
            if let Some(g) = leaf.grad(&grads) {
                let value = model.params()[li][vi].clone();
                updates.push((li, vi, opt.update(li, vi, value, g)));
            }
        }
    }
    for (li, vi, v) in updates {
        model.set_param(li, vi, v);
    }
    Ok((l.detach().inner(), correct))
}

/// Loss and accuracy of `model` on `data`, in batches, in inference mode.
pub async fn evaluate(
    model: &Model,
    data: &Dataset,
    loss: Loss,
    batch_size: usize,
) -> Result<(f64, f64, Vec<u32>)> {
    let classes = model.output_shapes()[0].iter().product::<usize>();
    let mut total_loss = 0.0;
    let mut correct = 0usize;
    let mut predictions = Vec::with_capacity(data.len());
    let idx: Vec<usize> = (0..data.len()).collect();
    for chunk in idx.chunks(batch_size.max(1)) {
        let (x, labels) = data.batch(chunk);
        let mut shape = vec![chunk.len()];
        shape.extend(&data.sample_shape);
        let (y, _) = model.run_batch(x, &shape)?;
        let y = y.reshape([chunk.len(), classes]);
        let target = target_tensor(&labels, classes, &model.device);
        total_loss += read_scalar(loss.compute(y.clone(), target)).await? * chunk.len() as f64;
        let g = read_ints(loss::predicted_class(y, loss.takes_logits())).await?;
        for (p, l) in g.iter().zip(&labels) {
            correct += usize::from(*p as u32 == *l);
            predictions.push(*p as u32);
        }
    }
    let n = data.len().max(1) as f64;
    Ok((total_loss / n, correct as f64 / n, predictions))
}

/// Trains `model` on `train` like `model.fit`, validating on `val` after each epoch.
pub async fn fit(
    model: &mut Model,
    train: &Dataset,
    val: Option<&Dataset>,
    cfg: &FitConfig,
    progress: &mut dyn Progress,
) -> Result<History> {
    check_outputs(model, train)?;
    if let Some(v) = val {
        check_outputs(model, v)?;
    }
    if train.is_empty() {
        return Err(Error::input("training data", "no samples"));
    }
    cfg.validate()?;
    model.device.seed(cfg.seed);
    let shape: Vec<usize> = model.params().iter().map(Vec::len).collect();
    let mut opt = Optimizer::new(cfg.optimizer.clone(), &shape);
    let mut rng = Rng(cfg.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let batches = train.len().div_ceil(cfg.batch_size);
    let mut history = History::default();
    // One clock across epochs: small epochs must not each start a fresh slice.
    let mut slice = TimeSlice::new();
    'epochs: for epoch in 0..cfg.epochs {
        let started = web_time::Instant::now();
        if cfg.shuffle {
            rng.shuffle(&mut order);
        }
        let (mut loss_sum, mut correct, mut seen) = (0.0, 0usize, 0usize);
        let mut stopped = false;
        for (b, chunk) in order.chunks(cfg.batch_size).enumerate() {
            let (x, labels) = train.batch(chunk);
            let (l, c) = train_step(model, &mut opt, cfg.loss, x, &labels)?;
            loss_sum += read_scalar(l).await? * chunk.len() as f64;
            correct += read_count(c).await?;
            seen += chunk.len();
            progress.batch(
                epoch,
                b,
                batches,
                loss_sum / seen as f64,
                correct as f64 / seen as f64,
            );
            slice.yield_if_due().await;
            if progress.cancelled() {
                stopped = true;
                break;
            }
        }
        let mut log = EpochLog {
            epoch: epoch + 1,
            loss: loss_sum / seen.max(1) as f64,
            accuracy: correct as f64 / seen.max(1) as f64,
            val_loss: None,
            val_accuracy: None,
            seconds: 0.0,
        };
        if let Some(v) = val {
            let (vl, va, _) = evaluate(model, v, cfg.loss, cfg.batch_size).await?;
            log.val_loss = Some(vl);
            log.val_accuracy = Some(va);
        }
        log.seconds = started.elapsed().as_secs_f64();
        progress.epoch(&log);
        history.epochs.push(log);
        if stopped {
            break 'epochs;
        }
    }
    Ok(history)
}
