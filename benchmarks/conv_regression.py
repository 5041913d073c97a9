"""The convolutional branch on a regression collection: does "auto" help?

    pip install aeon        # Covid3Month, bundled with aeon (optional)
    python benchmarks/conv_regression.py [--seeds 3]

``conv_branch="auto"`` turns the branch on for regressors too, from 64 steps.
This runs aeon's Covid3Month (140 training series of 84 steps, official
split) with ``SequenceScaler`` + ``LSTMRegressor``: the LSTM alone (no branch, no
per-series normalization), the defaults (the branch pooled by
``conv_pool_size="auto"``, ``series_norm="auto"``), the defaults without
``series_norm``, with the unpooled branch (``conv_pool_size=1``) and with
``asinh_view=True`` (the view ``"auto"`` leaves out of regressors). Test
RMSE, mean over seeds, and fit seconds; the last line is the RMSE of
predicting the training mean.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import mean_squared_error
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklstm import LSTMRegressor  # noqa: E402
from sklstm.preprocessing import SequenceScaler  # noqa: E402

MODELS = {
    "no conv": {"conv_branch": False, "series_norm": False},  # the LSTM alone
    "defaults": {},
    "no series norm": {"series_norm": False},
    "unpooled branch": {"conv_branch": True, "conv_pool_size": 1},
    "asinh view": {"asinh_view": True},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    from aeon.datasets import load_regression

    X, y = load_regression("Covid3Month", split="train")
    X_test, y_test = load_regression("Covid3Month", split="test")
    print("| model | test RMSE | per seed | fit s | used |")
    print("|---|---|---|---|---|")
    for label, params in MODELS.items():
        errors, secs = [], []
        for seed in range(args.seeds):
            model = make_pipeline(
                SequenceScaler(data_format="channels_first"),
                LSTMRegressor(
                    data_format="channels_first", random_state=seed, **params
                ),
            )
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(X, y)
            secs.append(time.perf_counter() - start)
            errors.append(mean_squared_error(y_test, model.predict(X_test)) ** 0.5)
        lstm = model[-1]
        used = f"conv {lstm.conv_branch_}, pool {lstm.conv_pool_size_}, "
        used += f"series norm {lstm.series_norm_}, asinh view {lstm.asinh_view_}, "
        used += f"{lstm.max_epochs_} epochs"
        print(
            f"| {label} | {statistics.mean(errors):.4f} | "
            f"{', '.join(f'{e:.4f}' for e in errors)} | "
            f"{statistics.mean(secs):.1f} | {used} |"
        )
    baseline = mean_squared_error(y_test, np.full_like(y_test, y.mean())) ** 0.5
    print(f"| training mean | {baseline:.4f} | | | |")


if __name__ == "__main__":
    main()
