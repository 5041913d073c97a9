"""sklstm benchmark suite: one command, one table per question.

    python benchmarks/run.py                 # CPU, the issue's sizes
    python benchmarks/run.py --scale 0.1     # same shapes, a tenth of the samples
    python benchmarks/run.py --device cuda   # adds the 100k x 50 x 16 size

Each timing is the median of ``--repeats`` runs; sklstm and the references run
interleaved within each repeat and ratios are taken pair by pair, since these
machines are noisy. See benchmarks/baselines.py for the references.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE), str(HERE.parent)]  # the checkout, not an installed copy
from baselines import minimal_fit, minimal_predict, skorch_fit  # noqa: E402

from sklstm import LSTMRegressor  # noqa: E402
from sklstm._engine._runtime import auto_threads  # noqa: E402

# (n_samples, n_timesteps, n_features, hidden_size, num_layers, batch_size)
CPU_SIZES = [
    (2_000, 30, 1, 32, 1, 32),
    (20_000, 50, 8, 64, 1, 64),
    (20_000, 100, 8, 128, 2, 256),
]
GPU_SIZES = CPU_SIZES + [(100_000, 50, 16, 256, 2, 512)]


def make_data(n, T, F, seed=0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, T, F)).astype(np.float32)
    return X, X[:, :, 0].mean(axis=1) + 0.1 * rng.normal(size=n)


def sklstm_est(H, L, bs, epochs, device):
    return LSTMRegressor(
        hidden_size=H,
        num_layers=L,
        batch_size=bs,
        max_epochs=epochs,
        device=device,
        random_state=0,
        scale_target=False,
        # the same work as the minimal loop: no clipping, a constant rate
        gradient_clip=None,
        lr_scheduler=None,
    )


def sync(device):
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device="cpu"):
    start = time.perf_counter()
    out = fn()
    sync(device)
    return time.perf_counter() - start, out


def _paired_round(X, y, H, L, bs, args):
    """One interleaved round: fit and predict times of sklstm, minimal, skorch."""
    params = dict(hidden_size=H, num_layers=L, batch_size=bs, epochs=args.epochs)
    params["device"] = args.device
    est = sklstm_est(H, L, bs, args.epochs, args.device)
    t_sk, _ = timed(lambda: est.fit(X, y), args.device)
    t_min, module = minimal_fit(X, y, **params)
    t_sko, net = skorch_fit(X, y, **params)
    p_sk, _ = timed(lambda: est.predict(X), args.device)
    p_min = minimal_predict(module, X, device=args.device)
    p_sko, _ = timed(lambda: net.predict(X), args.device)
    return (t_sk, t_min, t_sko), (p_sk, p_min, p_sko)


def _median_ratio(a, b):
    return statistics.median([x / y for x, y in zip(a, b, strict=True)])


def bench_fit_predict(sizes, args):
    rows = []
    default_threads = torch.get_num_threads()
    for n, T, F, H, L, bs in sizes:
        n = max(int(n * args.scale), 4 * bs)
        X, y = make_data(n, T, F)
        torch.set_num_threads(default_threads)
        # the references get the threads sklstm picks by itself
        threads = auto_threads(bs, F, H) if args.device == "cpu" else default_threads
        torch.set_num_threads(threads)
        names = ("sklstm", "minimal", "skorch")
        fit = {k: [] for k in names}
        pred = {k: [] for k in names}
        _paired_round(X, y, H, L, bs, args)  # warm-up
        for _ in range(args.repeats):
            fits, preds = _paired_round(X, y, H, L, bs, args)
            for key, f, p in zip(names, fits, preds, strict=True):
                fit[key].append(f)
                pred[key].append(p)
        med = statistics.median
        rows.append(
            {
                "size": f"{n}x{T}x{F} H{H} L{L} b{bs}",
                "threads": threads,
                "fit_s": {k: round(med(v), 3) for k, v in fit.items()},
                "fit_ratio_sklstm": round(
                    _median_ratio(fit["sklstm"], fit["minimal"]), 3
                ),
                "fit_ratio_skorch": round(
                    _median_ratio(fit["skorch"], fit["minimal"]), 3
                ),
                # skorch trains on 80% (its hidden ValidSplit): per training sample
                "fit_ratio_skorch_per_sample": round(
                    _median_ratio(fit["skorch"], fit["minimal"]) / 0.8, 3
                ),
                "predict_s": {k: round(med(v), 4) for k, v in pred.items()},
                "predict_ratio_sklstm": round(
                    _median_ratio(pred["sklstm"], pred["minimal"]), 3
                ),
                "predict_ratio_skorch": round(
                    _median_ratio(pred["skorch"], pred["minimal"]), 3
                ),
            }
        )
        print(json.dumps(rows[-1]), flush=True)
    torch.set_num_threads(default_threads)
    return rows


def bench_overhead(args):
    """Fixed cost of one fit on a tiny problem, beyond the plain loop's."""
    X, y = make_data(8, 3, 1)
    torch.set_num_threads(1)
    extra = []
    for _ in range(30):
        t_sk, _ = timed(lambda: sklstm_est(2, 1, 8, 1, args.device).fit(X, y))
        t_min, _ = minimal_fit(
            X,
            y,
            hidden_size=2,
            num_layers=1,
            batch_size=8,
            epochs=1,
            device=args.device,
        )
        extra.append(t_sk - t_min)
    row = {"fixed_overhead_ms": round(1000 * statistics.median(extra[5:]), 2)}
    print(json.dumps(row), flush=True)
    return row


