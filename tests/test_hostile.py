"""Property-based tests over hostile and broken input (hypothesis).

Contract: every input ends in a clear ``ValueError``/``TypeError`` whose message
names the problem, or in a correct result; never a raw torch/skorch error, a
crash, a hang, or non-finite predictions.

Each bug this suite found has a fixed-input regression test below.

Profiles: ``ci`` (default: 25 examples per test, derandomized) and ``long``
(500 examples), chosen with ``SKLSTM_HYPOTHESIS_PROFILE=long``. Run with
``--hypothesis-show-statistics`` to see how many cases each test ran.
"""

import math
import os
import re
import traceback
import warnings

import numpy as np
import pytest
import skorch
import torch
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from sklstm import LSTMClassifier, LSTMRegressor

settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI stays deterministic
    database=None,  # write no .hypothesis/ folder into the shared checkout
    phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],  # no explain
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "long",
    max_examples=500,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = os.environ.get("SKLSTM_HYPOTHESIS_PROFILE", "ci")
settings.load_profile(PROFILE)
# a hang fails its test instead of stalling the run (pytest-timeout)
pytestmark = pytest.mark.timeout(60 if PROFILE == "ci" else 900)

FAST = {
    "hidden_size": 2,
    "max_epochs": 1,
    "batch_size": 8,
    "n_threads": 1,
    "random_state": 0,
}
ESTIMATORS = {"reg": LSTMRegressor, "clf": LSTMClassifier}
F32_MAX = float(np.finfo(np.float32).max)

EST = st.sampled_from(sorted(ESTIMATORS))
N_SAMPLES = st.integers(2, 12)
N_STEPS = st.integers(1, 6)
N_FEATURES = st.integers(1, 3)
FLOAT_DTYPES = [np.float64, np.float32, np.float16]
DTYPES = [*FLOAT_DTYPES, np.int64, np.int32, np.int8, np.uint8, np.bool_]

# where a raising frame may not lie: errors from there are raw, not explained
_FOREIGN = tuple(
    os.path.dirname(module.__file__) + os.sep for module in (torch, skorch)
)


def assert_clear_error(exc: BaseException, match: str) -> None:
    """``exc`` is a ValueError/TypeError raised outside torch, naming ``match``."""
    assert isinstance(exc, (ValueError, TypeError)), f"raw {type(exc).__name__}: {exc}"
    origin = traceback.extract_tb(exc.__traceback__)[-1].filename
    assert not origin.startswith(_FOREIGN), f"raw error from {origin}: {exc}"
    assert re.search(match, str(exc), flags=re.IGNORECASE), (
        f"message does not name the problem ({match!r}): {exc}"
    )


def raises_clearly(call, match: str) -> None:
    """``call()`` must fail with a clear error whose message matches ``match``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except Exception as exc:  # noqa: BLE001 - judged by assert_clear_error
        assert_clear_error(exc, match)
    else:
        pytest.fail(f"no error; expected one matching {match!r}")


def result_or_clear_error(call, match: str):
    """``call()``'s result, or None after a clear error matching ``match``."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return call()
    except Exception as exc:  # noqa: BLE001 - judged by assert_clear_error
        assert_clear_error(exc, match)
        return None


def make_y(est: str, n: int) -> np.ndarray:
    if est == "clf":
        return np.arange(n) % 2  # two classes whenever n >= 2
    return np.linspace(-1.0, 1.0, n)


# ------------------------------------------------------------------ strategies
def elements(dtype) -> st.SearchStrategy:
    """Moderate, finite values of ``dtype``."""
    dt = np.dtype(dtype)
    if dt.kind == "f":
        return st.floats(-10, 10, width=8 * dt.itemsize)
    if dt.kind == "b":
        return st.booleans()
    return st.integers(0 if dt.kind == "u" else -10, 10)


@st.composite
def ragged_lengths(draw, n: int) -> list[int]:
    """``n`` lengths in [1, 6], not all equal (so the list stays ragged)."""
    lengths = draw(st.lists(st.integers(1, 6), min_size=n - 1, max_size=n - 1))
    odd = draw(st.integers(1, 5))
    odd += odd >= lengths[0]  # any length but the first one's
    return draw(st.permutations([*lengths, odd]))


@st.composite
def sequences(draw, form, n, features=None, dtype=np.float64, values=None):
    """X in one of the accepted forms: 3d, 2d, ragged (2D items), ragged1d."""
    values = values if values is not None else elements(dtype)
    f = draw(N_FEATURES) if features is None else features
    if form == "3d":
        return draw(hnp.arrays(dtype, (n, draw(N_STEPS), f), elements=values))
    if form == "2d":
        return draw(hnp.arrays(dtype, (n, draw(N_STEPS)), elements=values))
    lengths = draw(ragged_lengths(n))
    item = (lambda t: (t,)) if form == "ragged1d" else (lambda t: (t, f))
    return [draw(hnp.arrays(dtype, item(t), elements=values)) for t in lengths]


