"""Ready search spaces: every kind runs in its searcher; ranges follow the data size."""

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    ParameterGrid,
    ParameterSampler,
    RandomizedSearchCV,
    StratifiedKFold,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skopt import BayesSearchCV
from skopt.space import Integer, Real, Space

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.search_spaces import DIMENSIONS, search_space

KINDS = ["grid", "random", "bayes"]
FAST = {**SETTINGS["fast"], "batch_size": "auto"}
CHEAP = ["num_layers", "dropout", "weight_decay", "lr", "batch_size"]


def _setup(kind, clf_data, reg_data):
    if kind == "classifier":
        return LSTMClassifier(**FAST), *clf_data, StratifiedKFold(2)
    return LSTMRegressor(**FAST), *reg_data, KFold(2)


def _candidates(kind, space, n=6):
    """A few parameter settings drawn from the space as each searcher would."""
    if kind == "grid":
        return list(ParameterGrid(space))[:n]
    if kind == "random":
        return list(ParameterSampler(space, n, random_state=0))
    points = Space(list(space.values())).rvs(n, random_state=0)
    return [dict(zip(space, point, strict=True)) for point in points]


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_grid_space_runs_in_grid_search(estimator, clf_data, reg_data):
    est, X, y, cv = _setup(estimator, clf_data, reg_data)
    space = search_space("grid", n_samples=len(X), estimator=est, include=["lr"])
    search = GridSearchCV(est, space, cv=cv).fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_random_space_runs_in_randomized_search(estimator, clf_data, reg_data):
    est, X, y, cv = _setup(estimator, clf_data, reg_data)
    space = search_space("random", n_samples=len(X), estimator=estimator)
    space.update(hidden_size=[2, 4], max_epochs=[2])  # keep the test fast
    search = RandomizedSearchCV(est, space, n_iter=2, cv=cv, random_state=0)
    search.fit(X, y)
    assert set(search.best_params_) == set(DIMENSIONS)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


@pytest.mark.parametrize("estimator", ["classifier", "regressor"])
def test_bayes_space_runs_in_bayes_search(estimator, clf_data, reg_data):
    est, X, y, cv = _setup(estimator, clf_data, reg_data)
    space = search_space("bayes", n_samples=len(X), estimator=est, include=CHEAP)
    search = BayesSearchCV(est, space, n_iter=2, cv=cv, random_state=0)
    search.fit(X, y)
    assert set(search.best_params_) == set(CHEAP)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_prefix_reaches_the_lstm_inside_a_pipeline(clf_data):
    X, y = clf_data
    pipe = make_pipeline(FunctionTransformer(), LSTMClassifier(**FAST))
    space = search_space(
        "grid",
        n_samples=len(X),
        estimator=pipe,
        include=["dropout"],
        prefix="lstmclassifier__",
    )
    assert list(space) == ["lstmclassifier__dropout"]
    search = GridSearchCV(pipe, space, cv=StratifiedKFold(2)).fit(X, y)
    assert search.best_params_["lstmclassifier__dropout"] in (0.0, 0.3)


def test_wrong_prefix_is_caught():
    pipe = make_pipeline(FunctionTransformer(), LSTMClassifier())
    with pytest.raises(ValueError, match="not parameters of the estimator"):
        search_space("grid", n_samples=100, estimator=pipe, prefix="lstm__")
    with pytest.raises(ValueError, match="not parameters of the estimator"):
        search_space("grid", n_samples=100, estimator=pipe)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
@pytest.mark.parametrize("n_samples", [50, 5_000, 500_000])
def test_every_key_is_a_valid_parameter_and_every_value_valid(kind, Est, n_samples):
    est = Est()
    space = search_space(kind, n_samples=n_samples, n_timesteps=300, estimator=est)
    # 300 steps: patches and the convolutional branch too
    assert list(space) == [*DIMENSIONS, "patch_size", "conv_branch"]
    assert set(space) <= set(est.get_params())
    for params in _candidates(kind, space):
        est.set_params(**params)._validate_params()  # the constraints fit checks


