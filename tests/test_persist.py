"""Saving and loading fitted estimators: sklstm's JSON + weights file, and pickle."""

import io
import json
import os
import pickle
import zipfile

import joblib
import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import sklstm
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.io._persist import FORMAT_VERSION, load, save

FAST = {"hidden_size": 4, "max_epochs": 2, "batch_size": 16, "random_state": 0}


def make_sequences(n, steps=6, features=2):
    """Like conftest's: targets follow the first feature's mean."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, steps, features))
    return X, X[:, :, 0].mean(axis=1)


def _ragged(X):
    return [x[: 3 + i % 4] for i, x in enumerate(X)]


def _tokens(X):
    return np.abs(np.round(X[:, :, 0] * 3)).astype(np.int64) + 1


def _case(name):
    """A fitted estimator and the X to predict with."""
    X, signal = make_sequences(n=40)
    labels = signal > 0
    if name == "reg_3d":
        return LSTMRegressor(**FAST).fit(X, 3 * signal + 10), X
    if name == "reg_2d":
        return LSTMRegressor(**FAST).fit(X[:, :, 0], signal), X[:, :, 0]
    if name == "reg_ragged":
        return LSTMRegressor(**FAST).fit(_ragged(X), signal), _ragged(X)
    if name == "reg_multi_output":
        y = np.c_[signal, -2 * signal + 1]
        est = LSTMRegressor(
            **FAST, bidirectional=True, num_layers=2, norm="layer", head_units=(3,)
        )
        return est.fit(X, y), X
    if name == "reg_sequences":
        est = LSTMRegressor(**FAST, return_sequences=True, norm="batch")
        return est.fit(X, X[:, :, 0].cumsum(axis=1)), X
    if name == "reg_embedding":
        tokens = _tokens(X)
        return LSTMRegressor(**FAST, embedding_dim=3).fit(tokens, signal), tokens
    if name == "reg_early_stopping":
        est = LSTMRegressor(**{**FAST, "max_epochs": 4}, early_stopping=True)
        return est.fit(X, signal), X
    y = {
        "clf_str": np.where(labels, "up", "down"),
        "clf_int": np.where(labels, 7, -3),
        "clf_float": np.where(labels, 1.0, 3.0),
        "clf_bool": labels,
        "clf_object": np.where(labels, "up", "down").astype(object),
    }.get(name)
    if y is not None:
        return LSTMClassifier(**FAST).fit(X, y), X
    y = np.where(labels, "up", "down")
    if name == "clf_early_stopping_weighted":
        est = LSTMClassifier(
            **{**FAST, "max_epochs": 4},
            early_stopping=True,
            class_weight="balanced",
            lr_scheduler="step",
        )
        return est.fit(X, y), X
    if name == "clf_ragged":
        return LSTMClassifier(**FAST).fit(_ragged(X), y), _ragged(X)
    raise KeyError(name)


CASES = [
    "reg_3d",
    "reg_2d",
    "reg_ragged",
    "reg_multi_output",
    "reg_sequences",
    "reg_embedding",
    "reg_early_stopping",
    "clf_str",
    "clf_int",
    "clf_float",
    "clf_bool",
    "clf_object",
    "clf_early_stopping_weighted",
    "clf_ragged",
]


def _assert_same_state(a, b):
    assert type(a) is type(b)
    assert a.get_params() == b.get_params()
    for name, value in vars(a).items():
        if name in ("net_", "history_"):
            continue
        if name.endswith("_") or name in ("_fitted_on_2d", "_target_ndim"):
            other = getattr(b, name)
            if isinstance(value, np.ndarray):
                assert value.dtype == other.dtype, name
                np.testing.assert_array_equal(value, other, err_msg=name)
            else:
                assert value == other, name
    assert list(a.history_) == list(b.history_)


@pytest.mark.parametrize("name", CASES)
def test_round_trip_predicts_identically(name, tmp_path):
    est, X = _case(name)
    path = save(est, tmp_path / "model.sklstm")
    again = load(path)
    _assert_same_state(est, again)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    if name.startswith("clf"):
        np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
        assert again.predict(X).dtype == est.predict(X).dtype


def test_feature_names_and_plain_values_round_trip(tmp_path):
    pd = pytest.importorskip("pandas")
    X, signal = make_sequences(n=30)
    frame = pd.DataFrame(X[:, :, 0], columns=[f"t{i}" for i in range(X.shape[1])])
    est = LSTMClassifier(
        **{**FAST, "random_state": np.random.RandomState(3)},
        optimizer=torch.optim.SGD,
        class_weight={7: 2.0, -3: 1.0},
        lr_scheduler="step",
        lr_scheduler_params={"gamma": 0.5},
        head_units=(2,),
    ).fit(frame, np.where(signal > 0, 7, -3))
    again = load(save(est, tmp_path / "m.sklstm"))
    np.testing.assert_array_equal(again.feature_names_in_, est.feature_names_in_)
    assert again.optimizer is torch.optim.SGD
    assert again.head_units == (2,) and again.class_weight == {7: 2.0, -3: 1.0}
    state, expected = again.random_state.get_state(), est.random_state.get_state()
    np.testing.assert_array_equal(state[1], expected[1])
    assert torch.equal(
        again.net_.criterion_.class_weight, est.net_.criterion_.class_weight
    )
    np.testing.assert_array_equal(again.predict_proba(frame), est.predict_proba(frame))


def test_partial_fit_after_load_continues_like_the_original(tmp_path, reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST).fit(X, y)
    again = load(save(est, tmp_path / "m.sklstm"))
    est.partial_fit(X, y)
    again.partial_fit(X, y)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    assert again.loss_curve_ == est.loss_curve_


def test_load_leaves_the_global_rng_alone(tmp_path, reg_data):
    path = save(LSTMRegressor(**FAST).fit(*reg_data), tmp_path / "m.sklstm")
    torch.manual_seed(1)
    expected = torch.rand(3)
    torch.manual_seed(1)
    load(path)
    assert torch.equal(torch.rand(3), expected)


class _CustomSGD(torch.optim.SGD):
    pass


@pytest.mark.parametrize(
    "params, match",
    [
        ({"callbacks": [object()]}, "callbacks"),
        ({"optimizer": _CustomSGD}, "torch.optim"),
        ({"lr_scheduler_params": {"fn": len}}, "lr_scheduler_params"),
    ],
)
def test_save_refuses_what_json_cannot_hold(params, match, reg_data, tmp_path):
    est = LSTMRegressor(**FAST).fit(*reg_data).set_params(**params)
    with pytest.raises(ValueError, match=match):
        save(est, tmp_path / "m.sklstm")
    assert not os.listdir(tmp_path)  # no partial file left


def test_save_refuses_an_estimator_as_init_from(reg_data, tmp_path):
    est = LSTMRegressor(**FAST).fit(*reg_data)
    est.set_params(init_from=LSTMRegressor(**FAST).fit(*reg_data))
    with pytest.raises(ValueError, match="init_from"):
        save(est, tmp_path / "m.sklstm")


def test_save_needs_a_fitted_sklstm_estimator(tmp_path):
    with pytest.raises(NotFittedError):
        save(LSTMRegressor(), tmp_path / "m.sklstm")
    with pytest.raises(TypeError, match="sklstm estimator"):
        save(FunctionTransformer(), tmp_path / "m.sklstm")


def _rewrite(path, *, meta=None, weights=None):
    """Copy of the model file with meta.json edited and/or weights.pt replaced."""
    with zipfile.ZipFile(path) as archive:
        doc = json.loads(archive.read("meta.json"))
        blob = archive.read("weights.pt")
    if meta is not None:
        meta(doc)
    out = path.with_name("edited.sklstm")
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("meta.json", json.dumps(doc))
        archive.writestr("weights.pt", blob if weights is None else weights)
    return out


class _Payload:
    """Pickles to a call of ``os.mkdir(marker)``: harmless and observable."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("container", ["torch", "plain_pickle"])
