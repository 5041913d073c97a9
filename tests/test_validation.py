"""Bad input and bad hyperparameters end in clear errors, never torch tracebacks."""

import warnings

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.exceptions import NotFittedError

from sklstm import LSTMClassifier, LSTMRegressor

FAST = SETTINGS["tiny"]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"hidden_size": 0}, "hidden_size"),
        ({"hidden_size": -3}, "hidden_size"),
        ({"dropout": 1.0}, "dropout"),
        ({"dropout": -0.1}, "dropout"),
        ({"optimizer": "adamax"}, "optimizer"),
        ({"lr": 0}, "lr"),
        ({"batch_size": 0}, "batch_size"),
        ({"norm": "group"}, "norm"),
        ({"lr_scheduler": "linear"}, "lr_scheduler"),
        ({"head_units": (8, -1)}, "head_units"),
        ({"validation_split": "first"}, "validation_split"),
    ],
)
def test_bad_hyperparameters(params, match, clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match=match):
        LSTMClassifier(**{**FAST, **params}).fit(X, y)


def test_unavailable_cuda_is_explained(clf_data, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    X, y = clf_data
    with pytest.raises(ValueError, match="CUDA is not available"):
        LSTMClassifier(**FAST, device="cuda").fit(X, y)


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_non_finite_input(bad, reg_data):
    X, y = reg_data
    X = X.copy()
    X[3, 2, 1] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        LSTMRegressor(**FAST).fit(X, y)
    y = y.copy()
    y[0] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        LSTMRegressor(**FAST).fit(X[:, :, :1] * 0, y)


def test_wrong_rank(reg_data):
    X, y = reg_data
    # not scikit-learn's reshape(-1, 1) advice: that makes 1-step sequences
    with pytest.raises(ValueError, match=r"1 dimension\(s\).*reshape\(1, -1\)"):
        LSTMRegressor(**FAST).fit(X[:, 0, 0], y)
    with pytest.raises(ValueError, match="4 dimensions"):
        LSTMRegressor(**FAST).fit(X[..., None], y)


def test_wrong_feature_count_at_predict(reg_data):
    X, y = reg_data
    reg = LSTMRegressor(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="expecting 2 features"):
        reg.predict(X[:, :, :1])
    with pytest.raises(ValueError, match="2 features per time step"):
        reg.predict(X[:, :, 0])


def test_empty_and_mismatched(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="0 sample"):
        LSTMRegressor(**FAST).fit(X[:0], y[:0])
    with pytest.raises(ValueError, match="time step"):
        LSTMRegressor(**FAST).fit(X[:, :0], y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LSTMRegressor(**FAST).fit(X, y[:-1])


def test_classifier_label_errors(clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match="at least 2 classes"):
        LSTMClassifier(**FAST).fit(X, np.zeros(len(X)))
    with pytest.raises(ValueError, match="Unknown label type"):
        LSTMClassifier(**FAST).fit(X, np.linspace(0, 1, len(X)))


def test_not_fitted(clf_data):
    X, _ = clf_data
    for method in ("predict", "predict_proba"):
        with pytest.raises(NotFittedError):
            getattr(LSTMClassifier(), method)(X)


def test_strings_are_refused(clf_data):
    _, y = clf_data
    with pytest.raises(ValueError, match="convert|numbers|dtype"):
        LSTMClassifier(**FAST).fit(np.array([["a", "b"]] * len(y)), y)


def test_batch_norm_needs_batches_of_two(clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match="batch_size >= 2"):
        LSTMClassifier(**FAST, norm="batch", batch_size=1).fit(X, y)


@pytest.mark.parametrize(
    "X, match",
    [
        (["good film", "bad film"], r"holds text.*TextSequencer\(\)"),
        (np.array(["good film", "bad film"]), r"holds text.*TextSequencer\(\)"),
        ([["a", "b"], ["c", "d"]], r"holds text.*TextSequencer\(\)"),
        (np.arange(4.0), r"1 dimension\(s\).*x.reshape\(1, -1\).*make_windows"),
        (np.array([[0.0, np.nan], [1.0, 2.0]]), r"contains NaN.*interpolate"),
        (np.full((2, 3, 1), np.inf), r"contains infinity.*clip"),
    ],
)
def test_first_mistakes_get_messages_that_name_the_fix(X, match):
    from sklstm import LSTMClassifier

    with pytest.raises(ValueError, match=match):
        LSTMClassifier(**FAST).fit(X, [0, 1][: len(X)] * (1 + (len(X) > 2) * 2))


def test_inputs_far_from_unit_scale_warn_naming_the_scaler():
    from sklearn.pipeline import make_pipeline

    from sklstm import LSTMRegressor
    from sklstm.preprocessing import SequenceScaler

    rng = np.random.RandomState(0)
    X = 100 + 50 * rng.normal(size=(30, 5, 2))
    y = X[:, :, 0].mean(axis=1)
    with pytest.warns(UserWarning, match="far from unit scale.*SequenceScaler"):
        LSTMRegressor(**FAST).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scaled: no warning
        make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)


def test_a_validation_scorer_without_a_validation_split_warns():
    from skorch.callbacks import EpochScoring

    from sklstm import LSTMRegressor

    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5, 2))
    scorer = EpochScoring("r2", lower_is_better=False)
    with pytest.warns(UserWarning, match="exists only with early_stopping=True"):
        LSTMRegressor(**FAST, callbacks=[scorer]).fit(X, X.sum(axis=(1, 2)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LSTMRegressor(**FAST, callbacks=[scorer], early_stopping=True).fit(
            X, X.sum(axis=(1, 2))
        )