def input_size(X) -> int:
    if isinstance(X, list):
        return 1 if np.ndim(X[0]) == 1 else np.shape(X[0])[1]
    return 1 if X.ndim == 2 else X.shape[2]


_MODELS: dict = {}


def fitted(est: str, form: str, features: int = 2):
    """A small fitted model, cached across examples (predict does not mutate it)."""
    key = (est, form, 1 if form in ("2d", "ragged1d") else features)
    if key not in _MODELS:
        rng = np.random.RandomState(0)
        n = 6
        if form == "3d":
            X = rng.normal(size=(n, 4, key[2]))
        elif form == "2d":
            X = rng.normal(size=(n, 4))
        else:
            shape = (lambda t: (t,)) if form == "ragged1d" else (lambda t: (t, key[2]))
            X = [rng.normal(size=shape(t)) for t in (4, 2, 3, 4, 1, 2)]
        _MODELS[key] = ESTIMATORS[est](**FAST).fit(X, make_y(est, n))
    return _MODELS[key]


def conform(X, form: str):
    """``X`` reshaped to what ``fitted(est, form)`` reads (2D: 4 time steps)."""
    return np.resize(X, (len(X), 4)) if form == "2d" else X


def scaled(X, factor: float):
    if isinstance(X, list):
        return [np.asarray(x, dtype=np.float64) * factor for x in X]
    return np.asarray(X, dtype=np.float64) * factor


# ------------------------------------------------------------ non-finite input
NON_FINITE = st.sampled_from([np.nan, np.inf, -np.inf])


@st.composite
def poisoned(draw, X):
    """A float copy of ``X`` with NaN/inf at one or more random places."""
    parts = [np.array(x, dtype=np.float64) for x in X] if isinstance(X, list) else None
    arrays = parts if parts is not None else [np.array(X, dtype=np.float64)]
    for _ in range(draw(st.integers(1, 4))):
        flat = arrays[draw(st.integers(0, len(arrays) - 1))].reshape(-1)
        flat[draw(st.integers(0, flat.size - 1))] = draw(NON_FINITE)
    return parts if parts is not None else arrays[0]


@given(
    est=EST,
    form=st.sampled_from(["3d", "2d", "ragged", "ragged1d"]),
    stage=st.sampled_from(["fit", "predict"]),
    data=st.data(),
)
def test_non_finite_X_is_refused(est, form, stage, data):
    dtype = data.draw(st.sampled_from(FLOAT_DTYPES))
    n = data.draw(N_SAMPLES)
    features = 2 if stage == "predict" else None
    X = data.draw(sequences(form, n, features=features, dtype=dtype))
    if stage == "predict":
        X = conform(X, form)
    X = data.draw(poisoned(X))
    if stage == "fit":
        call = lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, n))  # noqa: E731
    else:
        call = lambda: fitted(est, form).predict(X)  # noqa: E731
    raises_clearly(call, r"NaN|infinity")


@given(est=EST, form=st.sampled_from(["3d", "ragged"]), data=st.data())
def test_non_finite_y_is_refused(est, form, data):
    n = data.draw(N_SAMPLES)
    X = data.draw(sequences(form, n))
    y = data.draw(poisoned(make_y(est, n).astype(np.float64)))
    raises_clearly(lambda: ESTIMATORS[est](**FAST).fit(X, y), r"NaN|infinity")


# ----------------------------------------------------------------- empty input
@given(
    est=EST,
    rank=st.sampled_from([2, 3]),
    stage=st.sampled_from(["fit", "predict"]),
    data=st.data(),
)
def test_empty_X_is_refused(est, rank, stage, data):
    shape = [data.draw(N_SAMPLES), data.draw(N_STEPS), 2][:rank]
    for axis in data.draw(st.sets(st.sampled_from(range(rank)), min_size=1)):
        shape[axis] = 0
    X = np.zeros(shape)
    if stage == "fit":
        call = lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, len(X)))  # noqa: E731
    else:
        call = lambda: fitted(est, f"{rank}d").predict(X)  # noqa: E731
    raises_clearly(call, r"0 sample|0 feature|time step")


@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_empty_list_is_refused(est):
    raises_clearly(lambda: ESTIMATORS[est](**FAST).fit([], []), r"1D array|empty")


@given(
    est=EST,
    stage=st.sampled_from(["fit", "predict"]),
    univariate=st.booleans(),
    data=st.data(),
)
def test_ragged_list_with_empty_sequence_is_refused(est, stage, univariate, data):
    n = data.draw(N_SAMPLES)
    lengths = data.draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    empty, full = data.draw(st.permutations(range(n)))[:2]
    lengths[empty], lengths[full] = 0, max(lengths[full], 1)  # one of each
    X = [np.ones((t,) if univariate else (t, 2)) for t in lengths]
    first_empty = lengths.index(0)
    if stage == "fit":
        call = lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, n))  # noqa: E731
    else:
        form = "ragged1d" if univariate else "ragged"
        call = lambda: fitted(est, form).predict(X)  # noqa: E731
    raises_clearly(call, rf"Sequence {first_empty} is empty")