def bench_scaling(args):
    """Fit time when n_samples or n_timesteps grows 10x (1 thread, 1 epoch)."""
    torch.set_num_threads(1)
    base = (int(2000 * args.scale) or 200, 20)

    def fit_time(n, T):
        X, y = make_data(n, T, 4)
        times = []
        for _ in range(args.repeats):
            t, _ = timed(lambda: sklstm_est(32, 1, 64, 1, args.device).fit(X, y))
            times.append(t)
        return statistics.median(times)

    fit_time(*base)  # warm-up
    t0 = fit_time(*base)
    row = {
        "base": f"{base[0]}x{base[1]}",
        "time_x10_samples": round(fit_time(base[0] * 10, base[1]) / t0, 2),
        "time_x10_timesteps": round(fit_time(base[0], base[1] * 10) / t0, 2),
    }
    print(json.dumps(row), flush=True)
    return row


def bench_threads(args):
    """1 vs 2 torch threads on the plain loop, by work per step (the auto policy)."""
    rows = []
    default = torch.get_num_threads()
    for n, T, F, H, L, bs in [
        (2000, 30, 1, 32, 1, 32),
        (2000, 50, 8, 64, 1, 64),
        (2000, 20, 4, 128, 1, 256),
    ]:
        X, y = make_data(max(int(n * args.scale), 4 * bs), T, F)
        times = {1: [], 2: []}
        for _ in range(args.repeats):
            for threads in (1, 2):
                torch.set_num_threads(threads)
                t, _ = minimal_fit(
                    X,
                    y,
                    hidden_size=H,
                    num_layers=L,
                    batch_size=bs,
                    epochs=1,
                    device=args.device,
                )
                times[threads].append(t)
        row = {
            "work_per_step_M": round(bs * 4 * H * (F + H) / 1e6, 2),
            "auto_threads": auto_threads(bs, F, H) if default > 1 else 1,
            "speedup_2_threads": round(
                statistics.median(times[1]) / statistics.median(times[2]), 2
            ),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    torch.set_num_threads(default)
    return rows


def bench_ragged(args):
    """Variable-length data: fit time with and without length bucketing."""
    torch.set_num_threads(1)
    rng = np.random.RandomState(0)
    n = int(4000 * args.scale) or 400
    X = [rng.normal(size=(rng.randint(5, 200), 4)).astype(np.float32) for _ in range(n)]
    y = np.array([x[:, 0].mean() for x in X])
    times = {False: [], True: []}
    for _ in range(args.repeats + 1):
        for bucket in (False, True):
            est = sklstm_est(32, 1, 64, 1, args.device).set_params(
                bucket_by_length=bucket
            )
            t, _ = timed(lambda est=est: est.fit(X, y), args.device)
            times[bucket].append(t)
    plain, bucketed = (statistics.median(times[b][1:]) for b in (False, True))
    row = {
        "ragged": f"{n} sequences, 5-200 steps",
        "fit_s_plain": round(plain, 3),
        "fit_s_bucketed": round(bucketed, 3),
        "bucketing_speedup": round(plain / bucketed, 2),
    }
    print(json.dumps(row), flush=True)
    return row


_MEMORY_CHILD = """
import resource, sys, numpy as np
sys.path[:0] = {paths!r}
from run import make_data, sklstm_est
from baselines import minimal_fit
X, y = make_data({n}, {T}, {F})
X = X.astype(np.float64)  # what users usually hand over
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
if {which!r} == "sklstm":
    sklstm_est({H}, {L}, {bs}, 1, {device!r}).fit(X, y)
else:
    minimal_fit(X, y, hidden_size={H}, num_layers={L}, batch_size={bs}, epochs=1,
                device={device!r})
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((peak - before) / 1024)
"""


def bench_memory(sizes, args):
    """Peak RSS growth of one fit vs the budget (float32 data x 2 + model + 300 MB),
    next to the minimal loop's on the same data (activations for backprop are
    the same for both and not in the budget)."""
    rows = []
    paths = [str(HERE), str(HERE.parent)]
    for n, T, F, H, L, bs in sizes:
        n = max(int(n * args.scale), 4 * bs)
        grown = {}
        for which in ("sklstm", "minimal"):
            code = _MEMORY_CHILD.format(
                paths=paths,
                n=n,
                T=T,
                F=F,
                H=H,
                L=L,
                bs=bs,
                device=args.device,
                which=which,
            )
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True
            )
            grown[which] = float(out.stdout.strip().splitlines()[-1])
        data_mb = n * T * F * 4 / 2**20
        model_mb = 4 * 4 * H * (F + H + 2) * L * 4 / 2**20  # weights, grads, Adam
        row = {
            "size": f"{n}x{T}x{F} H{H} L{L} b{bs}",
            "peak_growth_mb": round(grown["sklstm"], 1),
            "minimal_loop_peak_growth_mb": round(grown["minimal"], 1),
            "budget_mb": round(2 * data_mb + model_mb + 300, 1),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def bench_grid_jobs(args):
    """GridSearchCV wall time with n_jobs=1 vs n_jobs=2 on the same grid."""
    from sklearn.model_selection import GridSearchCV

    X, y = make_data(int(3000 * args.scale) or 300, 20, 2)
    grid = {"hidden_size": [16, 32], "lr": [1e-3, 1e-2]}
    times = {1: [], 2: []}
    for jobs in (1, 2, 1, 2):
        search = GridSearchCV(
            sklstm_est(32, 1, 64, 3, args.device), grid, cv=3, n_jobs=jobs
        )
        start = time.perf_counter()
        search.fit(X, y)
        times[jobs].append(time.perf_counter() - start)
    row = {
        "grid_n_jobs1_s": round(min(times[1]), 2),
        "grid_n_jobs2_s": round(min(times[2]), 2),
        "speedup": round(min(times[1]) / min(times[2]), 2),
    }
    print(json.dumps(row), flush=True)
    return row


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument(
        "--sizes", type=int, nargs="*", help="indices of the sizes to run (default all)"
    )
    parser.add_argument(
        "--only",
        nargs="*",
        default=["fit", "overhead", "scaling", "ragged", "threads", "memory", "grid"],
    )
    args = parser.parse_args(argv)
    initial_threads = torch.get_num_threads()
    sizes = GPU_SIZES if args.device.startswith("cuda") else CPU_SIZES
    if args.sizes:
        sizes = [sizes[i] for i in args.sizes]
    results = {}
    if "fit" in args.only:
        torch.set_num_threads(initial_threads)
        results["fit_predict"] = bench_fit_predict(sizes, args)
    if "overhead" in args.only:
        torch.set_num_threads(initial_threads)
        results["overhead"] = bench_overhead(args)
    if "scaling" in args.only:
        torch.set_num_threads(initial_threads)
        results["scaling"] = bench_scaling(args)
    if "ragged" in args.only:
        torch.set_num_threads(initial_threads)
        results["ragged"] = bench_ragged(args)
    if "threads" in args.only:
        torch.set_num_threads(initial_threads)
        results["threads"] = bench_threads(args)
    if "memory" in args.only:
        torch.set_num_threads(initial_threads)
        results["memory"] = bench_memory(sizes, args)
    if "grid" in args.only and not args.device.startswith("cuda"):
        torch.set_num_threads(initial_threads)
        results["grid"] = bench_grid_jobs(args)
    print_table(results)
    return results


def print_table(results):
    if "fit_predict" in results:
        print(
            "\n| size | threads | fit s: sklstm / minimal / skorch | fit ratio sklstm "
            "| fit ratio skorch (per sample) | predict ratio sklstm "
            "| predict ratio skorch |"
        )
        print("|---|---|---|---|---|---|---|")
        for r in results["fit_predict"]:
            f = r["fit_s"]
            print(
                f"| {r['size']} | {r['threads']} | {f['sklstm']} / {f['minimal']} / "
                f"{f['skorch']} | {r['fit_ratio_sklstm']} | {r['fit_ratio_skorch']} "
                f"({r['fit_ratio_skorch_per_sample']}) | {r['predict_ratio_sklstm']} | "
                f"{r['predict_ratio_skorch']} |"
            )
    for key in ("overhead", "scaling", "ragged", "threads", "grid"):
        if key in results:
            print(f"{key}: {results[key]}")
    for row in results.get("memory", []):
        print(f"memory: {row}")


if __name__ == "__main__":
    main()
