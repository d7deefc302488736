"""Writes EfficientNet-Lite0 as ONNX from Glimpse's converted Keras model (model.json +
model.weights.h5 in the zoo folder), layer by layer, so peers compute the same network with the
same weights. Used by zoo_vs_onnxruntime.py and the browser benchmark.

    python bench/onnx_export.py ZOO_DIR OUT.onnx [--features]

Needs `pip install onnx h5py numpy`.
"""

import json
import os
import sys

import h5py
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def snake(name):
    import re
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def export_onnx(zoo, path, features=False):
    cfg = json.load(open(os.path.join(zoo, "model.json")))["config"]
    h5 = h5py.File(os.path.join(zoo, "model.weights.h5"))
    seen, weights = {}, {}
    for layer in cfg["layers"]:
        base = snake(layer["class_name"])
        n = seen.get(base, 0)
        seen[base] = n + 1
        key = base if n == 0 else f"{base}_{n}"
        vars_ = h5["layers"][key]["vars"]
        weights[layer["name"]] = [np.asarray(vars_[str(i)]) for i in range(len(vars_))]
    nodes, inits = [], []

    def const(name, arr):
        inits.append(numpy_helper.from_array(np.asarray(arr, dtype=np.float32), name))
        return name

    size = {"image": 224}
    out_name = None
    for layer in cfg["layers"]:
        name, cls, c = layer["name"], layer["class_name"], layer["config"]
        if cls == "InputLayer":
            continue
        ins = [a["config"]["keras_history"][0] for a in
               (layer["inbound_nodes"][0]["args"][0] if isinstance(layer["inbound_nodes"][0]["args"][0], list)
                else layer["inbound_nodes"][0]["args"])]
        w = weights[name]
        s_in = size[ins[0]]
        if cls == "Rescaling":
            nodes.append(helper.make_node("Mul", [ins[0], const(name + "_s", c["scale"])], [name + "_m"]))
            nodes.append(helper.make_node("Add", [name + "_m", const(name + "_o", c["offset"])], [name]))
        elif cls in ("Conv2D", "DepthwiseConv2D"):
            k, st = c["kernel_size"][0], c["strides"][0]
            out = -(-s_in // st)
            total = max((out - 1) * st + k - s_in, 0)
            pads = [total // 2, total // 2, total - total // 2, total - total // 2]
            if cls == "Conv2D":
                kern, group = w[0].transpose(3, 2, 0, 1), 1
            else:
                kern, group = w[0].transpose(2, 3, 0, 1), w[0].shape[2]
            nodes.append(helper.make_node("Conv", [ins[0], const(name + "_w", kern)], [name], kernel_shape=[k, k],
                                          strides=[st, st], pads=pads, group=group))
            s_in = out
        elif cls == "BatchNormalization":
            g, b, m, v = w
            nodes.append(helper.make_node("BatchNormalization", [ins[0], const(name + "_g", g), const(name + "_b", b),
                                          const(name + "_m", m), const(name + "_v", v)], [name], epsilon=c["epsilon"]))
        elif cls == "Activation" and c["activation"] == "relu6":
            nodes.append(helper.make_node("Clip", [ins[0], const(name + "_lo", 0.0), const(name + "_hi", 6.0)], [name]))
        elif cls == "Activation" and c["activation"] == "softmax":
            nodes.append(helper.make_node("Softmax", [ins[0]], [name], axis=1))
        elif cls == "Add":
            nodes.append(helper.make_node("Add", ins, [name]))
        elif cls == "GlobalAveragePooling2D":
            nodes.append(helper.make_node("GlobalAveragePool", [ins[0]], [name + "_p"]))
            nodes.append(helper.make_node("Flatten", [name + "_p"], [name]))
        elif cls == "Dropout":
            nodes.append(helper.make_node("Identity", [ins[0]], [name]))
        elif cls == "Dense":
            nodes.append(helper.make_node("Gemm", [ins[0], const(name + "_w", w[0]), const(name + "_b", w[1])], [name]))
        else:
            raise SystemExit(f"no ONNX mapping for {cls}")
        size[name] = s_in
        out_name = name
        if features and name == "avg_pool":
            break
    graph = helper.make_graph(nodes, "efficientnet_lite0",
                              [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["n", 3, 224, 224])],
                              [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)], inits)
    # IR version 8 (ONNX 1.10+): readable by every current runtime, browsers included.
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), path)




if __name__ == "__main__":
    export_onnx(sys.argv[1], sys.argv[2], "--features" in sys.argv[3:])
    print(f"wrote {sys.argv[2]}")
