"""sklstm.preprocessing: SequenceScaler, make_windows, WindowedForecaster,
TextSequencer."""

import pickle

import numpy as np
import pytest
import sklearn.utils.estimator_checks as sk_checks
from sklearn.base import BaseEstimator, RegressorMixin, clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks

from sklstm import LSTMClassifier, LSTMRegressor
from sklstm.preprocessing import (
    SequenceScaler,
    TextSequencer,
    WindowedForecaster,
    make_windows,
)


class LastValue(RegressorMixin, BaseEstimator):
    """Persistence forecaster on 3D windows that remembers what it was given."""

    def fit(self, X, y):
        X, y = np.asarray(X), np.asarray(y)
        self.X_fit_, self.y_fit_ = X, y
        self.offset_ = np.mean(y.reshape(len(y), -1) - X[:, -1, :1], axis=0)
        return self

    def predict(self, X):
        X = np.asarray(X)
        self.X_predict_ = X
        out = X[:, -1, :1] + self.offset_
        return out[:, 0] if len(self.offset_) == 1 else out


def _ragged(seed=0, n=40, features=2):
    rng = np.random.RandomState(seed)
    return [rng.normal(5, 3, size=(rng.randint(3, 9), features)) for _ in range(n)]


# ------------------------------------------------------------ SequenceScaler
def test_scaler_pools_steps_and_samples():
    X = np.random.RandomState(0).normal(3, 2, size=(10, 7, 3))
    scaler = SequenceScaler().fit(X)
    assert np.allclose(scaler.mean_, X.reshape(-1, 3).mean(axis=0))
    Xt = scaler.transform(X)
    assert Xt.shape == X.shape and Xt.dtype == np.float64
    assert np.allclose(Xt.reshape(-1, 3).mean(axis=0), 0)
    assert np.allclose(Xt.reshape(-1, 3).std(axis=0), 1)
    assert scaler.n_features_in_ == scaler.input_size_ == 3
    assert scaler.n_steps_seen_ == 70


def test_scaler_minmax():
    X = np.random.RandomState(1).uniform(-4, 9, size=(6, 5, 2))
    scaler = SequenceScaler(method="minmax").fit(X)
    Xt = scaler.transform(X)
    assert np.allclose(Xt.reshape(-1, 2).min(axis=0), 0)
    assert np.allclose(Xt.reshape(-1, 2).max(axis=0), 1)
    assert not hasattr(scaler, "mean_")
    assert not hasattr(scaler.set_params(method="standard").fit(X), "data_min_")


def test_scaler_2d_is_one_feature():
    X = np.random.RandomState(2).normal(size=(8, 5))
    scaler = SequenceScaler().fit(X)
    assert scaler.mean_.shape == (1,) and scaler.input_size_ == 1
    assert scaler.n_features_in_ == 5  # sklearn's convention for 2D
    assert np.isclose(scaler.mean_[0], X.mean())
    assert scaler.transform(X).shape == (8, 5)
    with pytest.raises(ValueError, match="X has 4 features, but SequenceScaler"):
        scaler.transform(X[:, :4])
    # a scaler fitted on 3D univariate sequences reads 2D of any length
    scaler3d = SequenceScaler().fit(X[:, :, None])
    assert scaler3d.transform(X[:, :3]).shape == (8, 3)


def test_scaler_ragged_keeps_lengths_and_ignores_padding():
    X = _ragged()
    scaler = SequenceScaler().fit(X)
    steps = np.concatenate(X)
    assert np.allclose(scaler.mean_, steps.mean(axis=0))
    assert np.allclose(scaler.scale_, steps.std(axis=0))
    assert scaler.n_steps_seen_ == len(steps)
    Xt = scaler.transform(X)
    assert isinstance(Xt, list)
    assert [x.shape for x in Xt] == [x.shape for x in X]
    assert np.allclose(Xt[3], (X[3] - scaler.mean_) / scaler.scale_)
    # univariate ragged sequences stay 1D
    X1 = [x[:, 0] for x in X]
    Xt1 = SequenceScaler().fit_transform(X1)
    assert [x.shape for x in Xt1] == [x.shape for x in X1]
    # a list of equal-length arrays is still returned as a list
    assert isinstance(scaler.transform([X[0], X[0]]), list)


