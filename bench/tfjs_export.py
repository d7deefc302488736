"""Writes a Keras 3 model (structure JSON + .weights.h5) in TensorFlow.js' *layers* format, so
TF.js computes the same network with the same weights (used by the browser benchmark).

    python bench/tfjs_export.py ZOO_DIR OUT_DIR                  # ZOO_DIR/model.json + model.weights.h5
    python bench/tfjs_export.py STRUCTURE.json WEIGHTS.h5 OUT_DIR
    ... --float16      kernels stored as float16 (TF.js' own weight quantization, dequantized to
                       float32 at load: its smallest download that computes in float32), vectors
                       kept float32, as Glimpse's model.f16.weights.h5

OUT_DIR gets model.json ({format: "layers-model", modelTopology, weightsManifest}) and
group1-shard*.bin (little-endian float32, 4 MiB shards). The topology is written the way Keras 2
serialised a functional model, which is what tf.loadLayersModel (TF.js 4.x) reads:
class_name "Model", inbound_nodes as [[[layer, node, tensor, {}], ...]], dtype policies as plain
"float32", InputLayer with batch_input_shape, weight names "<layer>/kernel" and so on.
Sequential models are written as the equivalent functional chain. Rescaling is kept: TF.js 4.x
has that layer (tf.layers.rescaling). Layers TF.js cannot express raise an error.

Needs `pip install h5py numpy` (not tensorflowjs).
"""

import gzip
import json
import os
import re
import sys

import h5py
import numpy as np

SHARD_BYTES = 4 * 1024 * 1024


