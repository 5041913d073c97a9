"""glibc's heap thresholds: set once by the first fit, left alone when asked.

Each case runs in a fresh interpreter: the setting is once per process.
"""

import json
import os
import subprocess
import sys

import pytest

glibc_only = pytest.mark.skipif(
    not sys.platform.startswith("linux")
    or not (os.confstr("CS_GNU_LIBC_VERSION") or "").startswith("glibc"),
    reason="the heap thresholds are glibc's",
)

# A training step's pattern: several large blocks alive at once, then all freed.
# With glibc's defaults the freed heap top (48 MB) passes the trim threshold
# (twice the largest block freed so far) and goes back to the system, so the
# next round first-touches fresh pages again.
_ROUNDS = """
import json, resource, sys
import numpy as np
sys.path.insert(0, {root!r})
from sklstm._engine._runtime import reuse_heap
{setup}
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(20):
    blocks = [np.ones(1_000_000) for _ in range(6)]  # 8 MB each
    del blocks
faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
print(json.dumps({{"set": set_by_sklstm, "faults": faults}}))
"""


def _rounds(env: dict, setup: str = "set_by_sklstm = reuse_heap()") -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    # without the caller's malloc settings (dask's distributed, imported by
    # other tests, puts MALLOC_TRIM_THRESHOLD_ in os.environ for its workers)
    full = {
        k: v
        for k, v in os.environ.items()
        if k not in ("SKLSTM_HEAP", "GLIBC_TUNABLES") and not k.startswith("MALLOC_")
    }
    full.update(env)
    out = subprocess.run(
        [sys.executable, "-c", _ROUNDS.format(root=root, setup=setup)],
        env=full,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_only
def test_freed_blocks_are_reused_without_fresh_pages():
    own = _rounds({})
    system = _rounds({"SKLSTM_HEAP": "system"})
    assert own["set"] and not system["set"]
    # 20 rounds x 48 MB is about 235k pages: glibc's defaults touched 60-70k
    # fresh ones (its threshold rises with the blocks freed, not far enough);
    # with the heap kept, about the first round's 12k
    assert system["faults"] > 20_000
    assert own["faults"] < system["faults"] / 5


@glibc_only
@pytest.mark.parametrize(
    "env",
    [
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1048576"},
        {"MALLOC_MMAP_THRESHOLD_": "1048576"},
        {"SKLSTM_HEAP": "System"},
    ],
)
def test_user_malloc_settings_are_left_alone(env):
    assert not _rounds(env)["set"]


@glibc_only
def test_a_fit_sets_the_thresholds_before_training():
    """The estimators call it: after one fit (and no call of ours), the rounds
    run without fresh pages."""
    fit = (
        "from sklstm import LSTMRegressor\n"
        "LSTMRegressor(max_epochs=1, hidden_size=2).fit("
        "np.zeros((4, 3, 1), dtype=np.float32), np.zeros(4))\n"
        "set_by_sklstm = None\n"
    )
    own = _rounds({}, setup=fit)
    system = _rounds({"SKLSTM_HEAP": "system"}, setup=fit)
    assert own["faults"] < system["faults"] / 5


@glibc_only
def test_malloc_settings_made_after_start_do_not_count():
    """glibc read its settings when the process started: one put in os.environ
    later (as dask's distributed does for its workers) changed nothing."""
    late = (
        "import os\n"
        "os.environ['MALLOC_TRIM_THRESHOLD_'] = '65536'\n"
        "set_by_sklstm = reuse_heap()\n"
    )
    assert _rounds({}, setup=late)["set"]


@pytest.mark.parametrize(
    "confstr",
    [
        lambda name: None,  # musl: the name is known, no value
        lambda name: (_ for _ in ()).throw(ValueError(name)),  # macOS: unknown
        lambda name: "musl libc",
    ],
)
def test_other_c_libraries_are_left_alone(monkeypatch, confstr):
    from sklstm._engine import _runtime

    monkeypatch.setattr(_runtime.os, "confstr", confstr)
    _runtime._set_heap_thresholds.cache_clear()
    try:
        assert _runtime.reuse_heap() is False
    finally:
        _runtime._set_heap_thresholds.cache_clear()
