"""Long series: LSTMs with and without patching against 1-NN classifiers.

    pip install aeon            # GunPoint and OSULeaf, and the 1-NN baselines
    python benchmarks/long_sequences.py [--seeds 3] [--only GunPoint OSULeaf]

For GunPoint (150 steps, 50 training series) and OSULeaf (427 steps, 200
training series), both bundled with aeon: test accuracy (mean over seeds, and
spread) and fit seconds of

- ``plain``: a reasonable plain LSTM (64 units, lr 1e-2, cosine schedule,
  gradient clipping, 100 epochs), no patching, PyTorch's gate initialisation;
- ``patched``: the same with ``patch_size="auto"`` (about 32 patches), for
  each ``gate_init`` ("default", "forget_bias", "chrono");
- ``defaults``: ``LSTMClassifier()`` as it is now;
- 1-NN with Euclidean distance and with DTW (aeon's
  ``KNeighborsTimeSeriesClassifier``), deterministic.

Every LSTM is a ``SequenceScaler`` + ``LSTMClassifier`` pipeline.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.pipeline import make_pipeline

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).parent)]
from accuracy_table import TUNED_PLAIN, run_and_print  # noqa: E402

from sklstm import LSTMClassifier  # noqa: E402
from sklstm.preprocessing import SequenceScaler  # noqa: E402

PLAIN = TUNED_PLAIN
LSTMS = {
    "plain": {**PLAIN, "patch_size": None, "gate_init": "default"},
    "patched, default init": {**PLAIN, "gate_init": "default"},
    "patched, forget_bias": {**PLAIN, "gate_init": "forget_bias"},
    "patched, chrono": {**PLAIN, "gate_init": "chrono"},
    "defaults": {},
}


def load(name: str):
    from aeon import datasets

    loader = getattr(datasets, f"load_{name.lower()}")
    X, y = loader(split="train")
    X_test, y_test = loader(split="test")
    return X, np.asarray(y), X_test, np.asarray(y_test)


def knn(distance: str, X, y, X_test, y_test) -> tuple[float, float]:
    from aeon.classification.distance_based import KNeighborsTimeSeriesClassifier

    start = time.perf_counter()
    model = KNeighborsTimeSeriesClassifier(n_neighbors=1, distance=distance)
    accuracy = float(np.mean(model.fit(X, y).predict(X_test) == y_test))
    return accuracy, time.perf_counter() - start


def run(name: str, seeds: int) -> list[dict]:
    X, y, X_test, y_test = load(name)
    rows = []
    for config, params in LSTMS.items():
        accs, secs, used = [], [], ""
        for seed in range(seeds):
            model = make_pipeline(
                SequenceScaler(data_format="channels_first"),
                LSTMClassifier(
                    **params, data_format="channels_first", random_state=seed
                ),
            )
            start = time.perf_counter()
            model.fit(X, y)
            secs.append(time.perf_counter() - start)
            accs.append(float(np.mean(model.predict(X_test) == y_test)))
            lstm = model[-1]
            used = f"patch {lstm.patch_size_}, {lstm.lstm_steps_} LSTM steps"
        rows.append(
            {
                "data": name,
                "label": f"LSTM {config}",
                "accuracy": statistics.mean(accs),
                "spread": max(accs) - min(accs),
                "fit_s": statistics.mean(secs),
                "note": used,
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    for distance in ("euclidean", "dtw"):
        accuracy, seconds = knn(distance, X, y, X_test, y_test)
        rows.append(
            {
                "data": name,
                "label": f"1-NN {distance}",
                "accuracy": accuracy,
                "spread": 0.0,
                "fit_s": seconds,
                "note": "fit + predict",
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    run_and_print(__doc__, ["GunPoint", "OSULeaf"], run, "model")
