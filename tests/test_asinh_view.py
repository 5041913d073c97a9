"""The asinh view inside the network, with what else the estimators do."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import SETTINGS, edited_model_file
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine._asinh import asinh_view, fit_asinh_view
from sklstm._engine._build import conv_saved, module_params
from sklstm._engine._module import LSTMNetwork
from sklstm._engine._series import series_statistics
from sklstm.model_selection import GroupingReport
from sklstm.preprocessing import SequenceScaler

FAST = SETTINGS["fast"]
# raw sizes on purpose: the view is for data a global scale cannot serve
pytestmark = pytest.mark.filterwarnings("ignore:X's values have a typical magnitude")
rng = np.random.RandomState(0)
# sizes spanning six decades, as PLAID's currents do
SIZES = 10.0 ** rng.uniform(-4, 2, size=(40, 1, 1))
X = ((rng.normal(size=(40, 12, 2)) + 3) * SIZES).astype(np.float32)
Y = np.where(np.log10(SIZES[:, 0, 0]) > -1, "large", "small")


def _fitted(x, lengths=None):
    return fit_asinh_view(torch.from_numpy(x), lengths)


def test_the_view_follows_its_definition_and_leaves_padding_zero():
    x = torch.from_numpy(X[:4].copy())
    lengths = torch.tensor([12, 7, 3, 12])
    x[1, 7:] = x[2, 3:] = 0.0
    reference, scale, center, spread = (
        torch.tensor(v) for v in ([0.5, -1.0], [0.01, 2.0], [0.3, 0.1], [2.0, 0.5])
    )
    out = asinh_view(x, lengths, reference, scale, center, spread)
    assert out.shape == (4, 12, 4) and out.dtype == x.dtype
    assert torch.equal(out[..., :2], x)  # the input first, untouched
    expected = (np.arcsinh((X[0] - [0.5, -1.0]) / [0.01, 2.0]) - [0.3, 0.1]) / [2, 0.5]
    np.testing.assert_allclose(out[0, :, 2:].numpy(), expected, rtol=1e-5, atol=1e-5)
    assert torch.equal(out[1, 7:, 2:], torch.zeros(5, 2))
    assert torch.equal(out[2, 3:, 2:], torch.zeros(9, 2))
    # past float32's range the view is bounded, never inf or NaN
    far = torch.full((1, 2, 2), float(np.finfo(np.float32).max))
    far[0, 1] *= -1
    assert torch.isfinite(
        asinh_view(
            far, None, *(v * 0 + 1e-6 for v in (reference, scale, center, spread))
        )
    ).all()


def test_fitted_levels_are_the_documented_percentiles():
    lengths = torch.tensor([12 - i % 9 for i in range(40)])
    reference, scale, center, spread = _fitted(X, lengths)
    real = np.concatenate([X[i, :n] for i, n in enumerate(lengths.tolist())])
    np.testing.assert_allclose(reference, np.percentile(real, 5, axis=0), rtol=1e-6)
    stds = np.array(
        [
            X[i, :n].astype(np.float64).std(axis=0)
            for i, n in enumerate(lengths.tolist())
        ]
    )
    np.testing.assert_allclose(scale, np.percentile(stds, 10, axis=0), rtol=1e-4)
    # the view reaches the network on unit scale over the training steps
    view = np.arcsinh((real - reference.numpy()) / scale.numpy())
    np.testing.assert_allclose(center, view.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(spread, view.std(axis=0), rtol=1e-6)
    # rows left out (weight 0) do not count
    keep = torch.tensor([i < 20 for i in range(40)])
    assert not torch.equal(
        fit_asinh_view(torch.from_numpy(X), None, keep)[0], _fitted(X)[0]
    )


def test_the_statistics_are_of_the_viewed_rows_in_chunks():
    """series_norm's statistics are fitted on what the network reads, a
    chunk of rows at a time (here 3 chunks), as if on all rows at once."""
    gen = torch.Generator().manual_seed(0)
    sizes = 10.0 ** (torch.rand(2500, 1, 1, generator=gen) * 5 - 3)
    x = torch.rand(2500, 9, 2, generator=gen) * sizes
    lengths = torch.randint(1, 10, (2500,), generator=gen)
    module = LSTMNetwork(2, 2, asinh_view=True, series_norm=True)
    module.fit_asinh(x, lengths)
    module.fit_statistics(x, lengths)
    stats = series_statistics(module._asinh(x, lengths), lengths)
    torch.testing.assert_close(module.stats_center, stats.mean(dim=0).float())
    assert module.stats_center.shape == (8,)


def test_a_scaler_before_it_changes_nothing():
    """Fitted on the data after any affine map with a positive factor (what
    SequenceScaler does), the view of each step is the same."""
    moved = (X - 7.0) / 40.0
    views = [
        asinh_view(torch.from_numpy(x), None, *_fitted(x))[..., 2:] for x in (X, moved)
    ]
    # float32 rounding of the moved copy: about 1e-4 of the view's unit
    torch.testing.assert_close(views[0], views[1], atol=1e-3, rtol=1e-3)


def test_auto_is_on_for_classifiers_whose_sizes_span_two_decades():
    assert LSTMClassifier(**FAST).fit(X, Y).asinh_view_
    same = X / SIZES.astype(np.float32)  # one size: 90th / 10th percentile ~1
    assert not LSTMClassifier(**FAST).fit(same, Y).asinh_view_
    # regressors leave it off unless asked for
    assert not LSTMRegressor(**FAST).fit(X, X[:, 0, 0]).asinh_view_
    reg = LSTMRegressor(**FAST, asinh_view=True).fit(X, X[:, 0, 0])
    assert reg.asinh_view_ and reg.net_.module_.lstm.input_size > 2
    # per-step outputs and streams: "auto" leaves it out, True works
    seq = LSTMClassifier(**FAST, return_sequences=True)
    labels = np.repeat(Y[:, None], 12, axis=1)
    assert not seq.fit(X, labels).asinh_view_
    assert seq.set_params(asinh_view=True).fit(X, labels).asinh_view_
    # zero-weight rows do not count: only like-sized rows left
    weight = (np.abs(np.log10(SIZES[:, 0, 0]) + 1) < 0.3).astype(float)
    weight[:2] = 1.0
    clf = LSTMClassifier(**FAST).fit(X, Y, sample_weight=weight)
    assert (
        clf.asinh_view_
        == LSTMClassifier(**FAST).fit(X[weight > 0], Y[weight > 0]).asinh_view_
    )


def test_every_part_reads_the_view():
    est = LSTMClassifier(
        **FAST, conv_branch=True, conv_filters=(3, 4), conv_kernel_sizes=(3, 2)
    ).fit(X, Y)
    module = est.net_.module_
    assert est.asinh_view_ and est.series_norm_ and est.input_size_ == 2
    assert module.lstm.input_size == 2 * 2 * est.patch_size_
    assert module.conv.blocks[0][1].in_channels == 4
    assert module.head[-1].in_features == 4 + 4 + 2 * 4  # statistics of 4
    # the memory check counts the first block's wider windows
    params = module_params(est, 2, 2)
    assert conv_saved(params, 12) > conv_saved({**params, "asinh_view": False}, 12)
    alone = LSTMNetwork(3, 2, asinh_view=True, series_norm=True)
    assert alone.lstm.input_size == 3 * 2 * 2  # input, view, their copies


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(asinh_view=True, embedding_dim=4), "token ids"),
        (dict(asinh_view="yes"), "asinh_view"),
        (dict(asinh_view=1), "asinh_view"),
    ],
)
def test_bad_values_and_combinations_name_the_fix(params, match):
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**FAST, **params).fit(X, X[:, 0, 0])


def test_set_params_then_partial_fit_and_warm_start_are_checked():
    est = LSTMClassifier(**FAST).fit(X, Y)
    with pytest.raises(ValueError, match="asinh_view"):
        est.set_params(asinh_view=False).partial_fit(X, Y)
    est.set_params(asinh_view=np.True_).partial_fit(X, Y)
    est.set_params(asinh_view="auto", warm_start=True).fit(X / SIZES, Y)
    assert est.asinh_view_  # a warm fit keeps the fitted one
    with pytest.raises(ValueError, match="asinh_view"):
        est.set_params(asinh_view=False).fit(X, Y)


def test_it_learns_what_lives_in_ratios():
    """Two classes whose bursts stand 3x or 30x above the baseline, in series
    of any size from 1e-3 to 1e3: after a global scaler the small series are
    flat, and the log view shows each burst's height as a ratio."""
    gen = np.random.RandomState(1)
    n, steps = 160, 24
    label = gen.randint(0, 2, n)
    base = 1.0 + 0.1 * gen.normal(size=(n, steps))
    burst = np.zeros((n, steps))
    for i, at in enumerate(gen.randint(2, steps - 4, n)):
        burst[i, at : at + 3] = (3.0 if label[i] else 30.0) * gen.uniform(0.8, 1.2)
    sizes = 10.0 ** gen.uniform(-3, 3, size=(n, 1))
    Xs = ((base + burst) * sizes)[:, :, None]
    settings = dict(hidden_size=16, max_epochs=60, batch_size=16, random_state=0)
    fit, test = slice(0, 110), slice(110, None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the data's scale, on purpose
        on = make_pipeline(SequenceScaler(), LSTMClassifier(**settings))
        on.fit(Xs[fit], label[fit])
        off = make_pipeline(
            SequenceScaler(), LSTMClassifier(**settings, asinh_view=False)
        ).fit(Xs[fit], label[fit])
    assert on[-1].asinh_view_ and on[-1].series_norm_
    assert on.score(Xs[test], label[test]) >= 0.85  # 0.92 here; without: 0.54
    assert off.score(Xs[test], label[test]) <= on.score(Xs[test], label[test]) - 0.2


def test_persistence_round_trip_and_old_files(tmp_path):
    est = LSTMClassifier(**FAST, lr_scheduler=None).fit(X, Y)
    again = load(save(est, tmp_path / "av.sklstm"))
    assert again.asinh_view_ and again.net_.module_.asinh
    np.testing.assert_array_equal(again.predict_proba(X), est.predict_proba(X))
    for name in ("asinh_reference", "asinh_scale", "asinh_center", "asinh_spread"):
        assert torch.equal(
            getattr(again.net_.module_, name), getattr(est.net_.module_, name)
        )
    again.partial_fit(X, Y)  # carries on, with its view
    # a file written before the view has no asinh_view_: none
    plain = LSTMClassifier(**FAST, asinh_view=False).fit(X, Y)

    def forget(meta):
        assert meta["fitted"].pop("asinh_view_") is False
        meta["params"].pop("asinh_view")

    old = load(edited_model_file(plain, tmp_path, forget))
    assert not old.net_.module_.asinh
    np.testing.assert_array_equal(old.predict_proba(X), plain.predict_proba(X))


@pytest.mark.parametrize("name, value", [("asinh_scale", 0.0), ("asinh_spread", -1.0)])
def test_load_refuses_a_divisor_that_is_not_positive(tmp_path, name, value):
    def edit(state):
        state[name][0] = value

    est = LSTMClassifier(**FAST).fit(X, Y)
    with pytest.raises(ValueError, match=f"{name} must be at least"):
        load(edited_model_file(est, tmp_path, weights_edit=edit))
    # the view switched on in the metadata alone: its buffers are missing
    path = edited_model_file(
        LSTMClassifier(**FAST, asinh_view=False).fit(X, Y),
        tmp_path,
        lambda meta: meta["fitted"].update(asinh_view_=True),
    )
    with pytest.raises(ValueError, match="do not fit the saved parameters"):
        load(path)


def test_init_from_follows_the_source_or_names_the_fix(tmp_path):
    source = LSTMClassifier(**FAST).fit(X, Y)
    assert source.asinh_view_
    same = X / SIZES.astype(np.float32)  # alone, "auto" would leave it out
    target = LSTMClassifier(**FAST, init_from=source).fit(same, Y)
    assert target.asinh_view_
    with pytest.raises(ValueError, match="Set asinh_view=True"):
        LSTMClassifier(**FAST, init_from=source, asinh_view=False).fit(same, Y)
    path = save(source, tmp_path / "source.sklstm")
    assert LSTMClassifier(**FAST, init_from=str(path)).fit(same, Y).asinh_view_
    # "auto" never asks a model of token ids for the view: the mismatch is named
    tokens = LSTMClassifier(**FAST, embedding_dim=4, init_from=source)
    with pytest.raises(ValueError, match="token ids cannot read the view"):
        tokens.fit(rng.randint(1, 9, size=(40, 6)), Y)
    assert not tokens.asinh_view_


def test_grid_values_and_the_grouped_fallback():
    report = GroupingReport()
    grid = {"asinh_view": np.array([False, True]), "hidden_size": [3, 4]}
    est = LSTMClassifier(**FAST, conv_branch=False)
    with joblib.parallel_config(backend="sklstm", grouping="always", report=report):
        search = GridSearchCV(est, grid, cv=2).fit(X, Y)
    best = search.best_estimator_
    assert best.asinh_view_ == bool(search.best_params_["asinh_view"])
    assert any("asinh view" in reason for reason in report.reasons())
