"""Ready hyperparameter search spaces for the LSTM estimators, scaled by data size."""

from __future__ import annotations

import math
from collections.abc import Iterable
from numbers import Integral
from typing import Any

from scipy.stats import loguniform, randint, uniform
from sklearn.base import BaseEstimator

from sklstm._engine._build import CONV_AUTO_MIN_STEPS
from sklstm._engine._patching import AUTO_LONGEST, AUTO_PATCHES

DIMENSIONS = (
    "hidden_size",
    "num_layers",
    "dropout",
    "weight_decay",
    "lr",
    "batch_size",
    "max_epochs",
)
# searched only for long sequences: patch_size above AUTO_LONGEST steps,
# conv_branch from CONV_AUTO_MIN_STEPS; series_norm and asinh_view only when
# included (their "auto" reads the data, which a space does not see),
# lstm_dropout only when
# included (it matters with the branch, which a space may leave to "auto"),
# random_crop only when included (its "auto" reads whether lengths differ)
OPTIONAL_DIMENSIONS = (
    "patch_size",
    "conv_branch",
    "series_norm",
    "asinh_view",
    "lstm_dropout",
    "random_crop",
)
_SWITCHES = ("conv_branch", "series_norm", "asinh_view")  # False or True
_KINDS = ("grid", "random", "bayes")
_STEPS_PER_SEARCH = 3_000  # optimizer steps a candidate gets at a typical batch size
_LONG_SEQUENCE = 200  # time steps from which the learning rate is kept lower