def test_regressor_fit_with_empty_y_is_refused():
    """An empty y next to a non-empty X."""
    X = np.zeros((4, 3, 2))
    raises_clearly(
        lambda: LSTMRegressor(**FAST).fit(X, []), r"inconsistent numbers of samples"
    )


@pytest.mark.parametrize("y", [[], [0]], ids=["empty", "one-label"])
def test_classifier_fit_with_too_short_y_is_refused(y):
    X = np.zeros((4, 3, 2))
    raises_clearly(
        lambda: LSTMClassifier(**FAST).fit(X, y), r"inconsistent numbers of samples"
    )


@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_ragged_list_with_zero_features_is_refused(est):
    X = [np.ones((3, 0)), np.ones((2, 0))]
    raises_clearly(lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, 2)), "feature")


# --------------------------------------------------------------- wrong shapes
@given(
    est=EST,
    ndim=st.sampled_from([0, 1, 4, 5]),
    stage=st.sampled_from(["fit", "predict"]),
    data=st.data(),
)
def test_wrong_rank_is_refused(est, ndim, stage, data):
    n = data.draw(N_SAMPLES)
    shape = (n, *data.draw(st.lists(st.integers(1, 3), min_size=4, max_size=4)))
    X = np.ones(shape[:ndim])
    if stage == "fit":
        call = lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, n))  # noqa: E731
    else:
        form = data.draw(st.sampled_from(["3d", "2d", "ragged"]))
        call = lambda: fitted(est, form).predict(X)  # noqa: E731
    raises_clearly(call, r"dimension|scalar|[123]D")


@given(
    est=EST,
    form=st.sampled_from(["3d", "2d", "ragged", "ragged1d"]),
    n=N_SAMPLES,
    m=st.integers(1, 13),
    data=st.data(),
)
def test_mismatched_lengths_are_refused(est, form, n, m, data):
    m += m >= n  # any y length in [1, 14] but n
    if est == "clf":
        m = max(m, 2)  # y of length 1 has one class: tested on its own below
        assume(m != n)
    X = data.draw(sequences(form, n))
    raises_clearly(
        lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, m)),
        r"inconsistent numbers of samples",
    )


@given(
    est=EST,
    fit_form=st.sampled_from(["3d", "2d", "ragged"]),
    predict_form=st.sampled_from(["3d", "2d", "ragged", "ragged1d"]),
    data=st.data(),
)
def test_feature_count_change_at_predict_is_refused(est, fit_form, predict_form, data):
    trained = 1 if fit_form == "2d" else data.draw(N_FEATURES)
    if predict_form in ("2d", "ragged1d"):
        assume(trained != 1)
        given_ = 1
    else:
        given_ = data.draw(st.integers(1, 2))
        given_ += given_ >= trained  # any count in [1, 3] but the trained one
    X = data.draw(sequences(predict_form, data.draw(N_SAMPLES), features=given_))
    model = fitted(est, fit_form, trained)
    raises_clearly(lambda: model.predict(X), r"feature")


# ---------------------------------------------------------- non-numeric input
LETTERS = st.text(alphabet="abcxyz", min_size=1, max_size=3)  # never a number
JUNK = st.one_of(
    st.none(), LETTERS, st.dictionaries(LETTERS, st.integers(), max_size=1)
)


@st.composite
def non_numeric(draw, form, n, conform_to=None):
    """Non-numeric X; ``conform_to`` reshapes the numbers first (as
    :func:`conform` does), so the junk put in afterwards is never cut away."""
    kind = draw(st.sampled_from(["letters", "complex", "object"]))
    X = draw(sequences(form, n, features=2))
    if conform_to is not None:
        X = conform(X, conform_to)
    parts = X if isinstance(X, list) else [X]
    if kind == "letters":
        out = [draw(hnp.arrays("<U3", p.shape, elements=LETTERS)) for p in parts]
    elif kind == "complex":
        imag = draw(st.floats(0.5, 10))
        out = [p + 1j * imag for p in parts]
    else:
        out = []
        for p in parts:
            obj = p.astype(object)
            flat = obj.reshape(-1)
            for _ in range(draw(st.integers(1, 3))):
                flat[draw(st.integers(0, flat.size - 1))] = draw(JUNK)
            out.append(obj)
    return out if isinstance(X, list) else out[0]


@given(
    est=EST,
    form=st.sampled_from(["3d", "2d", "ragged"]),
    stage=st.sampled_from(["fit", "predict"]),
    data=st.data(),
)
def test_non_numeric_X_is_refused(est, form, stage, data):
    n = data.draw(N_SAMPLES)
    X = data.draw(non_numeric(form, n, form if stage == "predict" else None))
    if stage == "fit":
        call = lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, n))  # noqa: E731
    else:
        call = lambda: fitted(est, form).predict(X)  # noqa: E731
    raises_clearly(call, r"convert|number|dtype|complex|NaN")


