"""The joblib backend "sklstm": grouped training inside scikit-learn's own
searches, equal to ordinary fits, across hidden sizes (padded exactly)."""

import gc
import warnings
import weakref

import joblib
import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import (
    GridSearchCV,
    HalvingGridSearchCV,
    HalvingRandomSearchCV,
    KFold,
    ParameterGrid,
    RandomizedSearchCV,
    cross_validate,
    learning_curve,
    validation_curve,
)
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import sklstm.model_selection._grouped._plan as gp
import sklstm.model_selection._grouped._train as gt
from sklstm import LSTMClassifier, LSTMRegressor
from sklstm._fitplan import pretrained
from sklstm.model_selection import GroupingBackend, GroupingReport
from sklstm.model_selection._grouped._module import _grid, slots

TOL = 1e-4  # the bound on scores; padded fits agree far closer
rng = np.random.RandomState(0)
X = rng.normal(size=(60, 6, 2)).astype(np.float32)
Y_REG = X[:, :, 0].sum(axis=1)
Y_CLF = np.where(X[:, :, 1].mean(axis=1) > 0, "up", "down")
BASE = dict(max_epochs=2, batch_size=8, random_state=0, gradient_clip=0.5)
HIDDEN = [3, 5]


def grouped(run, **options):
    """``run()`` under the backend; its result and the report."""
    report = GroupingReport()
    with joblib.parallel_config(
        backend="sklstm", grouping="always", report=report, **options
    ):
        return run(), report


def assert_close_scores(a, b):
    np.testing.assert_allclose(
        np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=0, atol=TOL
    )


def n_grouped(report):
    return sum(g["n_models"] for g in report.groups)


SEARCHES = {
    "grid": lambda est: GridSearchCV(
        est, {"hidden_size": HIDDEN, "lr": [1e-2, 3e-3]}, cv=3
    ),
    "random": lambda est: RandomizedSearchCV(
        est,
        {"hidden_size": HIDDEN, "lr": [1e-2, 3e-3], "weight_decay": [0, 1e-3]},
        n_iter=4,
        cv=KFold(3),
        random_state=0,
    ),
    "halving_samples": lambda est: HalvingGridSearchCV(
        est,
        {"hidden_size": HIDDEN, "lr": [1e-2, 3e-3]},
        cv=3,
        min_resources=30,
        random_state=0,
    ),
    "halving_epochs": lambda est: HalvingRandomSearchCV(
        est,
        {"hidden_size": HIDDEN, "lr": [1e-2, 3e-3]},
        n_candidates=4,
        resource="max_epochs",
        min_resources=1,
        max_resources=3,
        cv=3,
        random_state=0,
    ),
}


@pytest.mark.parametrize("kind", sorted(SEARCHES))
@pytest.mark.parametrize("task", ["regressor", "classifier"])
def test_searches_equal_ordinary(kind, task):
    est = (LSTMRegressor if task == "regressor" else LSTMClassifier)(**BASE)
    y = Y_REG if task == "regressor" else Y_CLF
    ordinary = SEARCHES[kind](est).fit(X, y)
    ours, report = grouped(lambda: SEARCHES[kind](est).fit(X, y))
    assert_close_scores(
        ours.cv_results_["mean_test_score"], ordinary.cv_results_["mean_test_score"]
    )
    assert ours.best_params_ == ordinary.best_params_
    # every fit of the search was grouped, hidden sizes together
    n_fits = len(ours.cv_results_["params"]) * ours.n_splits_
    assert n_grouped(report) == n_fits and report.fallbacks == []
    assert any(len(set(g["hidden_sizes"])) == 2 for g in report.groups)
    assert type(ours.best_estimator_) is type(est)


def test_bayes_search_groups_each_batch():
    skopt = pytest.importorskip("skopt")
    space = {
        "hidden_size": skopt.space.Integer(3, 6),
        "lr": (1e-3, 1e-1, "log-uniform"),
    }

    def search():
        return skopt.BayesSearchCV(
            LSTMRegressor(**BASE), space, n_iter=4, n_points=2, cv=3, random_state=0
        )

    ordinary = search().fit(X, Y_REG)
    ours, report = grouped(lambda: search().fit(X, Y_REG))
    assert_close_scores(
        ours.cv_results_["mean_test_score"], ordinary.cv_results_["mean_test_score"]
    )
    # one group per n_points batch: 2 candidates x 3 folds
    assert [g["n_models"] for g in report.groups] == [6, 6]


