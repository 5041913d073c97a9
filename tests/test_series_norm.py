"""Per-series normalization inside the network, with what else the estimators do."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import SETTINGS, edited_model_file
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._data import SequenceDataset
from sklstm._engine._build import resolve_series_norm
from sklstm._engine._series import (
    MIN_STD,
    normalize_series,
    series_moments,
    series_statistics,
)
from sklstm.model_selection import GroupingReport

# series_norm alone: the asinh view ("auto" on these decade-spanning series)
# has its own tests (test_asinh_view.py)
FAST = {**SETTINGS["fast"], "asinh_view": False}
rng = np.random.RandomState(0)
# series whose sizes differ by orders of magnitude, as PLAID's do
SCALES = np.exp(rng.uniform(-4, 4, size=(40, 1, 1)))
X = ((rng.normal(size=(40, 12, 2)) + 3) * SCALES / 30).astype(np.float32)
Y = np.where(np.log(SCALES[:, 0, 0]) > 0, "large", "small")


def _z(values):
    mean = values.mean(axis=1, keepdims=True)
    return (values - mean) / values.std(axis=1, keepdims=True)


def test_each_row_is_standardized_over_its_real_steps_only():
    x = torch.from_numpy(X[:3].copy())
    x[1, 7:] = 0.0  # padding
    x[2] = 5.0  # a constant series
    lengths = torch.tensor([12, 7, 12])
    z, stats = normalize_series(x, lengths)
    assert z.shape == (3, 12, 2) and stats.shape == (3, 4)
    assert z.dtype == stats.dtype == x.dtype
    expected = _z(X[1:2, :7].astype(np.float64))[0]
    np.testing.assert_allclose(z[1, :7].numpy(), expected, atol=1e-5)
    assert torch.equal(z[1, 7:], torch.zeros(5, 2))  # padding stays 0
    mean = X[1, :7].astype(np.float64).mean(axis=0)
    symlog = np.sign(mean) * np.log1p(np.abs(mean))
    np.testing.assert_allclose(stats[1, :2].numpy(), symlog, rtol=1e-5)
    log_std = np.log(X[1, :7].astype(np.float64).std(axis=0))
    np.testing.assert_allclose(stats[1, 2:].numpy(), log_std, rtol=1e-5, atol=1e-5)
    # a constant series is centered, not divided by ~0
    assert torch.equal(z[2], torch.zeros(12, 2))
    np.testing.assert_allclose(stats[2, 2:].numpy(), np.log(MIN_STD), rtol=1e-6)
    assert torch.isfinite(z).all() and torch.isfinite(stats).all()


def test_chunked_moments_match_numpy_and_the_network():
    lengths = np.array([12, 5, 9])
    x, real = torch.from_numpy(X[:3]), torch.from_numpy(lengths)
    mean, std = series_moments(x, real, rows=2)  # in two chunks
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(mean[i], X[i, :n].mean(axis=0), rtol=1e-5)
        np.testing.assert_allclose(std[i], X[i, :n].std(axis=0), rtol=1e-4)
    torch.testing.assert_close(  # what fit_statistics reads, as forward has it
        series_statistics(x, real).float(), normalize_series(x, real)[1]
    )


def test_auto_is_on_unless_the_series_are_already_standardized():
    assert LSTMClassifier(**FAST).fit(X, Y).series_norm_
    # regressors (and so the forecaster) leave it off unless asked for
    assert not LSTMRegressor(**FAST).fit(X, X[:, 0, 0]).series_norm_
    assert LSTMRegressor(**FAST, series_norm=True).fit(X, X[:, 0, 0]).series_norm_
    z = _z(X)
    off = LSTMClassifier(**FAST).fit(z, Y)
    assert not off.series_norm_ and off.net_.module_.lstm.input_size == 2
    # standardized to another common spread (a global scaler after z) is too
    assert not LSTMClassifier(**FAST).fit(3 * z + 1, Y).series_norm_
    est = LSTMClassifier(**FAST)
    data = SequenceDataset(torch.from_numpy(z))
    for flag in (True, np.True_, False, np.False_):
        assert resolve_series_norm(est.set_params(series_norm=flag), data, None) == flag
    # rows of weight 0 do not count: standardized rows plus one that is not
    mixed = SequenceDataset(torch.from_numpy(np.concatenate([z, X[:1]])))
    weight = np.r_[np.ones(len(z)), 0.0]
    assert resolve_series_norm(est.set_params(series_norm="auto"), mixed, None)
    assert not resolve_series_norm(est, mixed, weight)
    # per-step outputs, streams and token ids: "auto" leaves it out
    seq = LSTMRegressor(**FAST, return_sequences=True, patch_size=None)
    assert not seq.fit(X, X[:, :, 0]).series_norm_
    assert not LSTMClassifier(**FAST, stateful=True).fit(X, Y).series_norm_
    tokens = (np.arange(40 * 6).reshape(40, 6) % 7 + 1) * (np.arange(40) % 3 + 1)[
        :, None
    ]
    text = LSTMClassifier(**FAST, embedding_dim=3).fit(tokens, Y)
    assert not text.series_norm_


def test_the_copy_goes_to_the_branch_or_else_beside_the_lstms_input():
    est = LSTMClassifier(**FAST, series_norm=True, conv_branch=True, patch_size=3)
    est.set_params(conv_filters=(3, 4), conv_kernel_sizes=(3, 2)).fit(X, Y)
    module = est.net_.module_
    assert module.lstm.input_size == 3 * 2  # patches of 3 raw steps x 2 features
    assert module.conv.blocks[0][1].in_channels == 2  # the standardized copy
    summary = 4 + module.conv.out_features + 4  # LSTM, branch, 2 means, 2 log-stds
    assert module.head[-1].in_features == summary
    # the branch reads the copy: a series and its rescaled, shifted self look
    # the same to it
    x = torch.from_numpy(X[:3])
    with torch.no_grad():
        module.eval()
        torch.testing.assert_close(
            module.conv(normalize_series(x)[0]),
            module.conv(normalize_series(7 * x - 2)[0]),
            atol=1e-4,
            rtol=1e-4,
        )
    alone = LSTMClassifier(**FAST, series_norm=True, conv_branch=False, patch_size=3)
    module = alone.fit(X, Y).net_.module_
    assert module.lstm.input_size == 3 * 4  # patches of 3 steps x (2 + 2)
    assert module.head[-1].in_features == 4 + 4


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(series_norm=True, return_sequences=True), "return_sequences"),
        (dict(series_norm=np.True_, stateful=True), "stateful"),
        (dict(series_norm=True, embedding_dim=4), "token ids"),
        (dict(series_norm="yes"), "series_norm"),
        (dict(series_norm=1), "series_norm"),
    ],
)
def test_bad_values_and_combinations_name_the_fix(params, match):
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**FAST, **params).fit(X, X[:, 0, 0])


def test_set_params_then_partial_fit_is_checked():
    est = LSTMClassifier(**FAST).fit(X, Y)
    assert est.series_norm_
    with pytest.raises(ValueError, match="series_norm"):
        est.set_params(series_norm=False).partial_fit(X, Y)
    with pytest.raises(ValueError, match="stateful"):
        est.set_params(series_norm=True, stateful=True).partial_fit(X, Y)
    est.set_params(stateful=False, series_norm=np.True_).partial_fit(X, Y)
    est.set_params(series_norm="auto").partial_fit(X, Y)  # keeps the fitted one
    assert est.series_norm_


@pytest.mark.parametrize("switch", ["series_norm", "asinh_view"])
def test_ragged_predictions_do_not_depend_on_the_batch_or_the_layout(switch):
    """What the network computes from each row's real steps (statistics, the
    asinh view's zero padding) never reads another row's."""
    seqs = [x[: 5 + i % 8] for i, x in enumerate(X)]
    settings = {**FAST, switch: True}
    est = LSTMClassifier(**settings).fit(seqs, Y)
    together = est.predict_proba(seqs)
    alone = np.vstack([est.predict_proba([s]) for s in seqs[:6]])
    np.testing.assert_allclose(together[:6], alone, rtol=1e-5, atol=1e-6)
    first = LSTMClassifier(**settings, data_format="channels_first")
    first.fit([s.T for s in seqs], Y)
    np.testing.assert_allclose(
        first.predict_proba([s.T for s in seqs]), together, rtol=1e-5, atol=1e-6
    )


def test_it_learns_what_a_global_scale_hides():
    """Shape classes whose series span eight orders of magnitude: a sine or
    a sawtooth of any size. After a global scaler the small ones are ~0."""
    gen = np.random.RandomState(1)
    n, steps = 120, 24
    t = np.linspace(0, 4 * np.pi, steps)
    label = gen.randint(0, 2, n)
    shapes = np.where(label[:, None] == 1, np.sin(t), ((t / np.pi) % 1) - 0.5)
    sizes = np.exp(gen.uniform(-9, 9, size=(n, 1)))
    Xs = (shapes * sizes)[:, :, None] / 2000
    Xs += 0.01 * gen.normal(size=Xs.shape) * sizes[:, :, None] / 2000
    settings = dict(hidden_size=8, max_epochs=30, batch_size=16, random_state=0)
    fit, test = slice(0, 80), slice(80, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the data's scale, on purpose
        on = LSTMClassifier(**settings).fit(Xs[fit], label[fit])
        off = LSTMClassifier(**settings, series_norm=False).fit(Xs[fit], label[fit])
    assert on.series_norm_
    assert on.score(Xs[test], label[test]) >= 0.9
    assert off.score(Xs[test], label[test]) < on.score(Xs[test], label[test]) - 0.15


def test_persistence_round_trip_warm_start_and_old_files(tmp_path):
    est = LSTMRegressor(**FAST, lr_scheduler=None, series_norm=True)
    est.fit(X, X[:, 0, 0])
    again = load(save(est, tmp_path / "sn.sklstm"))
    assert again.series_norm_ and again.net_.module_.series_norm
    np.testing.assert_array_equal(again.predict(X), est.predict(X))
    again.partial_fit(X, X[:, 0, 0])  # carries on, with its normalization
    est.set_params(warm_start=True, series_norm=False)
    with pytest.raises(ValueError, match="series_norm"):
        est.fit(X, X[:, 0, 0])
    est.set_params(series_norm="auto").fit(X, X[:, 0, 0])  # keeps the fitted one
    assert est.net_.module_.series_norm
    # a file written before series normalization has no series_norm_
    plain = LSTMRegressor(**FAST, series_norm=False).fit(X, X[:, 0, 0])

    def forget(meta):
        assert meta["fitted"].pop("series_norm_") is False
        meta["params"].pop("series_norm")

    old = load(edited_model_file(plain, tmp_path, forget))
    assert not old.net_.module_.series_norm
    np.testing.assert_array_equal(old.predict(X), plain.predict(X))


@pytest.mark.parametrize(
    "part, name, value",
    [
        ("fitted", "series_norm_", "yes"),
        ("fitted", "series_norm_", 1),
        ("fitted", "series_norm_", None),
        ("params", "series_norm", "maybe"),
        ("params", "series_norm", 2),
        ("params", "series_norm", [True]),
        ("fitted", "asinh_view_", "yes"),
        ("fitted", "asinh_view_", None),
        ("params", "asinh_view", "maybe"),
        ("params", "asinh_view", 2),
    ],
)
def test_load_refuses_a_tampered_value(tmp_path, part, name, value):
    def edit(meta):
        meta[part][name] = value

    path = edited_model_file(LSTMClassifier(**FAST).fit(X, Y), tmp_path, edit)
    with pytest.raises(ValueError, match=name):
        load(path)


def test_grouped_search_trains_it_as_the_single_network_does():
    est = LSTMRegressor(**FAST, series_norm=True, lr_scheduler=None)
    y = np.log(SCALES[:, 0, 0])
    report = GroupingReport()
    grid = {"hidden_size": [3, 4], "lr": [1e-2, 2e-2]}
    with joblib.parallel_config(backend="sklstm", grouping="always", report=report):
        search = GridSearchCV(est, grid, cv=2).fit(X, y)
    plain = GridSearchCV(clone(est), grid, cv=2).fit(X, y)
    assert report.groups and not report.reasons()
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        plain.cv_results_["mean_test_score"],
        rtol=1e-4,
        atol=1e-5,
    )
    assert search.best_estimator_.series_norm_


def test_numpy_bools_from_a_grid_and_init_from(tmp_path):
    search = GridSearchCV(
        LSTMClassifier(**FAST), {"series_norm": np.array([False, True])}, cv=2
    ).fit(X, Y)
    assert [e.series_norm_ for e in [search.best_estimator_]] == [
        bool(search.best_params_["series_norm"])
    ]
    source = LSTMClassifier(**FAST, series_norm=True).fit(X, Y)
    # on standardized data "auto" would leave it out, but the pretrained LSTM
    # reads the copy: "auto" follows the source; False is refused, naming it
    target = LSTMClassifier(**FAST, init_from=source).fit(_z(X), Y)
    assert target.series_norm_ and target.net_.module_.lstm.input_size == 4
    with pytest.raises(ValueError, match="Set series_norm=True"):
        LSTMClassifier(**FAST, init_from=source, series_norm=False).fit(_z(X), Y)
    # a regressor pretrained without it, a classifier fine-tuned from it
    pre = LSTMRegressor(**FAST).fit(X, X[:, 0, 0])
    tuned = LSTMClassifier(**FAST, init_from=pre).fit(X, Y)
    assert not pre.series_norm_ and not tuned.series_norm_
    # a file as the source: "auto" follows it too
    path = save(source, tmp_path / "source.sklstm")
    assert LSTMClassifier(**FAST, init_from=str(path)).fit(_z(X), Y).series_norm_


def test_no_gradient_reaches_the_input_through_the_statistics():
    """The statistics are computed in the graph: a constant series (zero
    spread) must not give NaN gradients."""
    x = torch.full((2, 6, 1), 3.0, requires_grad=True)
    z, stats = normalize_series(x)
    (z.sum() + stats.sum()).backward()
    assert torch.isfinite(x.grad).all()


def test_load_refuses_a_zero_spread_of_the_statistics(tmp_path):
    est = LSTMClassifier(**FAST).fit(X, Y)
    assert (est.net_.module_.stats_scale > 0).all()

    def edit(state):
        state["stats_scale"][0] = 0.0

    with pytest.raises(ValueError, match="stats_scale"):
        load(edited_model_file(est, tmp_path, weights_edit=edit))


def test_the_statistics_reach_the_head_on_unit_scale():
    est = LSTMClassifier(**FAST).fit(X, Y)
    module = est.net_.module_
    _, stats = normalize_series(torch.from_numpy(X))
    standardized = (stats - module.stats_center) / module.stats_scale
    torch.testing.assert_close(
        standardized.mean(dim=0), torch.zeros(4), atol=1e-4, rtol=0
    )
    torch.testing.assert_close(
        standardized.std(dim=0, correction=0), torch.ones(4), atol=1e-4, rtol=0
    )


@pytest.mark.parametrize("scale", [1e-30, 1e30, float(np.finfo(np.float32).max)])
def test_inputs_far_beyond_the_training_range_give_finite_outputs(scale):
    est = LSTMClassifier(**FAST).fit(X, Y)
    far = np.ones((3, 12, 2)) * scale
    far[1] *= -1
    far[2, ::2] = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        assert np.isfinite(est.predict_proba(far)).all()


def test_auto_under_init_from_never_asks_for_what_cannot_be():
    """A per-step model fine-tuned from one whose LSTM read the copy: "auto"
    stays off and the mismatch is named, not a module error."""
    source = LSTMRegressor(**FAST, series_norm=True).fit(X, X[:, 0, 0])
    seq = LSTMRegressor(**FAST, return_sequences=True, init_from=source)
    with pytest.raises(ValueError, match="init_from: the pretrained LSTM reads"):
        seq.fit(X, X[:, :, 0])
    assert not seq.series_norm_


def test_a_searched_pipeline_with_a_skorch_callback_saves_and_loads(tmp_path):
    """The combination a user builds: a scaler and the classifier in a
    pipeline, searched over series_norm (numpy bools) on two processes with
    a stock skorch callback, then the best pipeline saved and loaded; the
    asinh view ("auto", on for these series) rides along."""
    pytest.importorskip("skops")
    from sklearn.pipeline import make_pipeline
    from skorch.callbacks import EpochScoring

    from sklstm.preprocessing import SequenceScaler

    clf = LSTMClassifier(
        **{**FAST, "asinh_view": "auto"},
        callbacks=[EpochScoring("accuracy", on_train=True)],
    )
    search = GridSearchCV(
        make_pipeline(SequenceScaler(), clf),
        {"lstmclassifier__series_norm": np.array([False, True])},
        cv=2,
        n_jobs=2,
    ).fit(X, Y)
    best = search.best_estimator_
    chosen = bool(search.best_params_["lstmclassifier__series_norm"])
    assert best[-1].series_norm_ is chosen and best[-1].asinh_view_
    assert "accuracy" in best[-1].history_[-1]
    best.set_params(lstmclassifier__callbacks=None)  # objects, not JSON: not saved
    again = load(save(best, tmp_path / "pipe.sklstm"))
    assert again[-1].series_norm_ is chosen
    np.testing.assert_array_equal(again.predict_proba(X), best.predict_proba(X))
    # and the normalization itself survives the same trip
    best.set_params(lstmclassifier__series_norm=True).fit(X, Y)
    again = load(save(best, tmp_path / "on.sklstm"))
    assert again[-1].net_.module_.series_norm and again[-1].net_.module_.asinh
    np.testing.assert_array_equal(again.predict_proba(X), best.predict_proba(X))
