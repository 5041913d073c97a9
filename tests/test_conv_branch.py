"""The convolutional branch (LSTM-FCN) with everything else the estimators do."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import SETTINGS
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine._build import CONV_AUTO_MIN_STEPS
from sklstm._engine._conv import ConvBranch
from sklstm.model_selection import GroupingReport, search_space

FAST = SETTINGS["fast"]
SMALL_CONV = {"conv_filters": (3, 4), "conv_kernel_sizes": (4, 3)}
rng = np.random.RandomState(0)
LONG = rng.normal(size=(40, CONV_AUTO_MIN_STEPS, 2)).astype(np.float32)
LABELS = np.where(LONG[:, :, 0].mean(axis=1) > 0, "up", "down")


def test_auto_uses_the_branch_on_long_numeric_sequences_only():
    long = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    assert long.conv_branch_ and long.net_.module_.conv is not None
    short = LSTMClassifier(**FAST).fit(LONG[:, : CONV_AUTO_MIN_STEPS - 1], LABELS)
    assert not short.conv_branch_ and short.net_.module_.conv is None
    forced = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True)
    assert forced.fit(LONG[:, :5], LABELS).conv_branch_
    off = LSTMClassifier(**FAST, conv_branch=False).fit(LONG, LABELS)
    assert not off.conv_branch_
    # per-step outputs and token ids: "auto" leaves it out
    seq = LSTMRegressor(**FAST, return_sequences=True, patch_size=None)
    assert not seq.fit(LONG, LONG[:, :, 0]).conv_branch_
    tokens = (np.abs(LONG[:, :, 0]) * 3).astype(np.int64) + 1
    text = LSTMClassifier(**FAST, embedding_dim=3).fit(tokens, LABELS)
    assert not text.conv_branch_


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(conv_branch=True, return_sequences=True), "return_sequences"),
        (dict(conv_branch=np.True_, return_sequences=True), "return_sequences"),
        (dict(conv_branch=True, stateful=True), "stateful"),
        (dict(conv_branch=True, embedding_dim=4), "token ids"),
        (dict(conv_filters=(3, 4), conv_kernel_sizes=(3,)), "one entry per"),
        (dict(conv_filters=(3, 0)), "positive"),
        (dict(conv_kernel_sizes=(True, 3, 3)), "positive"),
        (dict(conv_filters=()), "non-empty"),
    ],
)
def test_bad_combinations_name_the_fix(params, match):
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**FAST, **params).fit(LONG, LONG[:, 0, 0])


def test_set_params_then_partial_fit_is_checked():
    est = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    with pytest.raises(ValueError, match="one entry per"):
        est.set_params(conv_kernel_sizes=(3,)).partial_fit(LONG, LABELS)


def test_masked_pooling_reads_each_row_alone():
    """A padded row's summary equals the same row given alone (eval mode)."""
    torch.manual_seed(0)
    branch = ConvBranch(2, (3, 5), (4, 3)).eval()
    x = torch.randn(3, 9, 2)
    lengths = torch.tensor([9, 4, 6])
    garbage = x.clone()
    garbage[1, 4:] = 100.0  # whatever sits in the padding is ignored
    garbage[2, 6:] = -7.0
    batch = branch(garbage, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = branch(x[i : i + 1, :n])
        torch.testing.assert_close(batch[i : i + 1], alone, rtol=1e-5, atol=1e-6)


def test_ragged_fit_and_predict_do_not_depend_on_the_batch():
    seqs = [x[: 20 + 3 * (i % 10)] for i, x in enumerate(LONG)]
    est = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True).fit(seqs, LABELS)
    together = est.predict_proba(seqs)
    alone = np.vstack([est.predict_proba([s]) for s in seqs[:5]])
    np.testing.assert_allclose(together[:5], alone, rtol=1e-5, atol=1e-6)


def test_branch_reads_raw_steps_with_patching_and_either_layout():
    est = LSTMRegressor(**FAST, **SMALL_CONV, conv_branch=True, patch_size=4)
    est.fit(LONG, LONG[:, :, 0].mean(axis=1))
    module = est.net_.module_
    assert module.lstm.input_size == 8  # patches of 4 steps x 2 features
    assert module.conv.blocks[0][1].in_channels == 2  # the raw features
    first = LSTMRegressor(
        **FAST,
        **SMALL_CONV,
        conv_branch=True,
        patch_size=4,
        data_format="channels_first",
    ).fit(LONG.transpose(0, 2, 1), LONG[:, :, 0].mean(axis=1))
    np.testing.assert_allclose(
        first.predict(LONG.transpose(0, 2, 1)), est.predict(LONG), rtol=1e-5, atol=1e-6
    )


def test_persistence_round_trip_and_warm_start(tmp_path):
    # a constant rate: a cosine schedule ends a fit at a rate near 0
    est = LSTMClassifier(**FAST, **SMALL_CONV, lr_scheduler=None).fit(LONG, LABELS)
    again = load(save(est, tmp_path / "conv.sklstm"))
    assert again.conv_branch_ and again.net_.module_.conv is not None
    np.testing.assert_array_equal(again.predict_proba(LONG), est.predict_proba(LONG))
    # carries on training from the loaded weights, branch included
    before = again.net_.module_.conv.blocks[0][1].weight.detach().clone()
    again.partial_fit(LONG, LABELS)
    assert not torch.equal(before, again.net_.module_.conv.blocks[0][1].weight)
    # a warm start that would drop the branch is refused, naming it
    est.set_params(warm_start=True, conv_branch=False)
    with pytest.raises(ValueError, match="conv_filters"):
        est.fit(LONG, LABELS)


def test_grouped_search_falls_back_naming_the_branch():
    est = LSTMRegressor(**FAST, **SMALL_CONV, conv_branch=True)
    y = LONG[:, :, 0].mean(axis=1)
    report = GroupingReport()
    with (
        joblib.parallel_config(backend="sklstm", grouping="always", report=report),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        search = GridSearchCV(est, {"lr": [1e-2, 2e-2]}, cv=2).fit(LONG, y)
    plain = GridSearchCV(clone(est), {"lr": [1e-2, 2e-2]}, cv=2).fit(LONG, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    assert report.groups == []
    assert report.reasons() == {"the convolutional branch (conv_branch)": 4}
    assert any("convolutional branch" in str(w.message) for w in caught)


def test_search_spaces_offer_the_branch_for_long_sequences():
    space = search_space("grid", n_samples=100, n_timesteps=CONV_AUTO_MIN_STEPS)
    assert space["conv_branch"] == [False, True]
    assert "conv_branch" not in search_space("grid", n_samples=100, n_timesteps=20)
    search = GridSearchCV(
        LSTMClassifier(**FAST),
        {
            "conv_branch": np.array(space["conv_branch"]),  # numpy scalars
            "conv_filters": [tuple(np.arange(3, 5))],
            "conv_kernel_sizes": [(np.int64(4), np.int64(3))],
        },
        cv=2,
    ).fit(LONG, LABELS)
    assert [p["conv_branch"] for p in search.cv_results_["params"]] == [False, True]
    assert search.best_estimator_.conv_branch_ == search.best_params_["conv_branch"]
