//! Keras' default initializers: Glorot-uniform kernels, zero biases, unit scales.

use crate::model::ParamSpec;
use crate::rng::Rng;

/// Initial Keras-layout values of a new variable.
pub fn keras_default(p: &ParamSpec, rng: &mut Rng) -> Vec<f32> {
    let n = p.size();
    match p.name {
        "gamma" | "moving_variance" | "variance" => vec![1.0; n],
        _ if p.keras_shape.len() >= 2 => {
            let s = &p.keras_shape;
            let receptive: usize = s[..s.len() - 2].iter().product();
            let fan_in = (s[s.len() - 2] * receptive) as f64;
            let fan_out = (s[s.len() - 1] * receptive) as f64;
            let limit = (6.0 / (fan_in + fan_out)).sqrt();
            (0..n)
                .map(|_| {
                    let u = (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
                    ((2.0 * u - 1.0) * limit) as f32
                })
                .collect()
        }
        _ => vec![0.0; n],
    }
}

impl crate::model::Model {
    /// A new model of `spec` with every variable initialised as Keras initialises it (seeded):
    /// what `keras.models.model_from_json` gives before training.
    pub fn initialized(
        spec: crate::keras::ModelSpec,
        device: &burn::tensor::Device,
        seed: u64,
    ) -> crate::Result<crate::model::Model> {
        let mut rng = Rng(seed);
        crate::model::Model::from_spec_with(spec, device, |_, _, p| Ok(keras_default(p, &mut rng)))
    }
}
