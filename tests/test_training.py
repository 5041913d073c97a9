"""Each tuning knob changes training; a test per knob fails if the knob is ignored."""

import copy
from unittest import mock

import numpy as np
import pytest
import sklearn
import torch
from conftest import SETTINGS
from sklearn.base import is_classifier
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import Callback
from torch import nn

from sklstm import LSTMClassifier, LSTMRegressor

FAST = SETTINGS["small"]


def _weights(est):
    return [p for p in est.net_.module_.parameters() if p.dim() >= 2]


def _predictions_differ(Est, X, y, **params):
    base = Est(**FAST).fit(X, y).predict(X)
    other = Est(**{**FAST, **params}).fit(X, y).predict(X)
    return not np.allclose(base, other)


# ---------------------------------------------------------------- architecture
def test_architecture_sizes(reg_data):
    X, y = reg_data
    small = LSTMRegressor(**FAST).fit(X, y)
    big = LSTMRegressor(
        **{**FAST, "hidden_size": 16, "num_layers": 2, "bidirectional": True}
    ).fit(X, y)
    lstm = big.net_.module_.lstm
    assert (lstm.hidden_size, lstm.num_layers, lstm.bidirectional) == (16, 2, True)
    assert big.n_parameters_ > small.n_parameters_


def test_dropout_changes_training(reg_data):
    X, y = reg_data
    assert _predictions_differ(LSTMRegressor, X, y, dropout=0.5, num_layers=1)
    est = LSTMRegressor(**{**FAST, "dropout": 0.3, "num_layers": 2}).fit(X, y)
    assert est.net_.module_.lstm.dropout == 0.3
    # prediction is deterministic: dropout is off outside training
    np.testing.assert_array_equal(est.predict(X), est.predict(X))


def test_head_units_and_activation(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "head_units": (12, 6), "head_activation": "tanh"})
    head = est.fit(X, y).net_.module_.head
    linears = [m for m in head if isinstance(m, nn.Linear)]
    assert [m.out_features for m in linears] == [12, 6, 1]
    assert sum(isinstance(m, nn.Tanh) for m in head) == 2
    assert _predictions_differ(LSTMRegressor, X, y, head_units=(12,))


@pytest.mark.parametrize(
    ("norm", "layer"), [("layer", nn.LayerNorm), ("batch", nn.BatchNorm1d)]
)
def test_norm(norm, layer, reg_data):
    X, y = reg_data
    # 49 rows with batch 16: the last batch of 1 joins the previous one for batch norm
    est = LSTMRegressor(**{**FAST, "norm": norm}).fit(X[:49], y[:49])
    assert isinstance(est.net_.module_.norm, layer)
    assert _predictions_differ(LSTMRegressor, X, y, norm=norm)


def test_return_sequences_regressor(reg_data):
    X, _ = reg_data
    y = np.cumsum(X[:, :, 0], axis=1)  # running sum: a per-step target
    est = LSTMRegressor(
        **{**FAST, "return_sequences": True, "max_epochs": 30, "lr": 0.01}
    )
    pred = est.fit(X, y).predict(X)
    assert pred.shape == y.shape
    assert est.score(X, y) > 0.5
    y3 = np.stack([y, -y], axis=-1)
    assert est.fit(X, y3).predict(X).shape == y3.shape


def test_return_sequences_tagging(clf_data):
    X, _ = clf_data
    tags = np.where(X[:, :, 0] > 0, "pos", "neg")  # one label per step
    clf = LSTMClassifier(
        **{**FAST, "return_sequences": True, "max_epochs": 30, "lr": 0.02}
    ).fit(X, tags)
    assert clf.predict(X).shape == tags.shape
    assert clf.predict_proba(X).shape == (*tags.shape, 2)
    assert clf.score(X, tags) > 0.8
    with pytest.raises(ValueError, match="one target per time step"):
        clf.fit(X, tags[:, :3])


