"""Grouped training inside any scikit-learn search: the joblib backend ``"sklstm"``.

scikit-learn's searches, ``cross_validate``, ``learning_curve`` and
``validation_curve`` (and scikit-optimize's ``BayesSearchCV``) hand every
fit to joblib as one call of scikit-learn's ``_fit_and_score``. This backend
holds the calls a ``Parallel`` dispatches until the first result is asked
for, so it sees a whole grid, a halving rung or a Bayesian ``n_points``
batch at once. It then prepares every sklstm fit among them with the
estimator's own fit plan, trains those that can train together as grouped
networks (``_train``), and runs each call as scikit-learn wrote it: the
estimator's ``fit`` adopts its pretrained result (``sklstm._fitplan.
pretrained``), and scoring, timing, ``error_score`` and the results table
stay scikit-learn's. Group by group, fitted models are released once their
calls have scored them. Calls that cannot be grouped run as ordinary fits,
in ``n_jobs`` processes when the search asked for them, and the reason is
reported.

Registered with joblib on import of :mod:`sklstm`; nothing of scikit-learn,
joblib or scikit-optimize is patched.
"""

from __future__ import annotations

import inspect
import time
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field, replace

import joblib
import numpy as np
import torch

import sklstm.model_selection._grouped._plan as _plan
import sklstm.model_selection._grouped._train as _train
from sklstm._base import _BaseLSTM
from sklstm._data import is_sequence_list
from sklstm._engine._runtime import resolve_device
from sklstm._fitplan import pretrained
from sklstm._sklearn_private import (
    BaseSearchCV,
    ParallelBackendBase,
    _fit_and_score,
)

GROUPING = ("auto", "always", "never")
# every call of a Parallel is dispatched before the first result is asked
# for when the backend reports this many workers (pre_dispatch="2*n_jobs")
_HOLD_ALL = 100_000  # joblib evaluates "2*n_jobs" with literals up to 10**6
_FIT_AND_SCORE = inspect.signature(_fit_and_score)

# On the CPU a group saves each fit's per-batch overhead but runs its
# recurrence as batched products instead of oneDNN's LSTM kernel: it wins
# while a model's work per time step (multiply-adds of its batch, summed
# over layers and directions) is small. benchmarks/grouping_cpu.py, 16 fits,
# T=30, F=2, grouped / ordinary seconds (2-core machine):
#   batch 32:  H=4 0.57, H=8 0.72, H=16 1.09, H=32 1.57, H=64 2.33, H=128 2.67
#   batch 128: H=4 0.71, H=8 1.50, H=16 2.26
# i.e. faster up to about 12k multiply-adds per step, slower from 37k.
CPU_MAX_STEP_WORK = 16_000
# Fits prepared at once, hence fitted models kept at once (a window ends at
# a candidate's last fold). benchmarks/grouping_memory.py, 600 tiny fits on
# the CPU, against ordinary fits (28 s, +29 MiB): one window of 600 took
# 42 s and +507 MiB, windows of 64 took 19 s and +142 MiB, windows of 16
# took 16.5 s and +80 MiB. On a GPU larger groups pay (launch-bound steps).
CPU_WINDOW, CUDA_WINDOW = 16, 256


@dataclass
class GroupingReport:
    """What the ``"sklstm"`` backend did: pass one as ``report=`` to read it.

    Attributes
    ----------
    groups : list of dict
        One per trained group: ``n_models``, ``device``, ``hidden_sizes``
        (the members' own), ``seconds`` and ``cuda_graph``.
    fallbacks : list of dict
        One per fit done ordinarily: ``candidate`` (its index in the
        search's ``cv_results_`` when the search says it, else None),
        ``split`` and ``reason``.
    timings : dict of float
        Seconds spent preparing fits, training groups and running every
        call (scoring included), summed over the batches seen.
    """

    groups: list = field(default_factory=list)
    fallbacks: list = field(default_factory=list)
    timings: dict = field(
        default_factory=lambda: {"prepare": 0.0, "grouped": 0.0, "calls": 0.0}
    )

    def reasons(self) -> Counter:
        """How many fits fell back, by reason."""
        return Counter(f["reason"] for f in self.fallbacks)


class _Job:
    """A submitted batch of calls: run when its result is first asked for."""

    def __init__(self, backend: GroupingBackend, batch, callback) -> None:
        self.backend, self.batch, self.callback = backend, batch, callback
        self.done, self.value, self.error = False, None, None

    def run(self) -> None:
        try:
            self.value = self.batch()
        except BaseException as exc:  # noqa: BLE001 - raised by get(), as joblib does
            self.error = exc
        self.done = True

    def get(self, timeout=None):
        if not self.done:
            self.backend.flush()
        if self.error is not None:
            raise self.error
        return self.value


