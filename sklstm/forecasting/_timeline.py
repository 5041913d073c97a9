"""Where each row of ``X`` sits in time: the placement rules of WindowedForecaster.

These are the rules, in one place (the user guide and the class docstring
repeat them):

1. **An index places rows.** When ``X`` is a pandas object whose index is a
   ``DatetimeIndex``, a ``PeriodIndex`` or an integer index (scikit-learn's
   splitters keep it on every fold), each row is the time step its index
   names. The forecast of row ``t`` reads the observed rows, fitted or given,
   at steps up to its forecast origin ``t - horizon``, and never a row after
   it. So the test rows of ``KFold``, of ``TimeSeriesSplit(gap=...)``,
   in-sample rows and new rows are all read where they are. A row given
   again at a fitted step must hold the fitted values (up to float32
   rounding); a repeated index value is refused. Time steps between the
   observed ones (a ``gap``, the rows of another fold, a missing date) are
   filled, as ``forecast`` fills the future, by the model's own forecasts
   from the rows before them, with the covariates carried forward; in ``fit``
   they split the series, and no training window crosses one. A
   ``DatetimeIndex`` needs a regular frequency: its own ``freq``, or one
   inferred from its timestamps.
2. **A plain array is placed by explicit rules.** It is in-sample when it
   equals the fitted data exactly (every value, whatever its dtype); it is
   the fitted data followed by new rows when its first rows equal the fitted
   data exactly; otherwise it continues the fitted data (its first row is the
   step after the last fitted one). What cannot be placed is refused: a copy
   of the fitted data equal only up to rounding (a float32 copy, a value
   changed by one ulp), or a run of the fitted rows (a subset): pass a pandas
   object with an index for those. A plain array cannot show a gap or rows
   that precede the fitted ones (``KFold``, ``TimeSeriesSplit(gap=...)``):
   use an index there. A model fitted on a plain array reads later ``X``
   by these rules, even when it has an index.
3. **No past.** A row whose origin precedes every observed row (the first
   ``horizon`` rows of a series) is forecast from a window that repeats the
   series' first row.
4. **Missing values.** ``missing="raise"`` refuses NaN with a message that
   says how to fill them; ``missing="interpolate"`` fills them in ``fit`` by
   linear interpolation in time (the index, or the row order) and, when
   forecasting, carries the last observed value of the column forward, so
   that no forecast reads a value after its origin.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.utils.validation import check_array

# a timeline is at most this many steps, and holds at most this many values
# (512 MiB of float64): refused before anything is allocated
MAX_STEPS = 2**24
MAX_CELLS = 2**26
# float32 rounding: rows equal up to this relative error are "the same rows"
_RTOL = 1e-6
_FLOATS = [np.float64, np.float32]
_KINDS = ("integer", "period", "datetime")
_NO_INDEX_HINT = (
    "Reset it (X.reset_index(drop=True)) or pass a DatetimeIndex, a PeriodIndex "
    "or an integer index."
)


@dataclass
class Rows:
    """One series as given: values, and where its rows sit in time.

    ``values`` is ``(n, n_columns)`` float64 with NaN where missing; ``index``
    the raw index values as int64 (integers, period ordinals, or timestamps
    in ``unit``), or None for a plain array; ``kind`` one of ``_KINDS``.
    """

    values: np.ndarray
    index: np.ndarray | None = None
    kind: str | None = None
    freq: str | None = None
    unit: str | None = None
    ndim: int = 2


def read_series(data, name: str, many: bool, indexed: bool = True) -> list[Rows]:
    """Each series of ``data`` as :class:`Rows`, its pandas index read when
    ``indexed`` (``y``'s index is not read: ``X`` places the rows)."""
    out = []
    for i, item in enumerate(data if many else [data]):
        label = f"{name}[{i}]" if many else name
        index = _read_index(item, label) if indexed else (None,) * 4
        arr = check_array(
            item,
            ensure_2d=False,
            allow_nd=True,
            dtype=_FLOATS,
            ensure_all_finite="allow-nan",
            input_name=label,
        )
        if arr.ndim not in (1, 2):
            raise ValueError(
                f"{label} has {arr.ndim} dimensions; a series is (n_timesteps,) or "
                "(n_timesteps, n_columns): one row per time step. For several "
                "series pass a list."
            )
        values = np.asarray(arr, dtype=np.float64).reshape(len(arr), -1)
        out.append(Rows(values, *index, ndim=arr.ndim))
    return out


def _read_index(item, label: str) -> tuple:
    """``(index values, kind, freq, unit)`` of a pandas object, else Nones."""
    index = getattr(item, "index", None)
    if index is None or not hasattr(item, "iloc"):
        return None, None, None, None
    import pandas as pd

    if isinstance(index, pd.DatetimeIndex):
        if index.tz is not None:  # steps are counted on the wall clock
            index = index.tz_localize(None)
        freq = index.freqstr if index.freq is not None else None
        return index.asi8.astype(np.int64), "datetime", freq, index.unit
    if isinstance(index, pd.PeriodIndex):
        return index.asi8.astype(np.int64), "period", index.freqstr, None
    if pd.api.types.is_integer_dtype(index.dtype):
        return np.asarray(index, dtype=np.int64), "integer", None, None
    raise ValueError(
        f"{label} has an index of type {type(index).__name__} ({index.dtype}), "
        f"which cannot place its rows in time. {_NO_INDEX_HINT}"
    )


def check_missing(rows: Rows, label: str, policy: str, fitting: bool) -> None:
    """Refuse NaN (``policy="raise"``), or in ``fit`` a column with no value at
    all, saying how to fill them."""
    missing = np.isnan(rows.values)
    if not missing.any():
        return
    first = int(np.flatnonzero(missing.any(axis=1))[0])
    where = f"row {first}" if rows.index is None else f"row {first} of the index"
    if policy == "raise":
        raise ValueError(
            f"{label} has {int(missing.sum())} missing values (NaN), the first "
            f"at {where}: every time step needs a value. Fill them first, e.g. "
            "X.interpolate(method='time') for a DataFrame with a DatetimeIndex "
            "(pd.DataFrame(X).interpolate() for an array), or set "
            "missing='interpolate' to interpolate them in time."
        )
    empty = np.flatnonzero(missing.all(axis=0))
    if fitting and len(empty):
        raise ValueError(
            f"Column {int(empty[0])} of {label} has no value at all: nothing to "
            "interpolate from."
        )


def interpolate(values: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """Each column's NaN filled linearly in time (constant beyond the ends)."""
    out = values.copy()
    for c in range(out.shape[1]):
        gaps = np.isnan(out[:, c])
        if gaps.any():
            out[gaps, c] = np.interp(steps[gaps], steps[~gaps], out[~gaps, c])
    return out


def carry_forward(values: np.ndarray) -> np.ndarray:
    """NaN replaced by the column's last value before it (the first after it
    for leading NaN)."""
    out = values.copy()
    for c in range(out.shape[1]):
        col = out[:, c]
        seen = ~np.isnan(col)
        if seen.all() or not seen.any():
            continue
        last = np.where(seen, np.arange(len(col)), -1)
        np.maximum.accumulate(last, out=last)
        first = int(np.flatnonzero(seen)[0])
        last[last < 0] = first
        out[:, c] = col[last]
    return out


# ------------------------------------------------------------ time steps
def steps_of(rows: Rows, kind: str | None, freq: str | None, anchor) -> np.ndarray:
    """Step positions of ``rows``'s index in the fitted series' time axis.

    ``kind``/``freq`` are the fitted ones; ``anchor`` the fitted series' first
    timestamp (ISO text), position 0 of a datetime axis.
    """
    if rows.kind != kind:
        raise ValueError(
            f"X has {_describe(rows.kind)}, but the forecaster was fitted on X "
            f"with {_describe(kind)}: pass X indexed like the fitted data."
        )
    if kind == "period" and rows.freq != freq:
        raise ValueError(
            f"X has a PeriodIndex of frequency {rows.freq!r}; the fitted one has "
            f"{freq!r}."
        )
    if kind == "datetime":
        return _datetime_steps(rows.index, rows.unit, freq, anchor)
    return rows.index


def _describe(kind: str | None) -> str:
    return "no index (a plain array)" if kind is None else f"an index of {kind}s"


def fitted_axis(rows: Rows) -> tuple[str | None, str | None, np.ndarray]:
    """``(freq, anchor, steps)`` of a series read in ``fit``."""
    if rows.kind is None:
        return None, None, np.arange(len(rows.values), dtype=np.int64)
    if rows.kind != "datetime":
        return rows.freq, None, rows.index
    import pandas as pd

    stamps = pd.DatetimeIndex(rows.index.astype(f"datetime64[{rows.unit}]"))
    freq = rows.freq or _infer_freq(stamps)
    anchor = stamps.min().isoformat()
    return freq, anchor, _datetime_steps(rows.index, rows.unit, freq, anchor)


def _infer_freq(stamps) -> str:
    """The coarsest frequency inferred from the whole index or short runs of it
    whose grid holds every timestamp (a fold's index has gaps)."""
    import pandas as pd

    ordered = stamps.sort_values().unique()
    chunks = [ordered] + [
        ordered[i : i + size]
        for size in (5, 3)
        for i in np.linspace(0, max(0, len(ordered) - size), 12).astype(int)
    ]
    found = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pandas' note on infer_freq's return type
        for chunk in chunks:
            if len(chunk) >= 3 and (freq := pd.infer_freq(chunk)) is not None:
                found.add(pd.tseries.frequencies.to_offset(freq).freqstr)
    best = None
    for freq in found:
        try:
            grid = _grid(ordered.min(), ordered.max(), freq)
        except ValueError:
            continue
        if grid.isin(ordered).sum() == len(ordered) and (
            best is None or len(grid) < best[1]
        ):
            best = (freq, len(grid))
    if best is None:
        raise ValueError(
            "X has a DatetimeIndex without a regular frequency: set one "
            "(X.asfreq('MS') inserts the missing dates as NaN) or use a "
            "PeriodIndex (X.to_period('M'))."
        )
    return best[0]


def _grid(start, end, freq: str):
    """``pd.date_range(start, end, freq)``, refused when it would be absurdly
    long (estimated from 16 steps before building it)."""
    import pandas as pd

    offset = pd.tseries.frequencies.to_offset(freq)
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    stride = ((start + 16 * offset) - start) / 16
    if stride <= pd.Timedelta(0) or (end - start) / stride > 2 * MAX_STEPS:
        raise ValueError(
            f"The index spans {start} to {end}, more than {MAX_STEPS} steps of "
            f"frequency {freq!r}."
        )
    return pd.date_range(start, end, freq=offset)


def _datetime_steps(values, unit, freq: str, anchor: str) -> np.ndarray:
    import pandas as pd

    stamps = pd.DatetimeIndex(values.astype(f"datetime64[{unit}]"))
    anchor = pd.Timestamp(anchor)
    grid = _grid(min(stamps.min(), anchor), max(stamps.max(), anchor), freq)
    found = grid.get_indexer(stamps)
    origin = grid.get_indexer([anchor])[0]
    if (found < 0).any() or origin < 0:
        bad = stamps[found < 0][0] if (found < 0).any() else anchor
        raise ValueError(
            f"Timestamp {bad} of X is not on the fitted frequency {freq!r} "
            f"counted from {anchor}: index X like the fitted data."
        )
    return (found - origin).astype(np.int64)


# ------------------------------------------------------------ plain arrays
def place_plain(given: np.ndarray, fitted: np.ndarray, steps: np.ndarray):
    """Steps of a plain array's rows by rule 2 of the module docstring.

    ``fitted`` holds the fitted rows in time order, at ``steps``.
    """
    n, m = len(fitted), len(given)
    if m >= n and np.array_equal(given[:n], fitted, equal_nan=True):
        return np.concatenate([steps, steps[-1] + 1 + np.arange(m - n)])
    start = _overlap(given, fitted)
    if start is not None:
        k = min(m, n - start)
        exact = np.array_equal(given[:k], fitted[start : start + k], equal_nan=True)
        what = (
            f"repeat the fitted rows from row {start} on"
            if exact
            else "equal fitted rows only up to rounding (a float32 copy, or a "
            "changed value)"
        )
        raise ValueError(
            f"The rows of X {what}, so their place in time is ambiguous: exactly "
            "the fitted array is forecast in-sample, any other plain array is "
            "read as the rows after the fitted ones. Pass exactly the fitted "
            "array, only the new rows, or a pandas object whose index places "
            "each row."
        )
    return steps[-1] + 1 + np.arange(m, dtype=np.int64)


def _overlap(given: np.ndarray, fitted: np.ndarray) -> int | None:
    """The fitted row where ``given`` starts repeating fitted rows (up to float32
    rounding) over at least two distinct rows, or None."""
    n, m = len(fitted), len(given)
    distinct = np.flatnonzero(~_close(given, given[:1]))
    if m < 2 or not len(distinct) or n < 2:
        return None  # a constant block proves nothing
    # cheap filters on a few rows of given, then a full check of the survivors
    probes = np.unique(np.r_[0, distinct[0], np.linspace(0, m - 1, 8).astype(int)])
    starts = np.arange(n - 1)
    alive = np.ones(len(starts), dtype=bool)
    for p in probes:
        inside = starts + p < n
        hit = np.zeros(len(starts), dtype=bool)
        hit[inside] = _close(fitted[starts[inside] + p], given[p][None])
        # a probe past the fitted rows cannot refute a match of its prefix
        alive &= hit | ~inside
    for j in starts[alive]:
        k = min(m, n - j)
        if k >= 2 and k > distinct[0] and _close(fitted[j : j + k], given[:k]).all():
            return int(j)
    return None


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rows of ``a`` equal to rows of ``b`` up to float32 rounding."""
    near = np.isclose(a, b, rtol=_RTOL, atol=0.0, equal_nan=True)
    return near.all(axis=-1)


# ------------------------------------------------------------ the timeline
@dataclass
class Timeline:
    """Observed rows laid on consecutive steps, ready for windows.

    ``levels`` starts with ``pad`` copies of the first row (rule 3) and ends
    with ``tail`` copies of the last; ``fill`` marks the unobserved steps to
    fill with forecasts; ``rows`` is the timeline row of each given row.
    """

    levels: np.ndarray
    fill: np.ndarray
    rows: np.ndarray


def lay_out(fitted, fitted_steps, given, given_steps, pad: int, tail: int):
    """The timeline up to the last given step (the fitted one with no given rows).

    Fitted rows after the last given step are never read. A given row at a
    fitted step must hold the fitted values up to float32 rounding.
    """
    if given is None:
        given, given_steps = fitted[:0], fitted_steps[:0]
    if len(np.unique(given_steps)) != len(given_steps):
        raise ValueError(
            "X's index repeats a value: each row must be its own time step."
        )
    last = given_steps.max() if len(given_steps) else fitted_steps.max()
    keep = (fitted_steps <= last) & ~np.isin(fitted_steps, given_steps)
    _check_same(fitted, fitted_steps, given, given_steps)
    steps = np.concatenate([fitted_steps[keep], given_steps])
    values = np.concatenate([fitted[keep], given])
    first = int(steps.min())
    span = int(last) - first + 1
    width = values.shape[1]
    if span > MAX_STEPS or (span + pad + tail) * width > MAX_CELLS:
        raise ValueError(
            f"The fitted and given rows span {span} time steps: more than "
            f"{MAX_STEPS} steps or {MAX_CELLS} values. Check the index of X."
        )
    levels = np.full((pad + span + tail, width), np.nan)
    observed = np.zeros(len(levels), dtype=bool)
    at = pad + steps - first
    levels[at], observed[at] = values, True
    levels = carry_forward(levels)  # NaN cells and unobserved steps
    levels[:pad], observed[:pad] = levels[pad], True  # rule 3
    fill = ~observed
    fill[pad + span :] = False  # the tail only stands in for late covariates
    return Timeline(levels, fill, pad + given_steps - first)


def _check_same(fitted, fitted_steps, given, given_steps) -> None:
    both, f_at, g_at = np.intersect1d(fitted_steps, given_steps, return_indices=True)
    if not len(both):
        return
    same = _close(fitted[f_at], given[g_at])
    if not same.all():
        step = int(both[np.flatnonzero(~same)[0]])
        raise ValueError(
            f"A row of X sits at fitted time step {step} (by its index) but holds "
            "other values than the fitted row there. Give new rows new index "
            "values (continue the fitted index), or refit on the revised data."
        )


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``(start, stop)`` of each run of True in ``mask``."""
    edges = np.diff(np.r_[0, mask.astype(np.int8), 0])
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def split_runs(steps: np.ndarray) -> list[slice]:
    """Slices of consecutive steps (a fitted series split at its gaps)."""
    cuts = np.flatnonzero(np.diff(steps) != 1) + 1
    bounds = np.r_[0, cuts, len(steps)]
    return [slice(a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True) if b > a]
