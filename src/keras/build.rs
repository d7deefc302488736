//! Writing Keras 3 structure JSON for models Glimpse creates (the course's CIFAR-10 CNN, new
//! heads), in the shape `keras.models.model_from_json` reads.

use serde_json::{json, Value};

fn layer(class: &str, config: Value) -> Value {
    json!({"module": "keras.layers", "class_name": class, "config": config, "registered_name": null})
}

/// A Keras 3 `Sequential` structure from layer entries (the first an `InputLayer`).
pub fn sequential(name: &str, layers: Vec<Value>) -> String {
    let v = json!({
        "module": "keras",
        "class_name": "Sequential",
        "config": {"name": name, "trainable": true, "layers": layers},
        "registered_name": null
    });
    serde_json::to_string(&v).expect("JSON values serialize")
}

/// An `InputLayer` of `shape` (without batch).
pub fn input(name: &str, shape: &[usize]) -> Value {
    let mut b: Vec<Value> = vec![Value::Null];
    b.extend(shape.iter().map(|&d| json!(d)));
    layer(
        "InputLayer",
        json!({"batch_shape": b, "dtype": "float32", "sparse": false, "name": name}),
    )
}

/// A `Conv2D`.
pub fn conv2d(name: &str, filters: usize, kernel: usize, padding: &str, activation: &str) -> Value {
    layer(
        "Conv2D",
        json!({"name": name, "trainable": true, "filters": filters, "kernel_size": [kernel, kernel],
               "strides": [1, 1], "padding": padding, "data_format": "channels_last",
               "dilation_rate": [1, 1], "groups": 1, "activation": activation, "use_bias": true}),
    )
}

/// A `MaxPooling2D`.
pub fn max_pool(name: &str, size: usize) -> Value {
    layer(
        "MaxPooling2D",
        json!({"name": name, "trainable": true, "pool_size": [size, size], "strides": [size, size],
               "padding": "valid", "data_format": "channels_last"}),
    )
}

/// A `Dropout`.
pub fn dropout(name: &str, rate: f64) -> Value {
    layer(
        "Dropout",
        json!({"name": name, "trainable": true, "rate": rate}),
    )
}

/// A `Flatten`.
pub fn flatten(name: &str) -> Value {
    layer(
        "Flatten",
        json!({"name": name, "trainable": true, "data_format": "channels_last"}),
    )
}

/// A `Dense`.
pub fn dense(name: &str, units: usize, activation: &str) -> Value {
    layer(
        "Dense",
        json!({"name": name, "trainable": true, "units": units, "activation": activation, "use_bias": true}),
    )
}

/// The course's CIFAR-10 CNN for `input` images and `classes` classes: Conv 32 same, Conv 32,
/// MaxPool, Dropout .25, Conv 64 same, Conv 64, MaxPool, Dropout .25, Flatten, Dense 512 relu,
/// Dropout .5, Dense softmax.
pub fn course_cnn(input_shape: &[usize], classes: usize) -> String {
    sequential(
        "sequential",
        vec![
            input("input_layer", input_shape),
            conv2d("conv2d", 32, 3, "same", "relu"),
            conv2d("conv2d_1", 32, 3, "valid", "relu"),
            max_pool("max_pooling2d", 2),
            dropout("dropout", 0.25),
            conv2d("conv2d_2", 64, 3, "same", "relu"),
            conv2d("conv2d_3", 64, 3, "valid", "relu"),
            max_pool("max_pooling2d_1", 2),
            dropout("dropout_1", 0.25),
            flatten("flatten"),
            dense("dense", 512, "relu"),
            dropout("dropout_2", 0.5),
            dense("dense_1", classes, "softmax"),
        ],
    )
}

/// A layer entry of a Keras 3 Functional model, called on the outputs of `inputs` (layer
/// names; each layer's first call and output).
pub fn node(mut layer: Value, inputs: &[&str]) -> Value {
    let args: Vec<Value> = inputs
        .iter()
        .map(|n| json!({"class_name": "__keras_tensor__", "config": {"dtype": "float32", "keras_history": [n, 0, 0]}}))
        .collect();
    let name = layer["config"]["name"].clone();
    let args = if args.len() == 1 {
        args
    } else {
        vec![Value::Array(args)]
    };
    layer["name"] = name;
    layer["inbound_nodes"] = if inputs.is_empty() {
        json!([])
    } else {
        json!([{"args": args, "kwargs": {}}])
    };
    layer
}

/// A Keras 3 `Functional` structure: `layers` made with [`node`], one input and one output.
pub fn functional(name: &str, layers: Vec<Value>, input: &str, output: &str) -> String {
    let v = json!({
        "module": "keras.src.models.functional",
        "class_name": "Functional",
        "config": {"name": name, "trainable": true, "layers": layers,
                   "input_layers": [input, 0, 0], "output_layers": [output, 0, 0]},
        "registered_name": "Functional"
    });
    serde_json::to_string(&v).expect("JSON values serialize")
}

/// A `DepthwiseConv2D` without bias.
pub fn depthwise(name: &str, kernel: usize, stride: usize, padding: &str) -> Value {
    layer(
        "DepthwiseConv2D",
        json!({"name": name, "trainable": true, "kernel_size": [kernel, kernel], "strides": [stride, stride],
               "padding": padding, "data_format": "channels_last", "dilation_rate": [1, 1],
               "depth_multiplier": 1, "activation": "linear", "use_bias": false}),
    )
}

/// A `Conv2D` with strides and no bias.
pub fn conv2d_nobias(
    name: &str,
    filters: usize,
    kernel: usize,
    stride: usize,
    padding: &str,
) -> Value {
    layer(
        "Conv2D",
        json!({"name": name, "trainable": true, "filters": filters, "kernel_size": [kernel, kernel],
               "strides": [stride, stride], "padding": padding, "data_format": "channels_last",
               "dilation_rate": [1, 1], "groups": 1, "activation": "linear", "use_bias": false}),
    )
}

/// A `BatchNormalization` over channels.
pub fn batch_norm(name: &str, epsilon: f64, momentum: f64) -> Value {
    layer(
        "BatchNormalization",
        json!({"name": name, "trainable": true, "axis": -1, "epsilon": epsilon, "momentum": momentum,
               "center": true, "scale": true}),
    )
}

/// An `Activation`.
pub fn activation(name: &str, function: &str) -> Value {
    layer(
        "Activation",
        json!({"name": name, "trainable": true, "activation": function}),
    )
}

/// An `Add`.
pub fn add(name: &str) -> Value {
    layer("Add", json!({"name": name, "trainable": true}))
}

/// A `Rescaling`.
pub fn rescaling(name: &str, scale: f64, offset: f64) -> Value {
    layer(
        "Rescaling",
        json!({"name": name, "trainable": true, "scale": scale, "offset": offset}),
    )
}

/// A `GlobalAveragePooling2D`.
pub fn global_avg_pool(name: &str) -> Value {
    layer(
        "GlobalAveragePooling2D",
        json!({"name": name, "trainable": true, "data_format": "channels_last", "keepdims": false}),
    )
}
