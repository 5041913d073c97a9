"""lstm_dropout: dropout on the LSTM's output alone (LSTM-FCN's place), with
everything else the estimators do."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import LABELS, LONG, SETTINGS, SHORT, SMALL_CONV, TARGET, rewrite_meta
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine._build import AUTO_LSTM_DROPOUT
from sklstm._engine._module import LSTMNetwork
from sklstm.model_selection import GroupingReport, search_space

FAST = SETTINGS["fast"]


def test_auto_drops_the_summary_with_the_branch_only():
    branch = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    assert branch.conv_branch_
    assert branch.net_.module_.lstm_dropout == AUTO_LSTM_DROPOUT == 0.5
    alone = LSTMClassifier(**FAST).fit(SHORT, LABELS)
    assert not alone.conv_branch_ and alone.net_.module_.lstm_dropout == 0.0
    explicit = LSTMClassifier(**FAST, lstm_dropout=np.float32(0.25)).fit(SHORT, LABELS)
    assert explicit.net_.module_.lstm_dropout == 0.25
    assert explicit.get_params()["lstm_dropout"] == np.float32(0.25)  # as given
    # "auto" with the branch trains as 0.5 does, and 0 trains otherwise
    half = LSTMClassifier(**FAST, **SMALL_CONV, lstm_dropout=0.5).fit(LONG, LABELS)
    none = LSTMClassifier(**FAST, **SMALL_CONV, lstm_dropout=0.0).fit(LONG, LABELS)
    np.testing.assert_array_equal(branch.predict_proba(LONG), half.predict_proba(LONG))
    assert not np.allclose(branch.predict_proba(LONG), none.predict_proba(LONG))


@pytest.mark.parametrize("value", [-0.1, 1.0, np.float64(1.5), float("nan"), "max"])
def test_bad_values_name_the_parameter(value):
    with pytest.raises(ValueError, match="lstm_dropout"):
        LSTMRegressor(**FAST, lstm_dropout=value).fit(SHORT, TARGET)


def test_set_params_then_partial_fit_is_checked_and_applied():
    est = LSTMRegressor(**FAST).fit(SHORT, TARGET)
    with pytest.raises(ValueError, match="lstm_dropout"):
        est.set_params(lstm_dropout=1.0).partial_fit(SHORT, TARGET)
    est.set_params(lstm_dropout=np.float64(0.3)).partial_fit(SHORT, TARGET)
    assert est.net_.module_.lstm_dropout == 0.3
    assert est.net_.module__lstm_dropout == 0.3  # what a clone of the net builds
    est.set_params(lstm_dropout="auto", warm_start=True).fit(SHORT, TARGET)
    assert est.net_.module_.lstm_dropout == 0.0  # no branch


def _head_input(net: LSTMNetwork, x: torch.Tensor) -> torch.Tensor:
    seen = []
    hook = net.head[1].register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    try:
        net(x)
    finally:
        hook.remove()
    return seen[0]


def test_only_the_lstm_output_is_dropped_and_only_in_training():
    torch.manual_seed(0)
    kwargs = dict(
        input_size=2,
        output_size=3,
        hidden_size=16,
        conv_filters=(5, 6),
        conv_kernel_sizes=(3, 3),
        series_norm=True,
    )
    net = LSTMNetwork(**kwargs, lstm_dropout=0.5).train()
    plain = LSTMNetwork(**kwargs).train()
    plain.load_state_dict(net.state_dict())
    x = torch.randn(8, 20, 2)
    dropped, kept = _head_input(net, x), _head_input(plain, x)
    lstm, rest = dropped[:, :16], dropped[:, 16:]
    torch.testing.assert_close(rest, kept[:, 16:])  # branch and statistics
    zeroed = lstm == 0
    assert 0.2 < zeroed.float().mean() < 0.8
    torch.testing.assert_close(lstm[~zeroed], 2 * kept[:, :16][~zeroed])
    net.eval()
    plain.eval()
    torch.testing.assert_close(net(x), plain(x))
    net.set_dropout(0.0, 0.0)
    torch.testing.assert_close(_head_input(net.train(), x)[:, :16], kept[:, :16])


def test_per_step_outputs_are_dropped_too():
    est = LSTMRegressor(
        **FAST, return_sequences=True, patch_size=None, lstm_dropout=0.5
    ).fit(SHORT, SHORT[:, :, 0])
    none = clone(est).set_params(lstm_dropout=0.0).fit(SHORT, SHORT[:, :, 0])
    assert not np.allclose(est.predict(SHORT), none.predict(SHORT))
    np.testing.assert_array_equal(est.predict(SHORT), est.predict(SHORT))


def test_save_and_load_keep_the_rate(tmp_path):
    est = LSTMClassifier(**FAST, **SMALL_CONV, lstm_dropout=0.3).fit(LONG, LABELS)
    again = load(save(est, tmp_path / "m.sklstm"))
    assert again.lstm_dropout == 0.3 and again.net_.module_.lstm_dropout == 0.3
    np.testing.assert_array_equal(again.predict_proba(LONG), est.predict_proba(LONG))
    auto = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    assert load(save(auto, tmp_path / "a.sklstm")).net_.module_.lstm_dropout == 0.5


def test_files_saved_before_the_parameter_keep_training_without_it(tmp_path):
    est = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    path = save(est, tmp_path / "new.sklstm")
    rewrite_meta(
        path, tmp_path / "old.sklstm", lambda m: m["params"].pop("lstm_dropout")
    )
    old = load(tmp_path / "old.sklstm")
    # the branch's "auto" would now drop the summary; that file never did
    assert old.lstm_dropout == 0.0 and old.net_.module_.lstm_dropout == 0.0
    np.testing.assert_array_equal(old.predict_proba(LONG), est.predict_proba(LONG))
    old.partial_fit(LONG, LABELS)
    assert old.net_.module_.lstm_dropout == 0.0


def test_a_file_with_a_bad_rate_is_refused(tmp_path):
    est = LSTMRegressor(**FAST).fit(SHORT, TARGET)
    path = save(est, tmp_path / "m.sklstm")
    rewrite_meta(
        path, tmp_path / "bad.sklstm", lambda m: m["params"].update(lstm_dropout=2.0)
    )
    with pytest.raises(ValueError, match="lstm_dropout"):
        load(tmp_path / "bad.sklstm")


def test_grouped_search_gives_each_candidate_its_rate():
    est = LSTMRegressor(**FAST)
    grid = {"lstm_dropout": [0.0, 0.5]}
    report = GroupingReport()
    with (
        joblib.parallel_config(backend="sklstm", grouping="always", report=report),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        grouped = GridSearchCV(est, grid, cv=2).fit(SHORT, TARGET)
    assert report.reasons() == {} and len(report.groups) == 1
    plain = GridSearchCV(clone(est), grid, cv=2).fit(SHORT, TARGET)
    scores = grouped.cv_results_["mean_test_score"]
    # without dropout a grouped fit is the ordinary one; with it, its own draw
    np.testing.assert_allclose(
        scores[0], plain.cv_results_["mean_test_score"][0], rtol=1e-4
    )
    assert not np.isclose(scores[1], scores[0], rtol=1e-4)


# the optional float dimensions of the branch: offered when named, searched
# with numpy scalars, across processes on ragged rows
OPTIONAL = [
    ("lstm_dropout", [0.0, 0.5], (0.0, 0.8)),
    ("random_crop", [0.75, 1.0], (0.5, 1.0)),
]


@pytest.mark.parametrize(("name", "grid_values", "bounds"), OPTIONAL)
def test_search_spaces_offer_it_when_asked(name, grid_values, bounds):
    assert name not in search_space("random", n_samples=100)
    grid = search_space("grid", n_samples=100, include=[name])
    assert grid == {name: grid_values}
    bayes = search_space("bayes", n_samples=100, include=[name])
    assert (bayes[name].low, bayes[name].high) == bounds
    search = GridSearchCV(
        LSTMClassifier(**FAST, **SMALL_CONV),
        {name: np.array(grid[name])},  # numpy scalars
        cv=2,
    ).fit(LONG, LABELS)
    assert getattr(search.best_estimator_.net_.module_, name) in grid_values


@pytest.mark.parametrize(("name", "grid_values", "bounds"), OPTIONAL)
def test_ragged_rows_in_a_parallel_search(name, grid_values, bounds):
    seqs = [x[: 40 + i] for i, x in enumerate(LONG[:, :, :1])]  # 40-79 steps
    est = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True)
    grid = {name: np.array(grid_values)}  # numpy scalars
    scores = [
        GridSearchCV(clone(est), grid, cv=2, n_jobs=n_jobs)
        .fit(seqs, LABELS)
        .cv_results_["mean_test_score"]
        for n_jobs in (1, 2)
    ]
    np.testing.assert_array_equal(scores[0], scores[1])
    fitted = clone(est).set_params(**{name: np.float64(grid_values[0])})
    fitted.fit(seqs, LABELS)
    assert getattr(fitted.net_.module_, name) == grid_values[0]
    np.testing.assert_array_equal(fitted.predict(seqs), fitted.predict(seqs))