@dataclass
class _Fit:
    """One ``_fit_and_score`` call, read from its arguments."""

    job: _Job
    estimator: object
    X: object
    y: object
    train: np.ndarray
    params: dict
    candidate: int | None
    split: int | None
    member: object = None


class GroupingBackend(ParallelBackendBase):
    """joblib backend ``"sklstm"``: a search's sklstm fits trained in groups.

    Use it around any scikit-learn or scikit-optimize search, or
    ``cross_validate``, ``learning_curve`` and ``validation_curve``::

        with joblib.parallel_config(backend="sklstm"):
            search.fit(X, y)

    Parameters
    ----------
    grouping : {"auto", "always", "never"}, default="auto"
        ``"auto"`` groups on a CUDA device, and on the CPU only small
        models, where grouping measured faster (about 12,000 multiply-adds
        per time step at most: batch 32 with ``hidden_size`` 8, or batch
        128 with 4; see ``benchmarks/grouping_cpu.py``);
        ``"always"`` groups wherever it can; ``"never"`` runs every fit
        ordinarily.
    max_group_size : int, default=None
        Most models in one group (groups are also split to fit memory).
    cuda_graphs : bool, default=True
        Capture a group's step as a CUDA graph on CUDA devices.
    report : GroupingReport, default=None
        Filled with the groups trained and the fits done ordinarily.
    verbose : int, default=0
        Print one line per group.
    """

    supports_retrieve_callback = False
    supports_timeout = False

    def __init__(
        self,
        nesting_level=None,
        inner_max_num_threads=None,
        *,
        grouping: str = "auto",
        max_group_size: int | None = None,
        cuda_graphs: bool = True,
        report: GroupingReport | None = None,
        verbose: int = 0,
        **kwargs,
    ) -> None:
        super().__init__(
            nesting_level=nesting_level,
            inner_max_num_threads=inner_max_num_threads,
            **kwargs,
        )
        if grouping not in GROUPING:
            raise ValueError(f"grouping={grouping!r}: use one of {GROUPING}.")
        if max_group_size is not None and not (
            isinstance(max_group_size, (int, np.integer)) and max_group_size >= 1
        ):
            raise ValueError(
                f"max_group_size={max_group_size!r}: use a positive integer or None."
            )
        self.grouping = grouping
        self.max_group_size = max_group_size
        self.cuda_graphs = bool(cuda_graphs)
        self.report = GroupingReport() if report is None else report
        self.verbose = verbose
        self.n_jobs = 1
        self._jobs: list[_Job] = []

    # ------------------------------------------------------- joblib's protocol
    def configure(self, n_jobs=1, parallel=None, **backend_args) -> int:
        self.parallel = parallel
        self.n_jobs = n_jobs  # the search's: for the ordinary fits
        return self.effective_n_jobs(n_jobs)

    def effective_n_jobs(self, n_jobs) -> int:
        return _HOLD_ALL

    def compute_batch_size(self) -> int:
        return 1

    def submit(self, func, callback=None) -> _Job:
        job = _Job(self, func, callback)
        self._jobs.append(job)
        return job

    def apply_async(self, func, callback=None) -> _Job:  # joblib < 1.3
        return self.submit(func, callback)

    def retrieve_result(self, out: _Job, timeout=None):
        return out.get(timeout)

    def get_nested_backend(self):
        # a search inside a call (nested cross-validation) groups its own
        # fits; other nested parallel work runs in this process
        nested = GroupingBackend(
            nesting_level=self.nesting_level + 1,
            grouping=self.grouping,
            max_group_size=self.max_group_size,
            cuda_graphs=self.cuda_graphs,
            report=self.report,
            verbose=self.verbose,
        )
        return nested, None

    def abort_everything(self, ensure_ready=True) -> None:
        self._jobs = []

    # ------------------------------------------------------------- the work
    def flush(self) -> None:
        """Run every held call: groups first, then the ordinary ones."""
        jobs, self._jobs = self._jobs, []
        if not jobs:
            return
        start = time.perf_counter()
        fits, ordinary = self._read_fits(jobs)
        # a window of fits at a time: prepared, grouped, scored, released
        for window in _windows(fits, self.max_group_size or _window_size(fits)):
            tick = time.perf_counter()
            chunks = self._plan_groups(window, ordinary)
            self.report.timings["prepare"] += time.perf_counter() - tick
            for chunk in chunks:
                self._run_group(chunk)
        self._run_ordinary(ordinary)
        self.report.timings["calls"] += time.perf_counter() - start
        for job in jobs:
            if job.callback is not None:
                job.callback(job)

    def _read_fits(self, jobs: list[_Job]) -> tuple[list[_Fit], list]:
        """The sklstm fits among ``jobs``; the rest as (job, reason)."""
        fits, ordinary = [], []
        for job in jobs:
            items = getattr(job.batch, "items", [])
            function = getattr(items[0][0], "function", None) if items else None
            if len(items) != 1 or function is not _fit_and_score:
                ordinary.append((job, None))  # not a fit: nothing to report
                continue
            _, args, kwargs = items[0]
            call = _FIT_AND_SCORE.bind(*args, **kwargs).arguments
            progress = call.get("candidate_progress") or (None,)
            split = call.get("split_progress") or (None,)
            fit = _Fit(
                job=job,
                estimator=call["estimator"],
                X=call["X"],
                y=call["y"],
                train=np.asarray(call["train"]),
                params=call.get("parameters") or {},
                candidate=progress[0],
                split=split[0],
            )
            reason = self._reason(fit, call.get("fit_params"))
            if reason is None:
                fits.append(fit)
            else:
                ordinary.append((job, self._fallback(fit, reason)))
        return fits, ordinary

    def _reason(self, fit: _Fit, fit_params) -> str | None:
        """Why ``fit`` is done ordinarily before preparing it (or None)."""
        if self.grouping == "never":
            return "grouping='never'"
        if isinstance(fit.estimator, BaseSearchCV):
            return "a search inside the call (its own fits are grouped)"
        if not isinstance(fit.estimator, _BaseLSTM):
            return f"{type(fit.estimator).__name__} is not an sklstm estimator"
        if fit_params:
            return f"fit parameters ({', '.join(sorted(fit_params))})"
        if is_sequence_list(fit.X):
            return "variable-length sequences"
        if fit.estimator.warm_start:
            return "warm_start=True"
        return None

    def _fallback(self, fit: _Fit, reason: str) -> str:
        self.report.fallbacks.append(
            {"candidate": fit.candidate, "split": fit.split, "reason": reason}
        )
        return reason

    def _plan_groups(self, fits: list[_Fit], ordinary: list) -> list[list[_Fit]]:
        """Prepare ``fits`` and split them into groups; the rest join ``ordinary``.

        A candidate one of whose fits cannot be grouped is fitted ordinarily
        on every fold, so its folds are comparable.
        """
        refused: dict = {}
        for fit in fits:
            try:
                fit.member = _plan.prepare(
                    fit.estimator, fit.params, fit.X, fit.y, fit.train
                )
                fit.member.meta["fit"] = fit
                reason = _plan.over_budget(fit.member) or self._device_reason(fit)
            except _plan.NotGroupable as exc:
                reason = str(exc)
            except Exception as exc:  # noqa: BLE001 - the ordinary fit reports it
                reason = f"{type(exc).__name__}: {exc}"
            if reason is not None:
                refused[id(fit)] = reason
                if fit.candidate is not None:
                    refused.setdefault(("candidate", fit.candidate), reason)
        by_key = defaultdict(list)
        for fit in fits:
            reason = refused.get(id(fit)) or refused.get(("candidate", fit.candidate))
            if reason is None:
                by_key[(id(fit.X), _plan.group_key(fit.member))].append(fit)
            else:
                fit.member = None  # its prepared net is not needed
                ordinary.append((fit.job, self._fallback(fit, reason)))
        chunks = []
        for (_, _), same in by_key.items():
            inputs = self._shared_input(same, ordinary)
            members = [f.member for f in same if f.member is not None]
            for chunk in _plan.chunks(members, max_group_size=self.max_group_size):
                chunk_fits = [m.meta["fit"] for m in chunk]
                reason = self._chunk_reason(chunk)
                if reason is None:
                    for m in chunk:
                        m.meta["inputs"] = inputs
                    chunks.append(chunk_fits)
                else:
                    for f in chunk_fits:
                        f.member = None
                        ordinary.append((f.job, self._fallback(f, reason)))
        return chunks

    def _device_reason(self, fit: _Fit) -> str | None:
        try:
            resolve_device(fit.member.device)
        except ValueError as exc:
            return str(exc)
        return None

    def _chunk_reason(self, chunk: list) -> str | None:
        """Why a group of ``chunk`` would be slower than its ordinary fits."""
        if self.grouping == "always" or chunk[0].device.startswith("cuda"):
            return None
        if len(chunk) < 2:
            return "a group of one model (nothing to share)"
        hidden, _ = _plan.group_sizes(chunk)
        work = _plan.step_work(chunk[0], hidden)
        if work > CPU_MAX_STEP_WORK:
            return (
                f"model too large to group on the CPU ({work} multiply-adds per "
                f"step; grouping measured faster up to {CPU_MAX_STEP_WORK}, see "
                "benchmarks/grouping_cpu.py; grouping='always' forces it)"
            )
        return None

    def _shared_input(self, fits: list[_Fit], ordinary: list) -> torch.Tensor:
        """The group's one input; a fit whose rows were prepared differently
        (fold-dependent input handling) falls back."""
        first = fits[0].member
        inputs = first.estimator._check_X(fits[0].X, reset=False).X
        for fit in fits:
            m = fit.member
            if not torch.equal(m.X, inputs[torch.as_tensor(m.train)]):
                ordinary.append(
                    (
                        fit.job,
                        self._fallback(fit, "inputs prepared differently per fold"),
                    )
                )
                fit.member = None
                continue
            m.X = None  # the group reads its rows of the one input
            # the fold's own copy of the data is no longer needed
            m.plan = replace(m.plan, train=None, valid=None, targets=None)
        return inputs

    def _run_group(self, fits: list[_Fit]) -> None:
        """Train one group, run its calls, release its models."""
        members = [f.member for f in fits if f.member is not None]
        if len(members) < len(fits):  # some fell back while sharing the input
            fits = [f for f in fits if f.member is not None]
        if not members:
            return
        if self.verbose:
            print(f"[sklstm] training {len(members)} models as one group")
        tick = time.perf_counter()
        info = _train.train_group(
            members, members[0].meta["inputs"], cuda_graphs=self.cuda_graphs
        )
        self.report.timings["grouped"] += time.perf_counter() - tick
        self.report.groups.append(
            {
                "n_models": len(members),
                "device": members[0].device,
                "hidden_sizes": [int(m.estimator.hidden_size) for m in members],
                "seconds": sum(m.fit_time for m in members),
                **info,
            }
        )
        for fit in fits:
            m = fit.member
            with pretrained(fit.estimator, m.result):
                fit.job.run()
            _add_fit_time(fit.job, m.fit_time)
            fit.member = m.result = m.net = m.y = m.meta = None  # release
        if members[0].device.startswith("cuda"):
            torch.cuda.empty_cache()

    def _run_ordinary(self, ordinary: list) -> None:
        jobs = [job for job, _ in ordinary if not job.done]
        n_jobs = _processes(self.n_jobs)
        fits = [j for j, reason in ordinary if reason is not None and not j.done]
        if n_jobs > 1 and len(fits) > 1:
            done = joblib.Parallel(n_jobs=n_jobs, backend="loky")(
                joblib.delayed(_call)(job.batch) for job in fits
            )
            for job, (value, error) in zip(fits, done, strict=True):
                job.value, job.error, job.done = value, error, True
        for job in jobs:
            if not job.done:
                job.run()
        _warn(
            Counter(
                reason
                for _, reason in ordinary
                if reason is not None and not reason.startswith(_BY_DESIGN)
            )
        )