def search_space(
    kind: str = "random",
    *,
    n_samples: int,
    n_timesteps: int | None = None,
    estimator: str | BaseEstimator = "classifier",
    include: Iterable[str] | None = None,
    prefix: str = "",
) -> dict[str, Any]:
    """Search space for an LSTM estimator, with ranges scaled by the data size.

    Seven dimensions: ``hidden_size``, ``num_layers``, ``dropout``,
    ``weight_decay``, ``lr``, ``batch_size`` and ``max_epochs``. The result is
    a plain dict: change, add or delete entries before handing it to the
    searcher (``space.update(max_epochs=[5])``).

    Parameters
    ----------
    kind : {"grid", "random", "bayes"}, default="random"
        The searcher the space is for:

        - ``"grid"``: lists of a few values each, for
          :class:`~sklearn.model_selection.GridSearchCV`. The full grid has
          96 candidates; pick a few dimensions with ``include``.
        - ``"random"``: scipy.stats distributions (``loguniform``,
          ``uniform``, ``randint``) and, for the doubling ladders of
          ``hidden_size`` and ``batch_size``, lists of powers of two, for
          :class:`~sklearn.model_selection.RandomizedSearchCV`.
        - ``"bayes"``: scikit-optimize ``Integer``, ``Real`` dimensions for
          :class:`skopt.BayesSearchCV`.

    n_samples : int
        Number of training sequences. The ranges are coarse, so the whole
        data set's size is fine (each cross-validation fold trains on a
        little less).

    n_timesteps : int or None, default=None
        Typical sequence length. From 200 steps on, the learning rate's upper
        bound is lowered; above 100 steps ``patch_size`` joins the space
        (patches of consecutive steps, around the ``"auto"`` size: the
        length / 32, from half of it to twice it, on a log scale); from 64
        steps ``conv_branch`` (False or True) joins it. ``None`` assumes
        short sequences.

    estimator : {"classifier", "regressor"} or estimator, default="classifier"
        What the names are checked against: :class:`~sklstm.LSTMClassifier`,
        :class:`~sklstm.LSTMRegressor`, or this estimator's ``get_params()``
        (for instance a pipeline, together with ``prefix``). Both estimators
        get the same ranges.

    include : iterable of str or None, default=None
        Dimensions to return, by unprefixed name; ``None`` returns all seven,
        with ``conv_branch`` and ``patch_size`` for long sequences.
        ``"series_norm"`` (False or True) is returned only when named here:
        its ``"auto"`` default decides from the training series, which the
        space does not see; search it for a classifier when the series'
        levels and spreads differ; ``"asinh_view"`` likewise, when their
        sizes span decades. ``"lstm_dropout"`` is returned only when
        named here too: it regularizes the LSTM's summary beside the
        convolutional branch, so search it with the branch on; so is
        ``"random_crop"``, for a classifier of whole series.

    prefix : str, default=""
        Put in front of every name, to reach the LSTM inside a pipeline or
        other meta-estimator, e.g. ``"lstmclassifier__"``.

    Returns
    -------
    space : dict
        Parameter name (with ``prefix``) to a list of values, a distribution
        or a scikit-optimize dimension, depending on ``kind``.

    Raises
    ------
    ValueError
        If ``kind`` or ``estimator`` is unknown, ``n_samples`` or
        ``n_timesteps`` is not a positive integer, ``include`` names an
        unknown dimension or none at all, or a prefixed name is not a
        parameter of ``estimator``.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : Exhaustive search over a grid.
    sklearn.model_selection.RandomizedSearchCV : Search over sampled values.
    skopt.BayesSearchCV : Search guided by a surrogate model.

    Notes
    -----
    With ``n`` the number of samples, the ranges are:

    ``hidden_size``, from ``max(4, H // 16)`` to ``H``, where ``H`` is
        ``2 * sqrt(n)`` rounded to a power of two, within [16, 512]. More
        data supports more units, but a model's parameters grow with the
        square of ``hidden_size``, so the bound grows like ``sqrt(n)``; the
        cap keeps one candidate affordable on a CPU. The scale is
        logarithmic: 8 and 16 units differ as much as 128 and 256 do, and
        not as little as 128 and 136.

    ``batch_size``, from ``max(8, B // 8)`` to ``B``, where ``B`` is the
        largest power of two that leaves about 20 optimizer steps per epoch
        (``n / 20``), within [16, 1024]. Larger data affords larger batches
        (faster epochs, smoother gradients) while still taking enough steps;
        below 8 rows a batch is mostly noise. Searched on a log scale, like
        ``hidden_size``.

    ``max_epochs``, enough epochs for about 3,000 optimizer steps at the
        geometric middle of the batch sizes, within [10, 200], down to a
        quarter of that (at least 5). Large data takes many steps per epoch,
        so it needs fewer epochs. Searched on a linear scale.

    ``num_layers``, 1 or 2 (up to 3 from 10,000 samples). Stacking rarely
        pays on small data and doubles the cost.

    ``dropout``, uniform on [0, 0.5]. sklstm drops units before the head
        whenever ``dropout > 0``, and between stacked LSTM layers only when
        ``num_layers > 1``; so with one layer it is a light regularizer of the
        sequence summary, and stronger when stacked. The rate acts roughly
        linearly, and 0 (no dropout, often the best) must stay reachable,
        which a log scale cannot do.

    ``lstm_dropout`` (only when included), uniform on [0, 0.8]
        (``[0, 0.5]`` in the grid): dropout on the LSTM's output alone, up
        to the 0.8 of LSTM-FCN (Karim et al. 2018). Linear, for the reasons
        of ``dropout``.

    ``random_crop`` (only when included), uniform on [0.5, 1]
        (``[0.75, 1.0]`` in the grid): the share of each training series a
        random window keeps; 1 (no crop) stays reachable.

    ``weight_decay``, log-uniform on [1e-6, 1e-2] (``[0, 1e-4]`` in the
        grid). A penalty acts by its order of magnitude, so a log scale
        spends as many candidates on 1e-5 as on 1e-3; values near 1e-6 are
        as good as no decay.

    ``lr``, log-uniform on [1e-4, 3e-2] (Adam's useful range; upper bound
        1e-2 for sequences of 200 steps or more, where gradients
        back-propagated through many steps grow large). The learning rate
        acts by its order of magnitude, hence the log scale.

    Examples
    --------
    >>> from sklstm.search_spaces import search_space
    >>> grid = search_space("grid", n_samples=1000)
    >>> grid["hidden_size"], grid["batch_size"]
    ([4, 16, 64], [8, 32])
    >>> search_space("grid", n_samples=100_000)["hidden_size"]
    [32, 128, 512]
    >>> sorted(search_space("bayes", n_samples=1000, include=["lr", "dropout"]))
    ['dropout', 'lr']

    In a pipeline, with the number of epochs fixed:

    >>> import numpy as np
    >>> from sklearn.model_selection import RandomizedSearchCV
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.preprocessing import SequenceScaler
    >>> X = np.random.RandomState(0).normal(size=(40, 5, 2))
    >>> y = X[:, :, 0].mean(axis=1)
    >>> pipe = make_pipeline(SequenceScaler(), LSTMRegressor(max_epochs=2))
    >>> space = search_space(
    ...     "random",
    ...     n_samples=len(X),
    ...     estimator=pipe,
    ...     include=["lr", "dropout", "weight_decay"],
    ...     prefix="lstmregressor__",
    ... )
    >>> search = RandomizedSearchCV(pipe, space, n_iter=2, cv=2, random_state=0)
    >>> sorted(search.fit(X, y).best_params_)
    ['lstmregressor__dropout', 'lstmregressor__lr', 'lstmregressor__weight_decay']
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}.")
    n = _check_count(n_samples, "n_samples")
    steps = None if n_timesteps is None else _check_count(n_timesteps, "n_timesteps")
    names = _check_include(include)
    patchable = steps is not None and steps > AUTO_LONGEST
    if include is None and patchable:
        names.append("patch_size")
    if include is None and steps is not None and steps >= CONV_AUTO_MIN_STEPS:
        names.append("conv_branch")
    if "patch_size" in names and not patchable:
        raise ValueError(
            f"patch_size is searched for long sequences: give n_timesteps above "
            f"{AUTO_LONGEST} (got {n_timesteps})."
        )
    ranges = _ranges(n, steps)
    build = {"grid": _grid, "random": _random, "bayes": _bayes}[kind]
    space = {prefix + name: build(name, ranges[name]) for name in names}
    _check_names(space, estimator)
    return space


def _check_count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}.")
    return int(value)


def _check_include(include: Iterable[str] | None) -> list[str]:
    if include is None:
        return list(DIMENSIONS)
    names = [include] if isinstance(include, str) else list(include)
    known = DIMENSIONS + OPTIONAL_DIMENSIONS
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(
            f"include names unknown dimensions {unknown}; choose from {known} "
            "(unprefixed)."
        )
    if not names:
        raise ValueError(f"include names no dimension; choose from {DIMENSIONS}.")
    return [name for name in known if name in names]


def _check_names(space: dict[str, Any], estimator: str | BaseEstimator) -> None:
    if isinstance(estimator, str):
        from sklstm._classifier import LSTMClassifier
        from sklstm._regressor import LSTMRegressor

        classes = {"classifier": LSTMClassifier, "regressor": LSTMRegressor}
        if estimator not in classes:
            raise ValueError(
                "estimator must be 'classifier', 'regressor' or an estimator "
                f"instance, got {estimator!r}."
            )
        params = classes[estimator]().get_params()
        unknown = [key for key in space if key.split("__")[-1] not in params]
    elif hasattr(estimator, "get_params"):
        params = estimator.get_params(deep=True)
        unknown = [key for key in space if key not in params]
    else:
        raise ValueError(
            "estimator must be 'classifier', 'regressor' or an estimator "
            f"instance, got {estimator!r}."
        )
    if unknown:
        raise ValueError(
            f"{unknown} are not parameters of the estimator; inside a pipeline, "
            "set prefix to the LSTM step's name and '__' (e.g. 'lstmclassifier__')."
        )


def _pow2(x: float, how: str = "round") -> int:
    exponent = math.log2(max(x, 1.0))
    return 2 ** int(math.floor(exponent) if how == "floor" else round(exponent))


def _clip(x: int, low: int, high: int) -> int:
    return max(low, min(high, x))


def _ranges(n: int, n_timesteps: int | None) -> dict[str, tuple]:
    """Bounds (low, high) of every dimension; a third item marks a log scale."""
    hidden = _clip(_pow2(2 * math.sqrt(n)), 16, 512)
    batch = _clip(_pow2(n / 20, "floor"), 16, 1024)
    batch_low = max(8, batch // 8)
    steps_per_epoch = math.ceil(n / math.sqrt(batch_low * batch))
    epochs = _clip(math.ceil(_STEPS_PER_SEARCH / steps_per_epoch), 10, 200)
    long = n_timesteps is not None and n_timesteps >= _LONG_SEQUENCE
    patch = -(-n_timesteps // AUTO_PATCHES) if n_timesteps else 1
    return {
        "conv_branch": (False, True),
        "series_norm": (False, True),
        "asinh_view": (False, True),
        "patch_size": (max(2, patch // 2), max(4, 2 * patch), "log"),
        "hidden_size": (max(4, hidden // 16), hidden, "log"),
        "num_layers": (1, 3 if n >= 10_000 else 2),
        "dropout": (0.0, 0.5),
        "lstm_dropout": (0.0, 0.8),  # LSTM-FCN used 0.8
        "random_crop": (0.5, 1.0),
        "weight_decay": (1e-6, 1e-2, "log"),
        "lr": (1e-4, 1e-2 if long else 3e-2, "log"),
        "batch_size": (batch_low, batch, "log"),
        "max_epochs": (max(5, epochs // 4), epochs),
    }


def _ladder(low: int, high: int) -> list[int]:
    """Powers of two from ``low`` to ``high``: a log-uniform grid of integers."""
    values = [low]
    while values[-1] * 2 <= high:
        values.append(values[-1] * 2)
    return values


def _grid(name: str, bounds: tuple) -> list:
    low, high = bounds[:2]
    if name in _SWITCHES:
        return [False, True]
    if name == "hidden_size":
        ladder = _ladder(low, high)
        return [ladder[0], ladder[len(ladder) // 2], ladder[-1]]
    if name == "batch_size":
        return [low, high]
    if name == "patch_size":
        return _ladder(low, high)
    fixed = {
        "num_layers": [1, 2],
        "dropout": [0.0, 0.3],
        "lstm_dropout": [0.0, 0.5],
        "random_crop": [0.75, 1.0],
        "weight_decay": [0.0, 1e-4],
        "lr": [1e-3, 1e-2],
        "max_epochs": [high],
    }
    return fixed[name]


def _random(name: str, bounds: tuple) -> Any:
    low, high = bounds[:2]
    if name in _SWITCHES:
        return [False, True]
    if name in ("hidden_size", "batch_size", "patch_size"):
        # scipy has no integer log-uniform; RandomizedSearchCV draws list items
        # uniformly, which over a doubling ladder is a log-uniform draw
        return _ladder(low, high)
    if len(bounds) == 3:
        return loguniform(low, high)
    if isinstance(low, int):
        return randint(low, high + 1)
    return uniform(low, high - low)


def _bayes(name: str, bounds: tuple) -> Any:
    from skopt.space import Categorical, Integer, Real

    low, high = bounds[:2]
    if name in _SWITCHES:
        return Categorical([False, True], name=name)
    prior = "log-uniform" if len(bounds) == 3 else "uniform"
    if isinstance(low, int):
        return Integer(low, high, prior=prior, name=name)
    return Real(low, high, prior=prior, name=name)


__all__ = ["DIMENSIONS", "OPTIONAL_DIMENSIONS", "search_space"]
