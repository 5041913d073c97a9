"""Whole pipelines saved without pickle: skops for sklearn, sklstm for LSTMs."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm.preprocessing import SequenceScaler, TextSequencer

sio = pytest.importorskip("skops.io")

FAST = SETTINGS["fast"]


def test_scaler_and_lstm_round_trip(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    again = load(save(pipe, tmp_path / "pipe.sklstm"))
    assert isinstance(again, Pipeline) and isinstance(again[-1], LSTMRegressor)
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))
    assert isinstance(pipe[-1], LSTMRegressor)  # the original is left whole


def test_text_pipeline_round_trip(tmp_path):
    texts = ["good film", "bad film", "very good", "very bad"] * 10
    labels = ["pos", "neg", "pos", "neg"] * 10
    pipe = make_pipeline(TextSequencer(), LSTMClassifier(**FAST, embedding_dim=4))
    pipe.fit(texts, labels)
    again = load(save(pipe, tmp_path / "text.sklstm"))
    np.testing.assert_array_equal(again.predict_proba(texts), pipe.predict_proba(texts))


def test_best_estimator_of_a_search_round_trips(tmp_path, clf_data):
    X, y = clf_data
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), LSTMClassifier(**FAST)),
        {"lstmclassifier__lr": [1e-3, 1e-2]},
        cv=2,
    ).fit(X, y)
    again = load(save(search.best_estimator_, tmp_path / "best.sklstm"))
    np.testing.assert_array_equal(again.predict(X), search.predict(X))


def test_nested_pipelines(tmp_path, reg_data):
    X, y = reg_data
    inner = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST))
    pipe = make_pipeline(FunctionTransformer(), inner).fit(X, y)
    again = load(save(pipe, tmp_path / "nested.sklstm"))
    np.testing.assert_array_equal(again.predict(X), pipe.predict(X))


def _replace_member(path, name, data):
    with zipfile.ZipFile(path) as archive:
        members = {n: archive.read(n) for n in archive.namelist()}
    members[name] = data
    out = path.with_name("edited.sklstm")
    with zipfile.ZipFile(out, "w") as archive:
        for n, d in members.items():
            archive.writestr(n, d)
    return out


def test_untrusted_types_are_refused(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    path = save(pipe, tmp_path / "pipe.sklstm")
    # a pipeline.skops holding a type that is neither skops' nor sklstm's
    foreign = sio.dumps(make_pipeline(FunctionTransformer(func=os.getcwd)))
    out = _replace_member(path, "pipeline.skops", foreign)
    with pytest.raises(ValueError, match="does not trust.*os.getcwd|does not trust"):
        load(out)


def test_pipeline_file_with_a_bad_model_is_refused(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y)
    path = save(pipe, tmp_path / "pipe.sklstm")
    with zipfile.ZipFile(path) as archive:
        model = archive.read("model-0.sklstm")
    with zipfile.ZipFile(io.BytesIO(model)) as inner:
        meta = json.loads(inner.read("meta.json"))
        weights = inner.read("weights.pt")
    meta["fitted"]["y_scale_"]["data"] = [-1.0]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as inner:
        inner.writestr("meta.json", json.dumps(meta))
        inner.writestr("weights.pt", weights)
    out = _replace_member(path, "model-0.sklstm", buffer.getvalue())
    with pytest.raises(ValueError, match=r"edited.sklstm\[model-0\].*y_scale_"):
        load(out)


def test_other_objects_are_refused(tmp_path):
    with pytest.raises(TypeError, match="sklstm estimator, or a Pipeline"):
        save(FunctionTransformer(), tmp_path / "x.sklstm")


def _meta_estimators():
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.ensemble import StackingRegressor, VotingRegressor
    from sklearn.multioutput import MultiOutputRegressor

    lstm = LSTMRegressor(**FAST)
    other = LSTMRegressor(**{**FAST, "hidden_size": 3, "random_state": 1})
    return {
        "transformed_target": (
            TransformedTargetRegressor(
                regressor=make_pipeline(SequenceScaler(), lstm),
                func=np.log,
                inverse_func=np.exp,
            ),
            "reg",
        ),
        "calibrated": (CalibratedClassifierCV(LSTMClassifier(**FAST), cv=2), "clf"),
        "voting": (VotingRegressor([("a", lstm), ("b", other)]), "reg"),
        "stacking": (StackingRegressor([("a", lstm), ("b", other)], cv=2), "reg"),
        "multi_output": (MultiOutputRegressor(lstm), "multi"),
    }


@pytest.mark.parametrize("name", sorted(_meta_estimators()))
def test_an_lstm_inside_a_meta_estimator_round_trips(tmp_path, name, reg_data):
    """Files walk objects by protocol: an LSTM anywhere inside is stored."""
    X, y = reg_data
    est, task = _meta_estimators()[name]
    target = {"reg": y, "clf": (y > 10).astype(int), "multi": np.c_[y, -y]}[task]
    est.fit(X, target)
    again = load(save(est, tmp_path / f"{name}.sklstm"))
    assert type(again) is type(est)
    np.testing.assert_allclose(again.predict(X), est.predict(X), rtol=1e-6)
    if task == "clf":
        np.testing.assert_allclose(again.predict_proba(X), est.predict_proba(X))
    # the unfitted templates come back as unfitted estimators with their params
    template = again.get_params(deep=False).get("regressor") or again.get_params(
        deep=False
    ).get("estimator")
    if template is not None:
        assert not hasattr(getattr(template, "steps", [[0, template]])[-1][1], "net_")


def test_a_forecaster_around_a_meta_estimator_round_trips(tmp_path):
    from sklearn.compose import TransformedTargetRegressor

    from sklstm.forecasting import WindowedForecaster

    t = np.arange(80, dtype=float)
    series = 5 + np.sin(t / 3)
    inner = TransformedTargetRegressor(
        LSTMRegressor(**FAST), func=np.log, inverse_func=np.exp
    )
    forecaster = WindowedForecaster(inner, lookback=6).fit(series[:, None], series)
    again = load(save(forecaster, tmp_path / "forecaster.sklstm"))
    np.testing.assert_allclose(again.forecast(3), forecaster.forecast(3), rtol=1e-6)


def test_torch_state_outside_an_lstm_is_refused_naming_where(tmp_path, reg_data):
    import torch

    X, y = reg_data
    odd = FunctionTransformer(kw_args={"layer": torch.nn.Linear(2, 2)})
    pipe = make_pipeline(odd, LSTMRegressor(**FAST))
    pipe.steps[0] = ("odd", FunctionTransformer())
    pipe.fit(X, y)
    pipe.steps[0] = ("odd", odd)
    with pytest.raises(ValueError, match=r"kw_args\['layer'\].*torch Linear"):
        save(pipe, tmp_path / "odd.sklstm")
