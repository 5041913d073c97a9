"""random_crop: training on random windows of each series ("window
slicing"), with everything else the estimators do (its search spaces and
parallel searches: tests/test_lstm_dropout.py, with lstm_dropout's)."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import LABELS, LONG, SETTINGS, SHORT, SMALL_CONV, TARGET, rewrite_meta
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine._augment import random_crop
from sklstm._engine._build import (
    AUTO_CROP,
    AUTO_CROP_LONG,
    CONV_AUTO_MIN_STEPS,
    CONV_STRIDE_MIN_STEPS,
)
from sklstm._engine._module import LSTMNetwork
from sklstm.model_selection import GroupingReport

FAST = SETTINGS["fast"]
RAGGED = [x[: 40 + i] for i, x in enumerate(LONG)]  # 40-79 steps


def _steps(n_rows: int, steps: int, width: int = 1) -> torch.Tensor:
    """Each value is its step's index: a window shows where it starts."""
    t = torch.arange(steps, dtype=torch.float32)
    return t[None, :, None].expand(n_rows, steps, width).contiguous()


def test_equal_rows_get_windows_of_their_own_steps_on_the_grid():
    torch.manual_seed(0)
    x = _steps(200, 100, 2)
    out, lengths = random_crop(x, None, 0.75, grid=4)
    assert lengths is None and out.shape == (200, 75, 2)
    start = out[:, 0, 0]
    # consecutive steps of the row, from a start on the grid within the row
    torch.testing.assert_close(out[..., 0] - start[:, None], _steps(200, 75)[..., 0])
    torch.testing.assert_close(out[..., 1], out[..., 0])
    assert (start % 4 == 0).all() and start.max() <= 25
    assert len(start.unique()) == 7  # every start from 0 to 24 drawn
    assert random_crop(x, None, 1.0)[0] is x


def test_ragged_rows_get_windows_of_their_own_lengths():
    torch.manual_seed(0)
    lengths = torch.tensor([10, 40, 3, 1], dtype=torch.int64)
    x = _steps(4, 40) + 1  # 1-based: padding (0) shows
    for i, n in enumerate(lengths):
        x[i, n:] = 0
    for _ in range(20):
        out, kept = random_crop(x, lengths, 0.5, grid=2)
        assert kept.dtype == torch.int64 and kept.tolist() == [5, 20, 1, 1]
        assert out.shape == (4, 20, 1)
        for row, n, k in zip(out[..., 0], lengths, kept, strict=True):
            window = row[:k]
            assert (row[k:] == 0).all()  # nothing past the window
            assert (window > 0).all() and window.max() <= n  # the row's own steps
            torch.testing.assert_close(window - window[0], torch.arange(int(k)) * 1.0)
            assert (window[0] - 1) % 2 == 0


def test_the_network_crops_in_training_only():
    torch.manual_seed(0)
    kwargs = dict(input_size=1, output_size=2, hidden_size=4)
    net = LSTMNetwork(**kwargs, random_crop=0.5).train()
    plain = LSTMNetwork(**kwargs).train()
    plain.load_state_dict(net.state_dict())
    x = torch.randn(6, 30, 1)
    seen = []
    hook = net.lstm.register_forward_pre_hook(lambda m, a: seen.append(a[0]))
    net(x)
    assert seen[-1].shape == (6, 15, 1)
    net.eval()
    plain.eval()
    net(x)
    assert seen[-1].shape == (6, 30, 1)
    hook.remove()
    torch.testing.assert_close(net(x), plain(x))
    with pytest.raises(ValueError, match="random_crop"):
        LSTMNetwork(**kwargs, random_crop=0.0)
    with pytest.raises(ValueError, match="per-step output"):
        LSTMNetwork(**kwargs, random_crop=0.5, return_sequences=True)


def test_auto_crops_whole_series_of_one_length_for_classifiers_only():
    branch = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    assert branch.conv_branch_ and branch.net_.module_.random_crop == AUTO_CROP
    assert AUTO_CROP == 0.9
    ragged = LSTMClassifier(**FAST, **SMALL_CONV).fit(RAGGED, LABELS)
    assert ragged.conv_branch_ and ragged.net_.module_.random_crop == 1.0
    alone = LSTMClassifier(**FAST).fit(SHORT, LABELS)
    assert not alone.conv_branch_ and alone.net_.module_.random_crop == 1.0
    reg = LSTMRegressor(**FAST, **SMALL_CONV).fit(LONG, TARGET)
    assert reg.conv_branch_ and reg.net_.module_.random_crop == 1.0
    # the branch forced on short series: a step is too large a share
    short = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True)
    short.fit(LONG[:, : CONV_AUTO_MIN_STEPS - 1], LABELS)
    assert short.conv_branch_ and short.net_.module_.random_crop == 1.0
    # "auto" trains as its value does; 1 trains otherwise
    same = LSTMClassifier(**FAST, **SMALL_CONV, random_crop=AUTO_CROP).fit(LONG, LABELS)
    none = LSTMClassifier(**FAST, **SMALL_CONV, random_crop=1.0).fit(LONG, LABELS)
    np.testing.assert_array_equal(branch.predict_proba(LONG), same.predict_proba(LONG))
    assert not np.allclose(branch.predict_proba(LONG), none.predict_proba(LONG))


