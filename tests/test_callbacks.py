"""Every stock skorch callback does its job on the estimators' net.

Each test checks the callback's effect (a history column with the right
value, files written, weights changed or kept), not merely that fit ran.
"""

import numpy as np
import pytest
import torch
from conftest import SETTINGS
from skorch.callbacks import (
    BatchScoring,
    Checkpoint,
    EarlyStopping,
    EpochScoring,
    EpochTimer,
    Freezer,
    GradientNormClipping,
    Initializer,
    LoadInitState,
    LRScheduler,
    ParamMapper,
    PassthroughScoring,
    PrintLog,
    ProgressBar,
    TensorBoard,
    TrainEndCheckpoint,
    Unfreezer,
)
from skorch.utils import freeze_parameter

from sklstm import LSTMClassifier, LSTMRegressor

FAST = SETTINGS["small"]


def _lstm_weights(est):
    return {k: v.clone() for k, v in est.net_.module_.lstm.state_dict().items()}


def test_epoch_scoring_on_train_matches_the_model(clf_data):
    X, y = clf_data
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc")
    clf = LSTMClassifier(**FAST, callbacks=[scoring], shuffle=False).fit(X, y)
    accs = clf.history_[:, "train_acc"]
    assert len(accs) == 3 and all(0 <= a <= 1 for a in accs)
    assert "train_acc_best" in clf.history_[-1]


def test_epoch_scoring_on_valid_equals_the_validation_score(clf_data):
    X, y = clf_data
    scoring = EpochScoring("accuracy", name="valid_acc", lower_is_better=False)
    clf = LSTMClassifier(
        **{**FAST, "max_epochs": 4}, early_stopping=True, callbacks=[scoring]
    ).fit(X, y)
    # skorch's scorer on net_.predict (class indices) and sklstm's own score agree
    np.testing.assert_allclose(
        clf.history_[:, "valid_acc"], clf.validation_scores_, rtol=1e-6
    )


def test_epoch_scoring_regression_scorer(reg_data):
    X, y = reg_data
    scoring = EpochScoring("neg_mean_squared_error", on_train=False, name="valid_mse")
    reg = LSTMRegressor(**FAST, early_stopping=True, callbacks=[scoring]).fit(X, y)
    # scaled-target units: the negated loss the net itself records
    np.testing.assert_allclose(
        -np.asarray(reg.history_[:, "valid_mse"]),
        reg.validation_loss_curve_,
        rtol=1e-5,
    )


def test_batch_scoring_records_every_batch(clf_data):
    X, y = clf_data
    scoring = BatchScoring("accuracy", on_train=True, name="batch_acc")
    clf = LSTMClassifier(**FAST, callbacks=[scoring]).fit(X, y)
    batches = clf.history_[-1, "batches"]
    assert len(batches) == 4  # 60 rows, batches of 16
    assert all(0 <= b["batch_acc"] <= 1 for b in batches)
    sizes = [b["train_batch_size"] for b in batches]
    expected = np.average([b["batch_acc"] for b in batches], weights=sizes)
    assert clf.history_[-1, "batch_acc"] == pytest.approx(expected)


def test_default_passthrough_scoring_writes_best_flags(reg_data):
    X, y = reg_data
    reg = LSTMRegressor(**FAST).fit(X, y)
    row = reg.history_[-1]
    sizes = [b["train_batch_size"] for b in row["batches"]]
    losses = [b["train_loss"] for b in row["batches"]]
    assert row["train_loss"] == pytest.approx(np.average(losses, weights=sizes))
    assert reg.history_[0, "train_loss_best"] is True


def test_user_passthrough_scoring_averages_a_batch_key(reg_data):
    X, y = reg_data
    cb = PassthroughScoring(name="train_batch_size", on_train=True)
    reg = LSTMRegressor(**FAST, callbacks=[("sizes", cb)]).fit(X, y)
    sizes = np.array([16, 16, 16, 12])
    assert reg.history_[-1, "train_batch_size"] == pytest.approx(
        (sizes**2).sum() / sizes.sum()
    )


def test_checkpoint_and_train_end_checkpoint_write_loadable_files(reg_data, tmp_path):
    X, y = reg_data
    best = Checkpoint(dirname=str(tmp_path / "best"), monitor="train_loss_best")
    end = TrainEndCheckpoint(dirname=str(tmp_path / "end"))
    reg = LSTMRegressor(**FAST, callbacks=[best, end]).fit(X, y)
    assert (tmp_path / "best" / "params.pt").stat().st_size > 0
    assert (tmp_path / "end" / "train_end_params.pt").stat().st_size > 0
    assert any(reg.history_[:, "event_cp"])
    # the end checkpoint holds the final weights
    before = reg.predict(X)
    reg.net_.module_.head[-1].bias.data += 1.0
    reg.net_.load_params(f_params=str(tmp_path / "end" / "train_end_params.pt"))
    np.testing.assert_allclose(reg.predict(X), before, rtol=1e-6)


