"""Hostile files of every kind: what ``load`` does with them, in how long, and
at what peak memory; then a fuzz run over the three file kinds.

    python benchmarks/trust.py [--cases N]

Table 1 builds, next to small real files (a model, a pipeline, a text
pipeline and a forecaster), the hostile files of issue 23 and the earlier
ones: decompression bombs at each nesting level and across levels, a skops
array read thousands of times, array headers that lie, a wide string
dtype, duplicate member names, format versions out of range, a saved device
that is no device, a planted ``Pipeline.memory``, a catastrophic
``token_pattern``, and forecasters whose state or inner model was edited.
Each file is loaded in a fresh process (its address space capped 4 GiB
above the imports): the seconds until ``load`` returned or refused, the
peak RSS while loading over the baseline (``import sklstm, skops.io``), and
the outcome. A file that loads is then used once (``predict``, and
``forecast`` for a forecaster).

Table 2 mutates each file kind ``N`` times (seeded; bytes, truncation,
JSON values of ``meta.json``, of the skops schema and of the restored
object's state, the skops arrays, the nested model file, pickle payloads,
duplicate names, bombs) and loads and uses every mutant in one process per
kind: cases, refusals (a ``ValueError`` naming the file), files that
loaded, crashes (anything else, a signal included) and payloads that ran.
"""

from __future__ import annotations

import argparse
import copy
import io
import json
import os
import random
import subprocess
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np
import torch

HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(HERE.parent)]
from sklearn.pipeline import make_pipeline  # noqa: E402

from sklstm import LSTMClassifier, LSTMRegressor, save  # noqa: E402
from sklstm.forecasting import WindowedForecaster  # noqa: E402
from sklstm.preprocessing import SequenceScaler, TextSequencer  # noqa: E402

FAST = {"hidden_size": 4, "max_epochs": 1, "batch_size": 16, "random_state": 0}
_CAP = """
import resource
try:
    used = int(open("/proc/self/statm").read().split()[0]) * resource.getpagesize()
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    resource.setrlimit(resource.RLIMIT_AS, (used + 4 * 2**30, hard))
except (OSError, ValueError):
    pass
"""
_USE = """
def use(est, path, X, series, texts):
    if "text" in path.rsplit("/", 1)[-1]:
        est.predict(texts)
    elif hasattr(est, "forecast"):
        est.predict(series[:, None])
        est.forecast(2)
    elif hasattr(est, "predict"):
        # a mutant may be another valid file (a truncated pipeline file can
        # be the model file it holds): give it the features it reads
        width = getattr(est, "n_features_in_", X.shape[2])
        est.predict(np.resize(X, X.shape[:2] + (width,)))
"""
_PROBE = (
    """
import resource, sys, time, warnings
import numpy as np
import sklstm, skops.io
warnings.simplefilter("ignore")
"""
    + _CAP
    + _USE
    + """
X, series = np.load(sys.argv[1]), np.load(sys.argv[2])
texts = ["good film", "very bad"]


def rss(field):
    # the kernel's resident set peak (VmHWM) can be reset (clear_refs 5), so
    # the peak of the import does not hide the peak of load
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])


try:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    base = rss("VmRSS:")
    peak_of = lambda: rss("VmHWM:")
except OSError:  # no /proc: the lifetime peak (an upper bound)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    peak_of = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.perf_counter()
outcome, est = "loaded", None
if sys.argv[3] != "-":
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            est = sklstm.load(sys.argv[3])
        if caught:
            outcome = "loaded, warned: " + str(caught[0].message).split(": ", 1)[-1]
    except ValueError as exc:
        outcome = "ValueError: " + str(exc).replace(sys.argv[3], "FILE")
took = time.perf_counter() - start
peak = peak_of()
if est is not None:
    try:
        use(est, sys.argv[3], X, series, texts)
    except Exception as exc:
        outcome += f" / then {type(exc).__name__}: {exc}"
outcome = outcome.replace("|", "/").replace(chr(10), " ")[:110]
print(f"{took:.3f} {base / 1024:.0f} {max(peak - base, 0) / 1024:.0f} {outcome}")
"""
)
_FUZZ_LOADER = (
    """
import json, sys, warnings
import numpy as np
from sklstm import load
warnings.simplefilter("ignore")
"""
    + _CAP
    + _USE
    + """
X, series = np.load(sys.argv[1]), np.load(sys.argv[2])
texts = ["good film", "very bad"]
for path in sys.argv[3:]:
    print(json.dumps({"start": path}), flush=True)
    try:
        use(load(path), path, X, series, texts)
        outcome = "loaded"
    except ValueError as exc:
        outcome = "refused" if path in str(exc) else "ValueError-unnamed"
    except Exception as exc:
        outcome = type(exc).__name__ + ": " + str(exc)[:200]
    print(json.dumps({"path": path, "outcome": outcome}), flush=True)
"""
)


