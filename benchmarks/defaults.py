"""Do the defaults learn on small collections? Test accuracy over three seeds.

    pip install aeon            # the bundled UCR/UEA data sets
    python benchmarks/defaults.py [--seeds 3] [--only NAME ...]

For each data set (bundled with aeon, read as aeon holds them: channels
first, hence ``data_format="channels_first"``; digits from scikit-learn, rows
as time steps) it fits ``SequenceScaler`` + ``LSTMClassifier`` with:

- ``0.1.0 defaults``: the values sklstm 0.1.0 used (batch 64, 50 epochs,
  ``lr=1e-3`` constant, no clipping, PyTorch's gate initialisation);
- ``defaults``: ``LSTMClassifier()`` as it is now;
- ``tuned plain``: a hand-tuned plain configuration (64 units, lr 1e-2, batch
  16, 100 epochs, cosine schedule, gradient clipping at 1).

and prints mean test accuracy, spread (max - min over seeds) and mean fit
seconds, as a Markdown table.
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

CONFIGS = {
    "0.1.0 defaults": {
        "batch_size": 64,
        "max_epochs": 50,
        "lr": 1e-3,
        "lr_scheduler": None,
        "gradient_clip": None,
        "gate_init": "default",
        "patch_size": None,
    },
    "defaults": {},
    "tuned plain": TUNED_PLAIN,
}


def _aeon(name: str):
    from aeon import datasets

    load = getattr(datasets, f"load_{name}")
    X, y = load(split="train")
    X_test, y_test = load(split="test")
    return X, y, X_test, y_test, "channels_first"


def _digits():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    X = X.reshape(-1, 8, 8) / 16.0
    X, X_test, y, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    return X, y, X_test, y_test, "channels_last"


DATASETS = {
    "BasicMotions": lambda: _aeon("basic_motions"),
    "ItalyPowerDemand": lambda: _aeon("italy_power_demand"),
    "JapaneseVowels": lambda: _aeon("japanese_vowels"),
    "digits (8x8 rows)": _digits,
}


def run(name: str, seeds: int) -> list[dict]:
    X, y, X_test, y_test, layout = DATASETS[name]()
    n = len(X)
    rows = []
    for config, params in CONFIGS.items():
        accs, secs, chosen = [], [], None
        for seed in range(seeds):
            model = make_pipeline(
                SequenceScaler(data_format=layout),
                LSTMClassifier(**params, data_format=layout, random_state=seed),
            )
            start = time.perf_counter()
            model.fit(X, y)
            secs.append(time.perf_counter() - start)
            accs.append(float(np.mean(model.predict(X_test) == np.asarray(y_test))))
            lstm = model[-1]
            chosen = f"batch {lstm.batch_size_}, {lstm.max_epochs_} epochs"
        rows.append(
            {
                "data": f"{name} (n={n})",
                "label": config,
                "accuracy": statistics.mean(accs),
                "spread": max(accs) - min(accs),
                "fit_s": statistics.mean(secs),
                "note": chosen,
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


if __name__ == "__main__":
    run_and_print(__doc__, list(DATASETS), run, "configuration")
