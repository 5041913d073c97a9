"""scikit-learn's callback API (sklearn.callback, 1.9+) on both estimators.

A fit is one task, each epoch a sub-task carrying the scores recorded so far
(on its ``fitted_estimator``); searches propagate their callbacks down to
the epochs; skorch callbacks keep working beside them.
"""

import pickle

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EpochScoring

from sklstm import LSTMClassifier, LSTMRegressor, TrainingDivergedError

sklearn_callback = pytest.importorskip("sklearn.callback")

FAST = SETTINGS["fast"]
EPOCHS = 3


class Recorder(sklearn_callback.FitCallback):
    """Records every hook call: (hook, task name, task id, depth, scores)."""

    def __init__(self, stop_at: int | None = None):
        self.calls = []
        self.stop_at = stop_at

    def setup(self, estimator, context):
        self.calls.append(("setup", context.task_name, context.task_id, 0, None))

    def teardown(self, estimator, context):
        self.calls.append(("teardown", context.task_name, context.task_id, 0, None))

    def on_fit_task_begin(self, estimator, context):
        self.calls.append(
            ("begin", context.task_name, context.task_id, _depth(context))
        )

    def on_fit_task_end(self, estimator, context, *, fitted_estimator=None):
        scores = None
        if fitted_estimator is not None:
            scores = {
                "n_iter_": fitted_estimator.n_iter_,
                "loss_curve_": list(fitted_estimator.loss_curve_),
                "validation_scores_": fitted_estimator.validation_scores_,
                "last_row": dict(fitted_estimator.history_[-1]),
            }
        name, task_id = context.task_name, context.task_id
        self.calls.append(("end", name, task_id, _depth(context), scores))
        return self.stop_at is not None and name == "epoch" and task_id == self.stop_at

    def ends(self, name):
        return [c for c in self.calls if c[0] == "end" and c[1] == name]

    def begins(self, name):
        return [c for c in self.calls if c[0] == "begin" and c[1] == name]


class PropagatedRecorder(Recorder):
    """A recorder that a search hands down to its estimators."""

    max_propagation_depth = None


class BatchRecorder(Recorder):
    """A recorder that asks for one task per training batch."""

    batch_tasks = True


def _depth(context):
    depth = 0
    while context.parent is not None:
        context, depth = context.parent, depth + 1
    return depth


def _data(name, reg_data, clf_data):
    return reg_data if name == "LSTMRegressor" else clf_data


ESTIMATORS = {"LSTMRegressor": LSTMRegressor, "LSTMClassifier": LSTMClassifier}


@pytest.mark.parametrize("name", ESTIMATORS)
def test_each_epoch_is_a_task_with_its_scores(name, reg_data, clf_data):
    X, y = _data(name, reg_data, clf_data)
    recorder = Recorder()
    est = ESTIMATORS[name](**{**FAST, "max_epochs": EPOCHS}).set_callbacks(recorder)
    est.fit(X, y)

    hooks = [c[0] for c in recorder.calls]
    assert hooks[0] == "setup" and hooks[-1] == "teardown"
    assert [c[2] for c in recorder.begins("fit")] == [0]
    epochs = recorder.ends("epoch")
    assert [c[2] for c in epochs] == list(range(EPOCHS))
    assert all(c[3] == 1 for c in epochs)  # sub-tasks of the fit
    for k, (*_, scores) in enumerate(epochs):
        assert scores["n_iter_"] == k + 1
        np.testing.assert_allclose(scores["loss_curve_"], est.loss_curve_[: k + 1])
        assert scores["last_row"]["epoch"] == k + 1
    (fit,) = recorder.ends("fit")
    assert fit[-1]["n_iter_"] == EPOCHS == est.n_iter_


