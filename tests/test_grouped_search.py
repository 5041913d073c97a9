"""GroupedSearchCV: grouped training equals ordinary fits; sklearn's interface."""

import warnings

import numpy as np
import pytest
import torch
from scipy.stats import loguniform
from sklearn.linear_model import Ridge
from sklearn.model_selection import GridSearchCV, KFold, RandomizedSearchCV
from skorch.callbacks import EpochTimer

import sklstm.model_selection._grouped._plan as gp
import sklstm.model_selection._grouped._train as gt
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._engine._losses import ClassificationLoss, RegressionLoss
from sklstm.model_selection import GroupedSearchCV

RTOL, ATOL = 1e-4, 1e-5
rng = np.random.RandomState(0)
X = rng.normal(size=(50, 6, 2)).astype(np.float32)
Y_REG = X[:, :, 0].sum(axis=1)
Y_CLF = np.where(X[:, :, 1].mean(axis=1) > 0, "up", "down")
# 50 rows in 3 folds: training sets of 33 and 34 rows, batch 8 divides neither
CV = KFold(3)
BASE = dict(
    hidden_size=5,
    max_epochs=3,
    batch_size=8,
    random_state=0,
    weight_decay=1e-3,
    gradient_clip=0.5,
)


def _train_grouped(estimator, grid, y):
    """Fits of every candidate and fold, trained as one group."""
    splits = list(CV.split(X, y))
    members = [
        gp.prepare(estimator, params, X, y, train)
        for params in grid
        for train, _ in splits
    ]
    assert len({gp.group_key(m) for m in members}) == 1
    X_all = members[0].estimator._check_X(X, reset=False).X
    gt.train_group(members, X_all, cuda_graphs=False)
    return [m.result for m in members], splits


def _outputs(est, X_test):
    if hasattr(est, "classes_"):
        return est.predict_proba(X_test)
    return est.predict(X_test)


@pytest.mark.parametrize(
    "estimator, grid, y",
    [
        (LSTMRegressor(**BASE), [{"lr": 1e-2}, {"lr": 3e-2}], Y_REG),
        (
            LSTMRegressor(**BASE, num_layers=2, head_units=(3,), l1=1e-3),
            [{"lr": 1e-2}, {"lr": 3e-2, "l1": 0.0, "random_state": 1}],
            Y_REG,
        ),
        (
            LSTMClassifier(**BASE, gradient_clip_value=0.1, class_weight="balanced"),
            [{"lr": 1e-2}, {"lr": 3e-2, "weight_decay": 0.0}],
            Y_CLF,
        ),
        (
            LSTMClassifier(**BASE, num_layers=2, bidirectional=True, norm="layer"),
            [{"lr": 1e-2, "optimizer": "adamw"}, {"lr": 3e-2, "optimizer": "adamw"}],
            Y_CLF,
        ),
        (
            LSTMRegressor(**BASE, optimizer="sgd", lr_scheduler="step", loss="huber"),
            [{"lr": 1e-2}, {"lr": 3e-2, "momentum": 0.5}],
            Y_REG,
        ),
    ],
    ids=["reg", "reg-2-layers-l1", "clf-clip-value", "clf-bidir-adamw", "sgd-huber"],
)
def test_grouped_fits_equal_ordinary_fits(estimator, grid, y):
    results, splits = _train_grouped(estimator, grid, y)
    i = 0
    for params in grid:
        for train, test in splits:
            ref = LSTMRegressor if isinstance(estimator, LSTMRegressor) else None
            ref = (ref or LSTMClassifier)(**{**estimator.get_params(), **params})
            ref.fit(X[train], y[train])
            got = results[i]
            i += 1
            assert len(got.history_) == len(ref.history_)
            np.testing.assert_allclose(
                got.loss_curve_, ref.loss_curve_, rtol=RTOL, atol=ATOL
            )
            np.testing.assert_allclose(
                got.history_[:, "lr"], ref.history_[:, "lr"], rtol=1e-12
            )
            assert got.history_[-1, "train_batch_count"] == len(train) // 8 + 1
            np.testing.assert_allclose(
                _outputs(got, X[test]), _outputs(ref, X[test]), rtol=RTOL, atol=ATOL
            )


@pytest.mark.parametrize(
    "kind, n_outputs", [("mse", 1), ("mae", 2), ("huber", 3)], ids=str
)
def test_loss_rows_of_several_models_equal_each_models_loss(kind, n_outputs):
    # a group's batch is K models' batches flattened into one
    k, b = 3, 4
    generator = torch.Generator().manual_seed(0)
    criterion = RegressionLoss(kind, delta=0.5)
    pred = torch.randn(k, b, n_outputs, generator=generator)
    target = torch.randn(k, b, n_outputs, generator=generator)
    if n_outputs == 1:
        target = target[..., 0]
    rows = criterion.rows(pred.reshape(k * b, -1), target.reshape(k * b, -1))
    for j in range(k):
        torch.testing.assert_close(
            rows.view(k, b)[j], criterion(pred[j], target[j]), rtol=0, atol=0
        )
    # per-step outputs: a row's steps averaged, as get_loss does
    steps = torch.randn(b, 5, n_outputs, generator=generator)
    step_target = torch.randn(b, 5, n_outputs, generator=generator)
    torch.testing.assert_close(
        criterion.rows(steps, step_target),
        criterion(steps, step_target).mean(dim=1),
    )


