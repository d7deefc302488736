"""EfficientNet-Lite0 images/second: `glimpse classify` / `glimpse features` against
onnxruntime's CPU runtime on the same network, same photos, same preprocessing, in one run.

    python bench/zoo_vs_onnxruntime.py [--images DIR] [--limit N] [--repeat R] [--json FILE]

DIR defaults to ../shared/data/hymenoptera/train, or to the test fixture photos when that is
absent (a fresh machine); each side runs R times (default 5), interleaved, and the median counts;
--json also writes the rows for bench/browser/run.mjs.

The ONNX file is written by this script from Glimpse's converted Keras model
($GLIMPSE_ZOO_DIR/efficientnet-lite0/model.json + model.weights.h5), layer by layer, so both
runtimes compute the same network with the same weights (checked before timing).
Needs `pip install onnx onnxruntime h5py pillow numpy`.
"""

import argparse
import glob
import json
import os
import statistics
import subprocess
import tempfile
import time

import numpy as np
import onnxruntime as ort

from onnx_export import export_onnx as export_from
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap = argparse.ArgumentParser()
ap.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "data", "hymenoptera", "train"))
ap.add_argument("--limit", type=int, default=160)
ap.add_argument("--repeat", type=int, default=5, help="interleaved runs per side (median)")
ap.add_argument("--json", help="also write the results here")
ap.add_argument("--glimpse", default=os.path.join(
    os.environ.get("GLIMPSE_TARGET_DIR", "/var/tmp/glimpse-target"), "release", "glimpse"))
args = ap.parse_args()
zoo = os.path.join(os.environ.get("GLIMPSE_ZOO_DIR", os.path.expanduser("~/.cache/glimpse")), "efficientnet-lite0")


def preprocess(path):
    img = Image.open(path).convert("RGB")
    w, h = img.size
    side = int(224 / 256 * min(w, h))
    x0, y0 = (w - side + 1) // 2, (h - side + 1) // 2
    img = img.crop((x0, y0, x0 + side, y0 + side)).resize((224, 224), Image.BICUBIC)
    return np.asarray(img, dtype=np.float32).transpose(2, 0, 1)


if not os.path.isdir(args.images):
    args.images = os.path.join(ROOT, "tests", "fixtures", "efficientnet")
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
    export_from(zoo, onnx_path, features)
    def run_ort():
        # onnxruntime: session + preprocessing + batches of 16
        sess = ort.InferenceSession(onnx_path, providers=["CPUExecutionProvider"])
        outs = []
        for i in range(0, len(files), 16):
            x = np.stack([preprocess(f) for f in files[i:i + 16]])
            outs.append(sess.run(None, {"image": x})[0])
        return np.concatenate(outs)

    def run_glimpse():
        # Glimpse: the CLI end to end (model load, decode, preprocessing, its own batches)
        if features:
            npy = os.path.join(work, "f.npy")
            subprocess.run([args.glimpse, "features", listdir, "--out", npy], check=True,
                           capture_output=True)
            return np.load(npy)
        r = subprocess.run([args.glimpse, "classify", listdir, "--json", "--top", "1"],
                           check=True, capture_output=True, text=True)
        return [json.loads(line)["top"][0]["index"] for line in r.stdout.splitlines()]

    # Interleaved repeats, median of each side: one run each swung the ratio by 0.05-0.1 on
    # this machine.
    ort_times, g_times = [], []
    for _ in range(args.repeat):
        t0 = time.time()
        ort_out = run_ort()
        ort_times.append(time.time() - t0)
        t0 = time.time()
        g_out = run_glimpse()
        g_times.append(time.time() - t0)
    ort_s, g_s = statistics.median(ort_times), statistics.median(g_times)
    if features:
        agree = f"max |feature diff| {np.abs(g_out - ort_out).max():.2e}"
    else:
        agree = f"top-1 agreement {np.mean(np.array(g_out) == ort_out.argmax(1)):.3f}"
    rows.append((task, len(files) / g_s, len(files) / ort_s, agree))

print("| workload | Glimpse img/s | onnxruntime img/s | ratio (Glimpse time / ORT time) | check |")
print("|---|---|---|---|---|")
for task, g, o, agree in rows:
    print(f"| {task} | {g:.1f} | {o:.1f} | {o / g:.2f} | {agree} |")
if args.json:
    with open(args.json, "w") as f:
        json.dump({"photos": len(files), "images": args.images, "onnxruntime": ort.__version__,
                   "cores": os.cpu_count(), "repeat": args.repeat,
                   "rows": [{"workload": t, "glimpse_img_s": g, "onnxruntime_img_s": o,
                             "ratio": o / g, "check": a} for t, g, o, a in rows]}, f, indent=1)
