"""Checks that real Keras 3 opens what `glimpse convert` wrote and predicts what the model's own
loader predicted: pairs of CONVERTED.keras and the folder holding input.npy + output.npy.

    KERAS_BACKEND=jax python3 scripts/real-models/check_converted.py OUT1.keras DIR1 [OUT2.keras DIR2 ...]

scripts/real-models/check.sh --convert runs it on every real model.
"""
import os, sys
os.environ.setdefault("KERAS_BACKEND", "jax")
import keras, numpy as np
for keras_file, fixture in zip(sys.argv[1::2], sys.argv[2::2]):
    try:
        m = keras.saving.load_model(keras_file, compile=False)
        x = np.load(os.path.join(fixture, "input.npy")); y = np.load(os.path.join(fixture, "output.npy"))
        out = np.asarray(m.predict(x, verbose=0))
        d = float(np.max(np.abs(out - y) / np.maximum(1, np.abs(y))))
        print(f"{os.path.basename(keras_file)}: max diff {d:.2e}")
    except Exception as e:
        print(f"{os.path.basename(keras_file)}: FAILED {type(e).__name__}: {str(e)[:600]}")