def test_auto_keeps_less_of_long_series():
    rng = np.random.RandomState(1)
    long = rng.normal(size=(4, CONV_STRIDE_MIN_STEPS, 1)).astype(np.float32)
    est = LSTMClassifier(
        hidden_size=2, max_epochs=1, conv_filters=2, conv_kernel_sizes=3
    ).fit(long, [0, 1, 0, 1])
    assert est.conv_stride_ == 2
    assert est.net_.module_.random_crop == AUTO_CROP_LONG == 0.75


def test_an_explicit_crop_applies_to_ragged_rows_and_regressors():
    est = LSTMClassifier(**FAST, **SMALL_CONV, random_crop=np.float32(0.6))
    est.fit(RAGGED, LABELS)
    assert est.net_.module_.random_crop == pytest.approx(0.6)
    assert est.get_params()["random_crop"] == np.float32(0.6)  # as given
    assert np.isfinite(est.predict_proba(RAGGED)).all()
    reg = LSTMRegressor(**FAST, random_crop=0.5).fit(SHORT, TARGET)
    assert reg.net_.module_.random_crop == 0.5
    np.testing.assert_array_equal(reg.predict(SHORT), reg.predict(SHORT))


@pytest.mark.parametrize("value", [0, -0.5, 1.01, np.float64(2.0), float("nan"), "max"])
def test_bad_values_name_the_parameter(value):
    with pytest.raises(ValueError, match="random_crop"):
        LSTMRegressor(**FAST, random_crop=value).fit(SHORT, TARGET)


@pytest.mark.parametrize(
    "setting",
    [
        {"return_sequences": True, "patch_size": None},
        {"stateful": True},
        {"embedding_dim": 4},
    ],
)
def test_what_has_no_whole_series_is_refused(setting):
    est = LSTMRegressor(**FAST, random_crop=0.8, **setting)
    with pytest.raises(ValueError, match=r"random_crop=0.8 cannot be combined"):
        est.fit(SHORT, SHORT[:, :, 0] if "return_sequences" in setting else TARGET)
    # "auto" leaves it out there
    est.set_params(random_crop="auto")
    if "embedding_dim" not in setting:
        y = SHORT[:, :, 0] if "return_sequences" in setting else TARGET
        assert est.fit(SHORT, y).net_.module_.random_crop == 1.0


def test_set_params_then_partial_fit_is_checked_and_applied():
    est = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    with pytest.raises(ValueError, match="random_crop"):
        est.set_params(random_crop=0.0).partial_fit(LONG, LABELS)
    est.set_params(random_crop=np.float64(0.5)).partial_fit(LONG, LABELS)
    assert est.net_.module_.random_crop == 0.5
    assert est.net_.module__random_crop == 0.5  # what a clone of the net builds
    est.set_params(random_crop="auto", warm_start=True).fit(LONG, LABELS)
    assert est.net_.module_.random_crop == AUTO_CROP


def test_save_and_load_keep_the_share(tmp_path):
    est = LSTMClassifier(**FAST, **SMALL_CONV, random_crop=0.7).fit(LONG, LABELS)
    again = load(save(est, tmp_path / "m.sklstm"))
    assert again.random_crop == 0.7 and again.net_.module_.random_crop == 0.7
    np.testing.assert_array_equal(again.predict_proba(LONG), est.predict_proba(LONG))
    auto = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    loaded = load(save(auto, tmp_path / "a.sklstm"))
    assert loaded.net_.module_.random_crop == AUTO_CROP


def test_files_saved_before_the_parameter_keep_training_without_it(tmp_path):
    est = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    path = save(est, tmp_path / "new.sklstm")
    rewrite_meta(
        path, tmp_path / "old.sklstm", lambda m: m["params"].pop("random_crop")
    )
    old = load(tmp_path / "old.sklstm")
    # "auto" would now crop; that file's model never trained on windows
    assert old.random_crop == 1.0 and old.net_.module_.random_crop == 1.0
    np.testing.assert_array_equal(old.predict_proba(LONG), est.predict_proba(LONG))
    old.partial_fit(LONG, LABELS)
    assert old.net_.module_.random_crop == 1.0


@pytest.mark.parametrize("value", [0.0, 1.5, "none", [0.5]])
def test_a_file_with_a_bad_share_is_refused(tmp_path, value):
    est = LSTMRegressor(**FAST).fit(SHORT, TARGET)
    path = save(est, tmp_path / "m.sklstm")
    rewrite_meta(
        path, tmp_path / "bad.sklstm", lambda m: m["params"].update(random_crop=value)
    )
    with pytest.raises(ValueError, match="random_crop"):
        load(tmp_path / "bad.sklstm")


def test_a_grouped_search_trains_crops_alone_and_says_so():
    est = LSTMRegressor(**FAST)
    grid = {"random_crop": [0.5, 1.0]}
    report = GroupingReport()
    with (
        joblib.parallel_config(backend="sklstm", grouping="always", report=report),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore")
        grouped = GridSearchCV(est, grid, cv=2).fit(SHORT, TARGET)
    assert any("random_crop" in reason for reason in report.reasons())
    plain = GridSearchCV(clone(est), grid, cv=2).fit(SHORT, TARGET)
    np.testing.assert_allclose(
        grouped.cv_results_["mean_test_score"][0],
        plain.cv_results_["mean_test_score"][0],
        rtol=1e-5,
    )
