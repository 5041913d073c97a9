"""Right on the first try: layouts, data-aware defaults, messages that help."""

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline

from sklstm import LSTMClassifier, LSTMRegressor, model_selection
from sklstm._engine._build import resolve_batch_size, resolve_max_epochs
from sklstm.preprocessing import SequenceScaler

FAST = {**SETTINGS["small"], "hidden_size": 6}


def test_channels_first_arrays_equal_transposed_ones(clf_data):
    X, y = clf_data  # (60, 6, 2) channels last
    first = np.swapaxes(X, 1, 2)  # (60, 2, 6) as aeon holds it
    a = LSTMClassifier(**FAST, data_format="channels_first").fit(first, y)
    b = LSTMClassifier(**FAST).fit(X, y)
    assert a.input_size_ == 2 and a.n_timesteps_in_ == 6
    np.testing.assert_allclose(a.predict_proba(first), b.predict_proba(X), rtol=1e-6)


def test_channels_first_ragged_lists_and_the_scaler(reg_data):
    X, y = reg_data
    seqs = [x[: 3 + i % 4] for i, x in enumerate(X)]
    seqs_cf = [s.T for s in seqs]  # (n_channels, T_i)
    pipe_cf = make_pipeline(
        SequenceScaler(data_format="channels_first"),
        LSTMRegressor(**FAST, data_format="channels_first"),
    ).fit(seqs_cf, y)
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(seqs, y)
    np.testing.assert_allclose(pipe_cf.predict(seqs_cf), pipe.predict(seqs), 1e-6)
    scaled = SequenceScaler(data_format="channels_first").fit_transform(seqs_cf)
    assert [s.shape for s in scaled] == [s.shape for s in seqs_cf]
    cube = np.swapaxes(X, 1, 2)
    out = SequenceScaler(data_format="channels_first").fit_transform(cube)
    assert out.shape == cube.shape


def test_data_format_is_searchable(clf_data):
    X, y = clf_data
    search = GridSearchCV(
        LSTMClassifier(**FAST), {"data_format": ["channels_last"]}, cv=2
    ).fit(X, y)
    assert search.best_params_ == {"data_format": "channels_last"}


@pytest.mark.parametrize("shape", [(67, 1, 24), (20, 3, 200)])
def test_transposed_looking_shapes_warn(shape):
    X = np.random.RandomState(0).normal(size=shape)
    y = np.arange(shape[0]) % 2
    with pytest.warns(UserWarning, match="data_format='channels_first'"):
        LSTMClassifier(**FAST).fit(X, y)


def test_ragged_feature_count_error_suggests_transposing():
    rng = np.random.RandomState(0)
    seqs = [rng.normal(size=(3, t)) for t in (5, 7, 9, 5)]  # aeon: (channels, T_i)
    with pytest.raises(ValueError, match="data_format='channels_first'"):
        LSTMClassifier(**FAST).fit(seqs, [0, 1, 0, 1])


def test_integer_sequences_without_embedding_warn():
    seqs = [np.array([3, 1, 4]), np.array([1, 5]), np.array([9, 2, 6, 5])] * 4
    with pytest.warns(UserWarning, match="set embedding_dim"):
        LSTMClassifier(**FAST).fit(seqs, [0, 1, 1] * 4)


def test_single_sequence_messages(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST).fit(X, y)
    with pytest.raises(ValueError, match=r"x\[None\].*X\[:1\]"):
        clf.predict(X[0])
    with pytest.raises(ValueError, match=r"1 dimension.*x\[None\]"):
        clf.predict(X[0, :, 0])
    assert clf.predict(X[0][None]).shape == (1,)


def test_gpu_device_name_points_to_cuda(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="'cuda'.*'auto'") as info:
        LSTMRegressor(**FAST, device="gpu").fit(X, y)
    assert "Expected one of" not in str(info.value)  # not torch's device list


def test_loss_curve_display_takes_a_fitted_search(clf_data):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    from sklstm.plot import LossCurveDisplay

    X, y = clf_data
    search = GridSearchCV(LSTMClassifier(**FAST), {"lr": [1e-3, 1e-2]}, cv=2)
    display = LossCurveDisplay.from_estimator(search.fit(X, y))
    assert len(display.train_loss) == 3