def test_loss_rows_take_class_weights_per_model():
    k, b, n_classes = 2, 5, 3
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(k, b, n_classes, generator=generator)
    labels = torch.randint(0, n_classes, (k, b), generator=generator)
    weights = torch.rand(k, n_classes, generator=generator) + 0.5
    rows = ClassificationLoss(weights[0]).rows(
        logits.reshape(k * b, -1), labels.reshape(-1), weighted=False
    )
    rows = rows.view(k, b) * torch.gather(weights, 1, labels)
    for j in range(k):
        own = ClassificationLoss(weights[j])
        torch.testing.assert_close(rows[j], own(logits[j], labels[j]))
        torch.testing.assert_close(own.rows(logits[j], labels[j]), rows[j])


def test_search_matches_grid_search_cv():
    est = LSTMRegressor(**BASE)
    grid = {"lr": [3e-3, 1e-2, 3e-2], "gradient_clip": [0.5, None]}
    ours = GroupedSearchCV(est, grid, cv=CV, grouping="always").fit(X, Y_REG)
    ref = GridSearchCV(est, grid, cv=CV).fit(X, Y_REG)
    assert set(ours.cv_results_) == set(ref.cv_results_)
    for key in ref.cv_results_:
        if key.startswith(("split", "mean_test", "std_test")):
            np.testing.assert_allclose(
                ours.cv_results_[key], ref.cv_results_[key], rtol=1e-3, atol=1e-4
            )
    assert list(ours.cv_results_["params"]) == list(ref.cv_results_["params"])
    assert ours.best_params_ == ref.best_params_
    assert ours.fallback_reasons_ == [None] * 6
    assert [g["n_models"] for g in ours.groups_] == [18]
    assert not any(g["cuda_graph"] for g in ours.groups_)
    assert (ours.cv_results_["mean_fit_time"] > 0).all()
    # refit is an ordinary estimator fitted on all rows
    assert type(ours.best_estimator_) is LSTMRegressor
    assert ours.best_estimator_.net_.history[-1, "train_batch_count"] == 7
    assert ours.predict(X[:3]).shape == (3,)


def test_fallback_candidates_are_fitted_ordinarily():
    est = LSTMClassifier(**BASE)
    grid = [
        {"lr": [1e-2]},
        {"lr": [1e-2], "callbacks": [[EpochTimer()]]},
        {"lr": [1e-2], "early_stopping": [True], "validation_split": ["random"]},
    ]
    search = GroupedSearchCV(est, grid, cv=CV, grouping="always")
    with pytest.warns(UserWarning, match="callbacks.*early_stopping"):
        search.fit(X, Y_CLF)
    assert search.fallback_reasons_ == [None, "callbacks", "early_stopping=True"]
    assert [g["n_models"] for g in search.groups_] == [3]
    ref = GridSearchCV(est, grid, cv=CV).fit(X, Y_CLF)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )


