"""
How many units? A validation curve over ``hidden_size``
=======================================================

The number of units per LSTM layer, ``hidden_size``, is the main capacity
knob. Too few units and the model cannot represent the task (training and
validation scores are both low: under-fitting); too many and it starts to
memorize the training data (training score keeps rising, validation score
stalls or drops: over-fitting), while every fit costs more. A validation
curve draws both scores against the number of units, using scikit-learn's
:class:`~sklearn.model_selection.ValidationCurveDisplay` unchanged.

The data are scikit-learn's digits read row by row (8 time steps of 8 pixel
features); see :ref:`sphx_glr_auto_examples_plot_digits_rows.py`.
"""

# %%
# Data and model
# --------------
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import StratifiedKFold, ValidationCurveDisplay

from sklstm import LSTMClassifier

digits = load_digits()
X, y = digits.images / 16.0, digits.target

# fixed training budget for every size; a learning rate that suits them all
model = LSTMClassifier(max_epochs=15, lr=1e-2, random_state=0)
units = [2, 4, 8, 16, 32, 64]

# %%
# The validation curve
# --------------------
# Each size is fitted on three folds; the display shows the mean training and
# validation accuracy with one standard deviation as a band. The x axis is
# logarithmic: 8 and 16 units differ as much as 32 and 64 do.
fig, ax = plt.subplots(figsize=(6, 4))
display = ValidationCurveDisplay.from_estimator(
    model,
    X,
    y,
    param_name="hidden_size",
    param_range=units,
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    n_jobs=2,
    score_name="Accuracy",
    ax=ax,
)
ax.set_xscale("log", base=2)
ax.set_title("Accuracy against units (3-fold CV)")
fig.tight_layout()

train_mean = display.train_scores.mean(axis=1)
valid_mean = display.test_scores.mean(axis=1)
for n, tr, va in zip(units, train_mean, valid_mean, strict=True):
    print(
        f"hidden_size={n:3d}  train {tr:.3f}  validation {va:.3f}  gap {tr - va:+.3f}"
    )

# %%
# What a unit costs
# -----------------
# An LSTM layer has four gates, each with an input and a recurrent weight
# matrix, so its parameter count grows with the square of ``hidden_size``.
# ``n_parameters_`` reports the count of a fitted model (one epoch on a few
# rows is enough to build it).
n_params = [
    LSTMClassifier(hidden_size=n, max_epochs=1).fit(X[:50], y[:50]).n_parameters_
    for n in units
]
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(units, n_params, "o-")
ax.set_xscale("log", base=2)
ax.set_yscale("log")
ax.set_xlabel("hidden_size")
ax.set_ylabel("Parameters")
ax.set_title("Model size against units")
for n, p in zip(units, n_params, strict=True):
    ax.annotate(f"{p:,}", (n, p), textcoords="offset points", xytext=(6, -10))
fig.tight_layout()

# %%
# Reading the curve
# -----------------
# With 2 or 4 units both scores are low: the model under-fits, and more units
# help. The validation accuracy then climbs until it levels off, while the
# model keeps growing quadratically. A good choice is the smallest size on
# the plateau: a larger one costs more per fit and gains nothing on
# 1,800 images. With much more data the plateau moves to the right, and the
# best size with it.
best = units[int(np.argmax(valid_mean))]
print(
    f"best validation accuracy at hidden_size={best}; "
    f"{len(X):,} samples, {n_params[units.index(best)]:,} parameters"
)
plt.show()
