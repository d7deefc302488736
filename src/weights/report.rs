//! The strict-loading report: every mismatch between a model and a weights file, by name.

use std::fmt;

/// A tensor whose stored shape differs from what the model expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShapeMismatch {
    /// `layer/variable`.
    pub name: String,
    /// The shape the model needs (Keras layout).
    pub expected: Vec<usize>,
    /// The shape in the file.
    pub found: Vec<usize>,
}

/// What strict loading found wrong. Empty means the weights fit exactly.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// The weights file.
    pub source: String,
    /// Variables the model needs that the file lacks (`layer/variable`).
    pub missing: Vec<String>,
    /// Layers or variables in the file the model does not have.
    pub unexpected: Vec<String>,
    /// Variables with the wrong shape.
    pub mismatched: Vec<ShapeMismatch>,
    /// For a missing layer, the closest unexpected one: (missing, candidate).
    pub suggestions: Vec<(String, String)>,
}

impl LoadReport {
    /// True when nothing is missing, unexpected or mis-shaped.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.mismatched.is_empty()
    }

    /// Adds "did you mean" hints pairing missing names with close unexpected ones.
    pub fn suggest(&mut self) {
        for m in &self.missing {
            let layer = m.split('/').next().unwrap_or(m);
            let best = self
                .unexpected
                .iter()
                .map(|u| (edit_distance(layer, u.split('/').next().unwrap_or(u)), u))
                .min_by_key(|(d, _)| *d);
            if let Some((d, u)) = best {
                if d <= layer.len().max(3) / 3 {
                    self.suggestions.push((m.clone(), u.clone()));
                }
            }
        }
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur.push(sub.min(prev[j + 1] + 1).min(cur[j] + 1));
        }
        prev = cur;
    }
    prev[b.len()]
}

fn list(f: &mut fmt::Formatter<'_>, title: &str, items: &[String]) -> fmt::Result {
    if items.is_empty() {
        return Ok(());
    }
    writeln!(f, "  {title} ({}):", items.len())?;
    for i in items.iter().take(20) {
        writeln!(f, "    - {i}")?;
    }
    if items.len() > 20 {
        writeln!(f, "    ... and {} more", items.len() - 20)?;
    }
    Ok(())
}

impl fmt::Display for LoadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "  weights: {}", self.source)?;
        list(f, "missing from the file", &self.missing)?;
        list(f, "in the file but not in the model", &self.unexpected)?;
        if !self.mismatched.is_empty() {
            writeln!(f, "  wrong shape ({}):", self.mismatched.len())?;
            for m in self.mismatched.iter().take(20) {
                writeln!(
                    f,
                    "    - {}: expected {:?}, found {:?}",
                    m.name, m.expected, m.found
                )?;
            }
        }
        for (m, s) in &self.suggestions {
            writeln!(f, "  did you mean '{s}' for '{m}'?")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggests_close_names_only() {
        let mut r = LoadReport {
            missing: vec!["conv2d_1/kernel".into(), "dense/kernel".into()],
            unexpected: vec!["conv2d_2".into(), "zzzzzz".into()],
            ..Default::default()
        };
        r.suggest();
        assert_eq!(
            r.suggestions,
            vec![("conv2d_1/kernel".into(), "conv2d_2".into())]
        );
        let text = r.to_string();
        assert!(text.contains("missing from the file (2)"), "{text}");
        assert!(text.contains("did you mean 'conv2d_2'"), "{text}");
    }
}
