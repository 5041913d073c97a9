"""The machinery of ``GroupedSearchCV``: train every fit first, then let
scikit-learn score them.

:func:`pretrain` trains all fits of a search (each candidate on each fold):
those that can be grouped in grouped networks, the others as ordinary fits
(in ``n_jobs`` processes). An ordinary scikit-learn search over a fixed
candidate list (:class:`ListSearch`) then runs on a :class:`Replay` wrapper
whose ``fit`` hands back the pretrained estimator of that candidate and
fold. Scoring, ``cv_results_``, ranking, multi-metric and ``refit`` are thus
scikit-learn's own code; ``refit`` trains an ordinary estimator (no fit of
the full data is pretrained).
"""

from __future__ import annotations

import time
import warnings
from collections import defaultdict
from dataclasses import dataclass, field

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if

import sklstm.model_selection._grouped._plan as _grouped_prepare
import sklstm.model_selection._grouped._train as _grouped_train
from sklstm._data import is_sequence_list
from sklstm._engine._runtime import resolve_device
from sklstm._sklearn_private import BaseSearchCV, _safe_indexing


def fit_key(estimator, X, y) -> str | None:
    """What identifies a fit: the estimator's parameters and its data."""
    try:
        return joblib.hash((estimator.get_params(deep=False), X, y))
    except Exception:  # noqa: BLE001 - an unhashable parameter: fit ordinarily
        return None


class Replay(BaseEstimator):
    """An sklstm estimator whose ``fit`` returns a pretrained result if any.

    ``store`` maps :func:`fit_key` to a fitted estimator, or to the
    exception its fit raised (raised again, so ``error_score`` applies);
    a fit not in it is done ordinarily. Prediction and scoring go to the
    fitted estimator ``fitted_``.
    """

    def __init__(self, estimator, store: dict) -> None:
        self.estimator = estimator
        self.store = store

    def __sklearn_clone__(self):
        return Replay(clone(self.estimator), self.store)  # the store is shared

    def __sklearn_tags__(self):
        return self.estimator.__sklearn_tags__()

    def set_params(self, **params):
        self.estimator.set_params(**params)
        return self

    def fit(self, X, y, **fit_params):
        result = self.store.get(fit_key(self.estimator, X, y))
        if result is None:
            result = clone(self.estimator).fit(X, y, **fit_params)
        elif isinstance(result, BaseException):
            raise result
        self.fitted_ = result
        return self

    def predict(self, X):
        return self.fitted_.predict(X)

    @available_if(lambda self: hasattr(self.estimator, "predict_proba"))
    def predict_proba(self, X):
        return self.fitted_.predict_proba(X)

    @available_if(lambda self: hasattr(self.estimator, "predict_log_proba"))
    def predict_log_proba(self, X):
        return self.fitted_.predict_log_proba(X)

    def score(self, X, y, sample_weight=None):
        return self.fitted_.score(X, y, sample_weight=sample_weight)

    @property
    def classes_(self):
        return self.fitted_.classes_