def test_load_never_runs_a_pickle_payload(container, tmp_path, reg_data):
    path = save(LSTMRegressor(**FAST).fit(*reg_data), tmp_path / "m.sklstm")
    marker = tmp_path / "pwned"
    evil = {"module": _Payload(marker), "criterion": {}, "optimizer": None}
    buffer = io.BytesIO()
    if container == "torch":
        torch.save(evil, buffer)
    else:
        pickle.dump(evil, buffer)
    bad = _rewrite(path, weights=buffer.getvalue())
    with pytest.raises(ValueError, match="refused to load weights.pt"):
        load(bad)
    assert not marker.exists()
    # the payload is live: an unrestricted unpickler would have run it
    buffer.seek(0)
    if container == "torch":
        torch.load(buffer, weights_only=False)
    else:
        pickle.load(buffer)
    assert marker.exists()


def test_format_and_version_checks(tmp_path, reg_data):
    path = save(LSTMRegressor(**FAST).fit(*reg_data), tmp_path / "m.sklstm")

    def newer(doc):
        doc["format_version"] = FORMAT_VERSION + 1

    with pytest.raises(ValueError, match="format 2.*Upgrade sklstm"):
        load(_rewrite(path, meta=newer))

    def older_release(doc):
        doc["sklstm_version"] = "0.0.7"

    with pytest.warns(UserWarning, match=f"sklstm 0.0.7.*sklstm {sklstm.__version__}"):
        load(_rewrite(path, meta=older_release))

    def unknown_class(doc):
        doc["estimator"] = "LSTMForecaster"

    with pytest.raises(ValueError, match="unknown estimator class 'LSTMForecaster'"):
        load(_rewrite(path, meta=unknown_class))
    with pytest.raises(ValueError, match="an LSTMRegressor, not an LSTMClassifier"):
        load(path, estimator_class=LSTMClassifier)
    assert isinstance(load(path, estimator_class=LSTMRegressor), LSTMRegressor)

    (tmp_path / "junk.sklstm").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="not an sklstm model file"):
        load(tmp_path / "junk.sklstm")