@given(est=EST, kind=st.sampled_from(["letters", "complex", "object"]), n=N_SAMPLES)
def test_non_numeric_y_is_refused(est, kind, n):
    X = np.zeros((n, 3, 2))
    y = make_y(est, n)
    if kind == "letters":
        y = np.array(["abc"[i % 3] * (1 + i % 2) for i in range(n)])
        if est == "clf":  # letters are fine labels: refuse continuous floats instead
            y = np.linspace(0.1, 0.9, n)
    elif kind == "complex":
        y = y + 1j
    else:
        y = np.array([{"k": i} for i in range(n)], dtype=object)
    raises_clearly(
        lambda: ESTIMATORS[est](**FAST).fit(X, y),
        r"convert|complex|number|label type",
    )


# ------------------------------------------------------------------ magnitudes
@given(
    est=EST,
    form=st.sampled_from(["3d", "2d", "ragged"]),
    scale=st.sampled_from([1e-300, 1e-30, 1e30, F32_MAX]),
    data=st.data(),
)
def test_extreme_but_representable_X_gives_finite_predictions(est, form, scale, data):
    """Inputs of any float32-representable scale: finite output or a clear error."""
    n = data.draw(N_SAMPLES)
    X = data.draw(sequences(form, n, features=2, values=st.floats(-1, 1)))
    X = scaled(conform(X, form), scale)
    model = result_or_clear_error(
        lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, n)), r"diverged|scale"
    )
    for m in [model, fitted(est, form)]:
        if m is not None:
            out = result_or_clear_error(lambda m=m: _outputs(m, X), r"scale|large")
            assert out is None or np.isfinite(out).all(), out


def _outputs(model, X) -> np.ndarray:
    if hasattr(model, "predict_proba"):
        return model.predict_proba(X)
    return model.predict(X)


@pytest.mark.parametrize("stage", ["fit", "predict"])
@pytest.mark.parametrize("form", ["3d", "ragged"])
@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_X_beyond_float32_is_refused(est, form, stage):
    rng = np.random.RandomState(0)
    X = rng.uniform(1, 2, size=(6, 3, 2)) * 1e39  # finite in float64 only
    if form == "ragged":
        X = [x[: 1 + i % 3] for i, x in enumerate(X)]
    if stage == "fit":
        call = lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, 6))  # noqa: E731
    else:
        call = lambda: fitted(est, form).predict(X)  # noqa: E731
    raises_clearly(call, r"float32|too large")


def _fit_predict_targets(X, y):
    """Regressor predictions for targets ``y``, or None after a clear error."""
    reg = result_or_clear_error(
        lambda: LSTMRegressor(**FAST).fit(X, y), r"target|large|scale"
    )
    if reg is None:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return reg.predict(X)


@given(
    form=st.sampled_from(["3d", "ragged"]),
    scale=st.sampled_from([1e-300, 1e-30, 1e30, 1e150]),
    data=st.data(),
)
def test_extreme_targets_give_finite_predictions(form, scale, data):
    n = data.draw(N_SAMPLES)
    X = data.draw(sequences(form, n))
    y = data.draw(hnp.arrays(np.float64, n, elements=st.floats(-1, 1))) * scale
    pred = _fit_predict_targets(X, y)
    assert pred is None or np.isfinite(pred).all(), pred


@pytest.mark.parametrize("scale", [1e200, 1e300])
def test_huge_targets_give_finite_predictions(scale):
    X = np.random.RandomState(0).normal(size=(6, 3, 2))
    pred = _fit_predict_targets(X, np.linspace(-1, 1, 6) * scale)
    assert pred is None or np.isfinite(pred).all(), pred


# ------------------------------------------------------------------- labels
LABEL_POOLS = {
    "int": st.integers(-5, 5),
    "str": LETTERS,
    "float": st.integers(-5, 5).map(float),
    "bool": st.booleans(),
}


@given(
    kind=st.sampled_from(sorted(LABEL_POOLS)),
    partial=st.booleans(),
    data=st.data(),
)
def test_single_class_is_refused(kind, partial, data):
    n = data.draw(N_SAMPLES)
    label = data.draw(LABEL_POOLS[kind])
    X = data.draw(sequences(data.draw(st.sampled_from(["3d", "ragged"])), n))
    y = np.array([label] * n)
    clf = LSTMClassifier(**FAST)
    if partial:
        call = lambda: clf.partial_fit(X, y, classes=[label])  # noqa: E731
    else:
        call = lambda: clf.fit(X, y)  # noqa: E731
    raises_clearly(call, r"at least 2 classes")