def test_cross_validate_and_curves_equal_ordinary():
    est = LSTMClassifier(**BASE, hidden_size=4)
    a = cross_validate(est, X, Y_CLF, cv=3, return_train_score=True)
    b, report = grouped(
        lambda: cross_validate(
            est, X, Y_CLF, cv=3, return_train_score=True, return_estimator=True
        )
    )
    assert_close_scores(b["test_score"], a["test_score"])
    assert_close_scores(b["train_score"], a["train_score"])
    assert [type(e) for e in b["estimator"]] == [LSTMClassifier] * 3
    assert n_grouped(report) == 3
    sizes, *scores_a = learning_curve(est, X, Y_CLF, cv=3, train_sizes=[0.5, 1.0])
    (_, *scores_b), report = grouped(
        lambda: learning_curve(est, X, Y_CLF, cv=3, train_sizes=[0.5, 1.0])
    )
    for a_, b_ in zip(scores_a, scores_b, strict=True):
        assert_close_scores(b_, a_)
    assert n_grouped(report) == 6  # training sets of two sizes, one group
    curve = dict(param_name="hidden_size", param_range=[2, 4, 6], cv=3)
    a = validation_curve(est, X, Y_CLF, **curve)
    b, report = grouped(lambda: validation_curve(est, X, Y_CLF, **curve))
    for a_, b_ in zip(a, b, strict=True):
        assert_close_scores(b_, a_)
    assert [g["hidden_sizes"] for g in report.groups] == [[2] * 3 + [4] * 3 + [6] * 3]


@pytest.mark.parametrize(
    "extra",
    [
        dict(num_layers=2, bidirectional=True, l1=1e-4, weight_decay=1e-3),
        dict(head_units=(4,), optimizer="adamw", weight_decay=1e-2),
        dict(optimizer="sgd", momentum=0.9, head_units=(3, 2)),
    ],
)
def test_padded_fits_equal_their_ordinary_fits(extra, monkeypatch):
    """Each model padded to the group's sizes trains as its ordinary fit, and
    the padded entries stay exactly zero through training."""
    groups = []
    original = gt._Group.__init__

    def keep(self, *args, **kwargs):
        original(self, *args, **kwargs)
        groups.append(self)

    monkeypatch.setattr(gt._Group, "__init__", keep)
    fitted = []
    train_group = gt.train_group

    def watch(members, *args, **kwargs):
        info = train_group(members, *args, **kwargs)
        fitted.extend((m.meta["fit"].params, m.train, m.result) for m in members)
        return info

    monkeypatch.setattr(gt, "train_group", watch)
    grid = {"hidden_size": [2, 5], "lr": [1e-2]}
    if "head_units" in extra:  # head layers of different widths too
        wider = tuple(u + 2 for u in extra["head_units"])
        grid["head_units"] = [extra["head_units"], wider]
    est = LSTMRegressor(**BASE, **extra)
    _, report = grouped(lambda: GridSearchCV(est, grid, cv=KFold(2)).fit(X, Y_REG))
    (group,) = groups
    assert len(fitted) == group.k == 2 * len(list(ParameterGrid(grid)))
    assert sorted(set(report.groups[0]["hidden_sizes"])) == [2, 5]
    for params, train, mine in fitted:
        theirs = clone(est).set_params(**params).fit(X[train], Y_REG[train])
        np.testing.assert_allclose(mine.predict(X), theirs.predict(X), atol=2e-5)
        for (name, p), q in zip(
            mine.net_.module_.named_parameters(),
            theirs.net_.module_.parameters(),
            strict=True,
        ):
            np.testing.assert_allclose(p.detach(), q.detach(), atol=2e-5, err_msg=name)
    model = group.model
    n_padded = 0
    for k, (_, _, mine) in enumerate(fitted):  # the group's order
        net = mine.net_.module_
        for (name, p), stacked in zip(
            net.named_parameters(), model.weights, strict=True
        ):
            if stacked.shape[1:] == p.shape:
                continue
            padded = torch.ones_like(stacked[k], dtype=torch.bool)
            padded[_grid(slots(name, net, model._sizes), "cpu")] = False
            n_padded += int(padded.sum())
            assert torch.count_nonzero(stacked[k][padded]) == 0, name
    assert n_padded > 0