def test_ragged_per_step_targets_train_and_score_real_steps():
    """Per-step targets padded to the longest sequence train whatever a batch
    is cut to (most batches here lack the longest one), and the scores count
    each sequence's real steps, not its padding."""
    rng = np.random.RandomState(0)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in [9] + [4] * 23]
    y = np.zeros((24, 9))
    for i, x in enumerate(X):
        y[i, : len(x)] = np.cumsum(x[:, 0])
    tags = np.where(y > 0, "pos", "neg")
    params = {**FAST, "batch_size": 4, "return_sequences": True}
    for est, target in ((LSTMRegressor(**params), y), (LSTMClassifier(**params), tags)):
        est.fit(X, target)
        assert est.set_params(early_stopping=True).fit(X, target).n_iter_ >= 1
        pred = est.predict(X)
        assert pred.shape == target.shape
        real = np.concatenate([pred[i, : len(x)] for i, x in enumerate(X)])
        truth = np.concatenate([target[i, : len(x)] for i, x in enumerate(X)])
        metric = accuracy_score if is_classifier(est) else r2_score
        assert est.score(X, target) == pytest.approx(metric(truth, real))
        weights = np.linspace(0.5, 2.0, len(X))
        repeated = np.concatenate(
            [np.full(len(x), w) for x, w in zip(X, weights, strict=True)]
        )
        assert est.score(X, target, sample_weight=weights) == pytest.approx(
            metric(truth, real, sample_weight=repeated)
        )
        padding = target.copy()
        padding[1:, 4:] = "pos" if target.dtype.kind == "U" else 1e3
        assert est.score(X, padding) == est.score(X, target)  # left out
        with pytest.raises(ValueError, match="one target per time step"):
            est.score(X, target[:, :5])
        with mock.patch.object(est, "_check_X", wraps=est._check_X) as check:
            est.score(X, target)
        assert check.call_args_list == [mock.call(X, reset=False)]  # once
    with pytest.raises(ValueError, match="different lengths.*pad each"):
        LSTMRegressor(**params).fit(
            X, [row[: len(x)] for row, x in zip(y, X, strict=True)]
        )


def test_batch_norm_of_per_step_outputs_counts_real_steps():
    """norm="batch" on per-step outputs of ragged rows: in training, how far
    a batch is padded changes neither the outputs at real steps nor the
    running statistics."""
    rng = np.random.RandomState(1)
    X = [rng.normal(size=(n, 2)).astype(np.float32) for n in (3, 6, 4, 5) * 4]
    y = np.zeros((16, 6))
    for i, x in enumerate(X):
        y[i, : len(x)] = np.cumsum(x[:, 0])
    est = LSTMRegressor(**FAST, norm="batch", return_sequences=True).fit(X, y)
    lengths = torch.tensor([3, 6, 4, 5])
    outputs, norms = [], []
    for width, fill in ((6, 0.0), (15, 50.0)):
        x = torch.full((4, width, 2), fill)
        for i, n in enumerate(lengths.tolist()):
            x[i, :n] = torch.from_numpy(X[i])
        module = copy.deepcopy(est.net_.module_).train()
        with torch.no_grad():
            outputs.append(module(x, lengths))
        norms.append(module.norm)
    for i, n in enumerate(lengths.tolist()):
        torch.testing.assert_close(outputs[0][i, :n], outputs[1][i, :n])
    for name in ("running_mean", "running_var"):
        torch.testing.assert_close(getattr(norms[0], name), getattr(norms[1], name))
    assert np.isfinite(est.predict(X)).all()


def test_stateful_streaming_equals_whole_series(reg_data):
    X, _ = reg_data
    y = np.cumsum(X[:, :, 0], axis=1)
    for return_sequences in (False, True):
        target = y if return_sequences else y[:, -1]
        params = {**FAST, "return_sequences": return_sequences}
        est = LSTMRegressor(**params, stateful=True).fit(X, target)
        whole = LSTMRegressor(**params).fit(X, target).predict(X)
        first = est.predict(X[:, :4])
        second = est.predict(X[:, 4:])
        streamed = (
            np.concatenate([first, second], axis=1) if return_sequences else second
        )
        np.testing.assert_allclose(streamed, whole, rtol=1e-5, atol=1e-6)
        # after a reset the next chunk starts from zeros again
        np.testing.assert_allclose(
            est.reset_states().predict(X[:, :4]), first, atol=1e-6
        )
        with pytest.raises(ValueError, match="reset_states"):
            est.predict(X[:3, 4:])