def _window_size(fits: list[_Fit]) -> int:
    for fit in fits:
        try:
            if resolve_device(fit.estimator.device).startswith("cuda"):
                return CUDA_WINDOW
        except (ValueError, AttributeError):
            continue  # its preparation reports the problem
    return CPU_WINDOW


def _windows(fits: list[_Fit], size: int):
    """``fits`` in runs of about ``size``, never splitting a candidate's folds."""
    window: list[_Fit] = []
    for fit in fits:
        starts = (
            fit.candidate is None or not window or window[-1].candidate != fit.candidate
        )
        if len(window) >= size and starts:
            yield window
            window = []
        window.append(fit)
    if window:
        yield window


def _processes(n_jobs) -> int:
    """Worker processes for the ordinary fits: the search's ``n_jobs``.

    Resolved here, not by ``joblib.effective_n_jobs``, which would ask the
    active backend (this one, which reports every call as dispatchable).
    """
    if n_jobs is None or n_jobs == 0:
        return 1
    n_jobs = int(n_jobs)
    if n_jobs < 0:
        n_jobs = joblib.cpu_count() + 1 + n_jobs
    return max(1, min(n_jobs, joblib.cpu_count()))


def _call(batch):
    try:
        return batch(), None
    except Exception as exc:  # noqa: BLE001 - raised in the parent by get()
        return None, exc


def _add_fit_time(job: _Job, seconds: float) -> None:
    """A grouped fit's share of its group's training, in scikit-learn's table."""
    for result in job.value or []:
        if isinstance(result, dict) and "fit_time" in result:
            result["fit_time"] += seconds


# fallbacks asked for (grouping="never") or chosen by the CPU cost model:
# reported, not warned about
_BY_DESIGN = (
    "grouping='never'",
    "a group of one model",
    "model too large",
    "a search inside",
)


def _warn(counts: Counter) -> None:
    if counts:
        detail = "; ".join(f"{n} x {reason}" for reason, n in counts.items())
        warnings.warn(
            f"sklstm grouped training fitted some fits ordinarily: {detail}.",
            UserWarning,
            stacklevel=2,
        )


def register() -> None:
    """Register the backend with joblib as ``"sklstm"``."""
    joblib.register_parallel_backend("sklstm", GroupingBackend)


__all__ = ["GroupingBackend", "GroupingReport", "register"]
