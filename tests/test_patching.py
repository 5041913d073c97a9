"""Patching long sequences, and the LSTM gate initialisations."""

import numpy as np
import pytest
import torch

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine._patching import patch, resolve
from sklstm.search_spaces import search_space

FAST = {"hidden_size": 6, "max_epochs": 3, "batch_size": 16, "random_state": 0}


def _long(n=40, steps=50, features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps, features)).astype(np.float32)
    return X, X[:, :, 0].mean(axis=1) + X[:, -5:, -1].mean(axis=1)


def test_patches_equal_a_hand_reshape():
    X, y = _long()
    patched = LSTMRegressor(**FAST, patch_size=5).fit(X, y)
    assert patched.patch_size_ == 5 and patched.lstm_steps_ == 10
    assert patched.net_.module_.lstm.input_size == 10  # 5 steps x 2 features
    by_hand = LSTMRegressor(**FAST, patch_size=None).fit(X.reshape(40, 10, 10), y)
    np.testing.assert_allclose(
        patched.predict(X), by_hand.predict(X.reshape(40, 10, 10)), rtol=1e-6
    )


def test_univariate_2d_and_strided_patches():
    X, y = _long(features=1)
    flat = LSTMRegressor(**FAST, patch_size=5).fit(X[:, :, 0], y)
    assert flat.lstm_steps_ == 10 and flat.predict(X[:, :, 0]).shape == y.shape
    strided = LSTMRegressor(**FAST, patch_size=5, patch_stride=3).fit(X, y)
    assert strided.lstm_steps_ == 16  # ceil((50 - 5) / 3) + 1
    values, _ = patch(X[:2].astype(np.float64), None, 5, 3)
    np.testing.assert_array_equal(values[0, 1], X[0, 3:8, 0])


