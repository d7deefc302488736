"""Real Keras reads what Glimpse writes, and computes what Glimpse computes.

    KERAS_BACKEND=jax python tests/keras/exports.py GLIMPSE_BIN

1. `glimpse fine-tune` on two generated classes, with augmentation and the last block
   fine-tuned: Keras 3 builds the exported structure (augmentation layers inside), loads its
   weights and predicts what `glimpse predict` predicts.
2. `glimpse convert` of a Teachable Machine-style TF.js model to one .keras file:
   `keras.saving.load_model` opens it and predicts what TF.js predicted (the fixture's output).
Exits non-zero on the first disagreement. scripts/keras-check runs it in a virtual environment.
"""
import os
import subprocess
import sys
import tempfile

import keras
import numpy as np
from PIL import Image

GLIMPSE = sys.argv[1]
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOL = 1e-4


def run(*args):
    out = subprocess.run([GLIMPSE, *args], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"glimpse {' '.join(args)} failed:\n{out.stderr}")
    return out.stdout


def glimpse_predict(structure, weights, x, tmp):
    xs = os.path.join(tmp, "x.npy")
    ys = os.path.join(tmp, "y.npy")
    np.save(xs, x)
    run("predict", structure, "--weights", weights, "--save-output", ys, xs)
    return np.load(ys)


def check(name, got, want):
    d = float(np.max(np.abs(got - want)))
    print(f"{'ok  ' if d <= TOL else 'FAIL'} {name}: max diff {d:.2e}")
    if not d <= TOL:
        sys.exit(1)


with tempfile.TemporaryDirectory() as tmp:
    # 1. A fine-tuned export.
    data = os.path.join(tmp, "data")
    for cls, kind in [("stripes", 0), ("checks", 1)]:
        os.makedirs(os.path.join(data, cls))
        for i in range(10):
            w, h = 64 + i, 48 + 2 * i
            yy, xx = np.mgrid[0:h, 0:w]
            on = ((xx + i) // 4) % 2 == 0 if kind == 0 else ((xx // 8) + (yy // 8) + i) % 2 == 0
            a, b = ([230, 120, 20], [250, 220, 120]) if kind == 0 else ([20, 60, 200], [200, 230, 250])
            img = np.where(on[..., None], a, b).astype(np.uint8)
            Image.fromarray(img).save(os.path.join(data, cls, f"{i}.png"))
    out = os.path.join(tmp, "tuned")
    run("fine-tune", "--data", data, "--out", out, "--epochs", "3", "--augment", "flip,rotate=0.1",
        "--views", "1", "--unfreeze-blocks", "1", "--fine-tune-epochs", "1")
    structure = os.path.join(out, "model.json")
    weights = os.path.join(out, "model.weights.h5")
    model = keras.models.model_from_json(open(structure).read())
    model.load_weights(weights)
    assert any(l.__class__.__name__ == "RandomFlip" for l in model.layers), "augmentation inside"
    x = np.random.default_rng(0).uniform(0, 255, (2, 224, 224, 3)).astype("float32")
    check("fine-tuned export (head + last block, augmentation inside)",
          glimpse_predict(structure, weights, x, tmp), model.predict(x, verbose=0))

    # 2. A TF.js model converted to .keras.
    fix = os.path.join(REPO, "tests", "fixtures", "tfjs", "teachable_like")
    keras_file = os.path.join(tmp, "tm.keras")
    run("convert", os.path.join(fix, "model.json"), keras_file)
    tm = keras.saving.load_model(keras_file)
    x = np.load(os.path.join(fix, "input.npy"))
    check("Teachable Machine-style TF.js model as .keras, against TF.js",
          tm.predict(x, verbose=0), np.load(os.path.join(fix, "output.npy")))
print("real Keras reads Glimpse's files and agrees")
