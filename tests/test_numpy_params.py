"""numpy-valued parameters, as searches hand them to set_params.

A property test draws whole configurations from the parameter space with
numpy scalar types (np.int64, np.float32, np.bool_, np.str_, ...) and checks
that fit, clone, pickle, save/load and ONNX export all behave as with Python
values: the same predictions everywhere.
"""

import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.model_selection import RandomizedSearchCV

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm.search_spaces import search_space

INTS = (np.int64, np.int32, np.int16, int)
FLOATS = (np.float64, np.float32, float)


def _as(types, value):
    return st.sampled_from(types).map(lambda t: t(value))


def _int(lo, hi):
    return st.integers(lo, hi).flatmap(lambda v: _as(INTS, v))


def _float(values):
    return st.sampled_from(values).flatmap(lambda v: _as(FLOATS, v))


def _bool():
    return st.booleans().flatmap(lambda v: _as((np.bool_, bool), v))


def _str(options):
    return st.sampled_from(options).flatmap(lambda v: _as((np.str_, str), v))


CONFIG = st.fixed_dictionaries(
    {
        "hidden_size": _int(2, 6),
        "num_layers": _int(1, 2),
        "bidirectional": _bool(),
        "dropout": _float([0.0, 0.25]),
        "lstm_dropout": st.one_of(_str(["auto"]), _float([0.0, 0.25])),
        "random_crop": st.one_of(_str(["auto"]), _float([0.5, 1.0])),
        "head_units": st.one_of(
            st.just(()), _int(2, 3), st.tuples(_int(2, 3)), st.just([np.int64(2)])
        ),
        "norm": st.sampled_from([None, "layer", np.str_("layer")]),
        "optimizer": _str(["adam", "adamw", "sgd", "rmsprop"]),
        "lr": _float([1e-3, 1e-2]),
        "momentum": _float([0.0, 0.5]),
        "weight_decay": _float([0.0, 1e-3]),
        "l1": _float([0.0, 1e-4]),
        "batch_size": _int(4, 32),
        "max_epochs": _int(1, 2),
        "shuffle": _bool(),
        "lr_scheduler": st.sampled_from([None, "step", "cosine", np.str_("onecycle")]),
        "gradient_clip": st.one_of(st.none(), _float([0.5, 1.0])),
        "gradient_clip_value": st.one_of(st.none(), _float([1.0])),
        "early_stopping": _bool(),
        "validation_fraction": _float([0.25]),
        "n_iter_no_change": _int(1, 3),
        "tol": _float([1e-4]),
        "n_threads": st.one_of(st.none(), _int(1, 1)),
        "random_state": _int(0, 3),
        "patch_size": st.one_of(st.none(), st.just("auto"), _int(1, 3)),
        "gate_init": _str(["default", "forget_bias", "chrono"]),
        "data_format": _str(["channels_last", "channels_first"]),
        "vocab_size": st.none(),
    }
)

# the regressor's own parameters
REGRESSOR = st.fixed_dictionaries(
    {
        "loss": _str(["mse", "huber", "quantile"]),
        "quantiles": st.sampled_from(
            [
                (0.1, 0.5, 0.9),
                [np.float32(0.25), np.float64(0.75)],
                np.array([0.05, 0.95]),
            ]
        ),
        "scale_target": _bool(),
    }
)

DATA = np.random.RandomState(0).normal(size=(24, 5, 2)).astype(np.float32)
LABELS = np.where(DATA[:, :, 0].mean(1) > 0, "up", "down")
TARGET = DATA[:, :, 1].sum(1)


def _predict(est, X):
    return est.predict_proba(X) if hasattr(est, "classes_") else est.predict(X)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(config=CONFIG, classifier=st.booleans(), regressor=REGRESSOR)
def test_numpy_configurations_behave_like_python_ones(
    config, classifier, regressor, tmp_path
):
    cls, y = (LSTMClassifier, LABELS) if classifier else (LSTMRegressor, TARGET)
    est = cls(**config, **({} if classifier else regressor)).fit(DATA, y)
    expected = _predict(est, DATA)
    assert np.isfinite(expected).all()
    # clone: the same configuration refits to the same model
    np.testing.assert_allclose(_predict(clone(est).fit(DATA, y), DATA), expected)
    # pickle and the safe format give the same predictions
    np.testing.assert_array_equal(
        _predict(pickle.loads(pickle.dumps(est)), DATA), expected
    )
    again = load(save(est, tmp_path / "m.sklstm"))
    np.testing.assert_array_equal(_predict(again, DATA), expected)
    # a loaded model keeps training with the same settings
    again.partial_fit(DATA, y)


def test_best_model_of_a_search_over_search_space_reloads(tmp_path):
    space = search_space("random", n_samples=24, n_timesteps=5)
    space = {k: v for k, v in space.items() if k != "max_epochs"}
    search = RandomizedSearchCV(
        LSTMRegressor(max_epochs=2, random_state=0),
        space,
        n_iter=3,
        cv=2,
        random_state=0,
    ).fit(DATA, TARGET)
    best = search.best_estimator_
    assert any(isinstance(v, np.generic) for v in search.best_params_.values())
    again = load(save(best, tmp_path / "best.sklstm"))
    np.testing.assert_array_equal(again.predict(DATA), best.predict(DATA))


@pytest.mark.parametrize("classifier", [False, True])
def test_numpy_configuration_exports_to_onnx(classifier, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sklstm import to_onnx

    cls, y = (LSTMClassifier, LABELS) if classifier else (LSTMRegressor, TARGET)
    est = cls(
        hidden_size=np.int64(4),
        bidirectional=np.bool_(True),
        head_units=np.int32(3),
        dropout=np.float32(0.25),
        batch_size=np.int64(8),
        max_epochs=np.int64(2),
        lr=np.float64(0.01),
        random_state=np.int64(0),
    ).fit(DATA, y)
    path = to_onnx(est, tmp_path / "m.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"X": DATA})
    np.testing.assert_allclose(out, _predict(est, DATA), rtol=1e-4, atol=1e-6)