def test_weights_must_fit_the_saved_model(tmp_path, reg_data):
    path = save(LSTMRegressor(**FAST).fit(*reg_data), tmp_path / "m.sklstm")

    def wider(doc):
        doc["params"]["hidden_size"] = 5

    with pytest.raises(ValueError, match="hidden_size=5 but the stored"):
        load(_rewrite(path, meta=wider))


def test_model_fitted_on_cuda_loads_on_cpu_from_meta(tmp_path, clf_data):
    X, y = clf_data
    est = LSTMClassifier(**FAST).fit(X, y)
    path = save(est, tmp_path / "m.sklstm")

    def on_cuda(doc):
        doc["params"]["device"] = "cuda"
        doc["fitted"]["device_"] = "cuda"

    again = load(_rewrite(path, meta=on_cuda), device="cpu")
    assert again.device_ == "cpu" and again.device == "cuda"
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_loading_onto_missing_cuda_fails_clearly(tmp_path, reg_data):
    path = save(LSTMRegressor(**FAST).fit(*reg_data), tmp_path / "m.sklstm")
    with pytest.raises(ValueError, match="CUDA is not available"):
        load(path, device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")
def test_cuda_fitted_model_loads_on_cpu(tmp_path, reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, device="cuda").fit(X, y)
    path = save(est, tmp_path / "m.sklstm")
    again = load(path, device="cpu")
    assert again.device_ == "cpu"
    assert all(p.device.type == "cpu" for p in again.net_.module_.parameters())
    np.testing.assert_allclose(again.predict(X), est.predict(X), rtol=1e-4, atol=1e-5)
    on_gpu = load(path, device="cuda")
    assert on_gpu.device_.startswith("cuda")
    np.testing.assert_allclose(on_gpu.predict(X), est.predict(X), rtol=1e-6)


def test_pipeline_pickle_and_joblib_round_trip(tmp_path, reg_data):
    X, y = reg_data
    pipe = make_pipeline(FunctionTransformer(), LSTMRegressor(**FAST)).fit(X, y)
    expected = pipe.predict(X)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(pipe)).predict(X), expected)
    joblib.dump(pipe, tmp_path / "pipe.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "pipe.joblib").predict(X), expected
    )


def test_estimator_save_and_class_load(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 5, 2))
    y = X[:, :, 0].sum(axis=1)
    reg = LSTMRegressor(hidden_size=4, max_epochs=2, random_state=0).fit(X, y)
    path = reg.save(tmp_path / "reg.sklstm")
    np.testing.assert_array_equal(LSTMRegressor.load(path).predict(X), reg.predict(X))
    with pytest.raises(ValueError, match="LSTMRegressor"):
        LSTMClassifier.load(path)
