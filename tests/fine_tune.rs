//! Fine-tuning the top of a network (Keras' second transfer-learning step): the network's top as
//! a model of its own on activations cached at a cut, trained with a head while its
//! BatchNormalization layers stay frozen, then written back into the whole.

use glimpse::keras::{build, parse_model};
use glimpse::model::transfer;
use glimpse::train::{
    self, block_on, init, Dataset, FitConfig, Loss, OptimizerConfig, Rng, Samples, Silent,
};
use glimpse::zoo::efficientnet;
use glimpse::{default_device, Model};

/// input → conv c1 → bn1 → relu1 → conv c2 → bn2 → relu2 (+ relu1: a residual) → pool → head.
fn network() -> Model {
    let mut layers = vec![build::node(build::input("image", &[8, 8, 3]), &[])];
    let mut push = |l: serde_json::Value, inputs: &[&str]| layers.push(build::node(l, inputs));
    push(build::conv2d_nobias("c1", 4, 3, 1, "same"), &["image"]);
    push(build::batch_norm("bn1", 1e-3, 0.99), &["c1"]);
    push(build::activation("relu1", "relu"), &["bn1"]);
    push(build::conv2d_nobias("c2", 4, 3, 1, "same"), &["relu1"]);
    push(build::batch_norm("bn2", 1e-3, 0.99), &["c2"]);
    push(build::activation("relu2", "relu"), &["bn2"]);
    push(build::add("sum"), &["relu1", "relu2"]);
    push(build::global_avg_pool("pool"), &["sum"]);
    push(build::dense("logits", 3, "softmax"), &["pool"]);
    let json =
        glimpse::model::transfer::with_shapes(&build::functional("net", layers, "image", "logits"))
            .unwrap();
    let mut rng = Rng(21);
    Model::from_spec_with(parse_model(&json).unwrap(), &default_device(), |_, _, p| {
        let mut v = init::keras_default(p, &mut rng);
        // Moving statistics away from 0 and 1, so that "unchanged" means something (small
        // means: ReLU after them stays alive).
        if p.name == "moving_mean" {
            v.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = 0.01 * i as f32);
        }
        if p.name == "moving_variance" {
            v.iter_mut()
                .enumerate()
                .for_each(|(i, x)| *x = 1.0 + 0.1 * i as f32);
        }
        Ok(v)
    })
    .unwrap()
}

fn images(n: usize, seed: u64) -> (Vec<f32>, Vec<u32>) {
    let mut rng = Rng(seed);
    let mut x = Vec::with_capacity(n * 192);
    let mut labels = Vec::with_capacity(n);
    for i in 0..n {
        let label = (i % 3) as u32;
        for p in 0..64 {
            for c in 0..3 {
                let lit = c as u32 == label && p % 2 == 0;
                x.push(if lit { 1.0 } else { 0.0 } + (rng.next_u64() % 100) as f32 / 400.0);
            }
        }
        labels.push(label);
    }
    (x, labels)
}

fn values(m: &Model, layer: &str) -> Vec<Vec<f32>> {
    let i = m.spec.layers.iter().position(|l| l.name == layer).unwrap();
    m.keras_values().unwrap()[i].clone()
}

fn max_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_top_on_cached_activations_computes_what_the_whole_computes() {
    let net = network();
    let (x, _) = images(6, 1);
    let acts = net
        .truncated("relu1")
        .unwrap()
        .predict(x.clone(), &[6, 8, 8, 3])
        .unwrap()
        .0;
    let top = transfer::sub_model(&net, "relu1", "pool", "top", true).unwrap();
    assert_eq!(top.input_shapes(), vec![vec![8, 8, 4]]);
    let via_top = top.predict(acts, &[6, 8, 8, 4]).unwrap().0;
    let whole = net
        .truncated("pool")
        .unwrap()
        .predict(x, &[6, 8, 8, 3])
        .unwrap()
        .0;
    assert!(
        max_diff(&via_top, &whole) < 1e-5,
        "{}",
        max_diff(&via_top, &whole)
    );
    // Only the layers after the cut, with its BatchNormalization frozen.
    let names: Vec<&str> = top.spec.layers.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, ["relu1", "c2", "bn2", "relu2", "sum", "pool"]);
    assert_eq!(
        top.count_trainable(),
        3 * 3 * 4 * 4,
        "only c2's kernel trains"
    );
}