def test_ragged_patch_counts_and_padding_changes_nothing():
    rng = np.random.RandomState(1)
    seqs = [rng.normal(size=(t, 2)) for t in rng.randint(8, 40, size=30)]
    y = np.array([s[:, 0].mean() for s in seqs])
    est = LSTMRegressor(**FAST, patch_size=5).fit(seqs, y)
    assert est.lstm_steps_ == -(-max(len(s) for s in seqs) // 5)
    alone = np.array([est.predict([s])[0] for s in seqs])
    np.testing.assert_allclose(est.predict(seqs), alone, rtol=1e-5, atol=1e-6)
    # a last partial patch is zero-padded: explicit zeros give the same patches
    short = seqs[0][:12]
    padded = np.vstack([short, np.zeros((3, 2))])
    np.testing.assert_allclose(est.predict([short]), est.predict([padded]), 1e-6)


def test_auto_patches_long_input_only():
    assert resolve("auto", None, 150) == (5, 5)
    assert resolve("auto", None, 100) == (1, 1)
    assert resolve("auto", 2, 427) == (14, 2)
    assert resolve(None, None, 1000) == (1, 1)
    X, y = _long(steps=120)
    assert LSTMRegressor(**FAST).fit(X, y).patch_size_ == 4
    with pytest.raises(ValueError, match="patch_stride=6 is larger"):
        LSTMRegressor(**FAST, patch_size=5, patch_stride=6).fit(X, y)


def test_patching_refusals():
    X, y = _long()
    with pytest.raises(ValueError, match="return_sequences=True gives one output"):
        LSTMRegressor(**FAST, patch_size=5, return_sequences=True).fit(X, X[:, :, 0])
    tokens = np.random.RandomState(0).randint(1, 9, size=(20, 12))
    with pytest.raises(ValueError, match="token ids"):
        LSTMClassifier(**FAST, patch_size=4, embedding_dim=3).fit(tokens, [0, 1] * 10)


def test_patched_model_streams_whole_patches():
    X, y = _long()
    est = LSTMRegressor(**FAST, patch_size=5, stateful=True).fit(X, y)
    whole = est.reset_states().predict(X[:4])
    est.reset_states()
    est.predict(X[:4, :20])
    np.testing.assert_allclose(est.predict(X[:4, 20:]), whole, rtol=1e-5)
    with pytest.raises(ValueError, match="multiple of patch_size=5"):
        est.predict(X[:4, :7])


def test_patched_model_persists(tmp_path):
    X, y = _long()
    est = LSTMRegressor(**FAST, patch_size=5, patch_stride=4).fit(X, y)
    again = load(save(est, tmp_path / "m.sklstm"))
    assert (again.patch_size_, again.patch_stride_) == (5, 4)
    np.testing.assert_array_equal(again.predict(X), est.predict(X))


@pytest.mark.parametrize("flat", [False, True])
def test_patched_model_exports_to_onnx(flat, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sklstm import to_onnx

    X, y = _long(features=1 if flat else 2)
    X = X[:, :, 0] if flat else X
    est = LSTMRegressor(**FAST, patch_size=5).fit(X, y)
    session = ort.InferenceSession(
        str(to_onnx(est, tmp_path / "m.onnx")), providers=["CPUExecutionProvider"]
    )
    rows = [X] if flat else [X, X[:3, :23], X[:2, :3]]  # partial last patches
    for part in rows:
        (out,) = session.run(None, {"X": part})
        np.testing.assert_allclose(out, est.predict(part), rtol=1e-4, atol=1e-6)
    strided = LSTMRegressor(**FAST, patch_size=5, patch_stride=2).fit(X, y)
    with pytest.raises(ValueError, match="non-overlapping"):
        to_onnx(strided, tmp_path / "s.onnx")


def _biases(est):
    lstm = est.net_.module_.lstm
    h = lstm.hidden_size
    return lstm.bias_ih_l0.detach(), lstm.bias_hh_l0.detach(), h


def test_forget_gate_bias_starts_at_one():
    X, y = _long()
    est = LSTMRegressor(**{**FAST, "max_epochs": 1}, lr=1e-30).fit(X, y)
    ih, hh, h = _biases(est)  # the default gate_init
    torch.testing.assert_close(ih[h : 2 * h] + hh[h : 2 * h], torch.ones(h))


def test_chrono_spans_the_sequence_length():
    X, y = _long(steps=60)
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 1}, lr=1e-30, gate_init="chrono", patch_size=None
    ).fit(X, y)
    ih, hh, h = _biases(est)
    forget = ih[h : 2 * h] + hh[h : 2 * h]
    assert float(forget.min()) >= 0.0 and float(forget.max()) <= np.log(59) + 1e-5
    torch.testing.assert_close(ih[:h] + hh[:h], -forget)
    plain = LSTMRegressor(**{**FAST, "max_epochs": 1}, lr=1e-30, gate_init="default")
    ih, hh, h = _biases(plain.fit(X, y))
    assert float((ih[h : 2 * h] + hh[h : 2 * h]).abs().max()) < 1.0


def test_search_space_offers_patch_sizes_for_long_sequences():
    grid = search_space("grid", n_samples=50, n_timesteps=150)
    assert grid["patch_size"] == [2, 4, 8]
    assert "patch_size" not in search_space("grid", n_samples=50, n_timesteps=50)
    with pytest.raises(ValueError, match="n_timesteps above 100"):
        search_space("grid", n_samples=50, include=["patch_size"])


def test_net_predict_names_its_input_for_a_patched_model():
    X, y = _long()
    est = LSTMRegressor(**FAST, patch_size=5).fit(X, y)
    with pytest.raises(ValueError, match="network's own input, 10 values"):
        est.net_.predict(X)
    patched, _ = patch(X, None, 5, 5)
    scaled = est.net_.predict(patched)
    np.testing.assert_allclose(
        scaled * est.y_scale_[0] + est.y_mean_[0], est.predict(X), 1e-5
    )
