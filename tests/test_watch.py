"""Watching and reusing training: history, callbacks, TensorBoard, transfer."""

import pickle

import numpy as np
import pytest
import torch
from conftest import SETTINGS
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor

FAST = SETTINGS["small"]


def test_history_records_losses_lr_and_time(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST, early_stopping=True, n_iter_no_change=50).fit(X, y)
    rows = list(clf.history_)
    assert len(rows) == 3
    for key in ("epoch", "train_loss", "valid_loss", "valid_score", "lr", "dur"):
        assert all(key in row for row in rows), key
    # plain dicts of numbers: pandas.DataFrame(rows) works without sklstm needing pandas
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        [{k: r[k] for k in ("epoch", "train_loss", "valid_loss")} for r in rows]
    )
    assert list(frame["epoch"]) == [1, 2, 3]
    assert clf.validation_scores_ == [r["valid_score"] for r in rows]
    assert all(0 <= s <= 1 for s in clf.validation_scores_)
    assert clf.best_validation_score_ == rows[clf.best_epoch_ - 1]["valid_score"]


def test_regressor_validation_score_is_r2(reg_data):
    X, y = reg_data
    reg = LSTMRegressor(
        **{**FAST, "max_epochs": 20, "lr": 0.02},
        early_stopping=True,
        validation_split="last",
        n_iter_no_change=100,
    ).fit(X, y)
    last = slice(len(X) - 6, None)
    # the restored best epoch's validation score is R² on the held-out rows
    np.testing.assert_allclose(
        reg.best_validation_score_, reg.score(X[last], y[last]), rtol=1e-4
    )


class _CountEpochs(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


class _CountBatches(Callback):
    def initialize(self):
        self.batches_ = 0
        return self

    def on_batch_end(self, net, training=False, **kwargs):
        self.batches_ += int(training)


def test_user_callbacks_are_copied_per_fit(clf_data):
    X, y = clf_data
    counter = _CountEpochs()
    clf = LSTMClassifier(**FAST, callbacks=[counter, _CountBatches()]).fit(X, y)
    copies = dict(clf.net_.callbacks_)
    assert copies["_CountEpochs"].epochs_ == 3
    assert copies["_CountBatches"].batches_ == 3 * 4  # 60 rows in batches of 16
    assert not hasattr(counter, "epochs_")  # the user's instance is untouched
    search = GridSearchCV(clf, {"hidden_size": [2, 4]}, cv=2).fit(X, y)
    assert dict(search.best_estimator_.net_.callbacks_)["_CountEpochs"].epochs_ == 3
    pickle.loads(pickle.dumps(clf))


def test_tensorboard_scalars_are_written(clf_data, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    X, y = clf_data
    clf = LSTMClassifier(**FAST, tensorboard_dir=str(tmp_path), early_stopping=True)
    clf.fit(X, y)
    runs = [p for p in tmp_path.iterdir() if p.is_dir()]
    assert len(runs) == 1
    events = EventAccumulator(str(runs[0]))
    events.Reload()
    tags = events.Tags()["scalars"]
    for key in ("train_loss", "valid_loss", "lr"):
        assert any(key in tag for tag in tags), (key, tags)
    train = next(t for t in tags if "train_loss" in t)
    values = [e.value for e in events.Scalars(train)]
    np.testing.assert_allclose(values, clf.loss_curve_, rtol=1e-5)
    pickle.loads(pickle.dumps(clf))  # the writer is closed and dropped


def _task(seed, n=120):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 8, 3))
    return X, X[:, :, 0].cumsum(axis=1)[:, -1] - X[:, :, 1].mean(axis=1)


def test_transfer_learning_starts_ahead_and_freezes():
    X_a, y_a = _task(0)
    pre = LSTMRegressor(hidden_size=16, lr=0.01, max_epochs=40, random_state=0).fit(
        X_a, y_a
    )
    X_b, signal = _task(1, n=60)
    y_b = np.where(signal > 0, "pos", "neg")  # a related task, a new head
    params = {"hidden_size": 16, "lr": 0.005, "max_epochs": 4, "random_state": 1}
    cold = LSTMClassifier(**params).fit(X_b, y_b)
    warm = LSTMClassifier(**params, init_from=pre).fit(X_b, y_b)
    assert warm.loss_curve_[-1] < cold.loss_curve_[-1]
    frozen = LSTMClassifier(**params, init_from=pre, freeze=True).fit(X_b, y_b)
    for name, value in pre.net_.module_.lstm.state_dict().items():
        assert torch.equal(frozen.net_.module_.lstm.state_dict()[name], value)
    assert frozen.loss_curve_[0] > frozen.loss_curve_[-1]  # the head still learns
    # freeze=2: frozen for two epochs, then fine-tuned
    thawed = LSTMClassifier(**params, init_from=pre, freeze=2).fit(X_b, y_b)
    w = thawed.net_.module_.lstm.weight_hh_l0
    assert w.requires_grad and not torch.equal(w, pre.net_.module_.lstm.weight_hh_l0)


def test_init_from_survives_clone_and_search():
    X_a, y_a = _task(0)
    pre = LSTMRegressor(hidden_size=8, max_epochs=2, random_state=0).fit(X_a, y_a)
    est = LSTMRegressor(hidden_size=8, max_epochs=1, init_from=pre, freeze=True)
    assert clone(est).init_from is pre
    search = GridSearchCV(est, {"lr": [1e-3, 1e-2]}, cv=2).fit(X_a, y_a)
    lstm = search.best_estimator_.net_.module_.lstm
    assert torch.equal(lstm.weight_ih_l0, pre.net_.module_.lstm.weight_ih_l0)


def test_init_from_shape_mismatch_is_explained():
    X_a, y_a = _task(0)
    pre = LSTMRegressor(hidden_size=8, max_epochs=1, random_state=0).fit(X_a, y_a)
    with pytest.raises(ValueError, match="hidden_size"):
        LSTMRegressor(hidden_size=4, max_epochs=1, init_from=pre).fit(X_a, y_a)
    with pytest.raises(ValueError, match="fitted"):
        LSTMRegressor(max_epochs=1, init_from=LSTMRegressor()).fit(X_a, y_a)


def test_warm_start_follows_changed_parameters(reg_data):
    X, y = reg_data
    reg = LSTMRegressor(**FAST, warm_start=True).fit(X, y)
    reg.set_params(early_stopping=True, n_iter_no_change=50).fit(X, y)
    assert len(reg.history_) == 6 and len(reg.validation_loss_curve_) == 3