@pytest.mark.parametrize("kind", KINDS)
def test_value_types_per_kind(kind):
    space = search_space(kind, n_samples=1_000)
    for name, values in space.items():
        if kind == "grid":
            assert isinstance(values, list) and values, name
        elif kind == "bayes":
            assert isinstance(values, Integer | Real), name
        elif name in ("hidden_size", "batch_size"):
            assert values == sorted(values) and values[0] * 2 == values[1]
        else:
            assert hasattr(values, "rvs"), name


def _bounds(n_samples, n_timesteps=None):
    space = search_space("bayes", n_samples=n_samples, n_timesteps=n_timesteps)
    return {
        name: (dim.low, dim.high)
        for name, dim in space.items()
        if name != "conv_branch"  # a choice, no bounds
    }


def test_ranges_follow_the_data_size():
    sizes = [100, 1_000, 10_000, 100_000]
    bounds = [_bounds(n) for n in sizes]
    for name in ("hidden_size", "batch_size", "num_layers"):
        highs = [b[name][1] for b in bounds]
        assert highs == sorted(highs) and highs[0] < highs[-1], name
    epochs = [b["max_epochs"][1] for b in bounds]
    assert epochs == sorted(epochs, reverse=True) and epochs[0] > epochs[-1]
    for n, b in zip(sizes, bounds, strict=True):
        # about 20 steps per epoch even at the largest batch (never below 16 rows)
        assert b["batch_size"][1] <= max(16, n / 20)
        # hidden_size grows like sqrt(n), capped
        assert b["hidden_size"][1] <= max(16, 4 * np.sqrt(n))
        for low, high in b.values():
            assert low < high


def test_long_sequences_lower_the_learning_rate():
    assert _bounds(1_000, n_timesteps=500)["lr"][1] < _bounds(1_000)["lr"][1]
    assert _bounds(1_000, n_timesteps=20)["lr"] == _bounds(1_000)["lr"]


def test_include_selects_and_orders_dimensions():
    space = search_space("random", n_samples=100, include=["lr", "hidden_size"])
    assert list(space) == ["hidden_size", "lr"]
    assert list(search_space("grid", n_samples=100, include="lr")) == ["lr"]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"kind": "optuna"}, "kind must be one of"),
        ({"kind": "Grid"}, "kind must be one of"),
        ({"n_samples": 0}, "n_samples must be a positive integer"),
        ({"n_samples": 10.5}, "n_samples must be a positive integer"),
        ({"n_timesteps": 0}, "n_timesteps must be a positive integer"),
        ({"include": ["hidden_units"]}, "unknown dimensions"),
        ({"include": []}, "names no dimension"),
        ({"estimator": "transformer"}, "estimator must be"),
        ({"estimator": object()}, "estimator must be"),
    ],
)
def test_bad_arguments_raise(kwargs, match):
    kwargs = {"kind": "random", "n_samples": 100, **kwargs}
    with pytest.raises(ValueError, match=match):
        search_space(**kwargs)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("switch", ["series_norm", "asinh_view"])
def test_switches_reading_the_data_are_searched_only_when_included(kind, switch):
    space = search_space(kind, n_samples=100, n_timesteps=300)
    assert switch not in space  # "auto" reads the data; a space cannot
    space = search_space(kind, n_samples=100, include=["lr", switch])
    assert list(space) == ["lr", switch]
    values = space[switch]
    choices = values.categories if kind == "bayes" else values
    assert list(choices) == [False, True]


def test_a_searched_series_norm_reaches_each_candidate():
    # series whose classes differ only in level: the switch must matter
    rng = np.random.RandomState(0)
    y = np.repeat([0, 1], 12)
    X = rng.normal(size=(24, 8, 1)) * 0.1 + np.where(y, 5.0, 1.0)[:, None, None]
    space = search_space("grid", n_samples=len(X), include=["series_norm"])
    search = GridSearchCV(
        LSTMClassifier(**FAST), space, cv=StratifiedKFold(2), refit=True
    ).fit(X, y)
    assert [p["series_norm"] for p in search.cv_results_["params"]] == [False, True]
    best = search.best_estimator_
    assert best.series_norm_ is best.series_norm
    # the network the refit built reads the standardized copy or not
    assert hasattr(best.net_.module_, "stats_scale") is best.series_norm_
