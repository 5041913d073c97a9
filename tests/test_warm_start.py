"""Continuing training (warm_start=True, partial_fit) uses the current parameters."""

import numpy as np
import pytest
import torch

from sklstm import LSTMClassifier, LSTMRegressor

FAST = {
    "hidden_size": 8,
    "max_epochs": 3,
    "batch_size": 16,
    "random_state": 0,
    "lr_scheduler": None,
}


def _groups(est):
    return est.net_.optimizer_.param_groups


@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_new_optimizer_settings_take_effect(how, reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, warm_start=how == "warm_start").fit(X, y)
    state = est.net_.optimizer_.state_dict()["state"]
    est.set_params(lr=np.float64(0.02), weight_decay=np.float64(0.1), batch_size=30)
    if how == "partial_fit":
        est.partial_fit(X, y)
    else:
        est.fit(X, y)
    assert {g["lr"] for g in _groups(est)} == {0.02}
    assert est.history_[-1, "lr"] == 0.02
    decays = sorted(g["weight_decay"] for g in _groups(est))
    assert decays == [0.0, 0.1]  # biases and scales are never decayed
    assert est.history_[-1, "train_batch_count"] == 2  # 60 rows, batches of 30
    assert est.net_.optimizer_.state_dict()["state"].keys() == state.keys()


def test_new_optimizer_class_is_built(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST).fit(X, y)
    est.set_params(optimizer="sgd", momentum=0.5, lr=0.01).partial_fit(X, y)
    assert type(est.net_.optimizer_) is torch.optim.SGD
    assert {g["momentum"] for g in _groups(est)} == {0.5}
    est.set_params(optimizer="adam").partial_fit(X, y)  # momentum is not Adam's
    assert type(est.net_.optimizer_) is torch.optim.Adam


def test_regularization_and_dropout_changes_apply(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, num_layers=2).fit(X, y)
    est.set_params(dropout=0.3, l1=1e-3, gradient_clip=0.5).partial_fit(X, y)
    net = est.net_
    assert net.module_.head[0].p == 0.3 and net.module_.lstm.dropout == 0.3
    assert (net.l1, net.gradient_clip) == (1e-3, 0.5)


@pytest.mark.parametrize(
    "change",
    [
        {"hidden_size": 16},
        {"num_layers": 2},
        {"bidirectional": True},
        {"head_units": (4,)},
        {"norm": "layer"},
    ],
)
@pytest.mark.parametrize("how", ["partial_fit", "warm_start"])
def test_architecture_changes_are_refused(change, how, reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST).fit(X, y)
    before = est.predict(X)
    est.set_params(**change, warm_start=how == "warm_start")
    (name,) = change
    with pytest.raises(ValueError, match=f"{name}.*warm_start=False"):
        est.partial_fit(X, y) if how == "partial_fit" else est.fit(X, y)
    np.testing.assert_array_equal(est.predict(X), before)  # model untouched
    est.set_params(warm_start=False).fit(X, y)  # the fix works


@pytest.mark.parametrize(
    "policy, params",
    [
        ("step", {"step_size": 1, "gamma": 0.5}),
        ("cosine", None),
        ("exponential", None),
        ("onecycle", None),
        ("plateau", {"patience": 0, "threshold": 10.0}),
    ],
)
def test_partial_fit_follows_the_schedule_of_one_fit(policy, params, reg_data):
    X, y = reg_data
    kwargs = {
        **FAST,
        "max_epochs": 4,
        "lr": 0.01,
        "lr_scheduler": policy,
        "lr_scheduler_params": params,
    }
    whole = LSTMRegressor(**kwargs).fit(X, y)
    steps = LSTMRegressor(**kwargs)
    for _ in range(4):
        steps.partial_fit(X, y)
    np.testing.assert_allclose(steps.history_[:, "lr"], whole.history_[:, "lr"])
    np.testing.assert_allclose(steps.predict(X), whole.predict(X), rtol=1e-5)


@pytest.mark.parametrize("policy", ["cosine", "onecycle"])
def test_partial_fit_past_the_schedule_holds_the_final_rate(policy, reg_data):
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "max_epochs": 2, "lr": 0.01, "lr_scheduler": policy})
    for _ in range(5):
        est.partial_fit(X, y)  # no "Tried to step" error, no restart
    lrs = est.history_[:, "lr"]
    assert len(lrs) == 5 and lrs[3] == lrs[4] == pytest.approx(lrs[2])


def test_partial_fit_after_an_auto_fit_trains_at_lr(reg_data):
    """The "auto" cosine of a fit ends at a rate of 0; partial_fit's constant
    rate starts again from lr instead of carrying that 0 on."""
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "max_epochs": 3, "lr": 0.01, "lr_scheduler": "auto"})
    est.fit(X, y)
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-12)
    before = est.predict(X)
    est.partial_fit(X, y).partial_fit(X, y)
    assert list(est.history_[-2:, "lr"]) == pytest.approx([0.01, 0.01])
    assert np.abs(est.predict(X) - before).max() > 1e-4
    # an explicit schedule carries on: its held final rate is kept
    held = LSTMRegressor(
        **{**FAST, "max_epochs": 2, "lr": 0.01, "lr_scheduler": "step"}
    )
    held.set_params(lr_scheduler_params={"step_size": 1, "gamma": 0.5}).fit(X, y)
    held.partial_fit(X, y)
    assert held.history_[-1, "lr"] == pytest.approx(0.0025)


def test_changed_schedule_starts_from_the_current_rate(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "lr": 0.01, "lr_scheduler": "step"}).fit(X, y)
    est.set_params(lr_scheduler_params={"step_size": 1, "gamma": 0.5})
    est.set_params(lr=0.02).partial_fit(X, y).partial_fit(X, y)
    assert est.history_[-2:, "lr"] == pytest.approx([0.02, 0.01])


def test_early_stopping_is_off_under_partial_fit(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, early_stopping=True).partial_fit(X, y)
    assert est.validation_loss_curve_ is None
    assert sum(b["train_batch_size"] for b in est.history_[-1, "batches"]) == len(X)


def test_class_weight_follows_the_labels_of_a_warm_fit(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST, warm_start=True, class_weight="balanced")
    clf.fit(X, y)
    first = clf.net_.criterion_.class_weight.clone()
    rare = np.where(np.arange(len(y)) < 50, "down", "up")
    clf.fit(X, rare)
    assert not torch.equal(clf.net_.criterion_.class_weight, first)
    clf.set_params(class_weight=None).fit(X, y)
    assert clf.net_.criterion_.class_weight is None
