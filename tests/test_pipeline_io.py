"""Whole pipelines saved without pickle: skops for sklearn, sklstm for LSTMs."""

import io
import json
import os
import zipfile

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm.preprocessing import SequenceScaler, TextSequencer

sio = pytest.importorskip("skops.io")

FAST = {"hidden_size": 4, "max_epochs": 2, "batch_size": 16, "random_state": 0}


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
