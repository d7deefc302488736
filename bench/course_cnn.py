"""The course's CIFAR-10 CNN (tests/fixtures/keras3/cifar_cnn) with freshly initialised weights
(Keras' own initialisers, seed 1337) for the browser benchmark's training workload: writes
OUT_DIR/cifar_cnn.json (Keras 3 structure), cifar_cnn.weights.h5 (Glimpse loads both) and
OUT_DIR/cifar_cnn-tfjs/ (the same model and weights in TF.js' layers format), so both engines
start training from identical weights.

    KERAS_BACKEND=jax python bench/course_cnn.py OUT_DIR

Needs keras 3 (any backend), h5py, numpy.
"""

import gzip
import os
import sys

os.environ.setdefault("KERAS_BACKEND", "jax")
import keras  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfjs_export import export_tfjs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "keras3", "cifar_cnn", "model.json.gz")

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
structure = gzip.open(FIXTURE, "rt").read()
keras.utils.set_random_seed(1337)
model = keras.models.model_from_json(structure)
json_path = os.path.join(out, "cifar_cnn.json")
h5_path = os.path.join(out, "cifar_cnn.weights.h5")
with open(json_path, "w") as f:
    f.write(model.to_json())
model.save_weights(h5_path)
n, size = export_tfjs(json_path, h5_path, os.path.join(out, "cifar_cnn-tfjs"))
print(f"wrote {json_path}, {h5_path} and cifar_cnn-tfjs/ ({model.count_params():,} parameters)")