@pytest.mark.parametrize("method", ["standard", "minmax"])
@pytest.mark.parametrize(
    "X",
    [
        np.random.RandomState(3).normal(size=(5, 4)),
        np.random.RandomState(3).normal(size=(5, 4, 3)),
        _ragged(n=6),
    ],
    ids=["2d", "3d", "ragged"],
)
def test_scaler_inverse_round_trip(method, X):
    scaler = SequenceScaler(method=method).fit(X)
    back = scaler.inverse_transform(scaler.transform(X))
    if isinstance(X, list):
        assert all(np.allclose(a, b) for a, b in zip(back, X, strict=True))
    else:
        assert np.allclose(back, X)


def test_scaler_constant_feature_has_scale_one():
    X = np.random.RandomState(4).normal(size=(4, 6, 2))
    X[:, :, 1] = 7.0
    for method in ("standard", "minmax"):
        scaler = SequenceScaler(method=method).fit(X)
        assert scaler.scale_[1] == 1.0
        assert np.allclose(scaler.transform(X)[:, :, 1], 0)


def test_scaler_errors():
    X = np.random.RandomState(5).normal(size=(4, 6, 3))
    bad = X.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        SequenceScaler().fit(bad)
    ragged = _ragged(n=4, features=3)
    ragged[2] = ragged[2].copy()
    ragged[2][0, 0] = np.inf
    with pytest.raises(ValueError, match="Sequence 2 contains NaN or infinity"):
        SequenceScaler().fit(ragged)
    scaler = SequenceScaler().fit(X)
    with pytest.raises(ValueError, match="X has 2 features per time step.*3"):
        scaler.transform(X[:, :, :2])
    with pytest.raises(ValueError, match="X has 2 features per time step.*3"):
        scaler.transform(_ragged(n=3, features=2))
    with pytest.raises(ValueError, match="with 3 features per time step"):
        scaler.transform(X[:, :, 0])
    with pytest.raises(ValueError, match="4 dimensions"):
        scaler.transform(X[..., None])
    with pytest.raises(NotFittedError):
        SequenceScaler().transform(X)
    with pytest.raises(InvalidParameterError):
        SequenceScaler(method="robust").fit(X)


def test_scaler_lstm_pipeline_search_on_ragged():
    X = _ragged(seed=6, n=40)
    y = np.array([x[:, 0].mean() for x in X]) * 100.0
    pipe = make_pipeline(
        SequenceScaler(),
        LSTMRegressor(hidden_size=8, max_epochs=10, lr=0.02, random_state=0),
    )
    search = GridSearchCV(
        pipe, {"sequencescaler__method": ["standard", "minmax"]}, cv=KFold(2)
    )
    search.fit(X, y)
    assert len(search.cv_results_["params"]) == 2
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()
    assert search.predict(X[:5]).shape == (5,)


# -------------------------------------------------------------- make_windows
def test_make_windows_univariate():
    X, y = make_windows(np.arange(7.0), lookback=3)
    assert X.shape == (4, 3, 1) and y.shape == (4,)
    assert np.array_equal(X[:, :, 0], [[0, 1, 2], [1, 2, 3], [2, 3, 4], [3, 4, 5]])
    assert np.array_equal(y, [3, 4, 5, 6])
    X, y = make_windows(np.arange(10.0), lookback=2, horizon=3, step=3)
    assert X.shape == (2, 2, 1) and y.shape == (2, 3)
    assert np.array_equal(X[1, :, 0], [3, 4]) and np.array_equal(y[1], [5, 6, 7])


def test_make_windows_multivariate_target():
    series = np.column_stack([np.arange(8.0), 100 + np.arange(8.0)])
    X, y = make_windows(series, lookback=4, target=1)
    assert X.shape == (4, 4, 2)
    assert np.array_equal(y, 100 + np.arange(4, 8))
    _, y_last = make_windows(series, lookback=4, target=-1)
    assert np.array_equal(y, y_last)


