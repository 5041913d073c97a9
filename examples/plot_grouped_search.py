"""
Many small LSTMs at once: grouped training inside a scikit-learn search
=======================================================================

A search fits many small models: 2 hidden sizes x 6 learning rates on 3
folds are 36 fits of a small LSTM. Each fit pays fixed costs per batch (on a
GPU, kernel launches; on a CPU, the bookkeeping of each training step), so
fitting them one after another wastes most of the machine. Inside
``joblib.parallel_config(backend="sklstm")``, scikit-learn's own
``GridSearchCV`` trains the fits it dispatches as grouped networks: their
weights stacked along a model axis, every LSTM step one batched matrix
product for all of them (on a GPU, the step captured in a CUDA graph), and
smaller hidden sizes padded to the group's largest with units that stay
exactly zero.

On the CPU (where this page was built) grouping pays only for small models,
so ``grouping="auto"`` groups those alone; these ones are small enough.
"""

# %%
# Data and search
# ---------------
# A noisy sum over the last steps of a univariate series: a task whose
# difficulty depends on the learning rate within a fixed budget of epochs.
import time

import joblib
import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV, KFold

from sklstm import LSTMRegressor
from sklstm.model_selection import GroupingReport

rng = np.random.RandomState(0)
X = rng.normal(size=(300, 20, 1)).astype(np.float32)
y = X[:, -5:, 0].sum(axis=1) + 0.1 * rng.normal(size=300)

model = LSTMRegressor(max_epochs=8, batch_size=32, random_state=0)
grid = {"hidden_size": [4, 8], "lr": list(np.geomspace(1e-3, 1e-1, 6))}
cv = KFold(3, shuffle=True, random_state=0)

report = GroupingReport()
tick = time.perf_counter()
with joblib.parallel_config(backend="sklstm", report=report):
    search = GridSearchCV(model, grid, cv=cv).fit(X, y)
grouped_seconds = time.perf_counter() - tick
print("best:", search.best_params_, f"R2 {search.best_score_:.3f}")
print(
    "groups:", [g["n_models"] for g in report.groups], "| fallbacks:", report.reasons()
)

# %%
# The same search with ordinary fits
# ----------------------------------
# Each grouped fit starts from the same initial weights, sees the same
# batches in the same order and takes the same optimizer steps as its
# ordinary fit, so the scores agree up to float32 rounding.
tick = time.perf_counter()
plain = GridSearchCV(model, grid, cv=cv).fit(X, y)
plain_seconds = time.perf_counter() - tick
gap = np.abs(
    plain.cv_results_["mean_test_score"] - search.cv_results_["mean_test_score"]
)
print(f"largest score difference: {gap.max():.1e}")
print(f"seconds: grouped {grouped_seconds:.1f}, ordinary {plain_seconds:.1f}")

# %%
# The scores against the learning rate
# ------------------------------------
# ``cv_results_`` is scikit-learn's own table, so everything that reads a
# search's results reads this one.
results = search.cv_results_
fig, ax = plt.subplots(figsize=(6, 4))
for hidden in grid["hidden_size"]:
    rows = results["param_hidden_size"] == hidden
    ax.errorbar(
        results["param_lr"][rows].astype(float),
        results["mean_test_score"][rows],
        yerr=results["std_test_score"][rows],
        fmt="o-",
        label=f"hidden_size={hidden}",
    )
ax.set_xscale("log")
ax.set_xlabel("lr")
ax.set_ylabel("R² (3-fold CV)")
ax.set_title("Validation score against the learning rate")
ax.legend()
fig.tight_layout()
