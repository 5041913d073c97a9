"""Parameter checks: one place, on every fit and partial_fit call."""

import inspect

import numpy as np
import pytest
from conftest import SETTINGS

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._base import _BaseLSTM

FAST = SETTINGS["tiny"]


@pytest.fixture
def data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(24, 5, 2))
    return X, X[:, :, 0].sum(axis=1)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"lr": -1.0}, "'lr' parameter"),
        ({"batch_size": -3}, "'batch_size' parameter"),
        ({"optimizer": "nope"}, "'optimizer' parameter"),
        ({"dropout": 1.5}, "'dropout' parameter"),
        ({"optimizer": "rmsprop", "weight_decay": 0.0, "momentum": 2.0}, "momentum"),
    ],
)
def test_set_params_is_checked_before_the_next_partial_fit(data, params, match):
    X, y = data
    reg = LSTMRegressor(**FAST).partial_fit(X, y)
    before = [p.detach().clone() for p in reg.net_.module_.parameters()]
    reg.set_params(**params)
    with pytest.raises(ValueError, match=match):
        reg.partial_fit(X, y)
    # refused before any training: the weights are untouched
    after = list(reg.net_.module_.parameters())
    assert all(
        np.array_equal(a.detach(), b) for a, b in zip(after, before, strict=True)
    )


def test_warm_start_fit_checks_cross_parameter_rules(data):
    X, y = data
    reg = LSTMRegressor(**FAST, warm_start=True).fit(X, y)
    reg.set_params(optimizer="rmsprop", weight_decay=0.1)
    reg.fit(X, y)  # rmsprop takes weight decay
    reg.set_params(stateful=True, bidirectional=True)
    with pytest.raises(ValueError, match="stateful=True cannot be combined"):
        reg.partial_fit(X, y)


def test_a_fresh_fit_gives_the_same_message_as_partial_fit(data):
    X, y = data
    fresh = LSTMRegressor(**FAST, patch_size=2, patch_stride=3)
    with pytest.raises(ValueError, match="patch_stride=3 is larger") as first:
        fresh.fit(X, y)
    warm = LSTMRegressor(**FAST).partial_fit(X, y)
    warm.set_params(patch_size=2, patch_stride=3)
    with pytest.raises(ValueError, match="patch_stride=3 is larger") as second:
        warm.partial_fit(X, y)
    assert str(first.value) == str(second.value)


def test_numpy_scalars_from_a_grid_pass_the_checks(data):
    X, y = data
    reg = LSTMRegressor(**FAST).partial_fit(X, y)
    reg.set_params(lr=np.float32(1e-3), batch_size=np.int64(8), dropout=np.float64(0))
    reg.partial_fit(X, y)
    assert reg.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(1e-3)


@pytest.mark.parametrize("cls", [LSTMClassifier, LSTMRegressor])
def test_subclass_signatures_agree_with_the_base(cls):
    """Every shared parameter has the same default and kind in each class,
    and a constraint; each class's own parameters have constraints too."""
    base = inspect.signature(_BaseLSTM.__init__).parameters
    own = inspect.signature(cls.__init__).parameters
    for name, param in base.items():
        if name == "self":
            continue
        assert name in own, name
        assert own[name].default == param.default, name
        assert own[name].kind == param.kind == inspect.Parameter.KEYWORD_ONLY, name
    for name in own:
        if name != "self":
            assert name in cls._parameter_constraints, name
    assert set(cls._parameter_constraints) == set(own) - {"self"}
