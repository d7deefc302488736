//! The per-epoch training history (what Keras' `History.history` holds) and its plot.

use serde::{Deserialize, Serialize};

/// One epoch's metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLog {
    /// 1-based epoch number.
    pub epoch: usize,
    /// Mean training loss.
    pub loss: f64,
    /// Training accuracy.
    pub accuracy: f64,
    /// Validation loss.
    pub val_loss: Option<f64>,
    /// Validation accuracy.
    pub val_accuracy: Option<f64>,
    /// Wall time of the epoch.
    pub seconds: f64,
}

/// All epochs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// One entry per epoch.
    pub epochs: Vec<EpochLog>,
}

/// A panel: its title, the training series and the validation series.
type Panel = (&'static str, Vec<f64>, Vec<Option<f64>>);

const W: u32 = 720;
const H: u32 = 300;
const COLORS: [[u8; 3]; 2] = [[31, 119, 180], [255, 127, 14]];

fn line(img: &mut image::RgbImage, (x0, y0): (f64, f64), (x1, y1): (f64, f64), c: [u8; 3]) {
    let steps = ((x1 - x0).abs().max((y1 - y0).abs()) as usize).max(1);
    for s in 0..=steps {
        let t = s as f64 / steps as f64;
        let (x, y) = (x0 + (x1 - x0) * t, y0 + (y1 - y0) * t);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            let (px, py) = (x as i64 + dx, y as i64 + dy);
            if px >= 0 && py >= 0 && (px as u32) < img.width() && (py as u32) < img.height() {
                img.put_pixel(px as u32, py as u32, image::Rgb(c));
            }
        }
    }
}

impl History {
    /// Appends a later run's epochs (a second training step), numbered on from this one's.
    pub fn append(&mut self, later: History) {
        let base = self.epochs.last().map_or(0, |e| e.epoch);
        self.epochs
            .extend(later.epochs.into_iter().map(|e| EpochLog {
                epoch: base + e.epoch,
                ..e
            }));
    }

    /// A PNG with two panels: loss and accuracy per epoch, training (blue) and validation
    /// (orange), on light grid lines.
    pub fn plot_png(&self) -> Vec<u8> {
        let mut img = image::RgbImage::from_pixel(W, H, image::Rgb([255, 255, 255]));
        let panels: [Panel; 2] = [
            (
                "loss",
                self.epochs.iter().map(|e| e.loss).collect(),
                self.epochs.iter().map(|e| e.val_loss).collect(),
            ),
            (
                "accuracy",
                self.epochs.iter().map(|e| e.accuracy).collect(),
                self.epochs.iter().map(|e| e.val_accuracy).collect(),
            ),
        ];
        for (p, (_, train, val)) in panels.iter().enumerate() {
            let (left, top, width, height) = (20.0 + p as f64 * 360.0, 20.0, 320.0, 260.0);
            let all: Vec<f64> = train
                .iter()
                .copied()
                .chain(val.iter().flatten().copied())
                .filter(|v| v.is_finite())
                .collect();
            let (lo, hi) = if p == 1 {
                (0.0, 1.0)
            } else {
                let hi = all.iter().copied().fold(f64::MIN, f64::max);
                let lo = all.iter().copied().fold(f64::MAX, f64::min).min(0.0);
                (lo, if hi > lo { hi } else { lo + 1.0 })
            };
            for g in 0..=4 {
                let y = top + height * g as f64 / 4.0;
                line(&mut img, (left, y), (left + width, y), [225, 225, 225]);
            }
            line(&mut img, (left, top), (left, top + height), [0, 0, 0]);
            line(
                &mut img,
                (left, top + height),
                (left + width, top + height),
                [0, 0, 0],
            );
            let n = train.len();
            let x = |i: usize| {
                left + if n > 1 {
                    width * i as f64 / (n - 1) as f64
                } else {
                    width / 2.0
                }
            };
            let y = |v: f64| top + height * (1.0 - (v - lo) / (hi - lo));
            for (series, color) in [
                (
                    train.iter().map(|v| Some(*v)).collect::<Vec<_>>(),
                    COLORS[0],
                ),
                (val.clone(), COLORS[1]),
            ] {
                for i in 0..n {
                    let Some(v) = series[i] else { continue };
                    if !v.is_finite() {
                        continue;
                    }
                    if i + 1 < n {
                        if let Some(w) = series[i + 1].filter(|w| w.is_finite()) {
                            line(&mut img, (x(i), y(v)), (x(i + 1), y(w)), color);
                        }
                    }
                    for d in -2..=2 {
                        line(
                            &mut img,
                            (x(i) - 2.0, y(v) + d as f64),
                            (x(i) + 2.0, y(v) + d as f64),
                            color,
                        );
                    }
                }
            }
        }
        let mut out = Vec::new();
        image::DynamicImage::ImageRgb8(img)
            .write_to(&mut std::io::Cursor::new(&mut out), image::ImageFormat::Png)
            .expect("PNG encoding into memory");
        out
    }
}
