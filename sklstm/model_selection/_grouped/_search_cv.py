"""GroupedSearchCV: a grid or randomized search whose small LSTMs train as one
grouped network."""

from __future__ import annotations

import time
from numbers import Integral

import joblib
import numpy as np
from sklearn.model_selection import ParameterGrid, ParameterSampler

from sklstm._base import _BaseLSTM
from sklstm._sklearn_private import BaseSearchCV, Interval, StrOptions
from sklstm.model_selection._grouped._backend import GroupingReport


class GroupedSearchCV(BaseSearchCV):
    """Grid or randomized search whose small LSTMs train together.

    A search fits many small models (20 candidates x 5 folds = 100 fits).
    On a GPU each of those fits is bound by kernel launches, not by
    arithmetic, so this search trains the fits that share an architecture
    as one grouped network: their weights are stacked along a model axis
    and every LSTM step is one batched matrix product for all of them,
    optionally captured in a CUDA graph. Each fit keeps its own initial
    weights, batches and batch order, learning rate, regularization and
    optimizer state, so a grouped fit equals the ordinary fit of the same
    candidate and fold up to float32 rounding (with ``dropout=0``).
    Candidates of different ``hidden_size`` (and ``head_units`` widths)
    share a group: smaller models are padded with units that stay exactly
    zero.

    This is scikit-learn's search run under the joblib backend
    ``"sklstm"``; any other search (halving, scikit-optimize's
    ``BayesSearchCV``, ``cross_validate``...) groups the same way inside
    ``with joblib.parallel_config(backend="sklstm"):``. On the CPU, with
    ``grouping="auto"``, only small models are grouped (where grouping
    measured faster); the others are fitted ordinarily, honouring
    ``n_jobs``. Candidates grouping cannot reproduce (callbacks,
    early stopping, optimizers other than Adam, AdamW and SGD, schedules
    that follow the loss, ...) are fitted ordinarily; ``fallback_reasons_``
    says why. Scoring, ``cv_results_``, ranking and refitting are
    scikit-learn's own; ``refit`` trains an ordinary estimator on all data.

    Parameters
    ----------
    estimator : LSTMRegressor or LSTMClassifier
        The estimator to tune.
    param_grid : dict or list of dicts, default=None
        Grid of parameters, as in :class:`~sklearn.model_selection.GridSearchCV`.
        Give exactly one of ``param_grid`` and ``param_distributions``.
    param_distributions : dict or list of dicts, default=None
        Distributions or lists to sample ``n_iter`` candidates from, as in
        :class:`~sklearn.model_selection.RandomizedSearchCV`.
    n_iter : int, default=10
        Number of sampled candidates (with ``param_distributions``).
    random_state : int, RandomState instance or None, default=None
        Seed of the candidate sampling (with ``param_distributions``).
    scoring : str, callable, list, tuple or dict, default=None
        Strategy to evaluate the cross-validated models, as in scikit-learn.
    n_jobs : int, default=None
        Processes for the ordinary fits (all of them when nothing is grouped).
    refit : bool, str or callable, default=True
        Refit an ordinary estimator with the best parameters on all data.
    cv : int, cross-validation generator or iterable, default=None
        Cross-validation splitting strategy (5-fold when None).
    verbose : int, default=0
        Verbosity.
    pre_dispatch : int or str, default="2*n_jobs"
        Jobs dispatched during parallel execution of ordinary fits.
    error_score : "raise" or float, default=np.nan
        Score of a fit that fails (a diverged training, say).
    return_train_score : bool, default=False
        Whether to compute scores on the training rows too.
    grouping : {"auto", "always", "never"}, default="auto"
        ``"auto"``: group on a CUDA device, and on the CPU only models small
        enough that grouping measured faster there (see
        :class:`~sklstm.model_selection.GroupingBackend`); the others are
        fitted ordinarily (in ``n_jobs`` processes). ``"always"``: group
        on any device. ``"never"``: an ordinary search.
    max_group_size : int, default=None
        Largest number of models in one group. Groups are also split to
        fit memory: about half of the free GPU memory (2 GiB on the CPU),
        estimated from the batch, sequence length, hidden size and weights.
    cuda_graphs : bool, default=True
        Capture a group's training step in a CUDA graph (on CUDA devices;
        training falls back to eager steps if capture fails).

    Attributes
    ----------
    cv_results_ : dict of numpy (masked) ndarrays
        Scikit-learn's results table. ``mean_fit_time`` of a grouped fit is
        its share of its group's training time.
    best_estimator_ : LSTMRegressor or LSTMClassifier
        Ordinary estimator refitted on all data (when ``refit``).
    best_score_ : float
        Mean cross-validated score of the best candidate.
    best_params_ : dict
        Parameters of the best candidate.
    best_index_ : int
        Index of the best candidate in ``cv_results_``.
    scorer_ : callable or dict
        Scorer(s) used.
    n_splits_ : int
        Number of cross-validation splits.
    refit_time_ : float
        Seconds to refit the best estimator.
    multimetric_ : bool
        Whether several metrics were evaluated.
    fallback_reasons_ : list of str or None
        Per candidate (in ``cv_results_`` order): None when its fits were
        grouped, else why they were fitted ordinarily.
    groups_ : list of dict
        One entry per trained group: ``n_models``, ``device``,
        ``hidden_sizes`` (its members' own), ``seconds`` and
        ``cuda_graph`` (whether its step ran as a CUDA graph).
    timings_ : dict of float
        Where the time went, in seconds: ``"prepare"`` (checking and
        initializing the fits before grouping them), ``"grouped"``
        (training the groups), ``"calls"`` (every fit-and-score call,
        groups and ordinary fits included) and ``"search"`` (the whole
        ``fit``, with the refit).

    Notes
    -----
    Inside a group dropout draws from the group's generator, so with
    ``dropout > 0`` (or ``lstm_dropout``) a grouped fit is a valid fit but
    not the bitwise twin of the ordinary one. The models of a group share
    the architecture, ``batch_size``, ``max_epochs``, optimizer class,
    loss, device and input shape; ``lr``, ``weight_decay``, ``l1``,
    ``momentum``, ``dropout``, ``lstm_dropout``, ``gradient_clip``,
    ``gradient_clip_value``, ``random_state`` and the fold may differ.
    Fits of different folds with fewer batches are padded with
    rows of weight 0, and their model is not updated on those steps.

    See Also
    --------
    sklearn.model_selection.GridSearchCV : The ordinary grid search.
    sklearn.model_selection.RandomizedSearchCV : The ordinary randomized search.

    Examples
    --------
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> from sklstm.model_selection import GroupedSearchCV
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(60, 5, 1))
    >>> y = X[:, :, 0].sum(axis=1)
    >>> search = GroupedSearchCV(
    ...     LSTMRegressor(hidden_size=4, max_epochs=2, random_state=0),
    ...     {"lr": [1e-3, 1e-2]},
    ...     cv=2,
    ...     grouping="always",
    ... ).fit(X, y)
    >>> search.fallback_reasons_
    [None, None]
    >>> sorted(search.best_params_)
    ['lr']
    """

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "param_grid": [dict, list, None],
        "param_distributions": [dict, list, None],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
        "grouping": [StrOptions({"auto", "always", "never"})],
        "max_group_size": [Interval(Integral, 1, None, closed="left"), None],
        "cuda_graphs": ["boolean"],
    }

    def __init__(
        self,
        estimator,
        param_grid=None,
        *,
        param_distributions=None,
        n_iter: int = 10,
        random_state=None,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose: int = 0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score: bool = False,
        grouping: str = "auto",
        max_group_size: int | None = None,
        cuda_graphs: bool = True,
    ) -> None:
        super().__init__(
            estimator=estimator,
            scoring=scoring,
            n_jobs=n_jobs,
            refit=refit,
            cv=cv,
            verbose=verbose,
            pre_dispatch=pre_dispatch,
            error_score=error_score,
            return_train_score=return_train_score,
        )
        self.param_grid = param_grid
        self.param_distributions = param_distributions
        self.n_iter = n_iter
        self.random_state = random_state
        self.grouping = grouping
        self.max_group_size = max_group_size
        self.cuda_graphs = cuda_graphs

    def _candidates(self) -> list[dict]:
        if (self.param_grid is None) == (self.param_distributions is None):
            raise ValueError(
                "Give exactly one of param_grid (a grid search) and "
                "param_distributions (a randomized search)."
            )
        if self.param_grid is not None:
            return list(ParameterGrid(self.param_grid))
        sampler = ParameterSampler(
            self.param_distributions, self.n_iter, random_state=self.random_state
        )
        return list(sampler)

    def _run_search(self, evaluate_candidates) -> None:
        candidates = self._candidates()
        if not candidates:
            raise ValueError("No candidates to search: the parameter grid is empty.")
        evaluate_candidates(candidates)

    def fit(self, X, y=None, **params):
        """Fit every candidate on every fold, score them, refit the best.

        scikit-learn's own search runs under the ``"sklstm"`` joblib backend
        (:class:`~sklstm.model_selection.GroupingBackend`), which trains the
        fits it can as groups.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_timesteps, n_features)
            Training sequences (a list of variable-length sequences is
            searched ordinarily).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Targets.
        **params : dict
            ``groups`` for the splitter; any other fit parameter (e.g.
            ``sample_weight``) goes to ``fit`` and makes every fit ordinary.

        Returns
        -------
        self : GroupedSearchCV
            The fitted search.
        """
        self._check_estimator()
        report = GroupingReport()
        tick = time.perf_counter()
        if self.grouping == "never":
            super().fit(X, y, **params)
        else:
            with joblib.parallel_config(
                backend="sklstm",
                grouping=self.grouping,
                max_group_size=self.max_group_size,
                cuda_graphs=self.cuda_graphs,
                report=report,
                verbose=self.verbose,
            ):
                super().fit(X, y, **params)
        self.groups_ = report.groups
        self.timings_ = {**report.timings, "search": time.perf_counter() - tick}
        reasons: list = [None] * len(self.cv_results_["params"])
        for fallback in report.fallbacks:
            c = fallback["candidate"]
            if c is not None and reasons[c] is None:
                reasons[c] = fallback["reason"]
        if self.grouping == "never":
            reasons = ["grouping='never'"] * len(reasons)
        self.fallback_reasons_ = reasons
        return self

    def _check_estimator(self) -> None:
        if not isinstance(self.estimator, _BaseLSTM):
            raise ValueError(
                "GroupedSearchCV tunes an sklstm LSTMRegressor or LSTMClassifier, "
                f"got {type(self.estimator).__name__}; use scikit-learn's "
                "GridSearchCV or RandomizedSearchCV for other estimators."
            )


__all__ = ["GroupedSearchCV"]
