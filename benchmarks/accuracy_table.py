"""Shared by the accuracy benchmarks: a command line and a Markdown table."""

from __future__ import annotations

import argparse
from collections.abc import Callable

# a hand-tuned plain LSTM configuration, the reference of both benchmarks
TUNED_PLAIN = {
    "hidden_size": 64,
    "lr": 1e-2,
    "batch_size": 16,
    "max_epochs": 100,
    "lr_scheduler": "cosine",
    "gradient_clip": 1.0,
}


def run_and_print(
    doc: str, datasets: list[str], run: Callable[[str, int], list[dict]], label: str
) -> None:
    """Parse ``--seeds`` and ``--only``, run each data set, print the table.

    Each row is a dict with ``data``, ``label`` (the configuration),
    ``accuracy``, ``spread``, ``fit_s`` and ``note``.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=datasets)
    args = parser.parse_args()
    rows = [row for name in args.only for row in run(name, args.seeds)]
    print(f"| data set | {label} | test accuracy | spread | fit s | used |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['data']} | {r['label']} | {r['accuracy']:.3f} | "
            f"{r['spread']:.3f} | {r['fit_s']:.1f} | {r['note']} |"
        )