def test_cpu_auto_follows_the_cost_model():
    # large per-step work: ordinary fits, by design (no warning)
    large = {**BASE, "hidden_size": 32, "batch_size": 64}
    search = GroupedSearchCV(
        LSTMRegressor(**large, device="cpu"), {"lr": [1e-2, 2e-2]}, cv=2, n_jobs=1
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        search.fit(X, Y_REG)
    assert search.groups_ == []
    assert all(r.startswith("model too large") for r in search.fallback_reasons_)
    assert "benchmarks/grouping_cpu.py" in search.fallback_reasons_[0]
    # tiny models: grouped on the CPU, where grouping measured faster
    tiny = {**BASE, "hidden_size": 4, "batch_size": 16}
    search = GroupedSearchCV(
        LSTMRegressor(**tiny, device="cpu"), {"lr": [1e-2, 2e-2]}, cv=2
    ).fit(X, Y_REG)
    assert [g["n_models"] for g in search.groups_] == [4]
    assert search.fallback_reasons_ == [None, None]
    never = GroupedSearchCV(LSTMRegressor(**BASE), {"lr": [1e-2]}, grouping="never")
    assert never.fit(X, Y_REG).fallback_reasons_ == ["grouping='never'"]


def test_randomized_and_multimetric():
    est = LSTMClassifier(**BASE)
    dist = {"lr": loguniform(1e-3, 1e-1), "weight_decay": [0.0, 1e-3]}
    scoring = {"acc": "accuracy", "nll": "neg_log_loss"}
    ours = GroupedSearchCV(
        est,
        param_distributions=dist,
        n_iter=3,
        random_state=1,
        cv=CV,
        scoring=scoring,
        refit="nll",
        grouping="always",
        return_train_score=True,
    ).fit(X, Y_CLF)
    ref = RandomizedSearchCV(
        est,
        dist,
        n_iter=3,
        random_state=1,
        cv=CV,
        scoring=scoring,
        refit="nll",
        return_train_score=True,
    ).fit(X, Y_CLF)
    assert ours.multimetric_ and set(ours.scorer_) == {"acc", "nll"}
    assert ours.cv_results_["params"] == ref.cv_results_["params"]
    for key in ("mean_test_nll", "mean_test_acc", "mean_train_nll"):
        np.testing.assert_allclose(
            ours.cv_results_[key], ref.cv_results_[key], rtol=1e-3, atol=1e-4
        )
    assert ours.best_index_ == ref.best_index_
    assert type(ours.best_estimator_) is LSTMClassifier
    assert ours.predict_proba(X[:2]).shape == (2, 2)


def test_memory_budget_splits_groups_with_equal_results(monkeypatch):
    est = LSTMRegressor(**BASE)
    grid = {"lr": [1e-2, 3e-2]}
    whole = GroupedSearchCV(est, grid, cv=CV, grouping="always").fit(X, Y_REG)
    capped = GroupedSearchCV(est, grid, cv=CV, grouping="always", max_group_size=4)
    assert [g["n_models"] for g in capped.fit(X, Y_REG).groups_] == [3, 3]
    # room for two models per group: 6 fits in 3 groups
    member = gp.prepare(est, {}, X, Y_REG, np.arange(40))
    monkeypatch.setattr(gp, "CPU_MEMORY_BUDGET", 2 * gp.bytes_per_model(member))
    split = GroupedSearchCV(est, grid, cv=CV, grouping="always").fit(X, Y_REG)
    assert [g["n_models"] for g in split.groups_] == [2, 2, 2]
    for other in (split, capped):
        np.testing.assert_allclose(
            other.cv_results_["mean_test_score"],
            whole.cv_results_["mean_test_score"],
            rtol=1e-5,
        )


def test_architectures_train_in_separate_groups():
    # hidden sizes share a group (padded); layer counts do not
    grid = {"hidden_size": [3, 4], "num_layers": [1, 2]}
    search = GroupedSearchCV(LSTMRegressor(**BASE), grid, cv=2, grouping="always")
    search.fit(X, Y_REG)
    assert sorted(g["n_models"] for g in search.groups_) == [4, 4]
    assert all(sorted(set(g["hidden_sizes"])) == [3, 4] for g in search.groups_)
    # a LayerNorm's statistics would see padded units: one group per size
    est = LSTMRegressor(**BASE, norm="layer")
    grid = {"hidden_size": [3, 4]}
    search = GroupedSearchCV(est, grid, cv=2, grouping="always").fit(X, Y_REG)
    assert sorted(g["hidden_sizes"] for g in search.groups_) == [[3, 3], [4, 4]]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(estimator=Ridge(), param_grid={"alpha": [1.0]}), "LSTMRegressor"),
        (dict(estimator=LSTMRegressor(), param_grid=None), "exactly one"),
        (
            dict(estimator=LSTMRegressor(), param_grid={"lr": [1e-2]}, grouping="gpu"),
            "grouping",
        ),
    ],
)
def test_bad_inputs_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GroupedSearchCV(**kwargs).fit(X, Y_REG)


def test_sample_weight_makes_fits_ordinary():
    search = GroupedSearchCV(
        LSTMRegressor(**BASE), {"lr": [1e-2]}, cv=2, grouping="always"
    )
    with pytest.warns(UserWarning, match="fit parameters"):
        search.fit(X, Y_REG, sample_weight=np.ones(len(X)))
    assert search.fallback_reasons_ == ["fit parameters (sample_weight)"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_graphs_equal_eager_and_ordinary_fits():
    est = LSTMClassifier(**{**BASE, "device": "cuda"})
    grid = {"lr": [1e-2, 3e-2]}
    graphs = GroupedSearchCV(est, grid, cv=CV).fit(X, Y_CLF)
    eager = GroupedSearchCV(est, grid, cv=CV, cuda_graphs=False).fit(X, Y_CLF)
    assert all(g["cuda_graph"] for g in graphs.groups_)
    assert not any(g["cuda_graph"] for g in eager.groups_)
    np.testing.assert_allclose(
        graphs.cv_results_["mean_test_score"],
        eager.cv_results_["mean_test_score"],
        rtol=1e-5,
    )
    # cuDNN's LSTM (TF32 allowed) against batched products: a looser tolerance
    results, splits = _train_grouped(est, [{"lr": 1e-2}], Y_CLF)
    for got, (train, test) in zip(results, splits, strict=True):
        ref = LSTMClassifier(**{**est.get_params(), "lr": 1e-2})
        ref.fit(X[train], Y_CLF[train])
        np.testing.assert_allclose(got.loss_curve_, ref.loss_curve_, rtol=1e-2)
        np.testing.assert_allclose(
            got.predict_proba(X[test]), ref.predict_proba(X[test]), atol=1e-2
        )