# ------------------------------------------------------------ zip helpers
def unzip(data: bytes) -> list[tuple[str, bytes, int]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (i.filename, archive.read(i), i.compress_type) for i in archive.infolist()
        ]


def zipped(items) -> bytes:
    """``(name, data, compression[, level])`` members as a zip archive."""
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, *how in items:
                archive.writestr(name, data, *how)
    return buffer.getvalue()


def parts_of(path: Path) -> dict:
    """A file's members; for a pipeline file also its skops schema and arrays."""
    outer = unzip(path.read_bytes())
    parts = {
        "outer": outer,
        "meta": json.loads(dict((n, d) for n, d, _ in outer)["meta.json"]),
    }
    if parts["meta"].get("format") == "sklstm-pipeline":
        skops_part = unzip(dict((n, d) for n, d, _ in outer)["pipeline.skops"])
        parts["schema"] = json.loads(
            dict((n, d) for n, d, _ in skops_part)["schema.json"]
        )
        parts["arrays"] = [m for m in skops_part if m[0] != "schema.json"]
        parts["model"] = unzip(dict((n, d) for n, d, _ in outer)["model-0.sklstm"])
    return parts


def pipeline_bytes(parts, meta=None, schema=None, arrays=None, model=None, extra=()):
    """A pipeline file from (edited) parts."""
    schema = parts["schema"] if schema is None else schema
    arrays = parts["arrays"] if arrays is None else arrays
    blob = zipped([("schema.json", json.dumps(schema).encode(), 0), *arrays])
    inner = zipped(parts["model"] if model is None else model)
    return zipped(
        [
            ("meta.json", json.dumps(meta or parts["meta"]).encode(), 8),
            ("pipeline.skops", blob, 0),
            ("model-0.sklstm", inner, 0),
            *extra,
        ]
    )


def json_node(value) -> dict:
    content = json.dumps(value)
    kind = type(value).__name__
    return {
        "__class__": kind,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": content,
        "is_json": True,
        "__id__": 1,
    }


def array_node(name: str, i: int = 0) -> dict:
    return {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": name,
        "__id__": 10**6 + i,
    }


def npy(array=None, **header) -> bytes:
    buffer = io.BytesIO()
    if header:
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": "<f8", "fortran_order": False, **header}
        )
        return buffer.getvalue() + bytes(64)
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def state(schema: dict) -> dict:
    """The attribute nodes of the object a skops schema holds."""
    return schema["content"]["content"]


