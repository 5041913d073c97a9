"""LossCurveDisplay, and scikit-learn's own displays on sklstm estimators."""

import sys

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import (
    LearningCurveDisplay,
    ValidationCurveDisplay,
    cross_validate,
)
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.plot import LossCurveDisplay
from sklstm.preprocessing import SequenceScaler

matplotlib.use("Agg")  # no display needed; switches pyplot too

FAST = dict(hidden_size=4, batch_size=16, random_state=0)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6, 2))
    signal = X[:, :, 0].mean(axis=1)
    return X, np.where(signal > 0, "up", "down"), 3.0 * signal


@pytest.fixture(scope="module")
def stopped(data):
    """A classifier whose early stopping restored an epoch before the last."""
    X, y, _ = data
    est = LSTMClassifier(
        **FAST, max_epochs=6, lr=0.3, early_stopping=True, n_iter_no_change=2
    )
    return est.fit(X, y)


@pytest.fixture(scope="module")
def plain(data):
    X, _, y = data
    return LSTMRegressor(**FAST, max_epochs=4).fit(X, y)


# ------------------------------------------------------------ LossCurveDisplay
def test_from_estimator_draws_the_loss_curve(plain):
    disp = LossCurveDisplay.from_estimator(plain)
    train = disp.lines_["train"]
    np.testing.assert_array_equal(train.get_xdata(), [1, 2, 3, 4])
    np.testing.assert_allclose(train.get_ydata(), plain.loss_curve_)
    assert set(disp.lines_) == {"train"}  # no validation without early stopping
    # without validation no epoch was chosen: no "best epoch" marker
    assert plain.best_epoch_ == 4
    assert disp.best_epoch is None and disp.best_line_ is None
    assert disp.ax_.get_xlabel() == "Epoch" and disp.ax_.get_ylabel() == "Loss"
    assert disp.figure_ is disp.ax_.figure
    assert disp.ax_.get_legend() is not None
    assert disp.ax_.get_yscale() == "linear"


def test_early_stopping_adds_validation_curve_and_best_marker(stopped):
    disp = LossCurveDisplay.from_estimator(stopped)
    n = len(stopped.history_)
    assert stopped.best_epoch_ < n  # the fixture restores an earlier epoch
    valid = disp.lines_["valid"]
    np.testing.assert_array_equal(valid.get_xdata(), np.arange(1, n + 1))
    np.testing.assert_allclose(valid.get_ydata(), stopped.validation_loss_curve_)
    np.testing.assert_allclose(disp.lines_["train"].get_ydata(), stopped.loss_curve_)
    assert valid.get_color() == disp.lines_["train"].get_color()
    assert valid.get_linestyle() == "--"
    assert list(disp.best_line_.get_xdata()) == [stopped.best_epoch_] * 2
    labels = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert labels == [
        "train loss",
        "validation loss",
        f"best epoch ({stopped.best_epoch_})",
    ]


def test_plot_options(stopped):
    fig, ax = plt.subplots()
    disp = LossCurveDisplay.from_estimator(
        stopped, ax=ax, name="lstm", show_best=False, log_scale=True, color="red"
    )
    assert disp.ax_ is ax and disp.figure_ is fig
    assert ax.get_yscale() == "log"
    assert disp.best_line_ is None and len(ax.get_lines()) == 2
    assert disp.lines_["train"].get_label() == "lstm: train loss"
    assert {line.get_color() for line in disp.lines_.values()} == {"red"}


def test_unfitted_estimator_raises():
    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(LSTMClassifier())


def test_pipeline_uses_its_final_step(data):
    X, _, y = data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST, max_epochs=2))
    disp = LossCurveDisplay.from_estimator(pipe.fit(X, y))
    np.testing.assert_allclose(disp.lines_["train"].get_ydata(), pipe[-1].loss_curve_)
    with pytest.raises(TypeError, match="history_"):
        LossCurveDisplay.from_estimator(SequenceScaler().fit(X))