def test_make_windows_never_crosses_series():
    series = [np.arange(5.0), 100 + np.arange(4.0), 200 + np.arange(2.0)]
    X, y = make_windows(series, lookback=2)
    assert len(X) == 3 + 2  # the 2-step series is too short: no window
    for window, target in zip(X[:, :, 0], y, strict=True):
        assert len({v // 100 for v in window} | {target // 100}) == 1


def test_make_windows_errors():
    with pytest.raises(ValueError, match="No window fits.*at least 6"):
        make_windows(np.arange(5.0), lookback=4, horizon=2)
    with pytest.raises(ValueError, match="target=2 is not a column"):
        make_windows(np.ones((9, 2)), lookback=3, target=2)
    with pytest.raises(ValueError, match="3 dimensions"):
        make_windows(np.ones((9, 2, 2)), lookback=3)
    with pytest.raises(ValueError, match="different feature counts"):
        make_windows([np.ones((9, 2)), np.ones((9, 3))], lookback=3)
    with pytest.raises(ValueError, match="NaN"):
        make_windows(np.array([1.0, np.nan, 3.0, 4.0]), lookback=2)
    with pytest.raises(InvalidParameterError):
        make_windows(np.arange(9.0), lookback=0)


# Rows are time steps: the checks that reorder or subsample rows, or fit
# rows that are not a time series, do not apply to a forecaster.
_FORECASTER_XFAIL = {
    "check_regressors_train": "the check's rows are independent samples, not a "
    "time series: windows of them cannot be forecast (score < 0.5)",
    "check_methods_sample_order_invariance": "rows are time steps: reordering "
    "them changes every window",
    "check_methods_subset_invariance": "windows span rows: predicting on a subset "
    "of rows gives other windows",
    "check_fit1d": "1D X is a univariate series, accepted by design",
}


@parametrize_with_checks(
    [
        SequenceScaler(),
        SequenceScaler(method="minmax"),
        WindowedForecaster(LastValue(), lookback=2),
    ],
    expected_failed_checks=lambda est: (
        _FORECASTER_XFAIL if isinstance(est, WindowedForecaster) else {}
    ),
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


# ------------------------------------------------------------- TextSequencer
def test_text_sequencer_vocabulary_and_ids():
    texts = ["the cat sat", "the dog sat down", "the cat"]
    seq = TextSequencer().fit(texts)
    assert seq.vocabulary_ == {"the": 2, "cat": 3, "sat": 4, "dog": 5, "down": 6}
    assert seq.vocab_size_ == 7
    out = seq.transform(["The cat flew", "", "!!"])
    assert all(x.dtype == np.int64 and x.ndim == 1 for x in out)
    assert [x.tolist() for x in out] == [[2, 3, 1], [1], [1]]
    assert all(0 not in x for x in seq.transform(texts + ["unknown words"]))
    assert [len(x) for x in seq.fit_transform(texts)] == [3, 4, 2]


def test_text_sequencer_options():
    texts = ["a b c d e", "b c d", "c d", "d"]
    seq = TextSequencer(token_pattern=r"\w", max_features=2).fit(texts)
    assert seq.vocabulary_ == {"d": 2, "c": 3}
    assert TextSequencer(token_pattern=r"\w", min_df=3).fit(texts).vocab_size_ == 4
    assert TextSequencer(token_pattern=r"\w", min_df=0.5).fit(texts).vocab_size_ == 5
    cut = TextSequencer(token_pattern=r"\w", max_length=2).fit(texts)
    assert "e" not in cut.vocabulary_  # counted over the kept tokens only
    assert max(len(x) for x in cut.transform(texts)) == 2
    chars = TextSequencer(analyzer="char").fit(["abba"])
    assert chars.transform(["abc"])[0].tolist() == [
        chars.vocabulary_["a"],
        chars.vocabulary_["b"],
        1,
    ]
    fitted = TextSequencer().fit(np.array(["good day", "bad day"]))
    assert pickle.loads(pickle.dumps(fitted)).vocabulary_ == fitted.vocabulary_
    assert clone(fitted).get_params() == fitted.get_params()


def test_text_sequencer_errors():
    with pytest.raises(ValueError, match="single string"):
        TextSequencer().fit("just one text")
    with pytest.raises(ValueError, match="1D collection"):
        TextSequencer().fit([["a text"], ["b text"]])
    with pytest.raises(TypeError, match="Text 1 is nan"):
        TextSequencer().fit(["fine", np.nan])
    with pytest.raises(ValueError, match="Empty vocabulary"):
        TextSequencer().fit(["a", "!"])
    with pytest.raises(NotFittedError):
        TextSequencer().transform(["text"])
    with pytest.raises(InvalidParameterError):
        TextSequencer(min_df=0).fit(["some text"])


# sklearn's parametrize_with_checks skips estimators without 2D numeric input
# (input_tags.two_d_array=False) altogether, so the API checks that use no data
# are run by hand; the data checks would feed numbers, which are not texts.
_TEXT_API_CHECKS = [
    "check_estimator_cloneable",
    "check_estimator_repr",
    "check_no_attributes_set_in_init",
    "check_parameters_default_constructible",
    "check_get_params_invariance",
    "check_set_params",
    "check_do_not_raise_errors_in_init_or_set_params",
    "check_estimator_tags_renamed",
    "check_valid_tag_types",
    "check_mixin_order",
    "check_param_validation",
    "check_estimators_unfitted",
    "check_transformers_unfitted",
]


@pytest.mark.parametrize("check_name", _TEXT_API_CHECKS)
def test_text_sequencer_api_checks(check_name):
    getattr(sk_checks, check_name)("TextSequencer", TextSequencer())


def _toy_sentiment(n, seed):
    rng = np.random.RandomState(seed)
    filler = "the movie plot actor scene was really quite film story".split()
    words = {1: ["good", "great"], 0: ["bad", "awful"]}
    texts, labels = [], rng.randint(0, 2, size=n)
    for label in labels:
        tokens = list(rng.choice(filler, size=rng.randint(3, 9)))
        tokens.insert(rng.randint(len(tokens) + 1), rng.choice(words[label]))
        texts.append(" ".join(tokens))
    return texts, labels


def test_text_pipeline_learns_and_searches():
    texts, y = _toy_sentiment(240, seed=0)
    test_texts, y_test = _toy_sentiment(100, seed=1)
    model = make_pipeline(
        TextSequencer(),
        LSTMClassifier(
            embedding_dim=8, hidden_size=8, max_epochs=30, lr=0.02, random_state=0
        ),
    )
    model.fit(texts, y)
    assert model.score(test_texts, y_test) > 0.9
    search = GridSearchCV(
        model.set_params(lstmclassifier__max_epochs=15),
        {"textsequencer__max_features": [4, None]},
        cv=KFold(2),
    )
    search.fit(texts, y)
    # the 4 most frequent tokens are filler words: the sentiment is lost
    assert search.best_params_ == {"textsequencer__max_features": None}


@pytest.mark.parametrize("method", ["standard", "minmax"])
def test_scaler_treats_a_channel_constant_up_to_rounding_as_constant(method):
    """scikit-learn's bounds (PR #19788): a channel whose values differ only
    by rounding is centered, not divided by a rounding error."""
    from sklearn.preprocessing import MinMaxScaler, StandardScaler

    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 7, 2))
    # 0.3 computed two ways: equal up to the last bit
    X[:, :, 1] = 0.3
    X[::3, :, 1] = 0.1 + 0.2
    assert np.ptp(X[:, :, 1]) > 0  # not exactly constant
    scaler = SequenceScaler(method=method).fit(X)
    assert scaler.scale_[1] == 1.0
    out = scaler.transform(X)
    assert np.abs(out[:, :, 1]).max() < 1e-12
    # the same decision as scikit-learn's own scaler on the same rows
    reference = StandardScaler() if method == "standard" else MinMaxScaler()
    reference.fit(X.reshape(-1, 2))
    np.testing.assert_allclose(
        scaler.scale_, reference.scale_ ** (1 if method == "standard" else -1)
    )
