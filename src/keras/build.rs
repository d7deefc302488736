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
