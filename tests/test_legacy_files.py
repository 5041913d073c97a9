"""Files saved by sklstm 0.2 (before the renovation) load and predict the same.

The files and the predictions they made were written by the script in
``tests/data/legacy_0.2/README.md`` at commit ad8efad.
"""

import json
import pathlib
import warnings

import numpy as np
import pytest

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor

pytest.importorskip("skops")

HERE = pathlib.Path(__file__).parent / "data" / "legacy_0.2"
EXPECTED = json.loads((HERE / "expected.json").read_text())["predictions"]
# float32 kernels differ by CPU instruction set: equal up to rounding
TOL = {"rtol": 1e-4, "atol": 1e-5}


def _load(name, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the version note of an older file
        return sklstm.load(HERE / name, **kwargs)


def test_model_file():
    model = _load("model.sklstm")
    assert isinstance(model, LSTMRegressor)
    queries = np.load(HERE / "queries.npy")
    np.testing.assert_allclose(model.predict(queries), EXPECTED["model"], **TOL)


def test_patched_model_file():
    model = _load("patched_model.sklstm", estimator_class=LSTMClassifier)
    assert model.patch_size_ == 8
    queries = np.load(HERE / "queries_long.npy")
    proba = model.predict_proba(queries)
    np.testing.assert_allclose(proba, EXPECTED["patched_model"], **TOL)


def test_pipeline_file():
    pipe = _load("pipeline.skops")
    queries = np.load(HERE / "queries.npy")
    np.testing.assert_allclose(pipe.predict(queries), EXPECTED["pipeline"], **TOL)


def test_forecaster_file():
    forecaster = _load("forecaster.skops")
    assert isinstance(forecaster.estimator, LSTMRegressor)  # the template
    assert not hasattr(forecaster.estimator, "net_")
    np.testing.assert_allclose(forecaster.forecast(4), EXPECTED["forecaster"], **TOL)


def test_a_model_class_refuses_a_pipeline_file():
    with pytest.raises(ValueError, match="holds a pipeline or meta-estimator"):
        LSTMClassifier.load(HERE / "forecaster.skops")