class ListSearch(BaseSearchCV):
    """A scikit-learn search over a fixed list of candidates."""

    _parameter_constraints: dict = {
        **BaseSearchCV._parameter_constraints,
        "candidates": [list],
    }

    def __init__(
        self,
        estimator,
        candidates: list,
        *,
        scoring=None,
        n_jobs=None,
        refit=True,
        cv=None,
        verbose=0,
        pre_dispatch="2*n_jobs",
        error_score=np.nan,
        return_train_score=False,
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
        self.candidates = candidates

    def _run_search(self, evaluate_candidates) -> None:
        evaluate_candidates(self.candidates)


def _fit_ordinarily(estimator, params: dict, X, y, train) -> tuple[object, float]:
    """One ordinary fit (in a worker): the fitted estimator or its error."""
    start = time.perf_counter()
    est = clone(estimator).set_params(**clone(params, safe=False))
    X_train, y_train = _safe_indexing(X, train), _safe_indexing(y, train)
    try:
        result = est.fit(X_train, y_train)
    except Exception as exc:  # noqa: BLE001 - the search turns it into error_score
        result = exc
    return result, time.perf_counter() - start


def search_reason(
    estimator, params: dict, X, *, grouping: str, fit_params: dict
) -> str | None:
    """Why a candidate is fitted ordinarily before looking at folds (or None)."""
    if grouping == "never":
        return "grouping='never'"
    if fit_params:
        return f"fit parameters ({', '.join(sorted(fit_params))})"
    if is_sequence_list(X):
        return "variable-length sequences"
    est = clone(estimator).set_params(**clone(params, safe=False))
    try:
        device = resolve_device(est.device)
    except ValueError as exc:
        return str(exc)
    if grouping == "auto" and not device.startswith("cuda"):
        return "device is the CPU (grouped training is slower there)"
    return _grouped_prepare.parameter_reason(est)


@dataclass
class _Pretraining:
    """A search's fits trained ahead: the search's data and what is kept."""

    estimator: object
    X: object
    y: object
    splits: list
    times: np.ndarray  # seconds per (candidate, split); NaN: not fitted here
    store: dict = field(default_factory=dict)
    groups: list = field(default_factory=list)
    timings: dict = field(default_factory=dict)

    def remember(self, params: dict, c: int, s: int, result, seconds: float) -> None:
        """Keep the result of candidate ``c`` on split ``s`` for ``Replay``.

        ``result`` is the fitted estimator or the exception its fit raised.
        A fit without a key (an unhashable parameter) is not kept: its
        replay fits it again, ordinarily.
        """
        train = self.splits[s][0]
        fitted = clone(self.estimator).set_params(**clone(params, safe=False))
        X_train = _safe_indexing(self.X, train)
        key = fit_key(fitted, X_train, _safe_indexing(self.y, train))
        if key is not None:
            self.store[key] = result
        self.times[c, s] = seconds


def pretrain(
    estimator,
    candidates: list,
    X,
    y,
    splits: list,
    reasons: list,
    *,
    max_group_size: int | None,
    cuda_graphs: bool,
    n_jobs,
    verbose: int,
) -> tuple[dict, np.ndarray, list, dict]:
    """Train every fit of the search; returns the store, fit times, groups and
    the seconds spent preparing, in groups and in ordinary fits.

    ``reasons`` (one per candidate, None when groupable) is updated with
    what made a fit of a candidate fall back to an ordinary fit.
    """
    start = time.perf_counter()
    times = np.full((len(candidates), len(splits)), np.nan)
    run = _Pretraining(estimator, X, y, splits, times)
    members, ordinary = _prepare_members(estimator, candidates, X, y, splits, reasons)
    by_key, inputs = _group_inputs(members, X, reasons)
    # a candidate with one fold falling back falls back on all its folds
    for m in members:
        if reasons[m.meta["candidate"]] is not None:
            c, s = m.meta["candidate"], m.meta["split"]
            ordinary.append((c, s, m.meta["params"], splits[s][0]))
    run.timings = {"prepare": time.perf_counter() - start, "grouped": 0.0}
    for key, same in by_key.items():
        same = [m for m in same if reasons[m.meta["candidate"]] is None]
        for chunk in _grouped_prepare.chunks(same, max_group_size=max_group_size):
            _train_chunk(
                run, chunk, inputs[key], cuda_graphs=cuda_graphs, verbose=verbose
            )
    tick = time.perf_counter()
    _train_ordinarily(run, ordinary, n_jobs=n_jobs)
    run.timings["ordinary"] = time.perf_counter() - tick
    if any(g["device"].startswith("cuda") for g in run.groups):
        torch.cuda.empty_cache()
    return run.store, run.times, run.groups, run.timings


def _prepare_members(
    estimator, candidates: list, X, y, splits: list, reasons: list
) -> tuple[list, list]:
    """The prepared fits of the groupable candidates, and the ordinary fits.

    Ordinary fits are ``(candidate, split, params, train)``. The first fit
    a candidate cannot prepare sets its reason; its later folds are then
    ordinary without trying.
    """
    members, ordinary = [], []
    for c, params in enumerate(candidates):
        for s, (train, _) in enumerate(splits):
            if reasons[c] is None:
                try:
                    member = _grouped_prepare.prepare(estimator, params, X, y, train)
                    member.meta.update(candidate=c, split=s, params=params)
                    members.append(member)
                    continue
                except _grouped_prepare.NotGroupable as exc:
                    reasons[c] = str(exc)
                except Exception as exc:  # noqa: BLE001 - the ordinary fit reports it
                    reasons[c] = f"{type(exc).__name__}: {exc}"
            ordinary.append((c, s, params, train))
    return members, ordinary


def _group_inputs(members: list, X, reasons: list) -> tuple[dict, dict]:
    """The members by group key, and each key's input, prepared once.

    A group reads its members' rows of the one input, so a member whose
    fold was prepared differently (fold-dependent input handling) cannot
    join it: its candidate falls back.
    """
    by_key = defaultdict(list)
    for m in members:
        by_key[_grouped_prepare.group_key(m)].append(m)
    inputs = {}
    for key, same in by_key.items():
        inputs[key] = same[0].estimator._check_X(X, reset=False).X
        for m in same:
            if not torch.equal(m.X, inputs[key][torch.as_tensor(m.train)]):
                reasons[m.meta["candidate"]] = "inputs prepared differently per fold"
            m.X = None  # the group reads the rows of inputs[key]
    return by_key, inputs


def _train_chunk(
    run: _Pretraining,
    chunk: list,
    X_all: torch.Tensor,
    *,
    cuda_graphs: bool,
    verbose: int,
) -> None:
    """Train one group on ``X_all`` (its key's input) and keep its results."""
    if verbose:
        print(f"[GroupedSearchCV] training {len(chunk)} models as one group")
    tick = time.perf_counter()
    info = _grouped_train.train_group(chunk, X_all, cuda_graphs=cuda_graphs)
    run.timings["grouped"] += time.perf_counter() - tick
    run.groups.append(
        {
            "n_models": len(chunk),
            "device": chunk[0].device,
            "seconds": sum(m.fit_time for m in chunk),
            **info,
        }
    )
    for m in chunk:
        meta = m.meta
        run.remember(
            meta["params"], meta["candidate"], meta["split"], m.result, m.fit_time
        )
        m.net, m.y = None, None  # free the group's copies


def _train_ordinarily(run: _Pretraining, ordinary: list, *, n_jobs) -> None:
    """Fit ``ordinary`` fits in ``n_jobs`` processes and keep their results."""
    if not ordinary:
        return
    X, y = run.X, run.y
    with joblib.Parallel(n_jobs=n_jobs) as parallel:
        done = parallel(
            joblib.delayed(_fit_ordinarily)(run.estimator, params, X, y, train)
            for _, _, params, train in ordinary
        )
    for (c, s, params, _), (result, seconds) in zip(ordinary, done, strict=True):
        run.remember(params, c, s, result, seconds)


def warn_fallbacks(reasons: list) -> None:
    """One warning naming why candidates were fitted ordinarily."""
    counts: dict = defaultdict(int)
    for reason in reasons:
        if reason is not None:
            counts[reason] += 1
    if counts:
        detail = "; ".join(f"{n} x {reason}" for reason, n in counts.items())
        warnings.warn(
            f"GroupedSearchCV fitted some candidates ordinarily: {detail}. "
            "See fallback_reasons_.",
            UserWarning,
            stacklevel=3,
        )