def test_nested_cross_validation_groups_the_inner_searches():
    inner = GridSearchCV(LSTMRegressor(**BASE), {"hidden_size": HIDDEN}, cv=2)
    ordinary = cross_validate(inner, X, Y_REG, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the outer fits are searches: no warning
        ours, report = grouped(lambda: cross_validate(inner, X, Y_REG, cv=2))
    assert_close_scores(ours["test_score"], ordinary["test_score"])
    # each outer fold's inner search: 2 candidates x 2 folds in one group
    assert [g["n_models"] for g in report.groups] == [4, 4]
    assert report.reasons() == {
        "a search inside the call (its own fits are grouped)": 2
    }


def test_fallbacks_are_reported_and_scores_kept():
    pipe = make_pipeline(FunctionTransformer(), LSTMRegressor(**BASE, hidden_size=3))
    grid = {"lstmregressor__lr": [1e-2, 2e-2]}
    ordinary = GridSearchCV(pipe, grid, cv=2).fit(X, Y_REG)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ours, report = grouped(lambda: GridSearchCV(pipe, grid, cv=2).fit(X, Y_REG))
    assert_close_scores(
        ours.cv_results_["mean_test_score"], ordinary.cv_results_["mean_test_score"]
    )
    assert report.groups == []
    assert report.reasons() == {"Pipeline is not an sklstm estimator": 4}
    assert any("Pipeline is not an sklstm estimator" in str(w.message) for w in caught)
    # variable-length sequences and fit parameters fall back, named
    ragged = [x[: 3 + i % 3] for i, x in enumerate(X)]
    est = LSTMRegressor(**BASE, hidden_size=3)
    with pytest.warns(UserWarning, match="variable-length"):
        _, report = grouped(lambda: cross_validate(est, ragged, Y_REG, cv=2))
    assert report.reasons() == {"variable-length sequences": 2}
    weights = np.ones(len(X))
    with pytest.warns(UserWarning, match="sample_weight"):
        _, report = grouped(
            lambda: cross_validate(
                est, X, Y_REG, cv=2, params={"sample_weight": weights}
            )
        )
    assert report.reasons() == {"fit parameters (sample_weight)": 2}


def test_a_model_over_the_budget_is_refused_naming_it(monkeypatch):
    monkeypatch.setattr(gp, "CPU_MEMORY_BUDGET", 1000)
    est = LSTMRegressor(**BASE, hidden_size=3)
    with pytest.warns(UserWarning, match="memory budget"):
        out, report = grouped(lambda: cross_validate(est, X, Y_REG, cv=2))
    assert report.groups == []
    (reason,) = report.reasons()
    assert "over the group memory budget of 0.00 MiB on cpu" in reason
    assert np.isfinite(out["test_score"]).all()  # fitted ordinarily instead


def test_fold_models_are_released_after_scoring(monkeypatch):
    alive = []
    original = gt.train_group

    def watch(members, *args, **kwargs):
        info = original(members, *args, **kwargs)
        alive.extend(weakref.ref(m.result.net_.module_) for m in members)
        return info

    monkeypatch.setattr(gt, "train_group", watch)
    est = LSTMRegressor(**BASE, hidden_size=3)
    search, report = grouped(
        lambda: GridSearchCV(est, {"lr": [1e-2, 2e-2]}, cv=3).fit(X, Y_REG),
        max_group_size=2,
    )
    # windows end with a candidate's folds: 3 folds as groups of 2 and 1
    assert [g["n_models"] for g in report.groups] == [2, 1, 2, 1]
    gc.collect()
    # only the refit (an ordinary fit) holds a network now
    assert len(alive) == 6 and not any(ref() is not None for ref in alive)


def test_pretrained_result_is_taken_once_by_that_object():
    est = LSTMRegressor(**BASE, hidden_size=3)
    done = LSTMRegressor(**BASE, hidden_size=3).fit(X, Y_REG)
    other = LSTMRegressor(**BASE, hidden_size=3)
    with pretrained(est, done):
        other.fit(X[:20], Y_REG[:20])  # another object trains
        est.fit(X, Y_REG)
        assert est.net_ is done.net_
        est.fit(X[:20], Y_REG[:20])  # a second fit trains
        assert est.net_ is not done.net_
    assert other.net_ is not done.net_
    with (
        pretrained(est, ValueError("diverged")),
        pytest.raises(ValueError, match="div"),
    ):
        est.fit(X, Y_REG)


@pytest.mark.parametrize(
    "options, match",
    [(dict(grouping="gpu"), "grouping='gpu'"), (dict(max_group_size=0), "positive")],
)
def test_backend_options_are_checked(options, match):
    with pytest.raises(ValueError, match=match):
        GroupingBackend(**options)


def test_cpu_auto_groups_only_where_measured_faster():
    small = LSTMRegressor(**BASE, hidden_size=4)
    large = LSTMRegressor(**{**BASE, "batch_size": 64}, hidden_size=32)
    report = GroupingReport()
    with joblib.parallel_config(backend="sklstm", report=report):
        cross_validate(small, X, Y_REG, cv=2)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # by design: reported, not warned
            cross_validate(large, X, Y_REG, cv=2)
    assert [g["hidden_sizes"] for g in report.groups] == [[4, 4]]
    (reason,) = report.reasons()
    assert reason.startswith("model too large to group on the CPU")


def test_ordinary_fits_use_the_searchs_processes():
    from sklstm.model_selection._grouped._backend import _processes

    with joblib.parallel_config(backend="sklstm"):
        # the search's n_jobs, never the backend's own (unbounded) count
        assert _processes(None) == _processes(1) == 1
        assert _processes(2) == min(2, joblib.cpu_count())
        assert _processes(-1) == joblib.cpu_count()
        assert _processes(10**6) == joblib.cpu_count()
    large = LSTMRegressor(**{**BASE, "batch_size": 64}, hidden_size=32)
    grid = {"lr": [1e-2, 2e-2]}
    ordinary = GridSearchCV(large, grid, cv=2).fit(X, Y_REG)
    report = GroupingReport()
    with joblib.parallel_config(backend="sklstm", report=report):
        ours = GridSearchCV(large, grid, cv=2, n_jobs=2).fit(X, Y_REG)
    assert report.groups == [] and len(report.fallbacks) == 4
    assert_close_scores(
        ours.cv_results_["mean_test_score"], ordinary.cv_results_["mean_test_score"]
    )
