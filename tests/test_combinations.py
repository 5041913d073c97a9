"""Faults found by review: features that were right alone, wrong together."""

import os
import signal
import threading

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import SETTINGS
from sklearn.base import clone
from sklearn.model_selection import KFold, cross_val_score
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._data import BatchIterator, SequenceDataset, pad_ragged
from sklstm._targets import class_weights

FAST = SETTINGS["small"]


def test_clones_with_a_random_state_instance_are_independent(reg_data):
    X, y = reg_data
    est = LSTMRegressor(
        **{**FAST, "random_state": np.random.RandomState(3)},
        lr_scheduler="step",
        lr_scheduler_params={"gamma": 0.5},
    )
    a, b = clone(est), clone(est)
    assert a.random_state is not b.random_state
    assert a.lr_scheduler_params is not est.lr_scheduler_params
    np.testing.assert_array_equal(a.fit(X, y).predict(X), b.fit(X, y).predict(X))


def test_init_from_is_not_a_settable_sub_estimator(reg_data):
    X, y = reg_data
    pre = LSTMRegressor(**FAST).fit(X, y)
    est = LSTMRegressor(**FAST, init_from=pre)
    assert not any(k.startswith("init_from__") for k in est.get_params(deep=True))
    assert clone(est).init_from is pre  # shared read-only, still fitted


def test_stateful_bidirectional_is_refused(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="stateful=True cannot be combined"):
        LSTMRegressor(**FAST, stateful=True, bidirectional=True).fit(X, y)


def test_streaming_state_advances_once_per_chunk(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST, stateful=True).fit(X, y)
    first, second = X[:5, :3], X[:5, 3:]
    clf.reset_states()
    labels = clf.predict(first)
    proba = clf.predict_proba(first)  # the same chunk: the same state
    np.testing.assert_array_equal(clf.classes_[proba.argmax(1)], labels)
    assert clf.score(first, labels) == 1.0
    continued = clf.predict_proba(second)
    clf.reset_states()
    clf.predict_proba(first)
    np.testing.assert_allclose(clf.predict_proba(second), continued, rtol=1e-6)
    clf.reset_states()
    whole = LSTMClassifier(**FAST, series_norm=False).fit(X, y).predict_proba(X[:5])
    np.testing.assert_allclose(continued, whole, rtol=1e-5)


def test_2d_stateful_model_streams_shorter_chunks(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, stateful=True).fit(X[:, :, 0], y)
    whole = est.reset_states().predict(X[:4, :, 0])
    est.reset_states()
    est.predict(X[:4, :2, 0])
    est.predict(X[:4, 2:4, 0])
    np.testing.assert_allclose(est.predict(X[:4, 4:, 0]), whole, rtol=1e-5)


def test_zero_padded_token_rows_equal_the_list(clf_data):
    _, y = clf_data
    rng = np.random.RandomState(0)
    lengths = rng.randint(2, 7, size=len(y))
    seqs = [rng.randint(1, 9, size=n) for n in lengths]
    padded, _ = pad_ragged(seqs, dtype=np.int64, n_features=None)
    params = {**FAST, "embedding_dim": 4}
    a = LSTMClassifier(**params).fit(seqs, y)
    b = LSTMClassifier(**params).fit(padded, y)
    np.testing.assert_allclose(a.predict_proba(seqs), b.predict_proba(padded), 1e-5)


def test_padded_steps_never_enter_the_loss():
    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(n, 2)) for n in rng.randint(2, 6, size=40)]
    y = np.zeros((40, 5))
    for i, s in enumerate(seqs):
        y[i, : len(s)] = s[:, 0].cumsum()
    garbage = y.copy()
    for i, s in enumerate(seqs):
        garbage[i, len(s) :] = 1e3  # targets at padded steps
    params = {**FAST, "return_sequences": True, "scale_target": False}
    a = LSTMRegressor(**params).fit(seqs, y)
    b = LSTMRegressor(**params).fit(seqs, garbage)
    np.testing.assert_allclose(a.predict(seqs), b.predict(seqs), rtol=1e-6)


def test_vocab_size_covers_ids_of_one_fold():
    rng = np.random.RandomState(0)
    X = rng.randint(1, 20, size=(40, 6))
    X[0, 0] = 50  # an id only one fold sees
    y = (X[:, 0] > 10).astype(int)
    cv = KFold(2)
    params = {**FAST, "embedding_dim": 4}
    with pytest.raises(ValueError, match="vocab_size"):
        LSTMClassifier(**params).fit(X[20:], y[20:]).predict(X[:20])
    scores = cross_val_score(LSTMClassifier(**params, vocab_size=64), X, y, cv=cv)
    assert np.isfinite(scores).all()
    with pytest.raises(ValueError, match="below 16"):
        LSTMClassifier(**params, vocab_size=16).fit(X, y)