@given(kind=st.sampled_from(["int", "str"]), mixed=st.booleans(), data=st.data())
def test_score_with_unseen_labels(kind, mixed, data):
    """Labels never seen in fit lower the accuracy; they never crash ``score``."""
    n = data.draw(N_SAMPLES)
    classes = ["a", "b"] if kind == "str" else [0, 1]
    clf = LSTMClassifier(**FAST).fit(np.zeros((2, 3, 2)) + [[[0]], [[1]]], classes)
    X = data.draw(sequences("3d", n, features=2))
    other = {"int": "str", "str": "int"}[kind]
    pool = LABEL_POOLS[other if mixed else kind]
    y = np.array(data.draw(st.lists(pool, min_size=n, max_size=n)))
    if mixed:  # other label types: accuracy, or sklearn's clear refusal
        score = result_or_clear_error(lambda: clf.score(X, y), r"label")
    else:
        score = clf.score(X, y)
        assert score == pytest.approx(np.mean(clf.predict(X) == y))
    assert score is None or 0.0 <= score <= 1.0


# --------------------------------------------------------------- sample weight
@st.composite
def bad_sample_weight(draw, n):
    kind = draw(
        st.sampled_from(
            ["non-finite", "negative", "length", "2d", "zeros", "letters", "complex"]
        )
    )
    w = draw(hnp.arrays(np.float64, n, elements=st.floats(0.1, 10)))
    if kind == "non-finite":
        w[draw(st.integers(0, n - 1))] = draw(NON_FINITE)
    elif kind == "negative":
        w[draw(st.integers(0, n - 1))] = -draw(st.floats(1e-6, 1e6))
    elif kind == "length":
        m = draw(st.integers(1, 13))  # length 0: tested on its own below
        w = np.ones(m + (m >= n))
    elif kind == "2d":
        w = w[:, None]
    elif kind == "zeros":
        w = np.zeros(n)
    elif kind == "letters":
        w = np.array(["w"] * n)
    else:
        w = w + 1j
    return w


@given(est=EST, form=st.sampled_from(["3d", "ragged"]), data=st.data())
def test_bad_sample_weight_is_refused(est, form, data):
    n = data.draw(N_SAMPLES)
    X = data.draw(sequences(form, n))
    w = data.draw(bad_sample_weight(n))
    raises_clearly(
        lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, n), sample_weight=w),
        r"sample.weight|Sample weights|NaN|infinity|convert|complex",
    )


@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_empty_sample_weight_is_refused(est):
    X = np.zeros((4, 3, 2))
    raises_clearly(
        lambda: ESTIMATORS[est](**FAST).fit(X, make_y(est, 4), sample_weight=[]),
        r"sample.weight",
    )


