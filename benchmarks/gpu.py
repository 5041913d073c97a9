"""GPU benchmark: one script for a few minutes on a machine with a GPU.

    python benchmarks/gpu.py                          # on the GPU machine, < 6 min
    python benchmarks/gpu.py --quick --device cpu     # smoke run, < 1 min on a CPU

Parts (each in its own try block; the results file is rewritten after each):

a. ``benchmarks/run.py --only fit`` at the GPU sizes: sklstm vs the minimal
   loop vs plain skorch, seconds per epoch (goal: sklstm <= 1.05x minimal).
b. ``GridSearchCV(n_jobs=2)`` of ``device="cuda"`` estimators (loky workers).
c. ``GroupedSearchCV`` at K = 8 and 32 models of a small LSTM (H=32, T=30,
   F=1): grouped with and without CUDA graphs vs sequential ordinary fits
   vs ``n_jobs`` worker processes (goal: grouped >= 20x sequential at K=32).
d. scikit-optimize's ``BayesSearchCV(n_iter=50, n_points=10, cv=5)`` over
   ``hidden_size`` 16-128, ``lr`` and ``weight_decay`` on 2,000 sequences of
   50 steps, under ``joblib.parallel_config(backend="sklstm")`` against the
   same search with ordinary fits (goal: under 60 s and >= 10x faster).

Results go to ``<out>/gpu.json`` and ``<out>/gpu.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import traceback
import warnings
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the checkout, not an installed copy
import run  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from sklstm import LSTMRegressor  # noqa: E402
from sklstm.model_selection import GroupedSearchCV  # noqa: E402


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def part_sizes(args) -> dict:
    """(a) run.py's fit table on this device.

    The small size is launch-bound and fast, so it runs more epochs and
    repeats: with 2 epochs the fixed cost of a fit (building the net) would
    count as half an epoch.
    """
    base = ["--device", args.device, "--only", "fit"]
    if args.quick:
        runs = [(1, ["--repeats", "1", "--scale", "0.02", "--sizes", "0"])]
    else:
        runs = [(10, ["--repeats", "3", "--sizes", "0"])]
        runs += [(2, ["--repeats", "2", "--sizes", "1", "2", "3"])]
    rows, argvs = [], []
    for epochs, extra in runs:
        argv = [*base, "--epochs", str(epochs), *extra]
        argvs.append(argv)
        for row in run.main(argv)["fit_predict"]:
            per_epoch = {k: round(v / epochs, 4) for k, v in row["fit_s"].items()}
            rows.append(
                {
                    "size": row["size"],
                    "epochs": epochs,
                    "s_per_epoch": per_epoch,
                    "ratio_sklstm": row["fit_ratio_sklstm"],
                    "ratio_skorch": row["fit_ratio_skorch"],
                    "goal_met": row["fit_ratio_sklstm"] <= 1.05,
                }
            )
    return {"argv": argvs, "rows": rows}


def _data(n: int, steps: int, features: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps, features)).astype(np.float32)
    return X, X[:, :, 0].mean(axis=1) + 0.1 * rng.normal(size=n)


def _small(device: str, epochs: int, batch: int) -> LSTMRegressor:
    return LSTMRegressor(
        hidden_size=32,
        max_epochs=epochs,
        batch_size=batch,
        device=device,
        random_state=0,
    )


def part_grid_jobs(args) -> dict:
    """(b) GridSearchCV with n_jobs=2 on the device, against n_jobs=1."""
    X, y = _data(256 if args.quick else 2000, 30, 1)
    grid = {"lr": [1e-3, 3e-3, 1e-2, 3e-2]}
    est = _small(args.device, 1 if args.quick else 3, 64)
    times = {}
    scores = {}
    for jobs in (1, 2):
        start = time.perf_counter()
        search = GridSearchCV(est, grid, cv=2, n_jobs=jobs, refit=False).fit(X, y)
        times[jobs] = round(time.perf_counter() - start, 3)
        scores[jobs] = search.cv_results_["mean_test_score"]
        say(f"GridSearchCV n_jobs={jobs}: {times[jobs]}s")
    return {
        "fits": 8,
        "n_jobs1_s": times[1],
        "n_jobs2_s": times[2],
        "speedup": round(times[1] / times[2], 2),
        "same_scores": bool(np.allclose(scores[1], scores[2], atol=1e-4)),
    }


def part_grouped(args) -> dict:
    """(c) K models: sequential, processes, grouped eager, grouped with graphs."""
    n = 256 if args.quick else 2000
    X, y = _data(n, 30, 1)
    cv = KFold(2)
    est = _small(args.device, 2, 64)
    cuda = args.device.startswith("cuda")
    # warm-up: CUDA context, cuBLAS handles, kernels
    GroupedSearchCV(est, {"lr": [1e-2]}, cv=cv, refit=False, grouping="always").fit(
        X, y
    )
    # warm-up of the worker processes (spawned once, then reused by joblib)
    GroupedSearchCV(
        est,
        {"lr": [1e-2] * args.jobs},
        cv=cv,
        refit=False,
        grouping="never",
        n_jobs=args.jobs,
    ).fit(X, y)
    rows = []
    for epochs, k in [(e, k) for e in args.epochs for k in args.models]:
        est = _small(args.device, epochs, 64)
        grid = {"lr": list(np.geomspace(1e-3, 3e-2, k // 2))}
        variants = {
            "sequential": dict(grouping="never", n_jobs=1),
            "processes": dict(grouping="never", n_jobs=min(k, args.jobs)),
            "grouped_eager": dict(grouping="always", cuda_graphs=False),
        }
        if cuda:
            variants["grouped_graphs"] = dict(grouping="always", cuda_graphs=True)
        row = {"models": k, "epochs": epochs, "rows": n, "batch": 64}
        reference = None
        for name, kwargs in variants.items():
            try:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    search = GroupedSearchCV(
                        est, grid, cv=cv, refit=False, **kwargs
                    ).fit(X, y)
                total = time.perf_counter() - start
            except Exception as exc:  # noqa: BLE001 - keep the other variants
                row[name] = {"error": repr(exc)}
                say(f"K={k} {name} failed: {exc!r}")
                continue
            fit_s = float(search.cv_results_["mean_fit_time"].sum() * 2)
            scores = search.cv_results_["mean_test_score"]
            if reference is None:
                reference = scores
            entry = {
                "total_s": round(total, 3),
                "training_s": round(fit_s, 3),
                "max_score_diff_vs_sequential": float(np.abs(scores - reference).max()),
            }
            entry["timings"] = {a: round(b, 3) for a, b in search.timings_.items()}
            if search.groups_:
                entry["cuda_graph"] = all(g["cuda_graph"] for g in search.groups_)
                entry["groups"] = [g["n_models"] for g in search.groups_]
            row[name] = entry
            say(f"K={k} {name}: {entry}")
        seq = row.get("sequential", {}).get("total_s")
        for name in variants:
            entry = row.get(name, {})
            if seq and "total_s" in entry:
                entry["speedup_vs_sequential"] = round(seq / entry["total_s"], 2)
        rows.append(row)
    return {"rows": rows}


def part_bayes(args) -> dict:
    """(d) BayesSearchCV grouped by the "sklstm" joblib backend vs ordinary."""
    import joblib
    from skopt import BayesSearchCV
    from skopt.space import Integer, Real

    from sklstm.model_selection import GroupingReport

    n, n_iter, n_points, folds = (256, 4, 2, 2) if args.quick else (2000, 50, 10, 5)
    X, y = _data(n, 50, 1)
    space = {
        "hidden_size": Integer(16, 128),
        "lr": Real(1e-4, 1e-1, prior="log-uniform"),
        "weight_decay": Real(1e-6, 1e-2, prior="log-uniform"),
    }
    est = LSTMRegressor(
        max_epochs=2 if args.quick else 10,
        batch_size=64,
        device=args.device,
        random_state=0,
    )

    def search():
        return BayesSearchCV(
            est, space, n_iter=n_iter, n_points=n_points, cv=folds, random_state=0
        )

    out = {"fits": n_iter * folds, "rows": n}
    report = GroupingReport()
    start = time.perf_counter()
    with joblib.parallel_config(backend="sklstm", report=report):
        grouped = search().fit(X, y)
    out["grouped_s"] = round(time.perf_counter() - start, 2)
    out["groups"] = [g["n_models"] for g in report.groups]
    out["fallbacks"] = dict(report.reasons())
    say(f"BayesSearchCV grouped: {out['grouped_s']}s, groups {out['groups']}")
    start = time.perf_counter()
    ordinary = search().fit(X, y)
    out["ordinary_s"] = round(time.perf_counter() - start, 2)
    out["speedup"] = round(out["ordinary_s"] / out["grouped_s"], 2)
    gap = np.abs(
        np.asarray(grouped.cv_results_["mean_test_score"])
        - np.asarray(ordinary.cv_results_["mean_test_score"])
    )
    out["max_score_diff"] = float(gap.max())
    say(f"BayesSearchCV ordinary: {out['ordinary_s']}s, speed-up {out['speedup']}")
    return out


def write(results: dict, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu.json").write_text(json.dumps(results, indent=2, default=str))
    lines = [f"# GPU benchmark ({results['device_name']})", ""]
    sizes = results.get("sizes", {})
    if "rows" in sizes:
        lines += [
            "| size | s/epoch sklstm | minimal | skorch | ratio sklstm | goal <=1.05 |",
            "|---|---|---|---|---|---|",
        ]
        for r in sizes["rows"]:
            e = r["s_per_epoch"]
            lines.append(
                f"| {r['size']} | {e['sklstm']} | {e['minimal']} | {e['skorch']} "
                f"| {r['ratio_sklstm']} | {r['goal_met']} |"
            )
        lines.append("")
    if "grid_jobs" in results:
        lines += [f"GridSearchCV n_jobs=2: {results['grid_jobs']}", ""]
    if "bayes" in results:
        lines += [f"BayesSearchCV grouped vs ordinary: {results['bayes']}", ""]
    grouped = results.get("grouped", {})
    if "rows" in grouped:
        lines += [
            "| K | epochs | variant | total s | training s | speed-up | graph "
            "| prepare / grouped / search s |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for row in grouped["rows"]:
            for name, entry in row.items():
                if not isinstance(entry, dict):
                    continue
                t = entry.get("timings", {})
                phases = " / ".join(
                    str(t.get(p, "")) for p in ("prepare", "grouped", "search")
                )
                lines.append(
                    f"| {row['models']} | {row['epochs']} | {name} | "
                    f"{entry.get('total_s')} | {entry.get('training_s')} | "
                    f"{entry.get('speedup_vs_sequential')} | "
                    f"{entry.get('cuda_graph', '')} | {phases} |"
                )
    for key, value in results.items():
        if isinstance(value, dict) and "error" in value:
            lines += ["", f"{key} failed: {value['error']}"]
    (out / "gpu.md").write_text("\n".join(lines) + "\n")


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true", help="tiny smoke run")
    parser.add_argument("--out", default=str(HERE / "results"))
    parser.add_argument(
        "--parts", nargs="*", default=["sizes", "grid_jobs", "grouped", "bayes"]
    )
    parser.add_argument("--models", type=int, nargs="*", default=None)
    parser.add_argument("--jobs", type=int, default=8, help="processes in part c")
    parser.add_argument(
        "--epochs", type=int, nargs="*", default=None, help="epochs in part c"
    )
    args = parser.parse_args(argv)
    if args.models is None:
        args.models = [4] if args.quick else [8, 32]
    if args.epochs is None:
        args.epochs = [2] if args.quick else [8, 20]
    if args.quick:
        args.jobs = min(args.jobs, 2)
    cuda = args.device.startswith("cuda")
    results = {
        "device": args.device,
        "device_name": torch.cuda.get_device_name() if cuda else platform.processor(),
        "torch": torch.__version__,
        "quick": args.quick,
    }
    out = Path(args.out)
    parts = {
        "sizes": part_sizes,
        "grid_jobs": part_grid_jobs,
        "grouped": part_grouped,
        "bayes": part_bayes,
    }
    for name in args.parts:
        say(f"part {name} ...")
        start = time.perf_counter()
        try:
            results[name] = parts[name](args)
        except Exception as exc:  # noqa: BLE001 - one failure must not lose the rest
            results[name] = {"error": repr(exc), "traceback": traceback.format_exc()}
            say(f"part {name} failed: {exc!r}")
        say(f"part {name} done in {time.perf_counter() - start:.1f}s")
        write(results, out)
    print((out / "gpu.md").read_text(), flush=True)
    return results


if __name__ == "__main__":
    main()