def test_balanced_class_weight_uses_training_rows_only(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(
        **FAST,
        class_weight="balanced",
        early_stopping=True,
        validation_split="last",
        validation_fraction=0.5,
    ).fit(X, y)
    encoded = np.searchsorted(clf.classes_, y[:30])
    expected = class_weights("balanced", clf.classes_, encoded)
    np.testing.assert_allclose(clf.net_.criterion_.class_weight.numpy(), expected)


def test_partial_fit_refuses_balanced_and_changed_classes(clf_data):
    X, y = clf_data
    with pytest.raises(ValueError, match="compute_class_weight"):
        LSTMClassifier(**FAST, class_weight="balanced").partial_fit(
            X, y, classes=["down", "up"]
        )
    clf = LSTMClassifier(**FAST).partial_fit(X, y, classes=["down", "up"])
    clf.partial_fit(X, y, classes=["up", "down"])  # the same set: fine
    with pytest.raises(ValueError, match="differs from the classes"):
        clf.partial_fit(X, y, classes=["down", "up", "flat"])


def test_feature_names_are_dropped_by_a_3d_refit(reg_data):
    X, y = reg_data
    frame = pd.DataFrame(X[:, :, 0], columns=[f"t{i}" for i in range(6)])
    est = LSTMRegressor(**FAST).fit(frame, y)
    assert list(est.feature_names_in_) == list(frame.columns)
    est.fit(X, y)
    assert not hasattr(est, "feature_names_in_")


def test_freeze_without_init_from_is_refused(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="init_from"):
        LSTMRegressor(**FAST, freeze=True).fit(X, y)


def test_bucketing_without_shuffle_sorts_by_length():
    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(n, 1)) for n in rng.randint(1, 60, size=200)]
    values, lengths = pad_ragged(seqs, dtype=np.float32, n_features=None)
    data = SequenceDataset(torch.from_numpy(values), torch.from_numpy(lengths))

    def padded(bucket):
        batches = list(BatchIterator(data, 16, shuffle=False, bucket=bucket))
        assert sum(len(x["x"]) for x, _ in batches) == 200
        return sum(x["x"].shape[0] * x["x"].shape[1] for x, _ in batches)

    assert padded(True) < 0.8 * padded(False)


def test_weight_decay_spares_biases_and_scales(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, weight_decay=0.1, norm="layer").fit(X, y)
    for group in est.net_.optimizer_.param_groups:
        vectors = all(p.dim() < 2 for p in group["params"])
        assert group["weight_decay"] == (0.0 if vectors else 0.1)


def test_equal_length_list_of_1d_sequences(reg_data):
    X, y = reg_data
    seqs = list(X[:, :, 0])
    a = LSTMRegressor(**FAST).fit(seqs, y)
    b = LSTMRegressor(**FAST).fit(X[:, :, :1], y)
    np.testing.assert_allclose(a.predict(seqs), b.predict(X[:, :, :1]), rtol=1e-6)
    unequal = [s[: 3 + i % 3] for i, s in enumerate(seqs)]
    assert a.predict(unequal).shape == (len(X),)


def test_fits_in_threads_restore_the_thread_count(reg_data):
    X, y = reg_data
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:

        def work(n):
            for _ in range(3):
                LSTMRegressor(**{**FAST, "max_epochs": 1}, n_threads=n).fit(X, y)

        threads = [threading.Thread(target=work, args=(n,)) for n in (1, 1, 2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)


class _CtrlC(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_leaves_a_usable_model_and_propagates(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "max_epochs": 10}, callbacks=[_CtrlC()])
    with pytest.raises(KeyboardInterrupt):
        est.fit(X, y)
    assert est.n_iter_ == 2
    assert np.isfinite(est.predict(X)).all()


def test_init_from_mismatch_says_what_differs_in_full(reg_data):
    X, y = reg_data
    source = LSTMRegressor(**FAST).fit(X, y)
    other = LSTMRegressor(**{**FAST, "hidden_size": 5}, init_from=source)
    with pytest.raises(ValueError, match="do not fit this model") as info:
        other.fit(X, y)
    message = str(info.value)
    # torch's whole explanation, on one line: which tensor, which shapes
    assert "size mismatch" in message and "torch.Size([32, 2])" in message
    assert "\n" not in message