class Payload:
    """Pickles to ``os.mkdir(marker)``: harmless and observable if ever run."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


# -------------------------------------------------------------- the files
def fitted_files(tmp: Path) -> dict[str, Path]:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(32, 5, 2))
    y = X.sum(axis=(1, 2))
    texts = ["good film", "bad film", "very good", "very bad"] * 8
    series = np.sin(np.arange(60.0) / 3)
    wide = np.c_[series, np.cos(series), series**2]
    return {
        "model": save(LSTMRegressor(**FAST).fit(X, y), tmp / "model.sklstm"),
        "classifier": save(
            LSTMClassifier(**FAST).fit(X, np.where(y > 0, "up", "down")),
            tmp / "classifier.sklstm",
        ),
        "pipeline": save(
            make_pipeline(SequenceScaler(), LSTMRegressor(**FAST)).fit(X, y),
            tmp / "pipeline.sklstm",
        ),
        "text": save(
            make_pipeline(TextSequencer(), LSTMClassifier(**FAST, embedding_dim=3)).fit(
                texts, [1, 0, 1, 0] * 8
            ),
            tmp / "text.sklstm",
        ),
        "forecaster": save(
            WindowedForecaster(LSTMRegressor(**FAST), lookback=5).fit(
                series[:, None], series
            ),
            tmp / "forecaster.sklstm",
        ),
        "forecaster3": save(
            WindowedForecaster(LSTMRegressor(**FAST), lookback=5).fit(wide, series),
            tmp / "forecaster3.sklstm",
        ),
        "forecaster8": save(
            WindowedForecaster(LSTMRegressor(**FAST), lookback=8).fit(
                series[:, None], series
            ),
            tmp / "forecaster8.sklstm",
        ),
    }


def _with_meta(parts, edit) -> bytes:
    """A model file whose meta.json went through ``edit``."""
    meta = copy.deepcopy(parts["meta"])
    edit(meta)
    weights = dict((n, d) for n, d, _ in parts["outer"])["weights.pt"]
    return zipped(
        [("meta.json", json.dumps(meta).encode(), 8), ("weights.pt", weights, 0)]
    )


def _with_state(parts, **values) -> bytes:
    """A pipeline file whose object's attributes are set to ``values``."""
    schema = copy.deepcopy(parts["schema"])
    for name, value in values.items():
        state(schema)[name] = value
    return pipeline_bytes(parts, schema=schema)