def test_no_bridge_and_quiet_batches_without_callbacks(reg_data):
    X, y = reg_data
    # no schedule: no other callback listens to batches
    est = LSTMRegressor(**FAST, lr_scheduler=None).fit(X, y)
    assert "sklearn_callbacks" not in dict(est.net_.callbacks_)
    est.set_callbacks(Recorder()).fit(X, y)
    assert "sklearn_callbacks" in dict(est.net_.callbacks_)
    assert not est.net_.batch_listeners_  # epoch tasks cost no batch hooks


def test_batch_tasks_only_when_a_callback_asks(reg_data):
    X, y = reg_data
    recorder = BatchRecorder()
    est = LSTMRegressor(**{**FAST, "max_epochs": 2}, lr_scheduler=None)
    est.set_callbacks(recorder).fit(X, y)
    n_batches = -(-len(X) // FAST["batch_size"])
    batches = recorder.ends("batch")
    assert len(batches) == 2 * n_batches
    assert all(c[3] == 2 for c in batches)  # under their epoch
    assert len(recorder.ends("epoch")) == 2
    assert est.net_.batch_listeners_


def test_early_stopping_reports_the_epochs_it_ran(reg_data):
    X, y = reg_data
    recorder = Recorder()
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 40}, early_stopping=True, n_iter_no_change=1
    ).set_callbacks(recorder)
    est.fit(X, y)
    assert est.n_iter_ < 40
    epochs = recorder.ends("epoch")
    assert len(epochs) == len(recorder.begins("epoch")) == est.n_iter_
    for k, (*_, scores) in enumerate(epochs):
        assert len(scores["validation_scores_"]) == k + 1
        assert "valid_loss" in scores["last_row"]
    np.testing.assert_allclose(
        epochs[-1][-1]["validation_scores_"], est.validation_scores_
    )


def test_partial_fit_reports_its_one_epoch(clf_data):
    X, y = clf_data
    recorder = Recorder()
    est = LSTMClassifier(**FAST).set_callbacks(recorder)
    est.partial_fit(X, y, classes=np.unique(y))
    est.partial_fit(X, y)
    assert [c[2] for c in recorder.ends("partial_fit")] == [0, 0]
    epochs = recorder.ends("epoch")
    assert len(epochs) == 2 and all(c[-1]["n_iter_"] == 1 for c in epochs)
    assert [c[0] for c in recorder.calls].count("setup") == 2
    assert [c[0] for c in recorder.calls].count("teardown") == 2


def test_diverged_fit_ends_its_tasks(reg_data):
    X, y = reg_data
    recorder = Recorder()
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 50},
        gradient_clip=None,
        optimizer="sgd",
        lr=1e3,
        momentum=0.9,
    ).set_callbacks(recorder)
    with pytest.raises(TrainingDivergedError):
        est.fit(X, y * 1e6)
    assert len(recorder.begins("epoch")) == len(recorder.ends("epoch"))
    assert recorder.ends("epoch")[-1][-1] is None  # the diverged epoch: no model
    assert recorder.ends("fit")[-1][-1] is None
    assert recorder.calls[-1][0] == "teardown"
    assert "_sklstm_fit_task" not in vars(est)


def test_a_callback_asking_to_stop_ends_the_fit(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "max_epochs": 10}).set_callbacks(Recorder(1))
    est.fit(X, y)
    assert est.n_iter_ == 2 and len(est.loss_curve_) == 2


def test_scoring_monitor_scores_every_epoch_without_changing_training(reg_data):
    X, y = reg_data
    monitor = sklearn_callback.ScoringMonitor(scoring="r2")
    watched = LSTMRegressor(**FAST).set_callbacks(monitor).fit(X, y)
    plain = LSTMRegressor(**FAST).fit(X, y)
    np.testing.assert_array_equal(watched.loss_curve_, plain.loss_curve_)
    rows = monitor.get_logs().data
    assert [r["task_name"] for r in rows] == ["fit"] + ["epoch"] * FAST["max_epochs"]
    assert rows[0]["r2"] == pytest.approx(plain.score(X, y))