# -------------------------------------------------------------- regularization
def test_weight_decay_shrinks_weights(reg_data):
    X, y = reg_data
    params = {**FAST, "optimizer": "sgd", "lr": 0.05, "max_epochs": 10}
    plain = LSTMRegressor(**params).fit(X, y)
    decayed = LSTMRegressor(**params, weight_decay=0.5).fit(X, y)
    norm = lambda est: sum(float(w.detach().norm()) for w in _weights(est))  # noqa: E731
    assert norm(decayed) < 0.9 * norm(plain)


def test_l1_drives_weights_to_zero_but_not_biases(reg_data):
    X, y = reg_data
    params = {**FAST, "max_epochs": 10, "lr": 0.01}
    plain = LSTMRegressor(**params).fit(X, y)
    sparse = LSTMRegressor(**params, l1=0.05).fit(X, y)
    l1_norm = lambda est: sum(float(w.detach().abs().sum()) for w in _weights(est))  # noqa: E731
    assert l1_norm(sparse) < 0.7 * l1_norm(plain)
    assert all(p.dim() >= 2 for p in sparse.net_._penalized_weights())


def test_early_stopping_stops_and_restores_best(reg_data):
    X, y = reg_data
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 60, "lr": 0.05},
        early_stopping=True,
        validation_split="last",
        validation_fraction=0.2,
        n_iter_no_change=3,
        tol=0.5,  # an improvement must be large: a plateau comes fast
    ).fit(X, y)
    assert est.n_iter_ < 60
    curve = est.validation_loss_curve_
    assert 1 <= est.best_epoch_ < est.n_iter_  # stopped after n_iter_no_change misses
    # the held-out rows are the last 20%: the restored model scores there as the
    # best epoch did, not as the last one
    rows = slice(len(X) - 12, None)
    scaled = (est.predict(X[rows]) - y[rows]) / est.y_scale_[0]
    np.testing.assert_allclose(
        np.mean(scaled**2), curve[est.best_epoch_ - 1], rtol=1e-4
    )
    assert curve[est.best_epoch_ - 1] != curve[-1]


@pytest.mark.parametrize("split", ["last", "random", "stratified"])
def test_early_stopping_in_grid_search_with_time_series_split(split, clf_data):
    X, y = clf_data
    search = GridSearchCV(
        LSTMClassifier(**FAST, early_stopping=True, validation_split=split),
        {"n_iter_no_change": [1, 2]},
        cv=TimeSeriesSplit(3),
        error_score="raise",
    ).fit(X, y)
    assert search.best_estimator_.validation_loss_curve_ is not None


# ---------------------------------------------------------------- optimization
@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("adam", torch.optim.Adam),
        ("adamw", torch.optim.AdamW),
        ("sgd", torch.optim.SGD),
        ("rmsprop", torch.optim.RMSprop),
        (torch.optim.Adagrad, torch.optim.Adagrad),
    ],
)
def test_optimizers(name, cls, reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, optimizer=name, momentum=0.5).fit(X, y)
    assert type(est.net_.optimizer_) is cls
    if cls in (torch.optim.SGD, torch.optim.RMSprop):
        assert est.net_.optimizer_.param_groups[0]["momentum"] == 0.5


def test_batch_size_max_epochs_and_shuffle(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "batch_size": 7, "max_epochs": 2}).fit(X, y)
    assert list(est.history_[:, "train_batch_count"]) == [9, 9]  # ceil(60 / 7)
    assert est.n_iter_ == 2
    assert _predictions_differ(LSTMRegressor, X, y, shuffle=False)


@pytest.mark.parametrize(
    "policy", ["plateau", "cosine", "step", "onecycle", "exponential"]
)
def test_lr_schedulers_change_recorded_lr(policy, reg_data):
    X, y = reg_data
    params = {"plateau": {"patience": 0, "threshold": 10.0}}.get(policy)
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 4, "lr": 0.01},
        lr_scheduler=policy,
        lr_scheduler_params=params,
    ).fit(X, y)
    lrs = list(est.history_[:, "lr"])
    assert len(set(lrs)) > 1, lrs
    if policy != "onecycle":
        assert lrs[0] == pytest.approx(0.01) and lrs[-1] < 0.01


class _RecordStart(Callback):
    """Keeps the weights as they were when training began."""

    def on_train_begin(self, net, **kwargs):
        self.start_ = [p.detach().clone() for p in net.module_.parameters()]


