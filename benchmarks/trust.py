"""Hostile model files: time and peak memory until load refuses them.

    python benchmarks/trust.py

Builds, next to a real small model file: a 1 GiB ``meta.json`` deflated into
about 1 MB (a decompression bomb), a file declaring ``hidden_size=16000``, and
one declaring ``num_layers=20000``. Each is loaded in a fresh process; the
table gives the seconds until the ``ValueError`` and the process's peak RSS
(a plain ``import sklstm`` is the baseline).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]
from sklstm import LSTMRegressor, save  # noqa: E402

_PROBE = """
import resource, sys, time
import sklstm
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
outcome = "loaded"
if sys.argv[1] != "-":
    try:
        sklstm.load(sys.argv[1])
    except ValueError as exc:
        outcome = "ValueError: " + str(exc).split(": ", 1)[-1][:70]
took = time.perf_counter() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(f"{took:.3f} {base / 1024:.0f} {peak / 1024:.0f} {outcome}")
"""


def main() -> None:
    tmp = Path(tempfile.mkdtemp())
    X = np.random.RandomState(0).normal(size=(32, 5, 2))
    est = LSTMRegressor(hidden_size=8, max_epochs=1, random_state=0)
    path = save(est.fit(X, X.sum(axis=(1, 2))), tmp / "model.sklstm")
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("meta.json"))
        weights = archive.read("weights.pt")
    cases = {"baseline (import only)": "-", "valid file": str(path)}
    bomb = tmp / "bomb.sklstm"
    head = json.dumps(meta).encode()
    info = zipfile.ZipInfo("meta.json")
    info.compress_type = zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(bomb, "w") as z:
        with z.open(info, "w", force_zip64=True) as m:
            m.write(head)
            for _ in range(64):
                m.write(b" " * 2**24)  # 1 GiB in all
        z.writestr("weights.pt", weights)
    cases[f"meta.json inflating to 1 GiB ({bomb.stat().st_size / 2**20:.1f} MB)"] = str(
        bomb
    )
    for name, value in (("hidden_size", 16000), ("num_layers", 20000)):
        edited = json.loads(json.dumps(meta))
        edited["params"][name] = value
        out = tmp / f"{name}.sklstm"
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("meta.json", json.dumps(edited), zipfile.ZIP_DEFLATED)
            archive.writestr("weights.pt", weights)
        cases[f"declares {name}={value} ({out.stat().st_size / 1024:.0f} KB)"] = str(
            out
        )
    print(
        "| file | seconds to refuse | peak RSS MB (baseline after import) | outcome |"
    )
    print("|---|---|---|---|")
    for name, arg in cases.items():
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, arg],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
        )
        took, base, peak, outcome = done.stdout.strip().split(" ", 3)
        print(f"| {name} | {took} | {peak} ({base}) | {outcome} |")


if __name__ == "__main__":
    main()
