"""Core behaviour of both estimators: shapes, labels, fitted attributes, seeds."""

import pickle

import joblib
import numpy as np
import pytest
import torch
from conftest import SETTINGS
from sklearn.base import clone

from sklstm import LSTMClassifier, LSTMRegressor

FAST = SETTINGS["small"]


def test_classifier_labels_of_any_type(clf_data):
    X, y = clf_data
    for labels in (y, np.where(y == "up", 7, -3)):
        clf = LSTMClassifier(**FAST).fit(X, labels)
        assert set(clf.classes_) == set(labels)
        assert set(clf.predict(X)) <= set(labels)
        assert clf.predict(X).dtype == labels.dtype


def test_classifier_multiclass_proba(clf_data):
    X, _ = clf_data
    y = np.arange(len(X)) % 3 * 5  # classes 0, 5, 10
    clf = LSTMClassifier(**FAST).fit(X, y)
    proba = clf.predict_proba(X)
    assert proba.shape == (len(X), 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(clf.classes_[proba.argmax(axis=1)], clf.predict(X))
    assert 0.0 <= clf.score(X, y) <= 1.0


def test_classifier_learns(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(hidden_size=16, lr=0.01, max_epochs=40, random_state=0)
    assert clf.fit(X, y).score(X, y) > 0.9


def test_regressor_learns_and_unscales(reg_data):
    X, y = reg_data
    reg = LSTMRegressor(hidden_size=16, lr=0.01, max_epochs=40, random_state=0)
    pred = reg.fit(X, y).predict(X)
    assert pred.dtype == np.float64 and pred.shape == y.shape
    assert abs(pred.mean() - 10.0) < 1.0  # back in the target's units
    assert reg.score(X, y) > 0.8


def test_regressor_multi_output(reg_data):
    X, y = reg_data
    Y = np.column_stack([y, -y, 2 * y])
    reg = LSTMRegressor(**FAST).fit(X, Y)
    assert reg.n_outputs_ == 3
    assert reg.predict(X).shape == (len(X), 3)


def test_2d_input_is_univariate_sequences(reg_data):
    X, y = reg_data
    X2 = X[:, :, 0]
    reg = LSTMRegressor(**FAST).fit(X2, y)
    assert reg.input_size_ == 1 and reg.n_timesteps_in_ == X2.shape[1]
    assert reg.n_features_in_ == X2.shape[1]  # sklearn's convention for 2D
    # the same data as 3D with one feature gives the same model
    reg3 = LSTMRegressor(**FAST).fit(X2[:, :, None], y)
    np.testing.assert_allclose(reg.predict(X2), reg3.predict(X2[:, :, None]))


def test_3d_input_records_features_per_step(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST).fit(X, y)
    assert clf.n_features_in_ == X.shape[2] == clf.input_size_
    # 3D input may have another length at predict: an LSTM reads any length
    assert clf.predict(X[:, :4]).shape == (len(X),)


def test_fitted_attributes(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST).fit(X, y)
    assert clf.n_iter_ == 3 and len(clf.loss_curve_) == 3
    assert clf.best_epoch_ == 3
    assert clf.n_parameters_ == sum(p.numel() for p in clf.net_.module_.parameters())
    assert list(clf.history_[:, "epoch"]) == [1, 2, 3]
    assert clf.validation_loss_curve_ is None


def test_head_reads_final_hidden_state_of_both_directions(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(bidirectional=True, series_norm=False, **FAST).fit(X, y)
    module = clf.net_.module_
    x = torch.as_tensor(X[:5], dtype=torch.float32)
    module.eval()
    with torch.no_grad():
        out, (h_n, _) = module.lstm(x)
        # forward direction ends at the last step, backward at the first
        np.testing.assert_allclose(h_n[0], out[:, -1, :8], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(h_n[1], out[:, 0, 8:], rtol=1e-5, atol=1e-6)
        expected = module.head(torch.cat([h_n[0], h_n[1]], dim=-1))
    np.testing.assert_allclose(
        clf.predict_proba(X[:5]), torch.softmax(expected, -1), rtol=1e-5
    )


def test_random_state_reproducible_and_global_rng_untouched(reg_data):
    X, y = reg_data
    torch.manual_seed(123)
    np.random.seed(123)
    torch_state, np_state = torch.get_rng_state(), np.random.get_state()
    a = LSTMRegressor(dropout=0.2, num_layers=2, **FAST).fit(X, y).predict(X)
    b = LSTMRegressor(dropout=0.2, num_layers=2, **FAST).fit(X, y).predict(X)
    np.testing.assert_array_equal(a, b)
    assert torch.equal(torch.get_rng_state(), torch_state)
    assert np.array_equal(np.random.get_state()[1], np_state[1])
    c = LSTMRegressor(**{**FAST, "random_state": 1}).fit(X, y).predict(X)
    assert not np.allclose(a, c)


def test_random_state_none_does_not_reseed_torch(reg_data):
    X, y = reg_data
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    LSTMRegressor(**{**FAST, "random_state": None}).fit(X, y)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
def test_pickle_and_joblib_round_trip(Est, clf_data, reg_data, tmp_path):
    X, y = clf_data if Est is LSTMClassifier else reg_data
    est = Est(**FAST).fit(X, y)
    expected = est.predict(X)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(X), expected)
    joblib.dump(est, tmp_path / "m.joblib")
    np.testing.assert_array_equal(
        joblib.load(tmp_path / "m.joblib").predict(X), expected
    )
    assert clone(est).get_params() == est.get_params()
    assert not hasattr(clone(est), "net_")


def test_verbose_zero_prints_nothing(clf_data, capsys):
    X, y = clf_data
    LSTMClassifier(**FAST).fit(X, y).predict(X)
    assert capsys.readouterr() == ("", "")


def test_verbose_one_prints_epoch_table(clf_data, capsys):
    X, y = clf_data
    LSTMClassifier(**{**FAST, "verbose": 1}).fit(X, y)
    out, err = capsys.readouterr()
    assert "train_loss" in err and out == ""  # progress on stderr, stdout kept clean


def test_warm_start_continues(reg_data):
    X, y = reg_data
    reg = LSTMRegressor(**{**FAST, "warm_start": True}).fit(X, y)
    first = [p.detach().clone() for p in reg.net_.module_.parameters()]
    net = reg.net_
    reg.fit(X, y)
    assert reg.net_ is net and len(reg.history_) == 6 and reg.n_iter_ == 3
    assert any(
        not torch.equal(a, b)
        for a, b in zip(first, reg.net_.module_.parameters(), strict=True)
    )


def test_partial_fit_runs_one_epoch(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST)
    clf.partial_fit(X[:20], y[:20], classes=np.unique(y))
    clf.partial_fit(X[20:], y[20:])
    assert len(clf.history_) == 2
    assert set(clf.classes_) == set(y)


def test_multilabel_indicator(clf_data):
    X, _ = clf_data
    Y = np.column_stack([X[:, :, 0].mean(1) > 0, X[:, :, 1].mean(1) > 0]).astype(int)
    clf = LSTMClassifier(hidden_size=16, lr=0.02, max_epochs=40, random_state=0)
    clf.fit(X, Y)
    assert clf.multilabel_ and list(clf.classes_) == [0, 1]
    proba = clf.predict_proba(X)
    assert proba.shape == Y.shape and ((proba >= 0) & (proba <= 1)).all()
    np.testing.assert_array_equal(clf.predict(X), (proba > 0.5).astype(int))
    assert clf.score(X, Y) > 0.8  # subset accuracy
    with pytest.raises(ValueError, match="label columns"):
        clf.set_params(warm_start=True).fit(X, Y[:, :1].repeat(3, axis=1))


@pytest.mark.parametrize("cls", [LSTMClassifier, LSTMRegressor])
def test_subset_invariance_at_float32_tolerance(cls, clf_data, reg_data):
    # sklearn's check_methods_subset_invariance asks for 1e-7, below what
    # float32 kernels keep when a row's batch changes (see test_common.py)
    X, y = clf_data if cls is LSTMClassifier else reg_data
    est = cls(**FAST).fit(X, y)
    method = est.predict_proba if cls is LSTMClassifier else est.predict
    whole = method(X)
    parts = np.concatenate([method(X[i : i + 7]) for i in range(0, len(X), 7)])
    np.testing.assert_allclose(parts, whole, rtol=1e-5, atol=1e-6)
    rows = np.concatenate([method(X[i : i + 1]) for i in range(len(X))])
    np.testing.assert_allclose(rows, whole, rtol=1e-5, atol=1e-6)
