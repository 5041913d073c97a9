"""Halving search over max_epochs: plain sklearn vs sklstm's epoch_cache.

    python benchmarks/halving.py

Same grid, same folds; prints wall time and epochs trained for both.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the checkout, not an installed copy

from run import make_data  # noqa: E402
from sklearn.experimental import enable_halving_search_cv  # noqa: E402, F401
from sklearn.model_selection import HalvingGridSearchCV  # noqa: E402
from skorch.callbacks import Callback  # noqa: E402

from sklstm import LSTMRegressor  # noqa: E402


class CountEpochs(Callback):
    total = 0

    def on_epoch_end(self, net, **kwargs):
        type(self).total += 1


def run(cache, X, y):
    CountEpochs.total = 0
    search = HalvingGridSearchCV(
        LSTMRegressor(
            hidden_size=32,
            batch_size=64,
            random_state=0,
            epoch_cache=cache,
            # a rate that does not depend on max_epochs: a cached shorter fit
            # can be resumed (cosine, the default, spans max_epochs)
            lr_scheduler=None,
            callbacks=[CountEpochs()],
        ),
        {"lr": [3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1], "hidden_size": [16, 32, 64]},
        resource="max_epochs",
        min_resources=2,
        max_resources=18,
        factor=3,
        cv=3,
    )
    start = time.perf_counter()
    search.fit(X, y)
    return time.perf_counter() - start, CountEpochs.total, search.best_params_


def main():
    X, y = make_data(1500, 30, 4)
    plain_t, plain_e, plain_best = run(None, X, y)
    with tempfile.TemporaryDirectory() as cache:
        cached_t, cached_e, cached_best = run(cache, X, y)
    print(
        json.dumps(
            {
                "plain_s": round(plain_t, 2),
                "plain_epochs": plain_e,
                "plain_best": plain_best,
                "cached_s": round(cached_t, 2),
                "cached_epochs": cached_e,
                "cached_best": cached_best,
                "time_saving": round(1 - cached_t / plain_t, 3),
                "epoch_saving": round(1 - cached_e / plain_e, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
