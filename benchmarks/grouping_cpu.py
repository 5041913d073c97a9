"""When grouped training pays on the CPU: grouped vs ordinary fits by model size.

    python benchmarks/grouping_cpu.py --repeats 3

A ``GridSearchCV`` over 8 learning rates x ``--folds`` folds (16 fits) of
an ``LSTMRegressor`` with ``hidden_size`` H, run twice per repeat, side by
side: ordinary (scikit-learn's default backend, ``n_jobs=1``) and under
``joblib.parallel_config(backend="sklstm", grouping="always")``. Prints the
median seconds of each and the median of the paired ratios grouped /
ordinary (below 1: grouping is faster), and checks that both found the
same scores. The ``"auto"`` rule of ``sklstm.model_selection._grouped.
_backend.CPU_MAX_HIDDEN`` is read off this table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import joblib
import numpy as np
import torch._dynamo  # noqa: F401 - the first optimizer's import, paid up front
from sklearn.model_selection import GridSearchCV, KFold

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sklstm import LSTMRegressor  # noqa: E402

LRS = [1e-3, 2e-3, 3e-3, 5e-3, 1e-2, 2e-2, 3e-2, 5e-2]


def search(hidden: int, folds: int, args) -> GridSearchCV:
    est = LSTMRegressor(
        hidden_size=hidden,
        num_layers=args.layers,
        max_epochs=args.epochs,
        batch_size=args.batch_size,
        random_state=0,
    )
    return GridSearchCV(est, {"lr": LRS}, cv=KFold(folds))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--hidden", type=int, nargs="+", default=[4, 8, 16, 32, 64, 128])
    ap.add_argument("--samples", type=int, default=400)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--features", type=int, default=2)
    ap.add_argument("--layers", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--folds", type=int, default=2)
    args = ap.parse_args()
    rng = np.random.RandomState(0)
    X = rng.normal(size=(args.samples, args.steps, args.features)).astype(np.float32)
    y = X[:, :, 0].mean(axis=1) + 0.1 * rng.normal(size=args.samples)
    n_train = args.samples * (args.folds - 1) // args.folds
    print(
        f"{len(LRS) * args.folds} fits of n={n_train}"
        f" x T={args.steps} x F={args.features}, {args.layers} layer(s), "
        f"batch {args.batch_size}, {args.epochs} epochs; median of {args.repeats}"
    )
    head = ("hidden", "ordinary s", "grouped s", "ratio", "max |dscore|")
    print("".join(f"{h:>{w}}" for h, w in zip(head, (6, 12, 11, 7, 14), strict=True)))
    for hidden in args.hidden:
        plain, grouped, ratios, diff = [], [], [], 0.0
        for _ in range(args.repeats):
            tick = time.perf_counter()
            a = search(hidden, args.folds, args).fit(X, y)
            plain.append(time.perf_counter() - tick)
            tick = time.perf_counter()
            with joblib.parallel_config(backend="sklstm", grouping="always"):
                b = search(hidden, args.folds, args).fit(X, y)
            grouped.append(time.perf_counter() - tick)
            ratios.append(grouped[-1] / plain[-1])
            scores = [s.cv_results_["mean_test_score"] for s in (a, b)]
            diff = max(diff, float(np.nanmax(np.abs(scores[0] - scores[1]))))
        print(
            f"{hidden:>6} {statistics.median(plain):>11.2f} "
            f"{statistics.median(grouped):>10.2f} {statistics.median(ratios):>6.2f} "
            f"{diff:>13.1e}",
            flush=True,
        )


if __name__ == "__main__":
    main()
