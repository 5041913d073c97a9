"""Patching long sequences, and the LSTM gate initialisations."""

import numpy as np
import pytest
import torch

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine._module import LSTMNetwork
from sklstm._engine._patching import n_patches, patch_torch, resolve
from sklstm.model_selection._grouped._module import GroupedLSTM
from sklstm.search_spaces import search_space

FAST = {"hidden_size": 6, "max_epochs": 3, "batch_size": 16, "random_state": 0}
SMALL = {"hidden_size": 8, "max_epochs": 2, "batch_size": 16, "random_state": 0}


def _reference_patches(values, lengths, size, stride):
    """The patching of sklstm 0.2 (numpy), written out window by window:
    patch ``j`` holds steps ``j * stride`` to ``j * stride + size - 1``, step
    by step, zero-filled past the end; lengths become patch counts."""
    n, steps, width = values.shape
    count = int(n_patches(steps, size, stride))
    out = np.zeros((n, count, size * width), values.dtype)
    for j in range(count):
        window = values[:, j * stride : j * stride + size]
        out[:, j, : window.shape[1] * width] = window.reshape(n, -1)
    counts = None if lengths is None else n_patches(lengths, size, stride)
    return out, counts


@pytest.mark.parametrize("size, stride", [(1, 1), (5, 5), (4, 2), (5, 3), (3, 1)])
@pytest.mark.parametrize("steps", [1, 3, 4, 5, 6, 12, 23])
def test_torch_patches_equal_the_reference(size, stride, steps):
    rng = np.random.RandomState(steps)
    values = rng.normal(size=(3, steps, 2)).astype(np.float32)
    lengths = np.array([steps, max(1, steps - 2), 1], dtype=np.int64)
    expected, counts = _reference_patches(values, lengths, size, stride)
    out, got = patch_torch(
        torch.from_numpy(values), torch.from_numpy(lengths), size, stride
    )
    np.testing.assert_array_equal(out.numpy(), expected)
    np.testing.assert_array_equal(got.numpy(), counts)
    assert got.dtype == torch.int64
    assert patch_torch(torch.from_numpy(values), None, size, stride)[1] is None


def _long(n=40, steps=50, features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps, features)).astype(np.float32)
    return X, X[:, :, 0].mean(axis=1) + X[:, -5:, -1].mean(axis=1)


def test_patches_equal_a_hand_reshape():
    X, y = _long()
    patched = LSTMRegressor(**FAST, patch_size=5).fit(X, y)
    assert patched.patch_size_ == 5 and patched.lstm_steps_ == 10
    assert patched.net_.module_.lstm.input_size == 10  # 5 steps x 2 features
    assert patched.net_.module_.input_size == 2  # the network reads raw steps
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
    values, _ = patch_torch(torch.from_numpy(X[:2]), None, 5, 3)
    np.testing.assert_array_equal(values[0, 1].numpy(), X[0, 3:8, 0])


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


@pytest.mark.parametrize("flat", [False, True])
def test_overlapping_patches_export_to_onnx(flat, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    from sklstm import to_onnx

    X, y = _long(steps=48, features=1 if flat else 2)
    X = X[:, :, 0] if flat else X
    reg = LSTMRegressor(**SMALL, patch_size=4, patch_stride=2).fit(X, y)
    clf = LSTMClassifier(**SMALL, patch_size=4, patch_stride=2).fit(X, y > 0)
    # odd lengths, a partial last patch, fewer steps than one patch
    rows = [X] if flat else [X, X[:3, :23], X[:2, :3], X[:2, :4], X[:1, :7]]
    for est, method in ((reg, "predict"), (clf, "predict_proba")):
        session = ort.InferenceSession(
            str(to_onnx(est, tmp_path / f"{method}.onnx")),
            providers=["CPUExecutionProvider"],
        )
        for part in rows:
            (out,) = session.run(None, {"X": part})
            expected = getattr(est, method)(part)
            np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-6)


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


