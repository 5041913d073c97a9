"""AsinhFeatures: the asinh view of each feature, in every input form."""

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklstm import LSTMClassifier
from sklstm.preprocessing import AsinhFeatures, SequenceScaler

FAST = SETTINGS["fast"]


def _ragged(seed=0, n=12, features=2):
    rng = np.random.RandomState(seed)
    sizes = 10.0 ** rng.uniform(-3, 2, size=(n, 1, features))  # 5 decades
    return [
        sizes[i] * rng.normal(1, 0.3, size=(rng.randint(4, 9), features))
        for i in range(n)
    ]


def _expected(x, scale):
    return np.concatenate([x, np.arcsinh(x / scale)], axis=-1)


def test_each_form_gets_its_values_then_their_asinh_view():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(5, 7, 3)) * 100
    out = AsinhFeatures(scale=2.0).fit_transform(X)
    np.testing.assert_allclose(out, _expected(X, 2.0))
    first = AsinhFeatures(scale=2.0, data_format="channels_first")
    np.testing.assert_allclose(
        first.fit_transform(X.transpose(0, 2, 1)), _expected(X, 2.0).transpose(0, 2, 1)
    )
    ragged = _ragged()
    out = AsinhFeatures(scale=0.5).fit_transform(ragged)
    assert [o.shape for o in out] == [(len(x), 4) for x in ragged]
    for o, x in zip(out, ragged, strict=True):
        np.testing.assert_allclose(o, _expected(x, 0.5))
    out = first.fit_transform([x.T for x in ragged])
    for o, x in zip(out, ragged, strict=True):
        np.testing.assert_allclose(o, _expected(x, 2.0).T)


def test_univariate_input_gains_a_feature_axis_unless_the_view_replaces_it():
    X = np.random.RandomState(1).lognormal(size=(4, 6))
    out = AsinhFeatures(scale=1.0).fit_transform(X)
    np.testing.assert_allclose(out, _expected(X[:, :, None], 1.0))
    alone = AsinhFeatures(scale=1.0, include_input=False)
    np.testing.assert_allclose(alone.fit_transform(X), np.arcsinh(X))
    items = [x[:k] for x, k in zip(X, (6, 3, 5, 2), strict=True)]
    out = alone.fit_transform(items)
    assert [o.shape for o in out] == [(6,), (3,), (5,), (2,)]
    out = AsinhFeatures(scale=1.0).fit_transform(items)
    assert [o.shape for o in out] == [(6, 2), (3, 2), (5, 2), (2, 2)]
    assert alone.get_feature_names_out().tolist() == ["asinh(x0)"]


def test_auto_scale_is_a_low_percentile_of_the_sequences_own_spread():
    ragged = _ragged(features=2)
    ragged.append(np.full((5, 2), 3.0))  # constant: left out
    fitted = AsinhFeatures().fit(ragged)
    for j in range(2):
        spreads = [x[:, j].std() for x in ragged[:-1]]
        assert fitted.scale_[j] == pytest.approx(np.percentile(spreads, 10))
    # below the level of all but the smallest series
    assert (fitted.scale_ < np.median([x.std(axis=0) for x in ragged], axis=0)).all()
    assert AsinhFeatures().fit(np.ones((3, 4, 2))).scale_.tolist() == [1.0, 1.0]


def test_auto_scale_follows_the_units():
    """Data in other units get the same view: the scale moves with them."""
    ragged = _ragged()
    view = AsinhFeatures(include_input=False)
    base = view.fit_transform(ragged)
    in_milli = view.fit_transform([1000.0 * x for x in ragged])
    for a, b in zip(base, in_milli, strict=True):
        np.testing.assert_allclose(a, b)


def test_bad_input_and_parameters_are_refused_by_name():
    fitted = AsinhFeatures().fit(np.ones((3, 4, 2)) + np.arange(4)[:, None])
    with pytest.raises(ValueError, match="2 features"):
        fitted.transform(np.ones((3, 4, 3)))
    bad = np.ones((3, 4, 2))
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        AsinhFeatures().fit(bad)
    with pytest.raises(ValueError, match="empty"):
        AsinhFeatures().fit([])
    for params in ({"scale": 0.0}, {"scale": "log"}, {"include_input": "yes"}):
        with pytest.raises(InvalidParameterError, match=next(iter(params))):
            AsinhFeatures(**params).fit(np.ones((3, 4, 2)))
    with pytest.raises(ValueError, match="input_features has 3 names; expected 2"):
        fitted.get_feature_names_out(["a", "b", "c"])
    assert fitted.get_feature_names_out(["a", "b"]).tolist() == [
        "a",
        "b",
        "asinh(a)",
        "asinh(b)",
    ]


def test_a_restored_state_is_checked():
    fitted = AsinhFeatures().fit(_ragged())
    fitted._check_loaded_state()
    AsinhFeatures()._check_loaded_state()  # an unfitted template
    for value in (np.array([1.0, -1.0]), np.array([1.0]), np.array([1.0, np.inf])):
        fitted.scale_ = value
        with pytest.raises(ValueError, match="scale_ must be a finite, positive"):
            fitted._check_loaded_state()


def test_searched_in_a_pipeline_on_ragged_data():
    """The view's options are grid parameters like any other; the LSTM reads
    2 features per input feature."""
    rng = np.random.RandomState(0)
    X, y = [], []
    for i in range(24):
        size = 10.0 ** rng.uniform(-3, 1)
        t = np.arange(rng.randint(6, 12))
        X.append(size * (1.5 + np.sin(t * (1 + i % 2)))[:, None])
        y.append(i % 2)
    pipe = make_pipeline(AsinhFeatures(), SequenceScaler(), LSTMClassifier(**FAST))
    grid = {"asinhfeatures__scale": ["auto", np.float64(0.01)]}
    grid["asinhfeatures__include_input"] = [True, False]
    search = GridSearchCV(pipe, grid, cv=StratifiedKFold(2)).fit(X, y)
    best = search.best_estimator_
    width = 2 if best[0].include_input else 1
    assert best[-1].n_features_in_ == width
    assert set(search.predict(X)) <= {0, 1}