def test_load_init_state_starts_from_the_checkpoint(reg_data, tmp_path):
    X, y = reg_data
    cp = Checkpoint(dirname=str(tmp_path), monitor=None)
    first = LSTMRegressor(**FAST, callbacks=[cp]).fit(X, y)
    # another seed: it resumes the saved run (weights, optimizer, history)
    again = LSTMRegressor(
        **{**FAST, "random_state": 1, "max_epochs": 1},
        callbacks=[LoadInitState(Checkpoint(dirname=str(tmp_path), monitor=None))],
    ).fit(X, y)
    assert len(again.history_) == 4
    assert again.history_[:3, "train_loss"] == first.history_[:, "train_loss"]
    fresh = LSTMRegressor(**{**FAST, "random_state": 1, "max_epochs": 1}).fit(X, y)
    w, w_first, w_fresh = (
        _lstm_weights(e)["weight_hh_l0"] for e in (again, first, fresh)
    )
    assert (w - w_first).abs().max() < 0.1 * (w - w_fresh).abs().max()


def test_progress_bar_draws_per_batch(reg_data, capsys):
    X, y = reg_data
    LSTMRegressor(**FAST, callbacks=[ProgressBar()]).fit(X, y)
    err = capsys.readouterr().err
    assert "0/4" in err  # a bar per epoch, sized in batches


@pytest.mark.parametrize("monitor", ["valid_acc", "train_loss", "valid_loss"])
def test_early_stopping_on_any_monitor(monitor, clf_data):
    X, y = clf_data
    lower = monitor != "valid_acc"
    callbacks = [
        EpochScoring("accuracy", name="valid_acc", lower_is_better=False),
        # an improvement must be huge: stops after `patience` epochs
        EarlyStopping(
            monitor=monitor, patience=2, threshold=10.0, lower_is_better=lower
        ),
    ]
    clf = LSTMClassifier(
        **{**FAST, "max_epochs": 30},
        early_stopping=monitor.startswith("valid"),
        n_iter_no_change=100,
        callbacks=callbacks,
    ).fit(X, y)
    assert clf.n_iter_ == 3  # first epoch sets the reference, two misses


def test_lr_scheduler_callback_steps_the_rate(reg_data):
    X, y = reg_data
    cb = LRScheduler(policy="StepLR", step_size=1, gamma=0.5)
    reg = LSTMRegressor(**{**FAST, "lr": 0.01}, lr_scheduler=None, callbacks=[cb])
    reg.fit(X, y)
    np.testing.assert_allclose(reg.history_[:, "lr"], [0.01, 0.005, 0.0025])


def test_batch_lr_scheduler_sees_every_batch(reg_data):
    X, y = reg_data
    cb = LRScheduler(policy="StepLR", step_size=1, gamma=0.5, step_every="batch")
    reg = LSTMRegressor(
        **{**FAST, "lr": 1.0, "max_epochs": 2}, lr_scheduler=None, callbacks=[cb]
    )
    reg.fit(X, y)
    assert reg.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.5**8)


def _sgd_step(X, y, **params):
    est = LSTMRegressor(
        **{**FAST, "batch_size": len(X), "max_epochs": 1},
        optimizer="sgd",
        momentum=0.0,
        lr=1.0,
        **params,
    )
    est.fit(X, y)
    return est


def test_gradient_norm_clipping_bounds_the_step(reg_data):
    X, y = reg_data
    plain = _sgd_step(X, y)
    clipped = _sgd_step(
        X, y, callbacks=[GradientNormClipping(gradient_clip_value=1e-3)]
    )
    start = LSTMRegressor(**{**FAST, "max_epochs": 1})  # same seed, same init
    start.set_params(optimizer="sgd", lr=1e-30, momentum=0.0, batch_size=len(X))
    w0 = [p.detach() for p in start.fit(X, y).net_.module_.parameters()]

    def step(est):
        now = est.net_.module_.parameters()
        return float(
            torch.sqrt(sum(((p - q) ** 2).sum() for p, q in zip(now, w0, strict=True)))
        )

    assert step(plain) > 1e-2
    assert step(clipped) <= 1e-3 * (1 + 1e-3)


def test_freezer_and_unfreezer(reg_data):
    X, y = reg_data
    frozen = LSTMRegressor(**FAST, callbacks=[Freezer("lstm.*")])
    start = _lstm_weights(LSTMRegressor(**{**FAST, "lr": 1e-30}).fit(X, y))
    for name, value in _lstm_weights(frozen.fit(X, y)).items():
        torch.testing.assert_close(value, start[name], rtol=0, atol=1e-6)
    thawed = LSTMRegressor(
        **FAST, callbacks=[Freezer("lstm.*"), Unfreezer("lstm.*", at=2)]
    ).fit(X, y)
    assert not torch.equal(_lstm_weights(thawed)["weight_hh_l0"], start["weight_hh_l0"])


