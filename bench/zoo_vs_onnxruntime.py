"""EfficientNet-Lite0 images/second: `glimpse classify` / `glimpse features` against
onnxruntime's CPU runtime on the same network, same photos, same preprocessing, in one run.

    python bench/zoo_vs_onnxruntime.py [--images DIR] [--limit N]

The ONNX file is written by this script from Glimpse's converted Keras model
($GLIMPSE_ZOO_DIR/efficientnet-lite0/model.json + model.weights.h5), layer by layer, so both
runtimes compute the same network with the same weights (checked before timing).
Needs `pip install onnx onnxruntime h5py pillow numpy`.
"""

import argparse
import glob
import json
import os
import subprocess
import tempfile
import time

import h5py
import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "data", "hymenoptera", "train"))
ap.add_argument("--limit", type=int, default=160)
ap.add_argument("--glimpse", default=os.path.join(
    os.environ.get("GLIMPSE_TARGET_DIR", "/var/tmp/glimpse-target"), "release", "glimpse"))
args = ap.parse_args()
zoo = os.path.join(os.environ.get("GLIMPSE_ZOO_DIR", os.path.expanduser("~/.cache/glimpse")), "efficientnet-lite0")


def snake(name):
    import re
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()


def export_onnx(path, features=False):
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
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def preprocess(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = int(224 / 256 * min(w, h))
    x0, y0 = (w - side + 1) // 2, (h - side + 1) // 2
    img = img.crop((x0, y0, x0 + side, y0 + side)).resize((224, 224), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1)


files = sorted(glob.glob(os.path.join(args.images, "**", "*.jpg"), recursive=True))[: args.limit]
work = tempfile.mkdtemp(prefix="glimpse-ort-")
listdir = os.path.join(work, "images")
os.makedirs(listdir)
for i, f in enumerate(files):
    os.symlink(f, os.path.join(listdir, f"{i:05d}.jpg"))
print(f"{len(files)} photos from {args.images}; onnxruntime {ort.__version__} CPU, "
      f"{os.cpu_count()} cores")
rows = []
for task, features in (("classify", False), ("features", True)):
    onnx_path = os.path.join(work, f"{task}.onnx")
    export_onnx(onnx_path, features)
    # onnxruntime: session + preprocessing + batches of 16
    t0 = time.time()
    sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
    outs = []
    for i in range(0, len(files), 16):
        x = np.stack([preprocess(f) for f in files[i:i + 16]])
        outs.append(sess.run(None, {"image": x})[0])
    ort_s = time.time() - t0
    ort_out = np.concatenate(outs)
    # Glimpse: the CLI end to end (model load, decode, preprocessing, batches of 16)
    t0 = time.time()
    if features:
        npy = os.path.join(work, "f.npy")
        subprocess.run([args.glimpse, "features", listdir, "--out", npy], check=True, capture_output=True)
        g_out = np.load(npy)
    else:
        r = subprocess.run([args.glimpse, "classify", listdir, "--json", "--top", "1"], check=True,
                           capture_output=True, text=True)
        g_out = [json.loads(line)["top"][0]["index"] for line in r.stdout.splitlines()]
    g_s = time.time() - t0
    if features:
        agree = f"max |feature diff| {np.abs(g_out - ort_out).max():.2e}"
    else:
        agree = f"top-1 agreement {np.mean(np.array(g_out) == ort_out.argmax(1)):.3f}"
    rows.append((task, len(files) / g_s, len(files) / ort_s, agree))

print("| workload | Glimpse img/s | onnxruntime img/s | ratio (Glimpse time / ORT time) | check |")
print("|---|---|---|---|---|")
for task, g, o, agree in rows:
    print(f"| {task} | {g:.1f} | {o:.1f} | {o / g:.2f} | {agree} |")