def _bomb(head: bytes, blocks, other: bytes, level: int = 6, name="meta.json"):
    """A model file whose member ``name`` is ``head`` then the ``blocks``
    (streamed, never held in memory), deflated at ``level``; ``other``: the
    other member (weights.pt, or meta.json)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=level) as z:
        with z.open(name, "w", force_zip64=True) as member:
            member.write(head)
            for block in blocks:
                member.write(block)
        rest = "weights.pt" if name == "meta.json" else "meta.json"
        z.writestr(rest, other, zipfile.ZIP_STORED)
    return buffer.getvalue()


def _whitespace(size: int):
    """``size`` bytes of JSON whitespace that deflate about 170-fold, with a
    fresh random block every 32 MiB: the deflated stream then compresses
    less than 200-fold again."""
    rng = np.random.RandomState(0)
    block = rng.choice(list(b" \t\n\r"), 4096).astype(np.uint8).tobytes()
    for i in range(size // len(block)):
        if i % (2**25 // len(block)) == 0:
            yield rng.choice(list(b" \t\n\r"), 4096).astype(np.uint8).tobytes()
        else:
            yield block


def model_cases(files) -> dict[str, bytes]:
    model, clf = parts_of(files["model"]), parts_of(files["classifier"])
    weights = dict((n, d) for n, d, _ in model["outer"])["weights.pt"]
    head = json.dumps(model["meta"]).encode()
    wide = lambda m: m["fitted"]["classes_"].update(dtype="<U500000000")  # noqa: E731
    return {
        "model: meta.json inflating to 1 GiB": _bomb(
            head, [b" " * 2**24] * 64, weights
        ),
        "model: declares hidden_size=16000": _with_meta(
            model, lambda m: m["params"].update(hidden_size=16000)
        ),
        "model: declares num_layers=20000": _with_meta(
            model, lambda m: m["params"].update(num_layers=20000)
        ),
        "model: duplicate member names": zipped(
            [*model["outer"], ("weights.pt", b"last entry wins", 0)]
        ),
        "model: format_version 0": _with_meta(
            model, lambda m: m.update(format_version=0)
        ),
        "model: format_version -1": _with_meta(
            model, lambda m: m.update(format_version=-1)
        ),
        "model: device='os.system'": _with_meta(
            model, lambda m: m["params"].update(device="os.system")
        ),
        "classifier: classes_ of dtype <U500000000": _with_meta(clf, wide),
    }


def pipeline_cases(files, tmp: Path) -> dict[str, bytes]:
    pipe, text = parts_of(files["pipeline"]), parts_of(files["text"])
    refs = copy.deepcopy(pipe["schema"])
    state(refs)["extra"] = {
        "__class__": "list",
        "__module__": "builtins",
        "__loader__": "ListNode",
        "__id__": 99,
        "content": [array_node("big.npy", i) for i in range(3000)],
    }
    big = ("big.npy", npy(np.zeros(2**17 - 16)), 8)
    reread = unzip(pipeline_bytes(pipe, schema=refs, arrays=[*pipe["arrays"], big]))
    model = dict((n, d) for n, d, _ in pipe["model"])
    nested = _bomb(
        model["weights.pt"], _whitespace(2**30), model["meta.json"], 9, "weights.pt"
    )
    outer = [
        (n, nested, 8, 1) if n == "model-0.sklstm" else (n, d, c)
        for n, d, c in unzip(pipeline_bytes(pipe))
    ]
    sequencer = copy.deepcopy(text["schema"])
    step = state(sequencer)["steps"]["content"][0]["content"][1]
    state(step)["token_pattern"] = json_node("(a+)+$")
    planted = tmp / "planted-cache"
    planted.mkdir(exist_ok=True)
    return {
        "pipeline: a skops array referenced 3000 times": zipped(
            [(n, d, 8) for n, d, _ in reread]
        ),
        "pipeline: a skops member inflating 1000-fold": pipeline_bytes(
            pipe,
            arrays=[*pipe["arrays"], ("z.npy", npy(np.zeros(2**22)), 8)],
            schema=_referencing(pipe["schema"], "z.npy"),
        ),
        "pipeline: an array header declaring 8 GB": pipeline_bytes(
            pipe,
            arrays=[*pipe["arrays"], ("lie.npy", npy(shape=(10**9,)), 0)],
            schema=_referencing(pipe["schema"], "lie.npy"),
        ),
        "pipeline: nested weights.pt of 1 GiB (171x inside 73x)": zipped(outer),
        "pipeline: Pipeline.memory planted": _with_state(
            pipe, memory=json_node(str(planted))
        ),
        "text pipeline: token_pattern '(a+)+$'": pipeline_bytes(text, schema=sequencer),
        "pipeline: format_version 0": pipeline_bytes(
            pipe, meta={**pipe["meta"], "format_version": 0}
        ),
    }


def _referencing(schema: dict, name: str) -> dict:
    schema = copy.deepcopy(schema)
    state(schema)["extra"] = array_node(name)
    return schema


def forecaster_cases(files) -> dict[str, bytes]:
    fc, fc3 = parts_of(files["forecaster"]), parts_of(files["forecaster3"])
    fc8 = parts_of(files["forecaster8"])
    lag = {
        "__class__": "tuple",
        "__module__": "builtins",
        "__loader__": "TupleNode",
        "content": [json_node(10**9)],
        "__id__": 98,
    }
    return {
        "forecaster: lookback=10**9": _with_state(fc, lookback=json_node(10**9)),
        "forecaster: horizon=10**9": _with_state(fc, horizon=json_node(10**9)),
        "forecaster: differences=10**9 (and its lags)": _with_state(
            fc, differences=json_node(10**9), _lags=lag
        ),
        "forecaster: n_features_in_=3": _with_state(fc, n_features_in_=json_node(3)),
        "forecaster: inner model trained on 3 columns": pipeline_bytes(
            fc, model=fc3["model"]
        ),
        "forecaster: inner model trained with lookback=8": pipeline_bytes(
            fc, model=fc8["model"]
        ),
    }


# -------------------------------------------------------------- the runs
def probe(cases: dict[str, str], data: list[str]) -> None:
    """Table 1: each file loaded in a fresh process."""
    print("| file | KB | seconds | peak RSS MB over baseline | outcome |")
    print("|---|---|---|---|---|")
    for name, path in cases.items():
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, *data, path],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
        )
        if done.returncode != 0:
            print(
                f"| {name} | | | | crashed ({done.returncode}): {done.stderr[-200:]} |"
            )
            continue
        took, base, over, outcome = done.stdout.strip().split(" ", 3)
        size = "" if path == "-" else f"{os.path.getsize(path) / 1024:.0f}"
        if path == "-":
            over = f"(baseline {base})"
        print(f"| {name} | {size} | {took} | {over} | {outcome} |")


def mutate_model(parts, rng: random.Random, marker) -> bytes | None:
    """A model-file mutant (None: one of the byte-level kinds)."""
    kind = rng.choice(["json", "json", "tensor", "payload", "bomb", "duplicate"])
    meta = copy.deepcopy(parts["meta"])
    weights = dict((n, d) for n, d, _ in parts["outer"])["weights.pt"]
    if kind == "json":
        _set_random(meta, rng)
    elif kind == "tensor":
        state_dicts = torch.load(io.BytesIO(weights), weights_only=True)
        key = rng.choice(sorted(state_dicts["module"]))
        state_dicts["module"][key] = rng.choice(
            [torch.zeros(0), torch.ones(3), torch.full((2, 2), float("nan"))]
        )
        buffer = io.BytesIO()
        torch.save(state_dicts, buffer)
        weights = buffer.getvalue()
    elif kind == "payload":
        buffer = io.BytesIO()
        torch.save({"module": Payload(marker)}, buffer)
        weights = buffer.getvalue()
    elif kind == "bomb":
        return _bomb(
            json.dumps(meta).encode(), [b" " * 2**20] * rng.randint(2, 40), weights
        )
    members = [("meta.json", json.dumps(meta).encode(), 8), ("weights.pt", weights, 0)]
    if kind == "duplicate":
        members.append(rng.choice(members))
    return zipped(members)


_VALUES = [
    None,
    True,
    -1,
    0,
    7,
    2**70,
    1e308,
    float("nan"),
    "",
    "os.system",
    [1, 2],
    {"__sklstm__": "ndarray", "dtype": "<f8", "shape": [10**9], "data": []},
    {"__sklstm__": "ndarray", "dtype": "<U400000000", "shape": [2], "data": ["a", "b"]},
    {"__sklstm__": "scalar", "dtype": "O", "value": "os.system"},
    {"__sklstm__": "optimizer", "name": "__init__"},
]
_NODES = [
    json_node(10**9),
    json_node(-3),
    json_node("(a+)+$"),
    array_node("missing.npy"),
    {"__class__": "system", "__module__": "os", "__loader__": "TypeNode"},
    {"__class__": "list", "__module__": "builtins", "__loader__": "ListNode"},
]


def _paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield prefix + (k,)
            yield from _paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield prefix + (i,)
            yield from _paths(v, prefix + (i,))


def _set_random(doc, rng: random.Random, pool=_VALUES) -> None:
    where = rng.choice(list(_paths(doc)))
    for key in where[:-1]:
        doc = doc[key]
    doc[where[-1]] = copy.deepcopy(rng.choice(pool))


def mutate_pipeline(parts, rng: random.Random, marker) -> bytes:
    """A pipeline-file mutant: its meta.json, skops schema, object state,
    skops arrays or nested model file changed, a name repeated, a bomb."""
    kinds = [
        "meta",
        "schema",
        "state",
        "array",
        "nested",
        "payload",
        "duplicate",
        "bomb",
    ]
    kind = rng.choice(kinds)
    meta, schema = copy.deepcopy(parts["meta"]), copy.deepcopy(parts["schema"])
    arrays, model, extra = list(parts["arrays"]), list(parts["model"]), []
    if kind == "meta":
        _set_random(meta, rng)
    elif kind == "schema":
        _set_random(schema, rng, _VALUES + _NODES)
    elif kind == "state":
        state(schema)[rng.choice(sorted(state(schema)))] = copy.deepcopy(
            rng.choice(_NODES + [json_node(v) for v in _VALUES[:11]])
        )
    elif kind == "array" and arrays:
        i = rng.randrange(len(arrays))
        lies = [
            npy(shape=(10**9,)),
            npy(np.array([Payload(marker)], dtype=object)),
            npy(shape=(3,), descr="<U400000000"),
            arrays[i][1][: len(arrays[i][1]) // 2],
        ]
        arrays[i] = (arrays[i][0], rng.choice(lies), arrays[i][2])
    elif kind == "nested":
        inner = json.loads(dict((n, d) for n, d, _ in model)["meta.json"])
        _set_random(inner, rng)
        model = [
            (n, json.dumps(inner).encode() if n == "meta.json" else d, c)
            for n, d, c in model
        ]
    elif kind == "payload":
        buffer = io.BytesIO()
        torch.save({"module": Payload(marker)}, buffer)
        model = [
            (n, buffer.getvalue() if n == "weights.pt" else d, c) for n, d, c in model
        ]
    elif kind == "duplicate":
        where = rng.choice([extra, arrays, model])
        where.append(
            rng.choice(
                [
                    ("meta.json", b"{}", 0),
                    ("schema.json", b"{}", 0),
                    ("weights.pt", b"", 0),
                ]
            )
        )
    elif kind == "bomb":
        count = rng.choice([1, 3000])
        arrays.append(
            ("big.npy", npy(np.zeros(2**21 if count == 1 else 2**17 - 16)), 8)
        )
        state(schema)["extra"] = {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "__id__": 99,
            "content": [array_node("big.npy", i) for i in range(count)],
        }
    return pipeline_bytes(parts, meta, schema, arrays, model, extra)


def mutants(path: Path, n: int, seed: int, marker) -> list[str]:
    """``n`` mutated copies of ``path``: a quarter at the byte level."""
    rng = random.Random(seed)
    parts, original = parts_of(path), path.read_bytes()
    mutate = mutate_pipeline if "schema" in parts else mutate_model
    out = []
    for i in range(n):
        if rng.random() < 0.25:
            data = bytearray(original)
            at = rng.randrange(len(data))
            if rng.random() < 0.5:
                data = data[:at]
            else:
                for k in range(rng.randint(1, 64)):
                    data[(at + 7919 * k) % len(data)] ^= 0xFF
            data = bytes(data)
        else:
            data = mutate(parts, rng, marker)
        target = path.with_name(f"{path.stem}-fuzz-{i:04d}.sklstm")
        target.write_bytes(data)
        out.append(str(target))
    return out


def fuzz(files: dict[str, Path], n: int, tmp: Path, data: list[str]) -> None:
    """Table 2: ``n`` mutants of each file kind, loaded in one process per kind."""
    print("| file kind | cases | refusals | loaded | crashes | payloads run |")
    print("|---|---|---|---|---|---|")
    for seed, kind in enumerate(("model", "pipeline", "forecaster")):
        marker = tmp / f"payload-ran-{kind}"
        paths = mutants(files[kind], n, seed, marker)
        done = subprocess.run(
            [sys.executable, "-c", _FUZZ_LOADER, *data, *paths],
            capture_output=True,
            text=True,
            cwd=HERE.parent,
        )
        lines = [json.loads(line) for line in done.stdout.splitlines() if line]
        outcomes = [d["outcome"] for d in lines if "outcome" in d]
        crashes = [o for o in outcomes if o not in ("refused", "loaded")]
        crashes += [f"exit {done.returncode}"] * (done.returncode != 0)
        crashes += ["not run"] * (n - len(outcomes) - (done.returncode != 0))
        print(
            f"| {kind} | {n} | {outcomes.count('refused')} | "
            f"{outcomes.count('loaded')} | {len(crashes)} | {int(marker.exists())} |"
        )
        for crash in sorted(set(crashes))[:5]:
            print(f"|  crash: {crash[:150]} | | | | | |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=200, help="fuzz cases per kind")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        files = fitted_files(tmp)
    data = [str(tmp / "X.npy"), str(tmp / "series.npy")]
    np.save(data[0], np.random.RandomState(1).normal(size=(8, 5, 2)))
    np.save(data[1], 2 + np.cos(np.arange(30.0) / 5))  # a new stretch of series
    cases = {"baseline (import sklstm, skops.io)": "-"}
    cases.update(
        {
            f"{kind}: valid file": str(files[kind])
            for kind in ("model", "pipeline", "text", "forecaster")
        }
    )
    built = {
        **model_cases(files),
        **pipeline_cases(files, tmp),
        **forecaster_cases(files),
    }
    for i, (name, blob) in enumerate(built.items()):
        path = tmp / f"hostile-{i:02d}.sklstm"
        path.write_bytes(blob)
        cases[name] = str(path)
    probe(cases, data)
    print()
    fuzz(files, args.cases, tmp, data)


if __name__ == "__main__":
    main()
