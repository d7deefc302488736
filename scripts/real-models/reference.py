#!/usr/bin/env python3
"""Reference outputs of the real models from their real loaders.

For every model in models.json (already fetched by fetch.py) this writes into
${GLIMPSE_REAL_DIR:-/var/tmp/glimpse-real}/<id>/:
  input.npy   float32 NHWC batch of 3: row 0 the photo, rows 1-2 seeded noise
  output.npy  float32, what the model's own loader predicts for input.npy
  ref.json    loader + version, preprocessing, shapes, top class of the photo

Loaders:
  tf_keras  Keras 2 .h5 files: tf_keras + tensorflow-cpu in a venv
            (${GLIMPSE_TF_PY:-$GLIMPSE_REAL_DIR/venv-tf/bin/python}); `--setup` makes it
  keras3    .keras files: keras 3 with KERAS_BACKEND=jax (${GLIMPSE_K3_PY:-python3})
  tfjs      TF.js layers models: node reference.mjs with @tensorflow/tfjs (pure-JS
            cpu backend) under $GLIMPSE_REAL_DIR/node; `--setup` installs it

Usage:
  reference.py --setup            create the venv + node deps (needs PyPI / npm)
  reference.py [ID ...]           inputs + reference outputs (no ids: all fetched)
Internal: reference.py --inputs ID..., --tfkeras ID..., --keras3 ID...
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REAL = os.environ.get("GLIMPSE_REAL_DIR", "/var/tmp/glimpse-real")
TF_PY = os.environ.get("GLIMPSE_TF_PY", os.path.join(REAL, "venv-tf", "bin", "python"))
K3_PY = os.environ.get("GLIMPSE_K3_PY", sys.executable)
NODE_DIR = os.path.join(REAL, "node")
TFJS_VERSION = "4.22.0"
PHOTO_CANDIDATES = [
    os.environ.get("GLIMPSE_PHOTO", ""),
    os.path.join(HERE, "..", "..", "..", "shared", "data", "hymenoptera", "train", "ants", "0013035.jpg"),
    "/work/shared/data/hymenoptera/train/ants/0013035.jpg",
    os.path.join(HERE, "..", "..", "shared", "data", "hymenoptera", "train", "ants", "0013035.jpg"),
]


def load_models():
    with open(os.path.join(HERE, "models.json")) as f:
        return json.load(f)["models"]


def mdir(m):
    return os.path.join(REAL, m["id"])


# ---------------------------------------------------------------- inputs (PIL + numpy)

def make_inputs(models):
    import numpy as np
    from PIL import Image, ImageOps

    photo = next((p for p in PHOTO_CANDIDATES if p and os.path.isfile(p)), None)
    if photo is None:
        sys.exit("no photo found: set GLIMPSE_PHOTO to a JPEG")
    for m in models:
        p = m["preprocess"]
        h, w = p["size"]
        img = Image.open(photo).convert("RGB" if p["color"] == "rgb" else "L")
        if p["resize"] == "pil-imageops-fit-center-lanczos":
            img = ImageOps.fit(img, (w, h), Image.Resampling.LANCZOS)
        elif p["resize"] == "pil-bilinear":
            img = img.resize((w, h), Image.Resampling.BILINEAR)
        elif p["resize"] == "pil-default":
            img = img.resize((w, h))
        else:
            raise ValueError(p["resize"])
        x = np.asarray(img, dtype=np.float32)
        if x.ndim == 2:
            x = x[:, :, None]
        x = x * np.float32(p["scale"]) + np.float32(p["offset"])
        np.random.seed(0)
        lo, hi = p["noise_range"]
        noise = np.random.uniform(lo, hi, size=(2,) + x.shape).astype(np.float32)
        batch = np.concatenate([x[None], noise]).astype(np.float32)
        np.save(os.path.join(mdir(m), "input.npy"), batch)
        print(f"input {m['id']:<28} {batch.shape} photo range [{x.min():.3f}, {x.max():.3f}]")
    return photo


def write_ref(m, loader, version, out, extra=None):
    import numpy as np
    d = mdir(m)
    x = np.load(os.path.join(d, "input.npy"))
    np.save(os.path.join(d, "output.npy"), out.astype(np.float32))
    ref = {
        "id": m["id"],
        "loader": loader,
        "loader_version": version,
        "model_file": m["model_file"],
        "input_shape": list(x.shape),
        "output_shape": list(out.shape),
        "input_rows": "row 0 = photo (preprocessed as below), rows 1-2 = np.random.seed(0); uniform(noise_range)",
        "preprocess": m["preprocess"],
        "photo_top_class_index": int(out[0].argmax()) if out.ndim == 2 else None,
        "photo_top_score": float(out[0].max()),
    }
    if extra:
        ref.update(extra)
    with open(os.path.join(d, "ref.json"), "w") as f:
        json.dump(ref, f, indent=1)
    print(f"ref   {m['id']:<28} {loader} {version} -> {out.shape}  photo top={ref['photo_top_class_index']} ({ref['photo_top_score']:.4f})")


# ---------------------------------------------------------------- loaders (run in the loader's interpreter)

def ref_tfkeras(models):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import numpy as np
    import tensorflow as tf
    import tf_keras
    for m in models:
        d = mdir(m)
        model = tf_keras.models.load_model(os.path.join(d, m["model_file"]), compile=False)
        x = np.load(os.path.join(d, "input.npy"))
        y = model(x, training=False).numpy()
        write_ref(m, "tf_keras.models.load_model", f"tf_keras {tf_keras.__version__} / tensorflow {tf.__version__}", y)


def ref_keras3(models):
    os.environ.setdefault("KERAS_BACKEND", "jax")
    import numpy as np
    import keras
    for m in models:
        d = mdir(m)
        model = keras.saving.load_model(os.path.join(d, m["model_file"]), compile=False)
        x = np.load(os.path.join(d, "input.npy"))
        y = np.asarray(model(x, training=False))
        write_ref(m, "keras.saving.load_model", f"keras {keras.__version__} (backend {keras.backend.backend()})", y)


# ---------------------------------------------------------------- driver

def setup():
    if not os.path.exists(TF_PY):
        subprocess.run([sys.executable, "-m", "venv", os.path.join(REAL, "venv-tf")], check=True)
        subprocess.run([TF_PY, "-m", "pip", "install", "-q", "tensorflow-cpu", "tf_keras", "pillow", "h5py"], check=True)
    if not os.path.isdir(os.path.join(NODE_DIR, "node_modules", "@tensorflow", "tfjs")):
        os.makedirs(NODE_DIR, exist_ok=True)
        subprocess.run(["npm", "install", "--silent", "--prefix", NODE_DIR, f"@tensorflow/tfjs@{TFJS_VERSION}"], check=True)
    print("setup done")


def main():
    args = sys.argv[1:]
    models = load_models()
    if args and args[0] == "--setup":
        return setup()
    if args and args[0] in ("--inputs", "--tfkeras", "--keras3"):
        sel = [m for m in models if m["id"] in set(args[1:])]
        {"--inputs": make_inputs, "--tfkeras": ref_tfkeras, "--keras3": ref_keras3}[args[0]](sel)
        return
    want = set(args)
    sel = [m for m in models if (not want or m["id"] in want)
           and all(os.path.exists(os.path.join(mdir(m), f["name"])) for f in m["files"])]
    missing = [m["id"] for m in models if (not want or m["id"] in want) and m not in sel]
    if missing:
        print("not fetched (run fetch.py):", " ".join(missing))
    if not os.path.exists(TF_PY):
        sys.exit(f"{TF_PY} missing: run `reference.py --setup` (or set GLIMPSE_TF_PY)")
    me = os.path.abspath(__file__)
    ids = lambda loader: [m["id"] for m in sel if m["loader"] == loader]  # noqa: E731
    failed = []
    # inputs need PIL: the TF venv has it
    subprocess.run([TF_PY, me, "--inputs"] + [m["id"] for m in sel], check=True)
    steps = [
        ("tf_keras", [TF_PY, me, "--tfkeras"], {}),
        ("keras3", [K3_PY, me, "--keras3"], {"KERAS_BACKEND": "jax"}),
        ("tfjs", ["node", os.path.join(HERE, "reference.mjs")], {"NODE_PATH": os.path.join(NODE_DIR, "node_modules")}),
    ]
    for loader, cmd, env in steps:
        todo = ids(loader)
        if not todo:
            continue
        r = subprocess.run(cmd + todo, env={**os.environ, **env})
        if r.returncode:
            failed.append(loader)
    if failed:
        sys.exit(f"reference failed for loader(s): {', '.join(failed)}")


if __name__ == "__main__":
    main()
