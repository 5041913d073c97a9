"""What the first fit in a fresh process costs, and where it goes.

    python benchmarks/first_fit.py --repeats 5

Each repeat starts fresh Python processes and times, inside each: ``import
sklstm``, the first ``fit`` of a small LSTMClassifier on 200 digits, and a
second identical fit. The first fit's extra cost is PyTorch importing
``torch._dynamo`` the first time any ``torch.optim`` optimizer is built
(``Optimizer.add_param_group`` and ``step`` are wrapped by
``torch._disable_dynamo``, which imports it lazily). Two ways around it are
measured side by side in the same repeat:

- ``plain``: nothing done (what sklstm ships);
- ``thread``: ``torch._dynamo`` imported by a background thread started
  before ``import sklstm`` (the import holds the GIL, so it slows the
  main thread as much as it saves);
- ``eager``: ``torch._dynamo`` imported up front, so the fit is warm but
  the import pays the same.

Medians of end-to-end seconds (import + data + first fit) are printed with
the components.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = r"""
import json, os, sys, threading, time
t0 = time.perf_counter()
import numpy as np, torch
mode = sys.argv[1]
if mode == "thread":
    threading.Thread(target=lambda: __import__("torch._dynamo"), daemon=True).start()
elif mode == "eager":
    import torch._dynamo
import sklstm
from sklearn.datasets import load_digits
d = load_digits()
X = (d.data.reshape(-1, 8, 8) / 16).astype(np.float32)[:200]
y = d.target[:200]
t1 = time.perf_counter()
def fit():
    t = time.perf_counter()
    sklstm.LSTMClassifier(hidden_size=8, max_epochs=1, random_state=0).fit(X, y)
    return time.perf_counter() - t
first, second = fit(), fit()
print(json.dumps({"import_and_data": t1 - t0, "first_fit": first,
                  "second_fit": second, "total": time.perf_counter() - t0}))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    modes = ("plain", "thread", "eager")
    runs: dict[str, list[dict]] = {m: [] for m in modes}
    for _ in range(args.repeats):
        for mode in modes:  # interleaved: these machines are noisy
            out = subprocess.run(
                [sys.executable, "-c", CHILD, mode],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            runs[mode].append(json.loads(out.strip().splitlines()[-1]))
    keys = ("import_and_data", "first_fit", "second_fit", "total")
    print(f"median of {args.repeats} fresh processes, seconds")
    print(f"{'mode':8}" + "".join(f"{k:>17}" for k in keys))
    for mode in modes:
        med = [statistics.median(r[k] for r in runs[mode]) for k in keys]
        print(f"{mode:8}" + "".join(f"{v:17.2f}" for v in med))


if __name__ == "__main__":
    main()
