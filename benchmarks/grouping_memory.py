"""Peak memory of a 200-candidate search: ordinary, grouped by the backend.

    python benchmarks/grouping_memory.py

Each variant runs in a fresh process; the figure is the peak resident set
size of that process (``resource.getrusage``, MiB) minus its size after the
imports and the data, so it is what the search itself added. The search is a
``GridSearchCV`` of 200 candidates (``lr`` x ``weight_decay`` x
``hidden_size`` 4/8) on 3 folds (600 fits) of 400 sequences of 30 steps.
"""

from __future__ import annotations

import json
import subprocess
import sys

CHILD = r"""
import json, resource, sys, time, warnings
import joblib, numpy as np
import torch._dynamo  # noqa: F401 - the first optimizer's import, outside the figure
from sklearn.model_selection import GridSearchCV, KFold
from sklstm import LSTMRegressor
from sklstm.model_selection import GroupingReport
rng = np.random.RandomState(0)
X = rng.normal(size=(400, 30, 2)).astype(np.float32)
y = X[:, :, 0].mean(axis=1)
grid = {"lr": list(np.geomspace(1e-3, 1e-1, 25)),
        "weight_decay": [0.0, 1e-4, 1e-3, 1e-2], "hidden_size": [4, 8]}
est = LSTMRegressor(max_epochs=2, batch_size=32, random_state=0)
search = GridSearchCV(est, grid, cv=KFold(3))
def rss():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
base = rss()
tick = time.perf_counter()
warnings.simplefilter("ignore")
report = GroupingReport()
if sys.argv[1] == "grouped":
    with joblib.parallel_config(backend="sklstm", report=report):
        search.fit(X, y)
else:
    search.fit(X, y)
print(json.dumps({"candidates": len(search.cv_results_["params"]),
                  "peak_mib_added": round(rss() - base, 1),
                  "seconds": round(time.perf_counter() - tick, 1),
                  "groups": len(report.groups)}))
"""


def main() -> None:
    for variant in ("ordinary", "grouped"):
        out = subprocess.run(
            [sys.executable, "-c", CHILD, variant],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        print(variant, json.loads(out.strip().splitlines()[-1]), flush=True)


if __name__ == "__main__":
    main()