def _weighted_vs_unweighted(est: str, weight: float, n: int = 6):
    X = np.random.RandomState(1).normal(size=(n, 3, 2))
    y = make_y(est, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        plain = _outputs(ESTIMATORS[est](**FAST).fit(X, y), X)
        weighted = ESTIMATORS[est](**FAST).fit(X, y, sample_weight=np.full(n, weight))
        return plain, _outputs(weighted, X)


@given(est=EST, weight=st.floats(1e-300, 1e300))
def test_constant_sample_weight_of_any_scale_changes_nothing(est, weight):
    plain, weighted = _weighted_vs_unweighted(est, weight)
    np.testing.assert_allclose(weighted, plain, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_huge_constant_sample_weight_changes_nothing(est):
    plain, weighted = _weighted_vs_unweighted(est, 1e308)
    np.testing.assert_allclose(weighted, plain, rtol=1e-5, atol=1e-6)


# -------------------------------------------------------------- hyperparameters
def _not_in(options) -> st.SearchStrategy:
    return st.text(max_size=8).filter(lambda s: s not in options)


def _torch_parses(device: str) -> bool:
    try:
        torch.device(device)
    except Exception:  # noqa: BLE001 - any refusal counts
        return False
    return True


_NAN_INF = st.sampled_from([math.nan, math.inf, -math.inf])
_COUNT = st.one_of(
    st.integers(-(10**6), 0),
    st.floats(allow_nan=True, allow_infinity=True),
    LETTERS,
)
_NEGATIVE = st.floats(max_value=0, exclude_max=True)
_NOT_BOOL = st.one_of(st.integers(), LETTERS, st.none())
_BAD_UNIT = st.one_of(st.integers(max_value=0), st.floats(), LETTERS, st.none())
_HEAD_UNITS = st.one_of(
    st.tuples(
        st.lists(st.integers(1, 4), max_size=2),
        st.lists(_BAD_UNIT, min_size=1, max_size=2),
    ).flatmap(lambda parts: st.permutations(parts[0] + parts[1]).map(tuple)),
    st.integers(max_value=0),  # a positive int is one hidden layer
    LETTERS,
)
_CUDA_NAMES = ["cuda", "cuda:0", "cuda:3"] if not torch.cuda.is_available() else []
BAD_PARAMS = {
    "hidden_size": _COUNT | st.none(),
    "num_layers": _COUNT,
    "batch_size": _COUNT,
    "max_epochs": _COUNT,
    "n_iter_no_change": _COUNT,
    "n_threads": _COUNT,
    "embedding_dim": _COUNT,
    "dropout": st.one_of(_NEGATIVE, st.floats(min_value=1.0), _NAN_INF, LETTERS),
    "lstm_dropout": st.one_of(
        _NEGATIVE, st.floats(min_value=1.0), _NAN_INF, _not_in({"auto"})
    ),
    "random_crop": st.one_of(
        st.floats(max_value=0.0),
        st.floats(min_value=1.0, exclude_min=True),
        _NAN_INF,
        _not_in({"auto"}),
    ),
    "momentum": st.one_of(_NEGATIVE, st.floats(min_value=1, exclude_min=True)),
    "lr": st.one_of(st.floats(max_value=0), _NAN_INF, LETTERS),
    "weight_decay": st.one_of(_NEGATIVE, _NAN_INF),
    "l1": st.one_of(_NEGATIVE, _NAN_INF),
    "tol": st.one_of(_NEGATIVE, _NAN_INF),
    "validation_fraction": st.one_of(
        st.floats(max_value=0), st.floats(min_value=1), _NAN_INF
    ),
    "gradient_clip": st.one_of(st.floats(max_value=0), _NAN_INF),
    "gradient_clip_value": st.one_of(st.floats(max_value=0), _NAN_INF),
    "head_units": _HEAD_UNITS,
    "head_activation": _not_in({"relu", "tanh", "gelu", "elu"}),
    "norm": _not_in({"layer", "batch"}),
    "optimizer": _not_in({"adam", "adamw", "sgd", "rmsprop"}) | st.integers(),
    "lr_scheduler": _not_in(
        {"auto", "plateau", "cosine", "step", "onecycle", "exponential"}
    ),
    "lr_scheduler_params": st.one_of(LETTERS, st.integers(), st.lists(st.integers())),
    "validation_split": _not_in({"auto", "last", "random", "stratified"}),
    "device": st.one_of(
        st.text(max_size=10).filter(lambda s: not _torch_parses(s)),
        st.sampled_from(_CUDA_NAMES) if _CUDA_NAMES else st.nothing(),
        st.integers(),
        st.none(),
    ),
    "random_state": st.one_of(
        st.integers(max_value=-1), st.integers(min_value=2**32), LETTERS
    ),
    "verbose": st.one_of(st.integers(max_value=-1), LETTERS),
    "freeze": st.one_of(st.integers(max_value=0).filter(bool), LETTERS),
    "bidirectional": _NOT_BOOL,
    "shuffle": _NOT_BOOL,
    "early_stopping": _NOT_BOOL,
    "warm_start": _NOT_BOOL,
    "callbacks": st.one_of(LETTERS, st.integers(), st.dictionaries(LETTERS, LETTERS)),
    "tensorboard_dir": st.one_of(st.integers(), st.floats()),
    "init_from": st.one_of(st.integers(), st.floats()),
    "vocab_size": st.one_of(
        st.integers(max_value=1), st.integers(min_value=10**7 + 1), LETTERS
    ),
    "data_format": _not_in({"channels_last", "channels_first"}),
    "patch_size": st.one_of(st.integers(max_value=0), _not_in({"auto"}), _NAN_INF),
    "patch_stride": st.one_of(st.integers(max_value=0), LETTERS),
    "gate_init": _not_in({"default", "forget_bias", "chrono"}),
}
BAD_PARAMS_BY_EST = {
    "reg": {
        **BAD_PARAMS,
        "loss": _not_in({"mse", "mae", "huber"}),
        "scale_target": _NOT_BOOL,
    },
    "clf": {
        **BAD_PARAMS,
        "class_weight": _not_in({"balanced"}) | st.integers() | st.lists(LETTERS),
    },
}


@given(est=EST, data=st.data())
def test_invalid_hyperparameters_are_refused(est, data):
    pool = BAD_PARAMS_BY_EST[est]
    name = data.draw(st.sampled_from(sorted(pool)), label="parameter")
    value = data.draw(pool[name], label="value")
    n = 6
    X = np.random.RandomState(0).normal(size=(n, 3, 2))
    model = ESTIMATORS[est](**{**FAST, name: value})
    raises_clearly(lambda: model.fit(X, make_y(est, n)), re.escape(name))


@pytest.mark.parametrize(
    "params",
    [
        {"hidden_size": np.int64(2)},
        {"hidden_size": np.int32(2)},
        {"embedding_dim": np.int64(2)},
        {"batch_size": np.int64(3)},
    ],
    ids=["hidden_size-int64", "hidden_size-int32", "embedding_dim-int64", "batch"],
)
@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_numpy_integer_hyperparameters_work(est, params):
    X = np.ones((6, 3)) if "embedding_dim" in params else np.ones((6, 3, 2))
    model = ESTIMATORS[est](**{**FAST, **params}).fit(X, make_y(est, 6))
    assert np.isfinite(_outputs(model, X)).all()


@pytest.mark.parametrize(
    "device", ["mps", "meta", "xpu", "hpu", "ipu", "lazy", "xla", "privateuseone"]
)
def test_unavailable_torch_device_is_refused(device):
    X = np.ones((6, 3, 2))
    raises_clearly(
        lambda: LSTMRegressor(**{**FAST, "device": device}).fit(X, make_y("reg", 6)),
        r"device",
    )


@pytest.mark.parametrize("early_stopping", [False, True])
def test_batch_norm_with_one_training_sample_is_refused(early_stopping):
    n = 3 if early_stopping else 1
    params = {**FAST, "norm": "batch", "early_stopping": early_stopping}
    model = LSTMRegressor(**params, validation_fraction=0.5)
    raises_clearly(
        lambda: model.fit(np.ones((n, 3, 2)), make_y("reg", n)), r"norm|batch"
    )


@pytest.mark.parametrize(
    "class_weight",
    [{0: -1.0, 1: 1.0}, {0: math.nan, 1: 1.0}, {0: 0.0, 1: 0.0}],
    ids=["negative", "nan", "zeros"],
)
def test_invalid_class_weight_values_are_refused(class_weight):
    model = LSTMClassifier(**FAST, class_weight=class_weight)
    raises_clearly(
        lambda: model.fit(np.ones((6, 3, 2)), make_y("clf", 6)), r"class_weight"
    )


@pytest.mark.parametrize("est", sorted(ESTIMATORS))
def test_huge_lr_gives_finite_predictions_or_clear_error(est):
    X = np.random.RandomState(0).normal(size=(6, 3, 2))
    model = result_or_clear_error(
        lambda: ESTIMATORS[est](**FAST, lr=1e300).fit(X, make_y(est, 6)), r"diverged"
    )
    if model is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out = _outputs(model, X)
        assert np.isfinite(out).all(), out


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"lr_scheduler": "step", "lr_scheduler_params": {"step_size": 0}}, "step"),
        ({"callbacks": [object()]}, "callback"),
    ],
    ids=["step_size-0", "callbacks-object"],
)
def test_malformed_scheduler_params_and_callbacks_are_refused(params, match):
    X = np.ones((6, 3, 2))
    model = LSTMRegressor(**FAST, **params)
    raises_clearly(lambda: model.fit(X, make_y("reg", 6)), match)


