"""Searches, pipelines and model-selection tools work on both estimators unchanged."""

import numpy as np
import pytest
from conftest import SETTINGS
from scipy.stats import loguniform, randint
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    KFold,
    RandomizedSearchCV,
    StratifiedKFold,
    TimeSeriesSplit,
    cross_val_predict,
    cross_validate,
    learning_curve,
    validation_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skopt import BayesSearchCV
from skopt.space import Integer, Real

from sklstm import LSTMClassifier, LSTMRegressor

FAST = {**SETTINGS["fast"], "batch_size": 32}


def _data(kind, clf_data, reg_data):
    return (LSTMClassifier, *clf_data) if kind == "clf" else (LSTMRegressor, *reg_data)


@pytest.mark.parametrize("kind", ["clf", "reg"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_grid_search(kind, n_jobs, clf_data, reg_data):
    Est, X, y = _data(kind, clf_data, reg_data)
    cv = StratifiedKFold(3) if kind == "clf" else KFold(3)
    search = GridSearchCV(Est(**FAST), {"hidden_size": [2, 4]}, cv=cv, n_jobs=n_jobs)
    search.fit(X, y)
    assert search.best_params_["hidden_size"] in (2, 4)
    assert search.best_estimator_.predict(X).shape == y.shape
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_randomized_search_with_scipy_distributions(kind, clf_data, reg_data):
    Est, X, y = _data(kind, clf_data, reg_data)
    search = RandomizedSearchCV(
        Est(**FAST),
        {"hidden_size": randint(2, 8), "lr": loguniform(1e-3, 1e-1)},
        n_iter=2,
        cv=KFold(2),
        random_state=0,
    ).fit(X, y)
    assert 2 <= search.best_params_["hidden_size"] < 8


@pytest.mark.parametrize("kind", ["clf", "reg"])
def test_halving_grid_search(kind, clf_data, reg_data):
    Est, X, y = _data(kind, clf_data, reg_data)
    search = HalvingGridSearchCV(
        Est(**FAST), {"lr": [1e-3, 1e-2, 3e-2]}, cv=2, factor=2, min_resources=20
    ).fit(X, y)
    assert search.n_iterations_ >= 2


@pytest.mark.parametrize("kind", ["clf", "reg"])
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_bayes_search(kind, n_jobs, clf_data, reg_data):
    Est, X, y = _data(kind, clf_data, reg_data)
    search = BayesSearchCV(
        Est(**FAST),
        {
            "hidden_size": Integer(2, 16, prior="log-uniform"),
            "lr": Real(1e-4, 1e-1, prior="log-uniform"),
            "dropout": Real(0.0, 0.5),
        },
        n_iter=3,
        cv=StratifiedKFold(3) if kind == "clf" else KFold(3),
        n_jobs=n_jobs,
        random_state=0,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 3
    assert search.best_estimator_.predict(X[:5]).shape == y[:5].shape


def test_time_series_split_in_pipeline(reg_data):
    X, y = reg_data
    pipe = make_pipeline(FunctionTransformer(lambda X: X * 0.5), LSTMRegressor(**FAST))
    search = GridSearchCV(
        pipe, {"lstmregressor__hidden_size": [2, 4]}, cv=TimeSeriesSplit(3)
    ).fit(X, y)
    assert search.best_params_["lstmregressor__hidden_size"] in (2, 4)


def test_pipeline_parameters_are_flat(clf_data):
    X, y = clf_data
    pipe = make_pipeline(LSTMClassifier(**FAST))
    assert "lstmclassifier__hidden_size" in pipe.get_params()
    assert not any("module__" in key for key in pipe.get_params())
    search = GridSearchCV(pipe, {"lstmclassifier__dropout": [0.0, 0.2]}, cv=2)
    assert search.fit(X, y).score(X, y) >= 0


def test_cross_validate_and_predict(clf_data):
    X, y = clf_data
    res = cross_validate(LSTMClassifier(**FAST), X, y, cv=3, return_estimator=True)
    assert len(res["estimator"]) == 3 and len(res["test_score"]) == 3
    pred = cross_val_predict(LSTMClassifier(**FAST), X, y, cv=3, method="predict_proba")
    assert pred.shape == (len(X), 2)


def test_learning_and_validation_curves(reg_data):
    X, y = reg_data
    sizes, train, test = learning_curve(
        LSTMRegressor(**FAST), X, y, cv=2, train_sizes=[0.5, 1.0]
    )
    assert train.shape == test.shape == (2, 2)
    train, test = validation_curve(
        LSTMRegressor(**FAST), X, y, param_name="hidden_size", param_range=[2, 4], cv=2
    )
    assert test.shape == (2, 2)


def test_same_search_twice_gives_same_results(clf_data):
    X, y = clf_data

    def run():
        return RandomizedSearchCV(
            LSTMClassifier(**FAST, dropout=0.2, num_layers=2),
            {"hidden_size": randint(2, 8), "lr": loguniform(1e-3, 1e-1)},
            n_iter=3,
            cv=3,
            random_state=0,
            n_jobs=2,
        ).fit(X, y)

    a, b = run(), run()
    for key in ("params", "mean_test_score", "split0_test_score"):
        np.testing.assert_array_equal(a.cv_results_[key], b.cv_results_[key])
