"""Resident memory over many consecutive fits in one process.

    python benchmarks/memory_leak.py [--fits 200]

Fits small models back to back (as a long search does with n_jobs=1) and
prints RSS after warm-up and at the end; the target is < 50 MB growth.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]

import numpy as np  # noqa: E402

from sklstm import LSTMClassifier, LSTMRegressor  # noqa: E402


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("--fits", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args(argv)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 20, 3))
    y = X[:, :, 0].sum(axis=1)
    labels = (y > 0).astype(int)
    start = None
    for i in range(args.fits + args.warmup):
        if i == args.warmup:
            gc.collect()
            start = rss_mb()
        if i % 2:
            est = LSTMRegressor(hidden_size=16, max_epochs=2, random_state=i)
            est.fit(X, y).predict(X)
        else:
            est = LSTMClassifier(hidden_size=16, max_epochs=2, early_stopping=True)
            est.fit(X, labels).predict_proba(X)
    gc.collect()
    end = rss_mb()
    print(
        json.dumps(
            {
                "fits": args.fits,
                "rss_after_warmup_mb": round(start, 1),
                "rss_end_mb": round(end, 1),
                "growth_mb": round(end - start, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