def snake(name):
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def read_json(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as f:
        return json.load(f)


def keras3_weights(layers, h5_path):
    """Each layer's variables from a Keras 3 .weights.h5 (layers/<snake class>[_n]/vars/i, numbered
    in the order the layers appear)."""
    h5 = h5py.File(h5_path, "r")
    seen, out = {}, {}
    for layer in layers:
        base = snake(layer["class_name"])
        n = seen.get(base, 0)
        seen[base] = n + 1
        key = base if n == 0 else f"{base}_{n}"
        group = h5["layers"].get(key) if "layers" in h5 else None
        vars_ = group.get("vars") if group is not None else None
        out[layer_name(layer)] = [np.asarray(vars_[str(i)]) for i in range(len(vars_))] if vars_ else []
    return out


def layer_name(layer):
    return layer.get("name") or layer["config"]["name"]


def inbound(layer):
    """Keras 3 inbound_nodes -> Keras 2's [[[name, node, tensor, kwargs], ...], ...]."""
    nodes = []
    for node in layer.get("inbound_nodes", []):
        if isinstance(node, list):  # already Keras 2 style
            nodes.append(node)
            continue
        args = node["args"]
        tensors = args[0] if len(args) == 1 and isinstance(args[0], list) else args
        if node.get("kwargs"):
            raise SystemExit(f"{layer_name(layer)}: call arguments {node['kwargs']} have no TF.js form")
        nodes.append([[*t["config"]["keras_history"], {}] for t in tensors])
    return nodes


def pick(cfg, *keys):
    return {k: cfg[k] for k in keys if k in cfg}


def activation(cfg):
    a = cfg.get("activation", "linear")
    if isinstance(a, dict):
        a = a.get("config", {}).get("name") or a.get("class_name")
    return a


def tfjs_layer(layer, weights):
    """One layer: (TF.js layer config dict, [(weight name, array), ...])."""
    cls, c, name = layer["class_name"], layer["config"], layer_name(layer)
    base = {"name": name, "trainable": c.get("trainable", True), "dtype": "float32"}
    w = weights.get(name, [])
    named = []
    if cls == "InputLayer":
        shape = c.get("batch_shape") or c.get("batch_input_shape")
        cfg = {"batch_input_shape": shape, "dtype": "float32", "sparse": False, "name": name}
    elif cls == "Rescaling":
        if not np.isscalar(c["scale"]) or not np.isscalar(c.get("offset", 0.0)):
            raise SystemExit(f"{name}: TF.js' Rescaling takes scalar scale/offset only")
        cfg = {**base, "scale": float(c["scale"]), "offset": float(c.get("offset", 0.0))}
    elif cls == "Conv2D":
        if c.get("groups", 1) != 1:
            raise SystemExit(f"{name}: grouped convolutions have no TF.js layer")
        cfg = {**base, **pick(c, "filters", "kernel_size", "strides", "padding", "data_format",
                               "dilation_rate", "use_bias"), "activation": activation(c)}
        named = list(zip(["kernel", "bias"], w))
    elif cls == "DepthwiseConv2D":
        cfg = {**base, **pick(c, "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                               "use_bias"), "depth_multiplier": c.get("depth_multiplier", 1),
               "activation": activation(c)}
        named = list(zip(["depthwise_kernel", "bias"], w))
    elif cls == "BatchNormalization":
        cfg = {**base, **pick(c, "axis", "momentum", "epsilon", "center", "scale")}
        names = (["gamma"] if c.get("scale", True) else []) + (["beta"] if c.get("center", True) else [])
        named = list(zip(names + ["moving_mean", "moving_variance"], w))
    elif cls == "Activation":
        cfg = {**base, "activation": activation(c)}
    elif cls == "Dense":
        cfg = {**base, **pick(c, "units", "use_bias"), "activation": activation(c)}
        named = list(zip(["kernel", "bias"], w))
    elif cls in ("MaxPooling2D", "AveragePooling2D"):
        cfg = {**base, **pick(c, "pool_size", "strides", "padding", "data_format")}
    elif cls in ("GlobalAveragePooling2D", "GlobalMaxPooling2D"):
        if c.get("keepdims"):
            raise SystemExit(f"{name}: TF.js' global pooling has no keepdims")
        cfg = {**base, **pick(c, "data_format")}
    elif cls == "Dropout":
        cfg = {**base, "rate": c["rate"]}
    elif cls == "Flatten":
        cfg = {**base, **pick(c, "data_format")}
    elif cls in ("Add", "Multiply", "Concatenate", "Average", "Maximum"):
        cfg = {**base, **pick(c, "axis")}
    elif cls == "ReLU":
        cfg = {**base, **pick(c, "max_value", "negative_slope", "threshold")}
    elif cls == "ZeroPadding2D":
        cfg = {**base, **pick(c, "padding", "data_format")}
    else:
        raise SystemExit(f"{name}: no TF.js mapping for {cls}")
    if len(named) != len(w):
        raise SystemExit(f"{name}: {len(w)} variables in the weights file, expected {len(named)}")
    return cfg, [(f"{name}/{k}", v) for k, v in named]


def functional_layers(model):
    """The model's layers with Keras 3 inbound nodes; a Sequential becomes the functional chain."""
    cfg = model["config"]
    if model["class_name"] != "Sequential":
        return cfg["layers"], cfg["input_layers"], cfg["output_layers"]
    layers = [dict(l) for l in cfg["layers"]]
    if layers[0]["class_name"] != "InputLayer":
        shape = layers[0].get("build_config", {}).get("input_shape") or layers[0]["config"].get("batch_input_shape")
        layers.insert(0, {"class_name": "InputLayer", "config": {"batch_shape": shape, "name": "input"}})
    prev = None
    for l in layers:
        l["name"] = layer_name(l)
        l["inbound_nodes"] = [] if prev is None else [[[prev, 0, 0, {}]]]
        prev = l["name"]
    return layers, [[layers[0]["name"], 0, 0]], [[prev, 0, 0]]


def export_tfjs(structure_path, weights_path, out_dir, float16=False):
    model = read_json(structure_path)
    layers, inputs, outputs = functional_layers(model)
    inputs = [inputs] if inputs and not isinstance(inputs[0], list) else inputs
    outputs = [outputs] if outputs and not isinstance(outputs[0], list) else outputs
    weights = keras3_weights(layers, weights_path)
    out_layers, all_weights = [], []
    for layer in layers:
        cfg, named = tfjs_layer(layer, weights)
        out_layers.append({"class_name": layer["class_name"], "name": cfg["name"], "config": cfg,
                           "inbound_nodes": inbound(layer)})
        all_weights += named
    topology = {
        "class_name": "Model",
        "config": {"name": model["config"].get("name", "model"), "layers": out_layers,
                   "input_layers": inputs, "output_layers": outputs},
        "keras_version": "tfjs-layers 4.x (bench/tfjs_export.py)",
        "backend": "tensorflow",
    }
    os.makedirs(out_dir, exist_ok=True)
    half = lambda a: float16 and a.ndim >= 2
    blob = b"".join(np.ascontiguousarray(a, dtype="<f2" if half(a) else "<f4").tobytes() for _, a in all_weights)
    count = max(1, -(-len(blob) // SHARD_BYTES))
    paths = []
    for i in range(count):
        path = f"group1-shard{i + 1}of{count}.bin"
        with open(os.path.join(out_dir, path), "wb") as f:
            f.write(blob[i * SHARD_BYTES:(i + 1) * SHARD_BYTES])
        paths.append(path)
    def entry(n, a):
        e = {"name": n, "shape": list(a.shape), "dtype": "float32"}
        if half(a):
            e["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        return e
    manifest = [{"paths": paths, "weights": [entry(n, a) for n, a in all_weights]}]
    with open(os.path.join(out_dir, "model.json"), "w") as f:
        json.dump({"format": "layers-model", "generatedBy": "glimpse bench/tfjs_export.py",
                   "convertedBy": None, "modelTopology": topology, "weightsManifest": manifest}, f)
    return len(all_weights), len(blob)


if __name__ == "__main__":
    a = [x for x in sys.argv[1:] if x != "--float16"]
    if len(a) == 2:
        structure, weights, out = os.path.join(a[0], "model.json"), os.path.join(a[0], "model.weights.h5"), a[1]
    elif len(a) == 3:
        structure, weights, out = a
    else:
        raise SystemExit(__doc__)
    n, size = export_tfjs(structure, weights, out, float16="--float16" in sys.argv)
    print(f"wrote {out}/model.json ({n} weights, {size:,} bytes)")
