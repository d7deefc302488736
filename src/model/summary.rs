//! Keras' `model.summary()`: layer, output shape, parameter count, and the totals.

use super::{Graph, Model, ParamSpec};
use crate::keras::ModelSpec;
use std::fmt;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SummaryRow {
    /// Layer name.
    pub name: String,
    /// Keras class.
    pub class_name: String,
    /// Output shape with the batch axis as `None`.
    pub output_shape: Vec<Option<usize>>,
    /// Number of values in its variables.
    pub params: usize,
    /// The layers it is connected to (Functional models).
    pub connected_to: Vec<String>,
}

/// The whole summary.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Summary {
    /// The model's name.
    pub name: String,
    /// `Sequential` or `Functional`.
    pub kind: String,
    /// One row per layer, in the model's order.
    pub rows: Vec<SummaryRow>,
    /// All parameters.
    pub total: usize,
    /// Trainable parameters.
    pub trainable: usize,
    /// Non-trainable parameters.
    pub non_trainable: usize,
}

fn group_digits(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn bytes_text(params: usize) -> String {
    let b = params as f64 * 4.0;
    if b < 1024.0 {
        format!("{} B", b as usize)
    } else if b < 1024.0 * 1024.0 {
        format!("{:.2} KB", b / 1024.0)
    } else if b < 1024.0 * 1024.0 * 1024.0 {
        format!("{:.2} MB", b / (1024.0 * 1024.0))
    } else {
        format!("{:.2} GB", b / (1024.0 * 1024.0 * 1024.0))
    }
}

impl Summary {
    /// Summarizes a model.
    pub fn of(model: &Model) -> Summary {
        Summary::of_graph(&model.spec, &model.graph)
    }

    /// Summarizes a model's structure: no variable is allocated (a summary of a structure
    /// JSON needs no weights).
    pub fn of_graph(spec: &ModelSpec, g: &Graph) -> Summary {
        // Axes the model leaves unknown show as None: those that change when the graph is
        // built for another input size.
        let free = g.free_axes.iter().flatten().any(|&f| f);
        let other = free
            .then(|| {
                let shapes: Vec<Vec<usize>> = g
                    .inputs
                    .iter()
                    .zip(&g.free_axes)
                    .map(|(&i, f)| {
                        let s = &g.nodes[i].out_shape;
                        s.iter()
                            .zip(f)
                            .map(|(&d, &f)| if f { d + 37 } else { d })
                            .collect()
                    })
                    .collect();
                Graph::build_sized(spec, &shapes).ok()
            })
            .flatten();
        let mut other_shapes: Vec<Option<Vec<usize>>> = vec![None; spec.layers.len()];
        if let Some(o) = &other {
            for n in &o.nodes {
                other_shapes[n.layer].get_or_insert_with(|| n.out_shape.clone());
            }
        }
        let mut shapes: Vec<Option<Vec<usize>>> = vec![None; spec.layers.len()];
        let mut inputs: Vec<Vec<String>> = vec![Vec::new(); spec.layers.len()];
        for n in &g.nodes {
            if shapes[n.layer].is_none() {
                shapes[n.layer] = Some(n.out_shape.clone());
            }
            for &i in &n.inputs {
                inputs[n.layer].push(spec.layers[g.nodes[i].layer].name.clone());
            }
        }
        let sequential = super::save::sequential(spec, g);
        let mut rows = Vec::new();
        let (mut total, mut trainable) = (0, 0);
        for (i, l) in spec.layers.iter().enumerate() {
            let ps = &g.params[i];
            let count: usize = ps.iter().map(ParamSpec::size).sum();
            total += count;
            trainable += ps
                .iter()
                .filter(|p| p.trainable)
                .map(ParamSpec::size)
                .sum::<usize>();
            // Keras' Sequential summary leaves out the InputLayer.
            if sequential && l.class_name == "InputLayer" {
                continue;
            }
            let mut shape = vec![None];
            let own = shapes[i].clone().unwrap_or_default();
            let alt = other_shapes[i].clone().unwrap_or_else(|| own.clone());
            shape.extend(
                own.iter()
                    .zip(alt.iter().chain(std::iter::repeat(&0)))
                    .map(|(&a, &b)| (a == b).then_some(a)),
            );
            rows.push(SummaryRow {
                name: l.name.clone(),
                class_name: l.class_name.clone(),
                output_shape: shape,
                params: count,
                connected_to: inputs[i].clone(),
            });
        }
        Summary {
            name: spec.name.clone(),
            kind: if sequential {
                "Sequential"
            } else {
                "Functional"
            }
            .into(),
            rows,
            total,
            trainable,
            non_trainable: total - trainable,
        }
    }
}

fn shape_text(s: &[Option<usize>]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| d.map_or("None".to_string(), |x| x.to_string()))
        .collect();
    format!("({})", parts.join(", "))
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let functional = self.kind == "Functional";
        let cells: Vec<[String; 4]> = self
            .rows
            .iter()
            .map(|r| {
                [
                    format!("{} ({})", r.name, r.class_name),
                    shape_text(&r.output_shape),
                    group_digits(r.params),
                    r.connected_to.join(", "),
                ]
            })
            .collect();
        let head = ["Layer (type)", "Output Shape", "Param #", "Connected to"];
        let ncol = if functional { 4 } else { 3 };
        let mut w = [0usize; 4];
        for (i, h) in head.iter().enumerate() {
            w[i] = h.len();
        }
        for c in &cells {
            for i in 0..ncol {
                w[i] = w[i].max(c[i].chars().count());
            }
        }
        let line = |f: &mut fmt::Formatter<'_>, l: char, m: char, r: char| -> fmt::Result {
            let segs: Vec<String> = (0..ncol).map(|i| "━".repeat(w[i] + 2)).collect();
            writeln!(f, "{l}{}{r}", segs.join(&m.to_string()))
        };
        let row = |f: &mut fmt::Formatter<'_>, c: &[String], sep: char| -> fmt::Result {
            let mut s = String::new();
            for i in 0..ncol {
                s.push(sep);
                let text = &c[i];
                let pad = w[i] - text.chars().count();
                if i == 2 {
                    s.push_str(&format!(" {}{} ", " ".repeat(pad), text));
                } else {
                    s.push_str(&format!(" {}{} ", text, " ".repeat(pad)));
                }
            }
            s.push(sep);
            writeln!(f, "{s}")
        };
        writeln!(f, "Model: \"{}\"", self.name)?;
        line(f, '┏', '┳', '┓')?;
        row(f, &head.map(String::from), '┃')?;
        line(f, '┡', '╇', '┩')?;
        for (i, c) in cells.iter().enumerate() {
            row(f, c, '│')?;
            if i + 1 < cells.len() && functional {
                let segs: Vec<String> = (0..ncol).map(|i| "─".repeat(w[i] + 2)).collect();
                writeln!(f, "├{}┤", segs.join("┼"))?;
            }
        }
        let segs: Vec<String> = (0..ncol).map(|i| "─".repeat(w[i] + 2)).collect();
        writeln!(f, "└{}┘", segs.join("┴"))?;
        writeln!(
            f,
            " Total params: {} ({})",
            group_digits(self.total),
            bytes_text(self.total)
        )?;
        writeln!(
            f,
            " Trainable params: {} ({})",
            group_digits(self.trainable),
            bytes_text(self.trainable)
        )?;
        writeln!(
            f,
            " Non-trainable params: {} ({})",
            group_digits(self.non_trainable),
            bytes_text(self.non_trainable)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_keras() {
        assert_eq!(group_digits(1250858), "1,250,858");
        assert_eq!(group_digits(858), "858");
        assert_eq!(bytes_text(1250858), "4.77 MB");
        assert_eq!(bytes_text(0), "0 B");
    }
}
