"""A restored WindowedForecaster's fitted state: migrated from older files and
checked before use.

:func:`migrate` turns the state of a file written by sklstm 0.2 (the last
rows of each series, transformed, and a hash of the fitted data) into
today's (every fitted row and its time step). :func:`check_loaded_state`
refuses a state whose types, ranges or shapes do not fit together, naming
the first problem, and bounds every size before anything is allocated from
it.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np

from sklstm.forecasting._timeline import MAX_CELLS, MAX_STEPS


def migrate(state: dict) -> dict:
    """Today's state from a sklstm 0.2 one (unchanged when already today's)."""
    state = dict(state)
    state.setdefault("missing", "raise")
    tails = state.get("_tails")
    if "_fit_rows" in state or not isinstance(tails, list):
        return state
    # 0.2 kept each series' last rows with the target's columns transformed
    columns = [c for c in state.get("target_columns_", []) if c is not None]
    rows = []
    for tail in tails:
        tail = np.array(tail, dtype=np.float64)
        if columns and tail.ndim == 2 and max(columns) < tail.shape[1]:
            if state.get("target_transform") == "log":
                tail[:, columns] = np.exp(tail[:, columns])
            elif state.get("target_transform") == "sqrt":
                tail[:, columns] = np.square(np.maximum(tail[:, columns], 0.0))
        rows.append(tail)
    state["_fit_rows"] = rows
    state["_fit_steps"] = [np.arange(len(r), dtype=np.int64) for r in rows]
    state["_time_index"], state["_freq"] = None, None
    state["_anchors"] = [None] * len(rows)
    del state["_tails"]
    return state


def _int(value, name: str, low: int = 1, high: int = MAX_STEPS) -> int:
    if not isinstance(value, Integral) or isinstance(value, bool):
        raise ValueError(f"{name} must be an integer, not {type(value).__name__}.")
    if not low <= value <= high:
        raise ValueError(f"{name}={value} is outside [{low}, {high}].")
    return int(value)


def check_loaded_state(model) -> None:
    """Raise ``ValueError`` naming the first inconsistency of a fitted state.

    Parameters
    ----------
    model : WindowedForecaster
        A forecaster restored from a file.
    """
    rows = _check_rows(model)
    longest = max(len(r) for r in rows)
    _check_params(model, longest)
    _check_sizes(model)
    if model._need() > longest:
        raise ValueError(
            f"lookback={model.lookback}, horizon={model.horizon} and "
            f"differences={model.differences} need {model._need()} rows of "
            f"history, but the longest fitted series has {longest}."
        )
    _check_inner(model)
    _check_scores(model)


def _check_params(model, longest: int) -> None:
    _int(model.lookback, "lookback", high=longest)
    _int(model.horizon, "horizon", high=longest)
    _int(model.step, "step")
    lags = model.differences
    if lags is None:
        lags = ()
    elif isinstance(lags, Integral):
        lags = (lags,)
    if not isinstance(lags, (tuple, list)) or len(lags) > 64:
        raise ValueError(f"differences={model.differences!r} is not a valid lag set.")
    lags = tuple(_int(d, "a lag of differences", high=longest) for d in lags)
    if sum(lags) > longest or tuple(model._lags) != lags:
        raise ValueError(
            f"differences={model.differences!r} does not match the fitted lags "
            f"{model._lags!r} or exceeds the {longest} fitted rows."
        )
    if model.target_transform not in (None, "log", "sqrt"):
        raise ValueError(f"target_transform={model.target_transform!r} is unknown.")
    if model.missing not in ("raise", "interpolate"):
        raise ValueError(f"missing={model.missing!r} is unknown.")
    if not isinstance(model.future_covariates, (bool, np.bool_)):
        raise ValueError("future_covariates must be a bool.")
    size = model.calibration_size
    if size is not None and not (isinstance(size, Real) and 0 < size < 1):
        raise ValueError(f"calibration_size={size!r} is outside (0, 1).")


def _check_sizes(model) -> None:
    n_features = _int(model.n_features_in_, "n_features_in_", high=MAX_CELLS)
    n_targets = _int(model.n_targets_, "n_targets_", high=MAX_CELLS)
    _int(model.n_windows_, "n_windows_", high=MAX_CELLS)
    if not isinstance(model._y_1d, (bool, np.bool_)) or (
        model._y_1d and n_targets != 1
    ):
        raise ValueError("_y_1d must be a bool, true only for one target.")
    columns = model.target_columns_
    if not isinstance(columns, list) or len(columns) != n_targets:
        raise ValueError(f"target_columns_ must be a list of {n_targets} entries.")
    for c in columns:
        if c is None:
            if model._lags:
                raise ValueError("differences needs every target to be a column.")
            continue
        _int(c, "a target column", low=0, high=n_features - 1)
    names = getattr(model, "feature_names_in_", None)
    if names is not None and (
        not isinstance(names, np.ndarray)
        or names.shape != (n_features,)
        or not all(isinstance(n, str) for n in names)
    ):
        raise ValueError(
            f"feature_names_in_ must be an array of {n_features} column names."
        )


def _check_rows(model) -> list[np.ndarray]:
    rows, steps = getattr(model, "_fit_rows", None), getattr(model, "_fit_steps", None)
    if not isinstance(rows, list) or not isinstance(steps, list) or not rows:
        raise ValueError("The fitted rows (_fit_rows, _fit_steps) are missing.")
    if len(steps) != len(rows) or len(model._anchors) != len(rows):
        raise ValueError("_fit_rows, _fit_steps and _anchors differ in length.")
    cells = 0
    for r, s in zip(rows, steps, strict=True):
        if not (isinstance(r, np.ndarray) and r.dtype == np.float64 and r.ndim == 2):
            raise ValueError("Each fitted series must be a 2D float64 array.")
        if r.shape[1] != model.n_features_in_ or len(r) < 1:
            raise ValueError(
                f"A fitted series has shape {r.shape}; expected (n, "
                f"{model.n_features_in_})."
            )
        cells += r.size
        if not (
            isinstance(s, np.ndarray) and s.dtype == np.int64 and s.shape == r.shape[:1]
        ):
            raise ValueError("Each series' steps must be int64, one per row.")
        if (np.diff(s) <= 0).any() or int(s[-1]) - int(s[0]) >= MAX_STEPS:
            raise ValueError(
                f"A fitted series' steps must increase and span at most {MAX_STEPS}."
            )
        if np.isinf(r).any() or (model.missing == "raise" and np.isnan(r).any()):
            raise ValueError("The fitted rows hold infinite or missing values.")
    if cells > MAX_CELLS:
        raise ValueError(f"The fitted rows hold {cells} values; at most {MAX_CELLS}.")
    _check_axis(model, len(rows))
    return rows


def _check_axis(model, n_series: int) -> None:
    kind, freq = model._time_index, model._freq
    if kind not in (None, "integer", "period", "datetime"):
        raise ValueError(f"_time_index={kind!r} is unknown.")
    if (kind in ("period", "datetime")) != isinstance(freq, str):
        raise ValueError(f"_freq={freq!r} does not fit _time_index={kind!r}.")
    anchors = model._anchors
    if any((a is not None) != (kind == "datetime") for a in anchors):
        raise ValueError("_anchors must be timestamps exactly for a datetime index.")
    if kind == "datetime":
        import pandas as pd

        try:
            pd.tseries.frequencies.to_offset(freq)
            [pd.Timestamp(a) for a in anchors]
        except (ValueError, TypeError) as exc:
            raise ValueError(f"The fitted time axis does not parse: {exc}") from None
    seen = getattr(model, "_seen", None)
    if seen is not None and (
        not isinstance(seen, list)
        or len(seen) != n_series
        or not all(isinstance(h, str) for h in seen)
    ):
        raise ValueError("_seen must be one fingerprint per fitted series.")


def _check_scores(model) -> None:
    scores = model.conformal_scores_
    if scores is None:
        return
    expected = (model.horizon, model.n_targets_)
    if (
        not isinstance(scores, np.ndarray)
        or scores.ndim != 3
        or scores.shape[1:] != expected
        or not 1 <= len(scores) <= model.n_windows_
    ):
        raise ValueError(
            f"conformal_scores_ must have shape (n, {expected[0]}, {expected[1]}) "
            f"with 1 <= n <= n_windows_={model.n_windows_}."
        )
    if not np.isfinite(scores).all() or (scores < 0).any():
        raise ValueError("conformal_scores_ must be finite and non-negative.")


def _check_inner(model) -> None:
    inner = getattr(model, "estimator_", None)
    if not hasattr(inner, "predict"):
        raise ValueError("estimator_ is not a fitted regressor.")
    width = getattr(inner, "n_features_in_", None)
    if width is not None and width != model.n_features_in_:
        raise ValueError(
            f"estimator_ expects {width} features per step; the forecaster has "
            f"{model.n_features_in_} columns."
        )
    final = inner
    while True:  # through pipelines and target transformers
        if hasattr(final, "steps"):
            final = final.steps[-1][1]
        elif hasattr(final, "regressor_"):
            final = final.regressor_
        else:
            break
    outputs = getattr(final, "n_outputs_", None)
    if outputs is not None and outputs != model.horizon * model.n_targets_:
        raise ValueError(
            f"estimator_ has {outputs} outputs; horizon={model.horizon} and "
            f"{model.n_targets_} targets need {model.horizon * model.n_targets_}."
        )
    if final is inner and getattr(final, "input_size_", None) not in (
        None,
        model.n_features_in_,
    ):
        raise ValueError(
            f"estimator_ reads {final.input_size_} features per step; the "
            f"forecaster has {model.n_features_in_} columns."
        )
    steps = getattr(final, "n_timesteps_in_", None)
    if final is inner and steps is not None and steps != model.lookback:
        raise ValueError(
            f"estimator_ was fitted on windows of {steps} steps, not "
            f"lookback={model.lookback}."
        )
