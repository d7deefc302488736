"""Train the course's CIFAR-10 CNN with Glimpse and with real Keras (jax, CPU) on the same
images, same recipe (Adam defaults, batch 32, categorical cross-entropy, shuffled, no
augmentation), in the same run; print test accuracy of both and the training-time ratio.

    KERAS_BACKEND=jax python bench/train_vs_keras.py [--per-class N] [--epochs E] [--data DIR]

DIR defaults to ../shared/data/cifar10 (train/ and test/ of <class>/*.jpg); where it is absent
(a fresh machine) the script draws random 32x32 images instead, which times training just as
well (accuracies are then meaningless). --json also writes the results for bench/browser/run.mjs. Needs the glimpse
binary built (cargo build --release) and `pip install keras jax pillow`.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

os.environ.setdefault("KERAS_BACKEND", "jax")
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

ap = argparse.ArgumentParser()
ap.add_argument("--per-class", type=int, default=1000)
ap.add_argument("--epochs", type=int, default=2)
ap.add_argument("--json", help="also write the results here")
ap.add_argument("--data", default=os.path.join(ROOT, "..", "shared", "data", "cifar10"))
ap.add_argument("--glimpse", default=os.path.join(
    os.environ.get("GLIMPSE_TARGET_DIR", "/var/tmp/glimpse-target"), "release", "glimpse"))
args = ap.parse_args()

work = tempfile.mkdtemp(prefix="glimpse-bench-")
synthetic = not os.path.isdir(os.path.join(args.data, "train"))
if synthetic:
    rng = np.random.default_rng(7)
    args.data = os.path.join(work, "synthetic")
    for part, n in (("train", args.per_class), ("test", max(1, args.per_class // 5))):
        for c in range(10):
            d = os.path.join(args.data, part, f"class{c}")
            os.makedirs(d)
            for i in range(n):
                Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(
                    os.path.join(d, f"{i:05d}.png"))
classes = sorted(os.listdir(os.path.join(args.data, "train")))
subset = os.path.join(work, "train")
for c in classes:
    os.makedirs(os.path.join(subset, c))
    files = sorted(os.listdir(os.path.join(args.data, "train", c)))[: args.per_class]
    for f in files:
        os.symlink(os.path.join(args.data, "train", c, f), os.path.join(subset, c, f))
test_dir = os.path.join(args.data, "test")
n_train = args.per_class * len(classes)
print(f"{n_train} training images, {len(classes)} classes, {args.epochs} epochs, test on {test_dir}")

# ---- Glimpse
out = os.path.join(work, "glimpse_out")
t0 = time.time()
r = subprocess.run([args.glimpse, "train", "--data", subset, "--epochs", str(args.epochs),
                    "--batch-size", "32", "--out", out], capture_output=True, text=True)
if r.returncode:
    sys.exit(r.stderr)
hist = json.load(open(os.path.join(out, "history.json")))
g_train_s = sum(e["seconds"] for e in hist["epochs"])
r = subprocess.run([args.glimpse, "evaluate", os.path.join(out, "model_structure.json"),
                    "--weights", os.path.join(out, "model_weights.weights.h5"),
                    "--data", test_dir, "--json"], capture_output=True, text=True)
if r.returncode:
    sys.exit(r.stderr)
g_eval = json.loads(r.stdout.strip().splitlines()[-1])

# ---- Keras
import keras  # noqa: E402
from keras import layers  # noqa: E402


def load(folder, limit=None):
    xs, ys = [], []
    for i, c in enumerate(classes):
        files = sorted(os.listdir(os.path.join(folder, c)))[:limit]
        for f in files:
            xs.append(np.asarray(Image.open(os.path.join(folder, c, f)).convert("RGB")))
            ys.append(i)
    return np.stack(xs).astype(np.float32) / 255.0, keras.utils.to_categorical(ys, len(classes))


x_train, y_train = load(subset)
x_test, y_test = load(test_dir)
keras.utils.set_random_seed(1337)
model = keras.Sequential([
    keras.Input(shape=(32, 32, 3)),
    layers.Conv2D(32, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(32, (3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Dropout(0.25),
    layers.Conv2D(64, (3, 3), padding="same", activation="relu"),
    layers.Conv2D(64, (3, 3), activation="relu"),
    layers.MaxPooling2D(pool_size=(2, 2)),
    layers.Dropout(0.25),
    layers.Flatten(),
    layers.Dense(512, activation="relu"),
    layers.Dropout(0.5),
    layers.Dense(len(classes), activation="softmax"),
])
model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
t0 = time.time()
model.fit(x_train, y_train, batch_size=32, epochs=args.epochs, shuffle=True, verbose=0)
k_train_s = time.time() - t0
k_loss, k_acc = model.evaluate(x_test, y_test, verbose=0)

print(f"| | test accuracy | test loss | training seconds | images/s |")
print(f"|---|---|---|---|---|")
print(f"| Glimpse | {g_eval['accuracy']:.4f} | {g_eval['loss']:.4f} | {g_train_s:.1f} | "
      f"{n_train * args.epochs / g_train_s:.0f} |")
print(f"| Keras (jax, CPU) | {k_acc:.4f} | {k_loss:.4f} | {k_train_s:.1f} | "
      f"{n_train * args.epochs / k_train_s:.0f} |")
print(f"time ratio Glimpse / Keras: {g_train_s / k_train_s:.2f} (below 1: Glimpse is faster)")
if args.json:
    with open(args.json, "w") as f:
        json.dump({"images": n_train, "epochs": args.epochs, "synthetic": synthetic,
                   "glimpse": {"seconds": g_train_s, "accuracy": g_eval["accuracy"]},
                   "keras": {"seconds": k_train_s, "accuracy": float(k_acc),
                             "backend": keras.backend.backend()},
                   "ratio": g_train_s / k_train_s}, f, indent=1)