def test_param_mapper_freezes_from_an_epoch(reg_data):
    X, y = reg_data
    mapper = ParamMapper("lstm.*", fn=freeze_parameter, at=2)
    est = LSTMRegressor(**FAST, callbacks=[mapper]).fit(X, y)
    assert not any(p.requires_grad for p in est.net_.module_.lstm.parameters())
    assert all(p.requires_grad for p in est.net_.module_.head.parameters())


def test_initializer_sets_weights(reg_data):
    X, y = reg_data
    init = Initializer("head.*.weight", fn=torch.nn.init.zeros_)
    est = LSTMRegressor(**{**FAST, "max_epochs": 1}, callbacks=[init], lr=1e-30)
    head = est.fit(X, y).net_.module_.head[-1].weight
    assert float(head.abs().max()) < 1e-20


def test_epoch_timer_and_print_log(reg_data):
    X, y = reg_data
    lines = []
    est = LSTMRegressor(
        **FAST, callbacks=[("timer2", EpochTimer()), PrintLog(sink=lines.append)]
    ).fit(X, y)
    assert all(d > 0 for d in est.history_[:, "dur"])
    table = "\n".join(lines)
    assert "train_loss" in table and table.count("\n") >= 4


def test_stock_tensorboard_writes_epoch_scalars(reg_data, tmp_path):
    pytest.importorskip("tensorboard")
    from torch.utils.tensorboard import SummaryWriter

    X, y = reg_data
    writer = SummaryWriter(str(tmp_path))
    LSTMRegressor(**FAST, callbacks=[TensorBoard(writer)]).fit(X, y)
    files = list(tmp_path.glob("events.out.tfevents.*"))
    assert files and files[0].stat().st_size > 200
    from tensorboard.backend.event_processing.event_accumulator import (
        EventAccumulator,
    )

    tags = EventAccumulator(str(tmp_path)).Reload().Tags()["scalars"]
    assert {"Loss/train_loss", "lr", "dur"} <= set(tags)


def test_net_predict_and_predict_proba(clf_data, reg_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST).fit(X, y)
    np.testing.assert_array_equal(clf.classes_[clf.net_.predict(X)], clf.predict(X))
    np.testing.assert_allclose(
        clf.net_.predict_proba(X), clf.predict_proba(X), rtol=1e-5
    )
    Xr, yr = reg_data
    reg = LSTMRegressor(**FAST).fit(Xr, yr)
    scaled = reg.net_.predict(Xr)
    np.testing.assert_allclose(
        scaled * reg.y_scale_[0] + reg.y_mean_[0], reg.predict(Xr), rtol=1e-5
    )


def test_batch_listeners_see_y_pred_and_the_batch(clf_data):
    from skorch.callbacks import Callback

    class Spy(Callback):
        def initialize(self):
            self.seen_ = []
            return self

        def on_batch_end(self, net, batch, training, y_pred, loss, **kwargs):
            X, y = batch
            self.seen_.append((training, y_pred.shape, len(X["x"]), len(y)))

    X, y = clf_data
    clf = LSTMClassifier(**{**FAST, "max_epochs": 1}, callbacks=[("spy", Spy())])
    seen = dict(clf.fit(X, y).net_.callbacks_)["spy"].seen_
    assert seen[0] == (True, (16, 2), 16, 16) and len(seen) == 4


def test_stock_roc_auc_scoring_on_a_binary_classifier():
    """skorch's EpochScoring("roc_auc") needs the net to be a classifier to
    scikit-learn (it then scores the positive class's probability column)."""
    from sklearn.base import is_classifier
    from sklearn.metrics import roc_auc_score

    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 6, 2))
    y = np.where(X[:, :, 0].sum(axis=1) > 0, "yes", "no")
    auc = EpochScoring("roc_auc", lower_is_better=False, name="valid_auc")
    clf = LSTMClassifier(
        hidden_size=4,
        max_epochs=3,
        random_state=0,
        early_stopping=True,
        validation_split="last",
        callbacks=[auc],
    ).fit(X, y)
    scores = [row["valid_auc"] for row in clf.history_]
    assert len(scores) == 3 and all(0.0 <= s <= 1.0 for s in scores)
    assert is_classifier(clf.net_) and list(clf.net_.classes_) == [0, 1]
    # the kept epoch's score is the AUC of the kept weights on the last rows
    valid = slice(54, 60)
    expected = roc_auc_score(y[valid] == "yes", clf.predict_proba(X[valid])[:, 1])
    assert scores[clf.best_epoch_ - 1] == pytest.approx(expected)
