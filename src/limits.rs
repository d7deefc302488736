//! Budgets checked before anything is allocated: how many values a model's variables, one
//! activation of one sample, one activation of a whole batch and a weights file may hold.
//!
//! Shape inference knows every tensor's size before a model runs, so a model whose variables
//! or activations would not fit is refused while it is built, with an error naming the layer,
//! the size and the limit ([`crate::Error::Limit`]). The defaults are far above every model of
//! `keras.applications` (VGG19, the largest, has 144 million parameters and 3.2 million values
//! in its largest activation) and below what a browser can give (a wasm instance has at most
//! 4 GiB). People with a really large model raise them with [`set`] (the CLI reads
//! `GLIMPSE_MAX_PARAMS`, `GLIMPSE_MAX_ACTIVATION` and `GLIMPSE_MAX_BATCH_ACTIVATION`).

use crate::error::{Error, Result};
use std::sync::RwLock;

/// The budgets, in values (float32 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most values all the model's variables may hold together.
    pub max_params: u64,
    /// Most values one layer's output may hold for one sample.
    pub max_activation: u64,
    /// Most values one layer's output may hold for a whole batch (checked at predict and fit).
    pub max_batch_activation: u64,
}

impl Limits {
    /// The defaults: 1 billion parameters (4 GB) natively, 256 million (1 GiB) on wasm; one
    /// activation of 256 million values natively (64 million on wasm) per sample, and of 1
    /// billion (256 million on wasm) for a batch.
    pub const DEFAULT: Limits = if cfg!(target_arch = "wasm32") {
        Limits {
            max_params: 1 << 28,
            max_activation: 1 << 26,
            max_batch_activation: 1 << 28,
        }
    } else {
        Limits {
            max_params: 1 << 30,
            max_activation: 1 << 28,
            max_batch_activation: 1 << 30,
        }
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

static CURRENT: RwLock<Limits> = RwLock::new(Limits::DEFAULT);

/// The budgets in force.
pub fn get() -> Limits {
    *CURRENT.read().unwrap_or_else(|e| e.into_inner())
}

/// Replaces the budgets for everything built or run after this call.
pub fn set(limits: Limits) {
    *CURRENT.write().unwrap_or_else(|e| e.into_inner()) = limits;
}

/// The product of `dims`, or `None` when it does not fit in 64 bits.
pub fn checked_product(dims: &[usize]) -> Option<u64> {
    dims.iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
}

/// Checks that `count` values fit in `limit`, else a [`Error::Limit`] naming `what` and `name`
/// (the environment variable that raises it on the CLI).
pub fn check(what: impl Into<String>, count: Option<u64>, limit: u64, name: &str) -> Result<()> {
    match count {
        Some(c) if c <= limit => Ok(()),
        _ => Err(Error::Limit {
            what: what.into(),
            found: count.map_or_else(|| "more than 2^64".to_string(), |c| c.to_string()),
            limit,
            setting: format!("{name} (CLI), glimpse::limits::set (Rust) or setLimits (JS)"),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn products_that_overflow_are_none() {
        assert_eq!(checked_product(&[2, 3, 4]), Some(24));
        assert_eq!(checked_product(&[]), Some(1));
        assert_eq!(checked_product(&[usize::MAX, 3]), None);
        assert!(check("x", Some(10), 10, "N").is_ok());
        let e = check("layer 'd' output", Some(11), 10, "N").unwrap_err();
        assert!(e.to_string().contains("layer 'd' output"), "{e}");
        assert!(
            e.to_string().contains("11") && e.to_string().contains("10"),
            "{e}"
        );
        assert!(check("x", None, 10, "N").is_err());
    }
}
