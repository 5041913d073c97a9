"""Epoch-aware search: the fit cache, stopped epochs per fold, refit on CV epochs."""

import numpy as np
from sklearn.experimental import enable_halving_search_cv  # noqa: F401
from sklearn.model_selection import GridSearchCV, HalvingGridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.model_selection import refit_with_cv_epochs, stopped_epoch

# the cache resumes fits whose learning rate does not depend on max_epochs
FAST = {"hidden_size": 6, "batch_size": 16, "random_state": 0, "lr_scheduler": None}


def test_epoch_cache_continues_shorter_fits(reg_data, tmp_path):
    X, y = reg_data
    short = LSTMRegressor(**FAST, max_epochs=2, epoch_cache=str(tmp_path)).fit(X, y)
    longer = LSTMRegressor(**FAST, max_epochs=5, epoch_cache=str(tmp_path)).fit(X, y)
    assert longer.n_iter_ == 3 and len(longer.history_) == 5
    assert longer.loss_curve_[:2] == short.loss_curve_
    again = LSTMRegressor(**FAST, max_epochs=5, epoch_cache=str(tmp_path)).fit(X, y)
    assert again.n_iter_ == 0
    np.testing.assert_array_equal(again.predict(X), longer.predict(X))
    # other parameters or other data: no reuse
    other = LSTMRegressor(
        **{**FAST, "hidden_size": 4}, max_epochs=3, epoch_cache=str(tmp_path)
    )
    assert other.fit(X, y).n_iter_ == 3
    assert (
        LSTMRegressor(**FAST, max_epochs=3, epoch_cache=str(tmp_path))
        .fit(X[:40], y[:40])
        .n_iter_
        == 3
    )


class _CountEpochs(Callback):
    total = 0  # over all fits of the process (n_jobs=1)

    def on_epoch_end(self, net, **kwargs):
        type(self).total += 1


def test_halving_over_epochs_reuses_earlier_rungs(clf_data, tmp_path):
    X, y = clf_data

    def run(cache):
        _CountEpochs.total = 0
        search = HalvingGridSearchCV(
            LSTMClassifier(**FAST, epoch_cache=cache, callbacks=[_CountEpochs()]),
            {"lr": [1e-3, 3e-3, 1e-2, 3e-2]},
            resource="max_epochs",
            min_resources=2,
            max_resources=8,
            factor=2,
            cv=2,
        ).fit(X, y)
        return search, _CountEpochs.total

    (plain, plain_epochs), (cached, cached_epochs) = run(None), run(str(tmp_path))
    np.testing.assert_array_equal(
        plain.cv_results_["params"], cached.cv_results_["params"]
    )
    assert plain.n_iterations_ == cached.n_iterations_ >= 2
    # rungs of 2, 4, 8 epochs: later rungs train only the missing epochs
    assert cached_epochs < 0.8 * plain_epochs, (cached_epochs, plain_epochs)


def test_stopped_epoch_per_fold_and_refit(clf_data):
    X, y = clf_data
    pipe = make_pipeline(
        FunctionTransformer(),
        LSTMClassifier(**FAST, max_epochs=6, early_stopping=True, n_iter_no_change=2),
    )
    search = GridSearchCV(
        pipe,
        {"lstmclassifier__lr": [1e-3, 3e-2]},
        scoring={"accuracy": "accuracy", "epochs": stopped_epoch},
        refit="accuracy",
        cv=3,
    ).fit(X, y)
    folds = [search.cv_results_[f"split{i}_test_epochs"] for i in range(3)]
    assert all(1 <= e <= 6 for fold in folds for e in fold)
    final = refit_with_cv_epochs(search, X, y)
    chosen = int(np.median([fold[search.best_index_] for fold in folds]))
    assert final[-1].max_epochs == max(1, chosen) and not final[-1].early_stopping
    assert final[-1].n_iter_ == final[-1].max_epochs