def test_net_reads_raw_steps_of_a_patched_model():
    X, y = _long(steps=48)
    est = LSTMRegressor(**SMALL, patch_size=4, patch_stride=2).fit(X, y)
    # the estimator's own path: validated raw steps, through the same net
    raw = est.net_.predict_raw(est._check_X(X, reset=False))
    np.testing.assert_array_equal(est.net_.predict_proba(X), raw)
    scaled = est.net_.predict(X)
    np.testing.assert_allclose(
        scaled * est.y_scale_[0] + est.y_mean_[0], est.predict(X), rtol=1e-6
    )
    with torch.no_grad():
        forward = est.net_.forward(X).numpy()
    np.testing.assert_array_equal(forward, raw)
    with pytest.raises(ValueError, match=r"\(n_samples, n_timesteps, 2\) inputs"):
        est.net_.predict(X[:, :, :1])
    clf = LSTMClassifier(**SMALL, patch_size=4, patch_stride=2).fit(X, y > 0)
    np.testing.assert_array_equal(clf.classes_[clf.net_.predict(X)], clf.predict(X))


def test_ragged_overlapping_patches_do_not_depend_on_the_batch():
    rng = np.random.RandomState(2)
    lengths = rng.randint(3, 64, size=30)
    seqs = [rng.normal(size=(t, 2)).astype(np.float32) for t in lengths]
    y = np.array([s[:, 0].mean() for s in seqs])
    est = LSTMRegressor(**SMALL, patch_size=4, patch_stride=2).fit(seqs, y)
    shortest = seqs[int(np.argmin(lengths))]
    longer = [s for s in seqs if len(s) > len(shortest)]
    alone = est.predict([shortest])[0]
    padded = est.predict([shortest, *longer])[0]  # zero-padded to the longest
    np.testing.assert_allclose(padded, alone, rtol=1e-5, atol=1e-6)
    each = np.array([est.predict([s])[0] for s in seqs])
    np.testing.assert_allclose(est.predict(seqs), each, rtol=1e-5, atol=1e-6)


def test_grouped_networks_patch_as_the_single_ones():
    torch.manual_seed(0)
    nets = [
        LSTMNetwork(2, 1, hidden_size=4, patch_size=4, patch_stride=2).eval()
        for _ in range(3)
    ]
    group = GroupedLSTM(nets[0], 3).eval()
    for k, net in enumerate(nets):
        group.load_model(k, net)
    x = torch.randn(3, 5, 11, 2)
    with torch.no_grad():
        out = group(x)
        for k, net in enumerate(nets):
            torch.testing.assert_close(out[k], net(x[k]), atol=1e-6, rtol=1e-5)


def test_grouped_search_of_a_patched_model_equals_ordinary_fits():
    from sklearn.model_selection import GridSearchCV, KFold

    from sklstm.model_selection import GroupedSearchCV

    X, y = _long(n=30, steps=16)
    est = LSTMRegressor(**SMALL, patch_size=4, patch_stride=2)
    grid, cv = {"lr": [1e-2, 3e-2]}, KFold(2)
    ours = GroupedSearchCV(est, grid, cv=cv, grouping="always").fit(X, y)
    assert ours.fallback_reasons_ == [None, None]
    assert [g["n_models"] for g in ours.groups_] == [4]
    ref = GridSearchCV(est, grid, cv=cv).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"],
        ref.cv_results_["mean_test_score"],
        rtol=1e-4,
        atol=1e-5,
    )


def test_patching_keeps_the_state_dict_layout():
    net = LSTMNetwork(2, 1, hidden_size=4, patch_size=5, patch_stride=3)
    plain = LSTMNetwork(10, 1, hidden_size=4)
    shapes = {k: v.shape for k, v in net.state_dict().items()}
    assert shapes == {k: v.shape for k, v in plain.state_dict().items()}
