"""Searches on other engines: a Dask cluster through joblib, and Optuna.

The engines are optional extras (``pip install ".[dask]"`` or
``".[optuna]"``); without them these tests skip.
"""

import warnings

import joblib
import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold

from sklstm import LSTMClassifier, LSTMRegressor

FAST = {**SETTINGS["fast"], "batch_size": "auto"}


@pytest.fixture(scope="session")
def dask_client():
    """Two single-threaded worker processes on the loopback interface only."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


def _grid_search():
    return GridSearchCV(
        LSTMClassifier(hidden_size=4, max_epochs=2, random_state=0),
        {"hidden_size": [2, 4]},
        cv=2,
    )


def test_dask_grid_search_matches_local(dask_client, clf_data):
    X, y = clf_data
    local = _grid_search().fit(X, y)
    with joblib.parallel_backend("dask"):
        remote = _grid_search().fit(X, y)
    np.testing.assert_allclose(
        remote.cv_results_["mean_test_score"], local.cv_results_["mean_test_score"]
    )
    assert remote.best_params_ == local.best_params_
    np.testing.assert_array_equal(
        remote.best_estimator_.predict(X), local.best_estimator_.predict(X)
    )


def test_fitted_estimator_travels_to_a_worker_and_back(dask_client, clf_data):
    X, y = clf_data
    est = LSTMClassifier(**FAST).fit(X, y)
    assert type(est.net_.module_).__module__ == "sklstm._engine._module"

    remote = dask_client.submit(lambda est, X: est.predict(X), est, X).result()
    np.testing.assert_array_equal(remote, est.predict(X))
    module = dask_client.submit(lambda est: type(est.net_.module_).__module__, est)
    assert module.result() == "sklstm._engine._module"  # by reference, never __main__

    # fitted on a worker, used here
    back = dask_client.submit(lambda e, X, y: clone(e).fit(X, y), est, X, y).result()
    np.testing.assert_allclose(back.predict_proba(X), est.predict_proba(X))


@pytest.mark.parametrize("kind", ["classifier", "regressor"])
def test_optuna_search_cv(kind, clf_data, reg_data):
    optuna = pytest.importorskip("optuna")
    optuna_integration = pytest.importorskip("optuna_integration")
    if kind == "classifier":
        est, (X, y), cv = LSTMClassifier(**FAST), clf_data, StratifiedKFold(2)
    else:
        est, (X, y), cv = LSTMRegressor(**FAST), reg_data, KFold(2)
    dists = optuna.distributions
    with warnings.catch_warnings():
        # OptunaSearchCV is marked experimental; optuna-integration 5.0 still calls
        # the deprecated optuna.terminator module
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        warnings.filterwarnings("ignore", "`optuna.terminator`", FutureWarning)
        search = optuna_integration.OptunaSearchCV(
            est,
            {
                "hidden_size": dists.IntDistribution(2, 8, log=True),
                "lr": dists.FloatDistribution(1e-3, 1e-1, log=True),
            },
            n_trials=3,
            cv=cv,
            random_state=0,
        ).fit(X, y)
    assert set(search.best_params_) == {"hidden_size", "lr"}
    assert 2 <= search.best_params_["hidden_size"] <= 8
    assert 1e-3 <= search.best_params_["lr"] <= 1e-1
    assert len(search.trials_) == 3
    assert search.best_estimator_.predict(X).shape == y.shape
