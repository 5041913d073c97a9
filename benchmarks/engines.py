"""The same GridSearchCV on three engines: one process, joblib's loky, a Dask cluster.

    python benchmarks/engines.py                      # 18 fits x 3 runs x 3 engines
    python benchmarks/engines.py --n-samples 2000 --max-epochs 10 --workers 4

Each engine runs the search once cold (worker start-up, imports and the first
fit's warm-up included) and then ``--repeats`` times warm; the table gives the
cold time and the warm median, and checks that every engine found the same
cross-validation scores. Needs the ``dask`` extra (``pip install ".[dask]"``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path

import joblib
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402

from sklstm import LSTMRegressor  # noqa: E402


def make_data(n: int, steps: int, features: int, seed: int = 0):
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps, features)).astype(np.float32)
    return X, X[:, :, 0].mean(axis=1) + 0.1 * rng.normal(size=n)


def make_search(args: argparse.Namespace, n_jobs: int | None) -> GridSearchCV:
    return GridSearchCV(
        LSTMRegressor(max_epochs=args.max_epochs, batch_size=32, random_state=0),
        {"hidden_size": [8, 16, 32], "lr": [1e-3, 1e-2]},
        cv=KFold(args.cv),
        n_jobs=n_jobs,
    )


def time_engine(
    args: argparse.Namespace,
    X: np.ndarray,
    y: np.ndarray,
    n_jobs: int | None,
    context: Callable[[], AbstractContextManager],
) -> tuple[float, float, np.ndarray]:
    """Cold time, median warm time, and the mean test scores of one engine."""
    times = []
    with context():  # joblib applies a backend when it is created: make it here
        for _ in range(args.repeats + 1):
            start = time.perf_counter()
            search = make_search(args, n_jobs).fit(X, y)
            times.append(time.perf_counter() - start)
    return times[0], statistics.median(times[1:]), search.cv_results_["mean_test_score"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n-samples", type=int, default=500)
    parser.add_argument("--n-timesteps", type=int, default=20)
    parser.add_argument("--n-features", type=int, default=4)
    parser.add_argument("--max-epochs", type=int, default=5)
    parser.add_argument("--cv", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=2, help="loky jobs, Dask workers"
    )
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()

    from distributed import Client, LocalCluster

    X, y = make_data(args.n_samples, args.n_timesteps, args.n_features)
    n_fits = 6 * args.cv
    print(
        f"GridSearchCV, {n_fits} fits of LSTMRegressor on {X.shape}, "
        f"{args.max_epochs} epochs; {args.workers} workers\n"
    )
    rows = [("local, n_jobs=1", *time_engine(args, X, y, None, nullcontext))]
    loky = time_engine(args, X, y, args.workers, nullcontext)
    rows.append((f"loky, n_jobs={args.workers}", *loky))
    start = time.perf_counter()
    cluster = LocalCluster(
        n_workers=args.workers,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address="127.0.0.1:0",
    )
    client = Client(cluster)
    cluster_s = time.perf_counter() - start
    try:
        dask = time_engine(args, X, y, None, lambda: joblib.parallel_backend("dask"))
        rows.append((f"dask, {args.workers} workers", *dask))
    finally:
        client.close()
        cluster.close()

    reference = rows[0][3]
    print("| engine | cold s | warm s | fits/s warm | same scores |")
    print("|---|---:|---:|---:|---|")
    for name, cold, warm, scores in rows:
        same = "yes" if np.allclose(scores, reference) else "NO"
        print(f"| {name} | {cold:.2f} | {warm:.2f} | {n_fits / warm:.1f} | {same} |")
    print(f"\nDask cluster start-up (not in the table): {cluster_s:.2f} s")


if __name__ == "__main__":
    main()
