"""Epoch-aware model selection: the epoch a fit kept, and a refit for the epochs
cross-validation chose."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from sklearn.base import clone


def stopped_epoch(estimator, X=None, y=None) -> float:
    """Scorer: the epoch whose weights a fitted sklstm estimator kept.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor or Pipeline ending in one
        A fitted estimator.
    X, y : ignored
        Present for the scorer signature ``scorer(estimator, X, y)``.

    Returns
    -------
    epoch : float
        ``best_epoch_`` of the estimator (of the last pipeline step).

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
    final = estimator[-1] if hasattr(estimator, "steps") else estimator
    return float(final.best_epoch_)


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
        epoch count and ``early_stopping=False``.

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
    folds = [
        results[key][best]
        for key in results
        if key.startswith("split") and key.endswith(f"_test_{scorer_name}")
    ]
    if not folds:
        raise ValueError(
            f"The search has no '{scorer_name}' scores: add "
            f"scoring={{..., '{scorer_name}': sklstm.model_selection.stopped_epoch}}."
        )
    epochs = max(1, int(round(float(statistic(folds)))))
    estimator = clone(search.best_estimator_)
    prefix = ""
    if hasattr(estimator, "steps"):
        prefix = f"{estimator.steps[-1][0]}__"
    estimator.set_params(
        **{f"{prefix}early_stopping": False, f"{prefix}max_epochs": epochs}
    )
    return estimator.fit(X, y, **fit_params)
