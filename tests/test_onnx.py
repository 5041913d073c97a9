"""ONNX export: the graph's output equals predict / predict_proba."""

import sys

import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.io._onnx import to_onnx

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

FAST = {"hidden_size": 4, "max_epochs": 2, "batch_size": 16, "random_state": 0}


def _data(n=40, steps=6, features=2):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, steps, features)).astype(np.float32)
    return X, X[:, :, 0].mean(axis=1)


def _case(name):
    """A fitted estimator and inputs of other batch sizes and lengths than fit's."""
    X, signal = _data()
    X_new = np.random.RandomState(1).normal(size=(7, 9, 2)).astype(np.float32)
    labels = np.where(signal > 0, "up", "down")
    if name == "reg":
        return LSTMRegressor(**FAST).fit(X, 3 * signal + 10), X_new
    if name == "reg_multi_output_deep":
        est = LSTMRegressor(
            **FAST, num_layers=2, bidirectional=True, norm="layer", head_units=(3,)
        )
        return est.fit(X, np.c_[signal, 5 - signal]), X_new
    if name == "reg_sequences":
        est = LSTMRegressor(**FAST, return_sequences=True, norm="batch")
        return est.fit(X, X[:, :, 0].cumsum(axis=1)), X_new
    if name == "reg_2d":  # fixed columns, as in predict
        return LSTMRegressor(**FAST).fit(X[:, :, 0], signal), X_new[:, :6, 0]
    if name == "clf":
        est = LSTMClassifier(**FAST, bidirectional=True, head_units=(3,))
        return est.fit(X, labels), X_new
    if name == "clf_multiclass":
        y = np.digitize(signal, [-0.2, 0.2])
        return LSTMClassifier(**FAST).fit(X, np.array(["a", "b", "c"])[y]), X_new
    if name == "clf_multilabel":
        Y = np.c_[signal > 0, X[:, :, 1].mean(1) > 0].astype(int)
        return LSTMClassifier(**FAST).fit(X, Y), X_new
    if name == "reg_unscaled_multi_output":
        est = LSTMRegressor(**FAST, scale_target=False)
        return est.fit(X, np.c_[signal, 100 * signal]), X_new
    if name == "clf_multiclass_sequences":
        y = np.digitize(X[:, :, 0], [-0.5, 0.5])
        return LSTMClassifier(**FAST, return_sequences=True).fit(X, y), X_new
    if name == "clf_embedding":
        tokens = np.abs(np.round(X[:, :, 0] * 3)).astype(np.int64) + 1
        new = np.abs(np.round(X_new[:, :, 0] * 3)).astype(np.int64) + 1
        est = LSTMClassifier(**FAST, embedding_dim=3)
        return est.fit(tokens, labels), np.minimum(new, tokens.max())
    if name == "clf_conv_patched":  # LSTM-FCN: conv on raw steps, LSTM on patches
        est = LSTMClassifier(
            **FAST, conv_branch=True, conv_filters=(3, 4), conv_kernel_sizes=(3, 2)
        )
        return est.set_params(patch_size=2).fit(X, labels), X_new[:, :8]
    if name == "clf_conv_pooled":  # pooled windows cut by the end of the input
        est = LSTMClassifier(
            **FAST,
            conv_branch=True,
            conv_filters=(3, 4, 2),
            conv_kernel_sizes=(3, 2, 2),
            conv_pool_size=(4, 3),  # per gap
        )
        return est.fit(X, labels), X_new
    if name == "clf_conv_strided":  # strided windows cut by the end of the input
        est = LSTMClassifier(
            **FAST,
            conv_branch=True,
            conv_filters=(3, 4),
            conv_kernel_sizes=(3, 2),
            conv_stride=2,
        )
        return est.fit(X, labels), X_new
    if name == "reg_conv_channels_first":
        est = LSTMRegressor(
            **FAST,
            conv_branch=True,
            conv_filters=3,
            conv_kernel_sizes=2,
            data_format="channels_first",
        )
        return est.fit(X.transpose(0, 2, 1), signal), X_new.transpose(0, 2, 1)
    if name == "clf_series_norm_channels_first":  # sizes far apart, standardized
        sizes = np.exp(np.random.RandomState(2).uniform(-3, 3, size=(len(X), 1, 1)))
        sizes = sizes.astype(np.float32)
        est = LSTMClassifier(
            **FAST,
            series_norm=True,
            conv_branch=True,
            conv_filters=(3, 4),
            conv_kernel_sizes=(3, 2),
            data_format="channels_first",
        )
        est.fit((X * sizes).transpose(0, 2, 1), labels)
        return est, (X_new * sizes[:7]).transpose(0, 2, 1)
    if name == "clf_asinh_view_channels_first":  # every part reads the view
        sizes = np.exp(np.random.RandomState(3).uniform(-6, 6, size=(len(X), 1, 1)))
        est = LSTMClassifier(
            **FAST,
            conv_branch=True,
            conv_filters=(3, 4),
            conv_kernel_sizes=(3, 2),
            data_format="channels_first",
        )
        est.fit((X * sizes).transpose(0, 2, 1), labels)
        assert est.asinh_view_ and est.series_norm_  # both "auto"
        # inputs far past the training range, where the view is bounded
        far = X_new * sizes[:7] * np.float32(1e30)
        return est, far.astype(np.float32).transpose(0, 2, 1)
    raise KeyError(name)