#[test]
fn a_cut_that_a_later_layer_reads_across_is_refused() {
    let net = network();
    // `sum` reads relu1 as well as relu2: cut at c2, relu1 would be left outside.
    let err = transfer::sub_model(&net, "c2", "pool", "top", true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("'sum' reads 'relu1'"), "{err}");
    let err = transfer::sub_model(&net, "pool", "c2", "top", true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not come after"), "{err}");
    let err = transfer::sub_model(&net, "nope", "pool", "top", true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("no layer 'nope'"), "{err}");
}

#[test]
fn fine_tuning_moves_the_unfrozen_weights_only_and_keeps_batch_norm_statistics() {
    let net = network();
    let (x, labels) = images(24, 2);
    let acts = net
        .truncated("relu1")
        .unwrap()
        .predict(x.clone(), &[24, 8, 8, 3])
        .unwrap()
        .0;
    let top = transfer::sub_model(&net, "relu1", "pool", "top", true).unwrap();
    let mut head = transfer::new_head(4, 3, None, 7, &default_device()).unwrap();
    let mut tuned = transfer::join(&top, "pool", &head, "tuned").unwrap();
    let data = Dataset {
        sample_shape: vec![8, 8, 4],
        samples: Samples::F32(acts.clone()),
        labels,
        classes: vec!["a".into(), "b".into(), "c".into()],
        skipped: vec![],
    };
    let cfg = FitConfig {
        epochs: 3,
        batch_size: 8,
        shuffle: true,
        seed: 3,
        optimizer: OptimizerConfig::Adam {
            learning_rate: 1e-2,
            beta_1: 0.9,
            beta_2: 0.999,
            epsilon: 1e-7,
        },
        loss: Loss::CategoricalCrossentropy,
    };
    block_on(train::fit(&mut tuned, &data, None, &cfg, &mut Silent)).unwrap();
    assert!(
        max_diff(&values(&tuned, "c2")[0], &values(&net, "c2")[0]) > 1e-4,
        "c2 trained"
    );
    assert!(
        max_diff(
            &values(&tuned, "head_predictions")[0],
            &values(&head, "head_predictions")[0]
        ) > 1e-4,
        "the head trained"
    );
    // bn2: gamma, beta and the moving statistics exactly as they were.
    for (a, b) in values(&tuned, "bn2").iter().zip(values(&net, "bn2")) {
        assert_eq!(a, &b, "bn2 changed while frozen");
    }
    // Written back: the layers before the cut as they were, the top and head as trained; the
    // whole predicts on images what the tuned part predicts on their activations.
    head = head.with_variables_of(&tuned).unwrap().0;
    let full = transfer::join(&net, "pool", &head, "full").unwrap();
    let (full, taken) = full.with_variables_of(&tuned).unwrap();
    assert_eq!(taken, 3, "c2, bn2 and head_predictions");
    assert_eq!(values(&full, "c1"), values(&net, "c1"));
    assert_eq!(values(&full, "bn1"), values(&net, "bn1"));
    assert_eq!(values(&full, "c2"), values(&tuned, "c2"));
    let a = full.predict(x, &[24, 8, 8, 3]).unwrap().0;
    let b = tuned.predict(acts, &[24, 8, 8, 4]).unwrap().0;
    assert!(max_diff(&a, &b) < 1e-5, "{}", max_diff(&a, &b));
}

#[test]
fn variables_of_another_shape_are_refused() {
    let net = network();
    let other = transfer::new_head(4, 5, None, 1, &default_device()).unwrap();
    let head = transfer::new_head(4, 3, None, 1, &default_device()).unwrap();
    let err = head.with_variables_of(&other).unwrap_err().to_string();
    assert!(err.contains("head_predictions"), "{err}");
    // No shared names: nothing taken.
    assert_eq!(net.with_variables_of(&head).unwrap().1, 0);
}

#[test]
fn the_head_of_a_classifier_is_found() {
    let net = network();
    assert_eq!(transfer::head_cut(&net).as_deref(), Some("pool"));
    let head = transfer::new_head(4, 3, Some(8), 1, &default_device()).unwrap();
    let joined = transfer::join(&net, "pool", &head, "joined").unwrap();
    assert_eq!(transfer::head_cut(&joined).as_deref(), Some("pool"));
}

#[test]
fn efficientnet_blocks_are_cut_where_they_begin() {
    for v in efficientnet::VARIANTS {
        let spec = parse_model(&efficientnet::structure_of(v, 10)).unwrap();
        let n = v.blocks.len();
        let last = n - 1;
        assert_eq!(
            efficientnet::top_blocks_cut(&spec, 1).unwrap(),
            format!("block{}_add", last - 1),
            "{}",
            v.name
        );
        assert_eq!(efficientnet::top_blocks_cut(&spec, n).unwrap(), "stem_relu");
        for bad in [0, n + 1] {
            assert!(efficientnet::top_blocks_cut(&spec, bad).is_err());
        }
        // Every cut is a layer of the network, after which the blocks are a model of their own.
        for k in 1..=n {
            let cut = efficientnet::top_blocks_cut(&spec, k).unwrap();
            assert!(spec.layers.iter().any(|l| l.name == cut), "{cut}");
        }
    }
    let lite0 = parse_model(&efficientnet::structure(10)).unwrap();
    assert_eq!(
        efficientnet::top_blocks_cut(&lite0, 4).unwrap(),
        "block11_project_bn",
        "the first block of a stage has no residual sum"
    );
    let err = efficientnet::top_blocks_cut(&network().spec, 1)
        .unwrap_err()
        .to_string();
    assert!(err.contains("not an EfficientNet-Lite"), "{err}");
}
