"""Fit time and page faults with glibc's default heap thresholds and sklstm's.

    python benchmarks/heap.py [--repeats 3] [--only pigcvp ...]

On glibc (Linux), sklstm sets malloc's mmap threshold to 32 MiB and its trim
threshold to 64 MiB before its first fit (``sklstm._engine._runtime.
reuse_heap``); ``SKLSTM_HEAP=system`` leaves glibc's defaults. The setting is
once per process, so every fit here runs in a fresh process (the two settings
alternate, ``--repeats`` times), after one tiny warm-up fit. Data are random
series of the shapes of collections in ``benchmarks/accuracy.py``
(classification with the defaults: the convolutional branch on from 64
steps), one regression case, and the LSTM alone on PigCVP's shape. Printed:
median fit seconds and minor page faults of the fit, and the ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

# name: (rows, steps (low, high for ragged), features, classes or 0 for
# regression, extra parameters)
CASES = {
    "pigcvp": (104, (2000, 2000), 1, 52, {}),
    "acsf1": (100, (1460, 1460), 1, 10, {}),
    "plaid": (537, (100, 1344), 1, 11, {}),
    "osuleaf": (200, (427, 427), 1, 6, {}),
    "gunpoint": (50, (150, 150), 1, 2, {}),
    "pigcvp, LSTM alone": (
        104,
        (2000, 2000),
        1,
        52,
        {"conv_branch": False, "series_norm": False},
    ),
    "regression 2000 x 50 x 8": (2000, (50, 50), 8, 0, {"max_epochs": 20}),
}


def child(name: str) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from sklstm import LSTMClassifier, LSTMRegressor

    rows, (low, high), features, classes, params = CASES[name]
    rng = np.random.RandomState(0)
    LSTMClassifier(max_epochs=1, hidden_size=2).fit(
        rng.normal(size=(8, 4, 1)).astype(np.float32), np.arange(8) % 2
    )
    lengths = rng.randint(low, high + 1, size=rows)
    X = [rng.normal(size=(t, features)).astype(np.float32) for t in lengths]
    if low == high:
        X = np.stack(X)
    if classes:
        model = LSTMClassifier(random_state=0, **params)
        y = np.arange(rows) % classes
    else:
        model = LSTMRegressor(random_state=0, **params)
        y = rng.normal(size=rows)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    start = time.perf_counter()
    model.fit(X, y)
    seconds = time.perf_counter() - start
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    print(json.dumps({"fit_s": seconds, "faults": faults}))


def run(name: str, heap: str) -> dict:
    env = dict(os.environ)
    env.pop("SKLSTM_HEAP", None)
    if heap == "system":
        env["SKLSTM_HEAP"] = "system"
    out = subprocess.run(
        [sys.executable, __file__, "--child", name],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=list(CASES))
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    print("| case | glibc: fit s | faults | sklstm: fit s | faults | ratio |")
    print("|---|---|---|---|---|---|")
    for name in args.only:
        runs = {"system": [], "sklstm": []}
        for _ in range(args.repeats):
            for heap in runs:
                runs[heap].append(run(name, heap))
        med = {
            heap: (
                statistics.median(r["fit_s"] for r in rs),
                statistics.median(r["faults"] for r in rs),
            )
            for heap, rs in runs.items()
        }
        (s_sys, f_sys), (s_own, f_own) = med["system"], med["sklstm"]
        print(
            f"| {name} | {s_sys:.2f} | {f_sys:,.0f} | {s_own:.2f} | {f_own:,.0f} | "
            f"{s_sys / s_own:.2f}x |",
            flush=True,
        )


if __name__ == "__main__":
    main()