def _run(path, X):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (out,) = session.run(None, {"X": X})
    return out


@pytest.mark.parametrize(
    "name",
    [
        "reg",
        "reg_multi_output_deep",
        "reg_sequences",
        "reg_2d",
        "reg_unscaled_multi_output",
        "clf",
        "clf_multiclass",
        "clf_multilabel",
        "clf_multiclass_sequences",
        "clf_embedding",
        "clf_conv_patched",
        "clf_conv_pooled",
        "clf_conv_strided",
        "reg_conv_channels_first",
        "clf_series_norm_channels_first",
        "clf_asinh_view_channels_first",
    ],
)
def test_onnx_output_equals_the_estimator(name, tmp_path):
    est, X = _case(name)
    path = to_onnx(est, tmp_path / "model.onnx")
    model = onnx.load(str(path))
    onnx.checker.check_model(model)
    shorter = X[:1] if name == "reg_2d" else X[:1, :4]
    if name.endswith("channels_first"):
        shorter = X[:1, :, :4]
    for rows in (X, shorter):  # dynamic batch and time axes
        out = _run(path, rows)
        expected = _predict(est, name, rows)
        assert out.shape == expected.shape
        np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)
    outputs = [o.name for o in model.graph.output]
    assert outputs == ["probabilities" if name.startswith("clf") else "prediction"]


def _predict(est, name, X):
    return est.predict_proba(X) if name.startswith("clf") else est.predict(X)


def test_onnx_labels_from_probabilities(tmp_path):
    est, X = _case("clf")
    proba = _run(to_onnx(est, tmp_path / "m.onnx"), X)
    np.testing.assert_array_equal(est.classes_[proba.argmax(axis=-1)], est.predict(X))


def test_onnx_needs_a_fitted_estimator(tmp_path):
    with pytest.raises(NotFittedError):
        to_onnx(LSTMRegressor(), tmp_path / "m.onnx")


def test_stateful_export_warns_and_starts_from_zero(tmp_path):
    X, signal = _data()
    est = LSTMRegressor(**FAST, stateful=True).fit(X, signal)
    with pytest.warns(UserWarning, match="zero state"):
        path = to_onnx(est, tmp_path / "m.onnx")
    est.reset_states()
    np.testing.assert_allclose(_run(path, X), est.predict(X), rtol=1e-4, atol=1e-6)


def test_onnx_of_a_2d_model_keeps_its_columns(tmp_path):
    est, X = _case("reg_2d")
    path = to_onnx(est, tmp_path / "m.onnx")
    with pytest.raises(ort.capi.onnxruntime_pybind11_state.InvalidArgument):
        _run(path, X[:, :4])


def test_onnx_names_the_missing_package(tmp_path, monkeypatch):
    est, _ = _case("reg")
    monkeypatch.setitem(sys.modules, "onnx", None)
    with pytest.raises(ImportError, match="pip install .onnx>=1.16"):
        to_onnx(est, tmp_path / "m.onnx")


def test_onnx_of_a_ragged_model_equals_predict_row_by_row(tmp_path):
    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(n, 2)).astype(np.float32) for n in rng.randint(2, 9, 30)]
    target = np.array([s[:, 0].sum() for s in seqs])
    est = LSTMRegressor(**FAST).fit(seqs, target)
    path = to_onnx(est, tmp_path / "m.onnx")
    expected = est.predict(seqs)
    for seq, value in zip(seqs[:5], expected[:5], strict=True):
        np.testing.assert_allclose(_run(path, seq[None]), [value], rtol=1e-4)


def test_onnx_multilabel_outputs_are_independent_probabilities(tmp_path):
    est, X = _case("clf_multilabel")
    proba = _run(to_onnx(est, tmp_path / "m.onnx"), X)
    assert not np.allclose(proba.sum(axis=1), 1.0)  # sigmoids, not a softmax
    np.testing.assert_array_equal((proba > 0.5).astype(int), est.predict(X))


@pytest.mark.parametrize("cls", [LSTMRegressor, LSTMClassifier])
def test_channels_first_model_takes_the_array_predict_takes(tmp_path, cls):
    """A model fitted with data_format="channels_first" exports a graph that
    reads (n_samples, n_features, n_timesteps), as predict does; sizes chosen
    so that the two layouts have the same shape (a wrong graph would run)."""
    ort = pytest.importorskip("onnxruntime")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(30, 4, 4)).astype(np.float32)  # features == steps
    target = X[:, 0, :].sum(axis=1) - X[:, 3, :].sum(axis=1)
    y = target if cls is LSTMRegressor else (target > 0).astype(int)
    est = cls(**FAST, data_format="channels_first").fit(X, y)
    session = ort.InferenceSession(str(to_onnx(est, tmp_path / "m.onnx")))
    (out,) = session.run(None, {"X": X[:6]})
    expected = est.predict(X[:6]) if cls is LSTMRegressor else est.predict_proba(X[:6])
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
    # a longer sequence (the time axis is the last one) works too
    longer = rng.normal(size=(3, 4, 9)).astype(np.float32)
    (out,) = session.run(None, {"X": longer})
    expected = (
        est.predict(longer) if cls is LSTMRegressor else est.predict_proba(longer)
    )
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