def test_skorch_epoch_scoring_still_recorded(clf_data):
    X, y = clf_data
    recorder = Recorder()
    scoring = EpochScoring("accuracy", on_train=True, name="train_acc")
    clf = LSTMClassifier(**FAST, callbacks=[scoring]).set_callbacks(recorder)
    clf.fit(X, y)
    accs = clf.history_[:, "train_acc"]
    assert len(accs) == FAST["max_epochs"]
    # the epoch task ends after the skorch callbacks: it sees their scores
    seen = [c[-1]["last_row"]["train_acc"] for c in recorder.ends("epoch")]
    np.testing.assert_allclose(seen, accs)


class _Stop(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt  # skorch's way to stop a fit


def test_skorch_callback_stopping_ends_the_epoch_task(reg_data):
    X, y = reg_data
    recorder = Recorder()
    est = LSTMRegressor(**{**FAST, "max_epochs": 5}, callbacks=[_Stop()])
    est.set_callbacks(recorder).fit(X, y)
    epochs = recorder.ends("epoch")
    assert len(epochs) == 2 == est.n_iter_
    assert epochs[-1][-1]["n_iter_"] == 2


def test_clone_keeps_callbacks_as_sklearn_does(reg_data):
    recorder = Recorder()
    est = LSTMRegressor(**FAST).set_callbacks(recorder)
    copy = clone(est)
    assert copy._skl_callbacks is est._skl_callbacks
    assert copy.get_params() == est.get_params()
    assert not hasattr(clone(LSTMRegressor()), "_skl_callbacks")
    # a fitted estimator with callbacks pickles (the bridge forgets the fit)
    X, y = reg_data
    est.fit(X, y)
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.predict(X), est.predict(X))


def test_search_propagates_callbacks_down_to_the_epochs(reg_data):
    X, y = reg_data
    recorder = PropagatedRecorder()
    search = GridSearchCV(LSTMRegressor(**FAST), {"lr": [0.01, 0.02]}, cv=2)
    search.set_callbacks(recorder).fit(X, y)
    # 4 candidate fits and the refit, each with its epochs under it
    assert len(recorder.ends("fit")) == 1 + 4 + 1
    epochs = recorder.ends("epoch")
    assert len(epochs) == 5 * FAST["max_epochs"]
    assert {c[3] for c in epochs} == {3, 2}  # under a candidate fit, the refit


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_progress_bar_under_grid_search(reg_data, n_jobs, capsys):
    pytest.importorskip("rich")
    X, y = reg_data
    search = GridSearchCV(
        LSTMRegressor(**FAST), {"lr": [0.01, 0.02]}, cv=2, n_jobs=n_jobs
    )
    search.set_callbacks(sklearn_callback.ProgressBar(max_propagation_depth=None))
    search.fit(X, y)
    out = capsys.readouterr().out
    assert "GridSearchCV - fit" in out
    assert "LSTMRegressor - fit" in out
    assert search.best_estimator_.n_iter_ == FAST["max_epochs"]


def test_progress_bar_under_the_grouping_backend(reg_data, capsys):
    """A search's propagated callbacks survive fits adopted from a group."""
    pytest.importorskip("rich")
    import joblib

    from sklstm.model_selection import GroupingReport

    X, y = reg_data
    search = GridSearchCV(LSTMRegressor(**FAST), {"lr": [0.01, 0.02]}, cv=2)
    search.set_callbacks(sklearn_callback.ProgressBar(max_propagation_depth=None))
    report = GroupingReport()
    with joblib.parallel_config(backend="sklstm", grouping="always", report=report):
        search.fit(X, y)
    assert [g["n_models"] for g in report.groups] == [4]
    out = capsys.readouterr().out
    assert "GridSearchCV - fit" in out and "refit" in out
    plain = GridSearchCV(LSTMRegressor(**FAST), {"lr": [0.01, 0.02]}, cv=2).fit(X, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        plain.cv_results_["mean_test_score"],
        rtol=0,
        atol=1e-4,
    )