@pytest.mark.parametrize("token", [2.0**40, 1e20], ids=["2**40", "1e20"])
def test_huge_token_id_is_refused(token):
    X = np.ones((6, 3))
    X[0, 0] = token
    model = LSTMRegressor(**FAST, embedding_dim=2)
    raises_clearly(lambda: model.fit(X, make_y("reg", 6)), r"token|vocab")


# ----------------------------------------------------- hostile sequence lists
_ITEM = st.one_of(
    hnp.arrays(np.float64, st.tuples(N_STEPS, st.just(2)), elements=st.floats(-3, 3)),
    hnp.arrays(np.float64, N_STEPS.map(lambda t: (t,)), elements=st.floats(-3, 3)),
    hnp.arrays(np.float64, st.tuples(N_STEPS, st.just(2), st.just(1))),
    hnp.arrays(np.float64, st.just(()), elements=st.floats(-3, 3)),
    hnp.arrays(np.float64, st.tuples(N_STEPS, st.just(2)), elements=NON_FINITE),
    hnp.arrays(np.complex128, st.tuples(N_STEPS, st.just(2))),
    st.just(np.zeros((0, 2))),
    st.none(),
    LETTERS,
    st.dictionaries(LETTERS, st.integers(), max_size=1),
    st.lists(
        st.lists(st.floats(-3, 3), min_size=1, max_size=3), min_size=1, max_size=3
    ),
)


@given(est=EST, items=st.lists(_ITEM, min_size=2, max_size=8))
def test_hostile_sequence_lists(est, items):
    """Lists of arbitrary junk: a clear error, or (all valid) finite predictions."""
    y = make_y(est, len(items))
    model = result_or_clear_error(
        lambda: ESTIMATORS[est](**FAST).fit(items, y),
        r"sequence|dimension|dtype|number|NaN|inf|convert|empty|shape|array|feature",
    )
    if model is not None:
        out = _outputs(model, items)
        assert len(out) == len(items)
        assert np.isfinite(out).all()


# ------------------------------------------------------------- well-formed data
@st.composite
def labels(draw, n):
    kind = draw(st.sampled_from(sorted(LABEL_POOLS)))
    if kind == "bool":
        classes = [False, True]
    else:
        pool = LABEL_POOLS[kind]
        classes = draw(st.lists(pool, min_size=2, max_size=3, unique=True))
    y = draw(st.lists(st.sampled_from(classes), min_size=n, max_size=n))
    y[0], y[1] = classes[0], classes[1]  # at least two classes
    return np.array(y)


