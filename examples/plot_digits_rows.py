"""
Digits read row by row: tuning an LSTM classifier
=================================================

Each 8x8 image of scikit-learn's handwritten digits is read as a sequence:
8 time steps (the rows, top to bottom) of 8 features (the pixels of a row).
An :class:`~sklstm.LSTMClassifier` is tuned with a small
:class:`~sklearn.model_selection.RandomizedSearchCV`, its training is shown
with :class:`~sklstm.plot.LossCurveDisplay`, and its held-out accuracy is
compared with a logistic regression on the 64 flat pixels.
"""

# %%
# The data as sequences
# ---------------------
# ``digits.images`` already has the shape ``(n_samples, 8, 8)``, which is the
# 3D layout ``(n_samples, n_timesteps, n_features)`` the estimators take.
# Pixel values run from 0 to 16; dividing by 16 puts them in [0, 1].
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy.stats import loguniform, uniform
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import (
    RandomizedSearchCV,
    StratifiedKFold,
    train_test_split,
)

from sklstm import LSTMClassifier
from sklstm.plot import LossCurveDisplay

digits = load_digits()
X = digits.images / 16.0
y = digits.target
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
print("train:", X_train.shape, " test:", X_test.shape)

# %%
# A baseline that ignores the order
# ---------------------------------
# A logistic regression sees the 64 pixels as one flat vector.
baseline = LogisticRegression(max_iter=2000)
baseline.fit(X_train.reshape(len(X_train), -1), y_train)
baseline_acc = baseline.score(X_test.reshape(len(X_test), -1), y_test)
print(f"logistic regression, held-out accuracy: {baseline_acc:.3f}")

# %%
# A small randomized search
# -------------------------
# Six candidates, three folds each. The number of units is drawn from a
# doubling ladder (a log scale), the learning rate from a log-uniform
# distribution, and dropout (applied before the output layer) uniformly.
# The test set is not touched by the search.
search = RandomizedSearchCV(
    LSTMClassifier(max_epochs=15, random_state=0),
    {
        "hidden_size": [16, 32, 64],
        "lr": loguniform(2e-3, 3e-2),
        "dropout": uniform(0.0, 0.3),
    },
    n_iter=6,
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    n_jobs=2,
    random_state=0,
)
search.fit(X_train, y_train)

results = pd.DataFrame(search.cv_results_)
columns = ["param_hidden_size", "param_lr", "param_dropout"]
table = results[columns + ["mean_test_score", "std_test_score", "mean_fit_time"]]
print(table.sort_values("mean_test_score", ascending=False).round(4).to_string())

# %%
# Held-out accuracy
# -----------------
# The search refits the best candidate on the whole training set.
lstm_acc = search.score(X_test, y_test)
best_params = search.best_params_
shown = {
    k: round(float(v), 4) if isinstance(v, float) else v for k, v in best_params.items()
}
print("best parameters:", shown)
print(f"LSTM, 3-fold CV accuracy of the best: {search.best_score_:.3f}")
print(f"LSTM, held-out accuracy:              {lstm_acc:.3f}")
print(f"logistic regression, held-out:        {baseline_acc:.3f}")

# %%
# Both models do well on this easy data set, and they end up close: reading
# the rows in order is not needed to recognise a digit, and the flat model
# sees every pixel at once. The LSTM has to carry what it saw in the first
# rows through its state to the last step.
#
# Loss curves
# -----------
# The refitted model trained without a validation set, so it only has a
# training loss. To see whether 15 epochs were too few or too many, train the
# best configuration again with ``early_stopping=True``: it holds out 10% of
# the training rows (stratified), records their loss every epoch, stops after
# 10 epochs without improvement and keeps the weights of the best epoch.
monitored = LSTMClassifier(
    **best_params,
    max_epochs=60,
    early_stopping=True,
    random_state=0,
).fit(X_train, y_train)

fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
LossCurveDisplay.from_estimator(search.best_estimator_, ax=axes[0], name="refit")
axes[0].set_title("Best candidate, 15 epochs")
LossCurveDisplay.from_estimator(monitored, ax=axes[1], name="early stopping")
axes[1].set_title(f"Early stopping: kept epoch {monitored.best_epoch_}")
fig.tight_layout()

# %%
# A short upward bump in a training loss is a step that overshot: a sign
# that the learning rate is near the upper end of what works
# (``gradient_clip`` or a learning-rate schedule smooth such bumps out). The
# validation loss levels off earlier than the training loss; the marked epoch
# is the one whose weights the early-stopped model keeps.
print(
    f"early-stopped model: {monitored.n_iter_} epochs run, best epoch "
    f"{monitored.best_epoch_}, held-out accuracy "
    f"{monitored.score(X_test, y_test):.3f}"
)

# %%
# Where the LSTM errs
# -------------------
# A few misclassified test digits, with the predicted label.
pred = search.predict(X_test)
wrong = np.flatnonzero(pred != y_test)[:8]
fig, axes = plt.subplots(1, max(len(wrong), 1), figsize=(10, 1.8))
for ax, i in zip(np.atleast_1d(axes), wrong, strict=False):
    ax.imshow(X_test[i], cmap="gray_r")
    ax.set_title(f"{y_test[i]} read as {pred[i]}", fontsize=9)
for ax in np.atleast_1d(axes):
    ax.set_axis_off()
fig.tight_layout()
plt.show()
