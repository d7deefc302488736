//! Range checks of the command line's numbers, done while the arguments are parsed (before
//! any data is read); the ranges are the library's (`glimpse::train::compile`).

use glimpse::train::compile;

fn number<T: std::str::FromStr>(s: &str) -> Result<T, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("expected a number, found '{s}'"))
}

/// `--epochs`.
pub fn epochs(s: &str) -> Result<usize, String> {
    compile::check_epochs(number(s)?).map_err(|e| e.to_string())
}

/// `--batch-size`.
pub fn batch_size(s: &str) -> Result<usize, String> {
    compile::check_batch_size(number(s)?).map_err(|e| e.to_string())
}

/// `--learning-rate`.
pub fn learning_rate(s: &str) -> Result<f64, String> {
    compile::check_learning_rate(number(s)?).map_err(|e| e.to_string())
}

/// `--validation-split`.
pub fn split(s: &str) -> Result<f64, String> {
    compile::check_split(number(s)?).map_err(|e| e.to_string())
}

/// `--hidden-units`.
pub fn hidden_units(s: &str) -> Result<usize, String> {
    compile::check_hidden_units(number(s)?).map_err(|e| e.to_string())
}

/// `--top`: at least 1.
pub fn top(s: &str) -> Result<usize, String> {
    let n: usize = number(s)?;
    if n >= 1 {
        Ok(n)
    } else {
        Err("expected at least 1".into())
    }
}

/// `--augment`.
pub fn augment(s: &str) -> Result<glimpse::teach::augment::Augment, String> {
    glimpse::teach::augment::Augment::parse(s).map_err(|e| e.to_string())
}

/// `--views`: 1 to 16 varied copies per photo.
pub fn views(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=16).contains(&n) => Ok(n),
        _ => Err(format!("expected 1 to 16 copies per photo, found '{s}'")),
    }
}

/// `--unfreeze-blocks`: 1 to 16 of EfficientNet-Lite0's blocks.
pub fn unfreeze_blocks(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if (1..=16).contains(&n) => Ok(n),
        _ => Err(format!("expected 1 to 16 blocks, found '{s}'")),
    }
}