def test_from_history_with_a_list_of_dicts():
    history = [
        {"epoch": 1, "train_loss": 1.0},
        {"epoch": 2, "train_loss": 0.5, "valid_loss": 0.8},
        {"epoch": 3, "train_loss": 0.25, "valid_loss": 0.6},
    ]
    disp = LossCurveDisplay.from_history(history, best_epoch=3)
    np.testing.assert_allclose(disp.lines_["train"].get_ydata(), [1.0, 0.5, 0.25])
    # the epoch without a validation loss is left out, not drawn as a gap value
    np.testing.assert_array_equal(disp.lines_["valid"].get_xdata(), [2, 3])
    np.testing.assert_allclose(disp.lines_["valid"].get_ydata(), [0.8, 0.6])
    assert disp.best_line_.get_xdata()[0] == 3
    no_marker = LossCurveDisplay.from_history(history)
    assert no_marker.best_line_ is None


@pytest.mark.parametrize(
    "history, error, match",
    [
        ([], ValueError, "empty"),
        ({"train_loss": 1.0}, TypeError, "not one dict"),
        ([1.0, 0.5], TypeError, "list of per-epoch dicts"),
        ([{"valid_loss": 1.0}], ValueError, "train_loss"),
    ],
)
def test_from_history_rejects_bad_input(history, error, match):
    with pytest.raises(error, match=match):
        LossCurveDisplay.from_history(history)


def test_constructor_checks_lengths_and_best_epoch():
    with pytest.raises(ValueError, match="one value per epoch"):
        LossCurveDisplay(train_loss=[1.0, 0.5], valid_loss=[1.0])
    with pytest.raises(ValueError, match="outside the epochs"):
        LossCurveDisplay(train_loss=[1.0, 0.5], best_epoch=3)
    disp = LossCurveDisplay(train_loss=[1.0, 0.5], valid_loss=[np.nan, np.nan])
    assert disp.valid_loss is None  # all-NaN validation loss: no curve


def test_missing_matplotlib_gives_install_hint(monkeypatch, plain):
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install .matplotlib>=3.7."):
        LossCurveDisplay.from_estimator(plain)


def test_one_curve_per_cross_validation_fold(data):
    X, _, y = data
    cv = cross_validate(
        LSTMRegressor(**FAST, max_epochs=3), X, y, cv=3, return_estimator=True
    )
    fig, ax = plt.subplots()
    for i, fold in enumerate(cv["estimator"]):
        disp = LossCurveDisplay.from_history(fold.history_, name=f"fold {i}", ax=ax)
        assert disp.ax_ is ax
    assert len(ax.get_lines()) == 3
    labels = [line.get_label() for line in ax.get_lines()]
    assert labels == [f"fold {i}: train loss" for i in range(3)]


def test_savefig_writes_a_png(stopped, tmp_path):
    disp = LossCurveDisplay.from_estimator(stopped)
    path = tmp_path / "loss.png"
    disp.figure_.savefig(path)
    content = path.read_bytes()
    assert content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) > 1000


# ------------------------------------------------ scikit-learn's own displays
def test_learning_curve_display(data):
    X, y, _ = data
    disp = LearningCurveDisplay.from_estimator(
        LSTMClassifier(**FAST, max_epochs=2), X, y, cv=2, train_sizes=[0.5, 1.0]
    )
    assert disp.train_sizes.tolist() == [15, 30]
    assert disp.train_scores.shape == disp.test_scores.shape == (2, 2)
    assert np.isfinite(disp.test_scores).all()
    assert ((disp.test_scores >= 0) & (disp.test_scores <= 1)).all()


def test_validation_curve_display(data):
    X, _, y = data
    disp = ValidationCurveDisplay.from_estimator(
        LSTMRegressor(batch_size=16, max_epochs=2, random_state=0),
        X,
        y,
        param_name="hidden_size",
        param_range=[2, 4, 8],
        cv=2,
    )
    assert list(disp.param_range) == [2, 4, 8]
    assert disp.train_scores.shape == disp.test_scores.shape == (3, 2)
    assert np.isfinite(disp.train_scores).all()