def test_scaler_pandas_output_in_a_pipeline(reg_data):
    pd = pytest.importorskip("pandas")
    X, y = reg_data
    flat = X[:, :, 0]
    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST))
    pipe.set_output(transform="pandas")
    pipe.fit(flat, y)
    out = pipe[0].transform(flat)
    assert (
        isinstance(out, pd.DataFrame)
        and list(out.columns) == pipe[0].get_feature_names_out().tolist()
    )
    assert pipe.predict(flat).shape == y.shape
    cube = SequenceScaler().set_output(transform="pandas").fit_transform(X)
    assert isinstance(cube, np.ndarray) and cube.shape == X.shape  # 3D stays an array


def test_public_names():
    assert set(model_selection.__all__) == {
        "GroupedSearchCV",
        "GroupingBackend",
        "GroupingReport",
        "refit_with_cv_epochs",
        "search_space",
        "stopped_epoch",
    }


def test_importing_sklstm_registers_the_joblib_backend():
    import subprocess
    import sys

    code = (
        "import joblib, sklstm\n"
        "from joblib.parallel import BACKENDS\n"
        "assert BACKENDS['sklstm'] is sklstm.model_selection.GroupingBackend\n"
        "with joblib.parallel_config(backend='sklstm'):\n"
        "    assert joblib.Parallel()(joblib.delayed(abs)(-i) for i in range(3))"
        " == [0, 1, 2]\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_old_import_paths_keep_working():
    import sklstm.forecasting as forecasting
    import sklstm.preprocessing as preprocessing
    import sklstm.search_spaces as search_spaces

    assert preprocessing.WindowedForecaster is forecasting.WindowedForecaster
    assert preprocessing.make_windows is forecasting.make_windows
    assert search_spaces.search_space is model_selection.search_space
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        preprocessing.nope  # noqa: B018


def test_predict_log_proba(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST).fit(X, y)
    np.testing.assert_allclose(
        np.exp(clf.predict_log_proba(X)), clf.predict_proba(X), rtol=1e-6
    )


def test_head_units_accepts_an_int(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(**FAST, head_units=5).fit(X, y)
    assert clf.net_.module_.head[1].out_features == 5


def test_verbose_prints_the_last_epoch_and_a_bar(reg_data, capsys):
    X, y = reg_data
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 30},
        lr=0.05,
        early_stopping=True,
        n_iter_no_change=2,
        tol=10.0,
        verbose=1,
    ).fit(X, y)
    err = capsys.readouterr().err
    rows = [line for line in err.splitlines() if line.strip()[:1].isdigit()]
    assert len(rows) == est.n_iter_ == 3
    LSTMRegressor(**FAST, verbose=2).fit(X, y)
    err = capsys.readouterr().err
    assert "4/4" in err or "0/4" in err  # tqdm's per-batch bar


@pytest.mark.parametrize(
    "n, batch, epochs", [(40, 8, 200), (67, 8, 112), (270, 32, 112), (20_000, 64, 50)]
)
def test_auto_sizes_follow_the_data(n, batch, epochs):
    assert resolve_batch_size("auto", n) == batch
    assert resolve_max_epochs("auto", n, batch) == epochs
    assert resolve_batch_size(17, n) == 17 and resolve_max_epochs(3, n, batch) == 3


def test_auto_defaults_are_fitted_attributes(clf_data):
    X, y = clf_data
    clf = LSTMClassifier(hidden_size=4, random_state=0).fit(X[:40, :3], y[:40])
    assert (clf.batch_size_, clf.max_epochs_, clf.n_iter_) == (8, 200, 200)
    early = LSTMClassifier(
        hidden_size=4, max_epochs=2, early_stopping=True, random_state=0
    ).fit(X, y)
    assert early.batch_size_ == 8 and early.max_epochs_ == 2  # 54 training rows


def test_verbose_table_shows_each_column_once(reg_data, capsys):
    X, y = reg_data
    LSTMRegressor(**{**FAST, "max_epochs": 2}, verbose=1).fit(X, y)  # cosine: auto
    header = capsys.readouterr().err.splitlines()[0].split()
    assert header.count("lr") == 1
    assert len(header) == len(set(header))