def _one_sgd_step(X, y, **params):
    # one full-batch plain-SGD step with lr=1: the update equals minus the gradient
    est = LSTMRegressor(
        **{**FAST, "batch_size": len(X), "max_epochs": 1},
        optimizer="sgd",
        momentum=0.0,
        lr=1.0,
        callbacks=[_RecordStart()],
        **params,
    ).fit(X, y)
    start = dict(est.net_.callbacks_)["_RecordStart"].start_
    now = est.net_.module_.parameters()
    return [a.detach() - b for a, b in zip(now, start, strict=True)]


def test_gradient_clip_bounds_the_step(reg_data):
    X, y = reg_data
    norm = lambda delta: float(torch.sqrt(sum((d**2).sum() for d in delta)))  # noqa: E731
    assert norm(_one_sgd_step(X, y)) > 0.01
    assert norm(_one_sgd_step(X, y, gradient_clip=0.01)) <= 0.01 * (1 + 1e-4)
    delta = _one_sgd_step(X, y, gradient_clip_value=0.001)
    assert max(float(d.abs().max()) for d in delta) <= 0.001 * (1 + 1e-4)


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_regression_losses(loss, reg_data):
    X, y = reg_data
    assert _predictions_differ(LSTMRegressor, X, y, loss=loss)


def test_class_weight_moves_the_decision(clf_data):
    X, _ = clf_data
    signal = X[:, :, 0].mean(axis=1)
    y = np.where(signal > 0.4, "rare", "common")  # about 10% rare
    params = {**FAST, "max_epochs": 5}
    plain = LSTMClassifier(**params).fit(X, y)
    balanced = LSTMClassifier(**params, class_weight="balanced").fit(X, y)
    favoured = LSTMClassifier(**params, class_weight={"rare": 20, "common": 1}).fit(
        X, y
    )
    rare = lambda est: np.mean(est.predict_proba(X)[:, 1])  # noqa: E731
    assert list(plain.classes_) == ["common", "rare"]
    assert rare(balanced) > rare(plain) and rare(favoured) > rare(plain)


@pytest.mark.parametrize("Est", [LSTMRegressor, LSTMClassifier])
def test_sample_weight_equals_repeated_rows(Est, reg_data):
    X, y = reg_data
    if Est is LSTMClassifier:
        y = np.where(y > 10, 1, 0)
    w = np.random.RandomState(0).randint(0, 4, size=len(X))
    params = {**FAST, "batch_size": 1000, "max_epochs": 5, "shuffle": False}
    weighted = Est(**params).fit(X, y, sample_weight=w)
    repeated = Est(**params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    method = "predict" if Est is LSTMRegressor else "predict_proba"
    np.testing.assert_allclose(
        getattr(weighted, method)(X), getattr(repeated, method)(X), rtol=1e-4, atol=1e-6
    )


def test_sample_weight_routed_through_pipeline_and_search(clf_data):
    X, y = clf_data
    w = np.where(y == "up", 1.0, 0.0)  # only "up" rows count
    with sklearn.config_context(enable_metadata_routing=True):
        est = LSTMClassifier(**{**FAST, "max_epochs": 10, "lr": 0.02})
        est.set_fit_request(sample_weight=True).set_score_request(sample_weight=True)
        pipe = make_pipeline(FunctionTransformer(), est)
        search = GridSearchCV(pipe, {"lstmclassifier__hidden_size": [4]}, cv=2)
        search.fit(X, y, sample_weight=w)
    # trained only on "up": it predicts "up" nearly everywhere
    assert np.mean(search.predict(X) == "up") > 0.9


def test_score_honours_sample_weight(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST).fit(X, y)
    right = clf.predict(X) == y
    w = right.astype(float) + 1e-9
    assert clf.score(X, y, sample_weight=w) == pytest.approx(1.0)
    assert clf.score(X, y) == pytest.approx(right.mean())


def test_non_finite_sample_weight(clf_data):
    X, y = clf_data
    w = np.ones(len(X))
    w[0] = np.nan
    with pytest.raises(ValueError, match="sample_weight"):
        LSTMClassifier(**FAST).fit(X, y, sample_weight=w)
