"""Epoch-aware model selection: the epoch a fit kept, and a refit for the epochs
cross-validation chose."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import clone

# fitted attributes that lead from a meta-estimator to the one it wraps
# (a forecaster's or RFE's ``estimator_``, a target transformer's ``regressor_``)
_INNER = ("estimator_", "regressor_")


def _fitted_lstm(estimator):
    """The fitted sklstm estimator at the end of pipelines and wrappers."""
    current = estimator
    for _ in range(32):  # a chain of wrappers, never a cycle
        if hasattr(current, "best_epoch_"):
            return current
        if hasattr(current, "steps"):
            current = current.steps[-1][1]
            continue
        inner = next((getattr(current, a) for a in _INNER if hasattr(current, a)), None)
        if inner is None:
            break
        current = inner
    raise ValueError(
        "stopped_epoch needs a fitted LSTMClassifier or LSTMRegressor, alone or "
        "at the end of a Pipeline, WindowedForecaster or TransformedTargetRegressor; "
        f"got {type(estimator).__name__}, which holds none."
    )


def _epoch_prefix(estimator) -> str:
    """The parameter prefix of the one sklstm estimator inside ``estimator``
    (``""``, ``"lstmregressor__"``, ``"estimator__lstmregressor__"``, ...)."""
    keys = estimator.get_params(deep=True)
    prefixes = sorted(
        key[: -len("early_stopping")]
        for key in keys
        if key.endswith("early_stopping")
        and f"{key[: -len('early_stopping')]}max_epochs" in keys
    )
    if "early_stopping" in keys:
        prefixes = [""]
    if len(prefixes) != 1:
        found = ", ".join(repr(p) for p in prefixes) or "none"
        raise ValueError(
            "refit_with_cv_epochs needs exactly one sklstm estimator inside the "
            f"best candidate to set max_epochs on; found {found}."
        )
    return prefixes[0]


def stopped_epoch(estimator, X=None, y=None) -> float:
    """Scorer: the epoch whose weights a fitted sklstm estimator kept.

    Parameters
    ----------
    estimator : estimator
        A fitted LSTMClassifier or LSTMRegressor, or a Pipeline,
        WindowedForecaster or TransformedTargetRegressor around one (at any
        depth).
    X, y : ignored
        Present for the scorer signature ``scorer(estimator, X, y)``.

    Returns
    -------
    epoch : float
        ``best_epoch_`` of the sklstm estimator inside.

    Raises
    ------
    ValueError
        If ``estimator`` holds no fitted sklstm estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklstm import LSTMClassifier
    >>> from sklstm.model_selection import stopped_epoch
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 5, 2))
    >>> y = (X[:, :, 0].sum(axis=1) > 0).astype(int)
    >>> search = GridSearchCV(
    ...     LSTMClassifier(max_epochs=4, early_stopping=True, random_state=0),
    ...     {"hidden_size": [4, 8]},
    ...     scoring={"accuracy": "accuracy", "epochs": stopped_epoch},
    ...     refit="accuracy",
    ...     cv=2,
    ... ).fit(X, y)
    >>> search.cv_results_["mean_test_epochs"].shape
    (2,)
    """
    return float(_fitted_lstm(estimator).best_epoch_)


def refit_with_cv_epochs(
    search,
    X,
    y,
    *,
    scorer_name: str = "epochs",
    statistic: Callable = np.median,
    **fit_params,
):
    """Train the search's best candidate on all data for the CV-chosen epochs.

    Early stopping inside cross-validation picks an epoch per fold; this
    takes ``statistic`` (the median by default) of the best candidate's
    fold epochs, turns early stopping off and fits a clone on ``X, y``, so
    no data is held out from the final model.

    Parameters
    ----------
    search : fitted GridSearchCV, RandomizedSearchCV, BayesSearchCV, ...
        A search whose ``scoring`` dict included :func:`stopped_epoch` under
        ``scorer_name``.
    X, y : array-like
        All training data.
    scorer_name : str, default="epochs"
        Key of :func:`stopped_epoch` in the search's ``scoring``.
    statistic : callable, default=numpy.median
        Reduces the fold epochs to one number.
    **fit_params : dict
        Passed to ``fit`` (e.g. ``sample_weight``).

    Returns
    -------
    estimator : estimator
        The best candidate, refitted with ``max_epochs`` set to the chosen
        epoch count and ``early_stopping=False`` (on its sklstm estimator,
        also inside a pipeline or a forecaster).

    Raises
    ------
    ValueError
        If the search has no such scores, if a fold's epoch is missing (NaN:
        the fold's fit failed or did not record one), or if the candidate
        holds no single sklstm estimator.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.model_selection import refit_with_cv_epochs, stopped_epoch
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 5, 2))
    >>> y = X[:, :, 0].sum(axis=1)
    >>> search = GridSearchCV(
    ...     LSTMRegressor(max_epochs=5, early_stopping=True, random_state=0),
    ...     {"lr": [1e-3, 1e-2]},
    ...     scoring={"r2": "r2", "epochs": stopped_epoch},
    ...     refit="r2",
    ...     cv=2,
    ... ).fit(X, y)
    >>> final = refit_with_cv_epochs(search, X, y)
    >>> final.early_stopping, 1 <= final.max_epochs <= 5
    (False, True)
    """
    results = search.cv_results_
    best = search.best_index_
    keys = sorted(
        key
        for key in results
        if key.startswith("split") and key.endswith(f"_test_{scorer_name}")
    )
    if not keys:
        raise ValueError(
            f"The search has no '{scorer_name}' scores: add "
            f"scoring={{..., '{scorer_name}': sklstm.model_selection.stopped_epoch}}."
        )
    folds = np.array([results[key][best] for key in keys], dtype=float)
    if np.isnan(folds).any():
        missing = [k.split("_")[0] for k, e in zip(keys, folds, strict=True) if e != e]
        raise ValueError(
            f"The best candidate has no '{scorer_name}' score in "
            f"{', '.join(missing)} (NaN: the fit failed there, see the search's "
            "warnings and error_score, or the fold's estimator recorded no "
            "epoch), so no epoch count can be chosen from every fold."
        )
    epochs = max(1, int(round(float(statistic(folds)))))
    if hasattr(search, "best_estimator_"):
        estimator = clone(search.best_estimator_)
    else:  # refit=False: the candidate from its parameters
        estimator = clone(search.estimator).set_params(**search.best_params_)
    prefix = _epoch_prefix(estimator)
    estimator.set_params(
        **{f"{prefix}early_stopping": False, f"{prefix}max_epochs": epochs}
    )
    return estimator.fit(X, y, **fit_params)