@given(
    est=EST,
    form=st.sampled_from(["3d", "2d", "ragged", "ragged1d"]),
    dtype=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_well_formed_input_gives_finite_predictions(est, form, dtype, data):
    n = data.draw(N_SAMPLES, label="n")
    X = data.draw(sequences(form, n, dtype=dtype), label="X")
    # new data of the same form: same features, same length if 2D
    f = input_size(X)
    X_new = data.draw(sequences(form, data.draw(N_SAMPLES), features=f, dtype=dtype))
    if form == "2d":
        X_new = np.resize(X_new, (len(X_new), X.shape[1]))
    if est == "clf":
        y = data.draw(labels(n), label="y")
    else:
        k = data.draw(st.sampled_from([None, 1, 2]), label="n_outputs")
        shape = n if k is None else (n, k)
        y = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(-100, 100)))

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # non-finite outputs warn
        model = ESTIMATORS[est](**FAST).fit(X, y)
        for Z in (X, X_new):
            m = len(Z)
            pred = model.predict(Z)
            if est == "reg":
                assert pred.dtype == np.float64
                assert pred.shape == (m,) + y.shape[1:]
                assert np.isfinite(pred).all()
            else:
                assert pred.shape == (m,)
                assert pred.dtype == model.classes_.dtype
                assert np.isin(pred, model.classes_).all()
                proba = model.predict_proba(Z)
                assert proba.shape == (m, len(model.classes_))
                assert proba.dtype == np.float64
                assert np.isfinite(proba).all()
                assert ((proba >= 0) & (proba <= 1)).all()
                np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
                np.testing.assert_array_equal(
                    pred, model.classes_[proba.argmax(axis=1)]
                )
        assert np.isfinite(model.score(X, y))


# ------------------------------------------------------- networks too large
@pytest.mark.parametrize(
    ("params", "shape", "match"),
    [
        ({"hidden_size": 200_000}, (6, 3, 2), r"hidden_size \(now 200000\)"),
        ({"embedding_dim": 2**12}, (6, 3), "embedding_dim"),
        ({"head_units": (2**17, 2**17)}, (6, 3, 2), "head_units"),
        (
            {
                "hidden_size": 64,
                "num_layers": 8,
                "bidirectional": True,
                "patch_size": 1,
            },
            (1000, 1000, 1),
            r"batch_size \(a batch of 1000 sequences of 1000 steps",
        ),
    ],
    ids=["hidden_size", "embedding", "head", "activations"],
)
def test_a_network_that_cannot_fit_in_memory_is_refused_before_training(
    params, shape, match, monkeypatch
):
    """A MemoryError naming the size and what to lower, before anything is
    allocated (not the allocator's raw RuntimeError, minutes later)."""
    import sklstm._engine._build as build

    # the machine's memory, as the check sees it: 16 GiB here
    monkeypatch.setattr(build, "device_memory", lambda device: 16 * 2**30)
    X = np.ones(shape)
    if len(shape) == 2:  # token ids: a vocabulary of a million
        X[0, 0] = 10**6 - 1
    y = make_y("reg", shape[0])
    model = LSTMRegressor(**{**FAST, "batch_size": shape[0], **params})
    with pytest.raises(MemoryError, match=rf"needs about [\d.,]+ GiB.*{match}"):
        model.fit(X, y)
    assert not hasattr(model, "net_")


def test_the_memory_check_counts_the_convolutional_branch(monkeypatch):
    """The branch's unfolded windows grow with features x kernel width x raw
    steps: counted, and named when they are what does not fit."""
    import sklstm._engine._build as build

    monkeypatch.setattr(build, "device_memory", lambda device: 16 * 2**20)
    X, y = np.ones((8, 2000, 20)), make_y("reg", 8)
    model = LSTMRegressor(**{**FAST, "batch_size": 8}, conv_branch=True)
    with pytest.raises(MemoryError, match="conv_filters"):
        model.set_params(conv_stride=1).fit(X, y)
    # "auto" strides 2000 steps by 4: a quarter of the first block's windows,
    # which fit
    assert model.set_params(conv_stride="auto").fit(X, y).conv_stride_ == 4
    LSTMRegressor(**{**FAST, "batch_size": 8}, conv_branch=False).fit(X, y)


def test_the_memory_check_leaves_ordinary_networks_alone():
    import sklstm._engine._build as build
    from sklstm._engine._runtime import device_memory

    assert device_memory("cpu") is None or device_memory("cpu") > 2**28
    params, activations, parts = build.memory_estimate(
        LSTMRegressor(hidden_size=32, num_layers=2), 3, 1, batch=64, steps=100
    )
    lstm = 4 * 32 * (3 + 32 + 2) + 4 * 32 * (32 + 32 + 2)
    assert parts["lstm"] == lstm and params == 12 * sum(parts.values())
    assert activations == 4 * 64 * 100 * 2 * 32 * 6


def test_an_allocator_failure_while_building_is_a_clear_memory_error(monkeypatch):
    """Past the estimate (other processes hold the memory), the allocator's
    RuntimeError while building becomes a MemoryError saying what to lower."""
    from sklstm._engine._net import SequenceNet

    def fail(self):
        raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried ...")

    monkeypatch.setattr(SequenceNet, "initialize", fail)
    model = LSTMRegressor(**FAST)
    with pytest.raises(MemoryError, match="building the network.*hidden_size"):
        model.fit(np.ones((6, 3, 2)), make_y("reg", 6))
