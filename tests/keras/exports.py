"""Real Keras reads what Glimpse writes, and computes what Glimpse computes.

    KERAS_BACKEND=jax python tests/keras/exports.py GLIMPSE_BIN

1. `glimpse fine-tune` on two generated classes, with augmentation and the last block
   fine-tuned: Keras 3 builds the exported structure (augmentation layers inside), loads its
   weights and predicts what `glimpse predict` predicts.
2. `glimpse convert` of a Teachable Machine-style TF.js model to one .keras file:
   `keras.saving.load_model` opens it and predicts what TF.js predicted (the fixture's output).
3. The pretrained EfficientNet-Lite0's float16 weights (`model.f16.weights.h5`, what the page
   downloads): Keras' `load_weights` reads them into its float32 variables and predicts what
   `glimpse predict` predicts from the same file; both stay near the float32 weights' output.
4. Every Keras fixture with weights (tf.keras 2 and Keras 3), its structure written by
   Glimpse from the parsed model (`glimpse convert`, the writer tests/keras_write.rs checks):
   `keras.saving.load_model` opens each .keras and predicts what Keras predicted when the
   fixture was made (1e-4, relative above 1); the two tf.keras models Keras 3 would compute
   otherwise (hard_sigmoid, bicubic resizing) are refused with that reason.
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
    keras16 = os.path.join(tmp, "tm16.keras")
    run("convert", os.path.join(fix, "model.json"), keras16, "--float16")
    d = float(np.max(np.abs(keras.saving.load_model(keras16).predict(x, verbose=0) - np.load(os.path.join(fix, "output.npy")))))
    print(f"{'ok  ' if d <= 1e-2 else 'FAIL'} the same as .keras with float16 kernels (convert --float16), against TF.js: max diff {d:.2e}")
    if not d <= 1e-2:
        sys.exit(1)
    # 3. The float16 pretrained weights.
    net = os.path.join(os.environ.get("GLIMPSE_ZOO_DIR", "/var/tmp/glimpse-zoo"), "efficientnet-lite0")
    structure = os.path.join(net, "model.json")
    half = os.path.join(net, "model.f16.weights.h5")
    lite0 = keras.models.model_from_json(open(structure).read())
    lite0.load_weights(half)
    import h5py
    with h5py.File(half) as f:
        kinds = set()
        f.visititems(lambda n, o: kinds.add(str(o.dtype)) if isinstance(o, h5py.Dataset) else None)
    assert "float16" in kinds, f"float16 datasets in {half}: {kinds}"
    photo = np.asarray(Image.open(os.path.join(REPO, "tests", "fixtures", "efficientnet", "chelsea_224.png")).convert("RGB"))
    x = np.stack([photo, photo[:, ::-1]]).astype("float32")
    from_half = lite0.predict(x, verbose=0)
    check("pretrained Lite0 with float16 weights, in Keras against Glimpse",
          glimpse_predict(structure, half, x, tmp), from_half)
    lite0.load_weights(os.path.join(net, "model.weights.h5"))
    from_full = lite0.predict(x, verbose=0)
    d = float(np.max(np.abs(from_half - from_full)))
    same = bool((from_half.argmax(1) == from_full.argmax(1)).all())
    print(f"{'ok  ' if d <= 1e-2 and same else 'FAIL'} float16 against float32 weights in Keras: "
          f"max probability diff {d:.2e}, top-1 {'the same' if same else 'differs'}")
    if not (d <= 1e-2 and same):
        sys.exit(1)
    # 4. Every fixture with weights, written from the parsed spec.
    refused = {("keras2", "dense_acts"): "hard_sigmoid", ("keras2", "preprocessing"): "bicubic"}
    written = 0
    for flavor in ["keras2", "keras3"]:
        root = os.path.join(REPO, "tests", "fixtures", flavor)
        for name in sorted(os.listdir(root)):
            d = os.path.join(root, name)
            meta = os.path.join(d, "meta.json")
            if not os.path.isfile(meta):
                continue
            import json
            m = json.load(open(meta))
            if m["weights"] != "file":
                continue
            src = os.path.join(d, "model.h5") if "model.h5" in m["formats"] else os.path.join(d, m["formats"][0])
            args = [src] if src.endswith((".h5", ".keras")) and not src.endswith("weights.h5") else [os.path.join(d, "model.json"), "--weights", src]
            out_file = os.path.join(tmp, f"{flavor}_{name}.keras")
            if (flavor, name) in refused:
                r = subprocess.run([GLIMPSE, "convert", *args[:1], out_file, *args[1:]], capture_output=True, text=True)
                why = refused[(flavor, name)]
                ok = r.returncode != 0 and why in r.stderr
                print(f"{'ok  ' if ok else 'FAIL'} {flavor}/{name}: refused ({why}, which Keras 3 computes otherwise)")
                if not ok:
                    sys.exit(f"expected a refusal naming {why}: {r.returncode} {r.stderr}")
                continue
            run("convert", args[0], out_file, *args[1:])
            km = keras.saving.load_model(out_file)
            x = np.load(os.path.join(d, "input.npy"))
            y = np.load(os.path.join(d, "output.npy"))
            got = km.predict(x, verbose=0)
            scale = max(1.0, float(np.max(np.abs(y))))
            diff = float(np.max(np.abs(got - y))) / scale
            print(f"{'ok  ' if diff <= TOL else 'FAIL'} {flavor}/{name} written by Glimpse, loaded by Keras 3: max diff {diff:.2e}")
            if not diff <= TOL:
                sys.exit(1)
            written += 1
    assert written >= 10, f"only {written} fixtures written"
print("real Keras reads Glimpse's files and agrees")
