"""Model files are untrusted input: every malformed file ends in one ValueError.

The fuzz test at the end mutates saved files (bytes, JSON values, tensor
shapes, member sizes) and loads each one in a subprocess, so that a crash
(a signal) would be caught rather than kill the test run.
"""

import io
import json
import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SETTINGS
from hypothesis import given, settings
from hypothesis import strategies as st

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm.forecasting import WindowedForecaster

FAST = SETTINGS["fast"]


def _model(tmp_path, reg_data, **params):
    est = LSTMRegressor(**{**FAST, **params}).fit(*reg_data)
    return est, save(est, tmp_path / "m.sklstm")


def _members(path):
    with zipfile.ZipFile(path) as archive:
        return json.loads(archive.read("meta.json")), archive.read("weights.pt")


def _write(path, meta, weights, *, meta_bytes=None, compression=None):
    out = path.with_name("edited.sklstm")
    with zipfile.ZipFile(out, "w") as archive:
        data = meta_bytes if meta_bytes is not None else json.dumps(meta).encode()
        archive.writestr("meta.json", data, compression or zipfile.ZIP_DEFLATED)
        archive.writestr("weights.pt", weights)
    return out


def _weights(blob, edit):
    weights = torch.load(io.BytesIO(blob), weights_only=True)
    edit(weights)
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    return buffer.getvalue()


def test_short_optimizer_state_is_refused(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)

    def shorten(w):
        state = w["optimizer"]["state"]
        state[0]["exp_avg"] = state[0]["exp_avg"].reshape(-1)[:3]

    out = _write(path, meta, _weights(blob, shorten))
    with pytest.raises(ValueError, match=r"edited.sklstm: optimizer state exp_avg"):
        load(out)


@pytest.mark.parametrize("setting", ["lr", "betas", "eps"])
def test_non_finite_optimizer_settings_are_refused(setting, tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)

    def poison(w):
        group = w["optimizer"]["param_groups"][0]
        group[setting] = (float("nan"), 0.9) if setting == "betas" else float("inf")

    with pytest.raises(ValueError, match=f"optimizer setting {setting}"):
        load(_write(path, meta, _weights(blob, poison)))


@pytest.mark.parametrize(
    "name, value, match",
    [
        ("hidden_size", 16000, "hidden_size=16000"),
        ("num_layers", 20000, "num_layers=20000"),
        ("bidirectional", True, "do not fit"),
        ("head_units", {"__sklstm__": "tuple", "items": [5000, 5000]}, "do not fit"),
    ],
)
def test_declared_sizes_are_checked_before_building(
    name, value, match, tmp_path, reg_data
):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    meta["params"][name] = value
    with pytest.raises(ValueError, match=match):
        load(_write(path, meta, blob))


def test_decompression_bomb_is_refused_from_the_directory(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    bomb = json.dumps(meta).encode() + b" " * (40 * 2**20)  # deflates ~1000-fold
    out = _write(path, meta, blob, meta_bytes=bomb)
    assert out.stat().st_size < 2**20
    with pytest.raises(ValueError, match="decompression bomb"):
        load(out)


def test_encrypted_and_unknown_compression_are_refused(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        start = archive.start_dir  # the outer central directory
    # general-purpose flag and method of the central directory entry of meta.json
    central = data.index(b"PK\x01\x02", start)
    encrypted = bytearray(data)
    encrypted[central + 8] |= 0x1
    (tmp_path / "enc.sklstm").write_bytes(bytes(encrypted))
    with pytest.raises(ValueError, match="encrypted"):
        load(tmp_path / "enc.sklstm")
    odd = bytearray(data)
    odd[central + 10 : central + 12] = (99).to_bytes(2, "little")
    (tmp_path / "odd.sklstm").write_bytes(bytes(odd))
    with pytest.raises(ValueError, match="compression method 99"):
        load(tmp_path / "odd.sklstm")


@pytest.mark.parametrize(
    "edit, match",
    [
        (lambda m: m.update(estimator=["LSTMRegressor"]), "unknown estimator"),
        (lambda m: m["params"].update(random_state=[1, 2]), "not valid"),
        (
            lambda m: m["params"].update(
                random_state={
                    "__sklstm__": "random_state",
                    "state": {"__sklstm__": "tuple", "items": ["MT19937", [1], 0]},
                }
            ),
            "not valid",
        ),
        (lambda m: m["fitted"].update(n_outputs_=-1), "n_outputs_"),
        (lambda m: m["fitted"].update(input_size_="2"), "input_size_"),
        (lambda m: m["fitted"].update(n_features_in_=2**70), "n_features_in_"),
        (lambda m: m["fitted"].update(conv_pool_size_=0), "conv_pool_size_"),
        (lambda m: m["fitted"].update(conv_pool_size_=2.5), "conv_pool_size_"),
        (lambda m: m["fitted"].update(conv_stride_=0), "conv_stride_"),
        (lambda m: m["fitted"].update(conv_stride_=2**21), "conv_stride_"),
        (  # pooling for a branch this model does not have
            lambda m: m["fitted"].update(
                conv_pool_size_={"__sklstm__": "tuple", "items": [3]}
            ),
            "conv_pool_size_",
        ),
        (lambda m: m["fitted"].pop("y_mean_"), "y_mean_"),
        (lambda m: m.update(history=7), "not valid"),
        (lambda m: m["net"].update(seed=-5), "net settings"),
    ],
)
def test_malformed_meta_raises_one_value_error(edit, match, tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    edit(meta)
    with pytest.raises(ValueError, match=match) as info:
        load(_write(path, meta, blob))
    assert "edited.sklstm" in str(info.value)


def test_nan_target_scale_is_refused(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    meta["fitted"]["y_scale_"]["data"] = [float("nan")]
    out = _write(path, meta, blob, meta_bytes=json.dumps(meta).encode())
    with pytest.raises(ValueError, match="y_scale_"):
        load(out)


def test_deep_json_nesting_is_refused(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    deep = json.dumps(meta).replace('"history": [', '"history": ' + "[" * 100_000, 1)
    with pytest.raises(ValueError, match="edited.sklstm"):
        load(_write(path, meta, blob, meta_bytes=deep.encode()))


@pytest.mark.parametrize("name", ["epoch_cache", "tensorboard_dir", "init_from"])
def test_path_parameters_are_not_restored_by_default(name, tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    meta["params"][name] = str(tmp_path / "attacker")
    out = _write(path, meta, blob)
    with pytest.warns(UserWarning, match=f"{name}.*reset to None"):
        est = load(out)
    assert getattr(est, name) is None
    kept = load(out, restore_paths=True)
    assert getattr(kept, name) == str(tmp_path / "attacker")


def test_save_never_follows_a_planted_temporary_symlink(tmp_path, reg_data):
    est = LSTMRegressor(**FAST).fit(*reg_data)
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    for pid in range(os.getpid() - 5, os.getpid() + 5):  # 0.1's predictable names
        (tmp_path / f".m.sklstm.{pid}.tmp").symlink_to(victim)
    save(est, tmp_path / "m.sklstm")
    assert victim.read_text() == "keep me"
    assert not [p for p in tmp_path.glob(".m.sklstm.*.tmp") if not p.is_symlink()]
    np.testing.assert_array_equal(
        load(tmp_path / "m.sklstm").predict(reg_data[0]), est.predict(reg_data[0])
    )


def test_duplicate_member_names_are_refused(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    out = tmp_path / "twice.sklstm"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("meta.json", json.dumps(meta))
            archive.writestr("weights.pt", blob)
            archive.writestr("weights.pt", b"the last entry would win")
    with pytest.raises(ValueError, match=r"twice.sklstm.*'weights.pt' occurs more"):
        load(out)


def test_torch_s_own_zip_is_held_to_the_same_policy(tmp_path, reg_data):
    """weights.pt is a zip too: a member bomb in it is refused before torch
    reads it."""
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    records = _unzip(blob)
    bomb = ("archive/data/99", bytes(8 * 2**20), zipfile.ZIP_DEFLATED)
    out = _write(path, meta, _zip([*records, bomb]))
    with pytest.raises(ValueError, match=r"weights.pt\].*data/99 inflates"):
        load(out)


@pytest.mark.parametrize("version", [0, -1, True, "1", 1.0])
def test_format_versions_outside_the_known_range_are_refused(
    version, tmp_path, reg_data
):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    meta["format_version"] = version
    with pytest.raises(ValueError, match=rf"edited.sklstm.*format.*{version!r}"):
        load(_write(path, meta, blob))


def test_a_saved_device_must_name_a_device(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    meta, blob = _members(path)
    meta["params"]["device"] = "os.system"
    with pytest.raises(ValueError, match=r"edited.sklstm.*device='os.system'"):
        load(_write(path, meta, blob))


def test_a_wide_string_dtype_is_refused_before_allocating(tmp_path, clf_data):
    """A few bytes of JSON declaring 2 GB-wide strings: refused, not padded."""
    clf = LSTMClassifier(**FAST).fit(*clf_data)
    path = save(clf, tmp_path / "c.sklstm")
    meta, blob = _members(path)
    classes = meta["fitted"]["classes_"]
    classes["dtype"] = "<U500000000"
    tracemalloc.start()
    with pytest.raises(ValueError, match=r"classes_|dtype <U500000000"):
        load(_write(path, meta, blob))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 50 * 2**20, peak


def test_trusted_must_be_a_list_of_type_names(tmp_path, reg_data):
    _, path = _model(tmp_path, reg_data)
    with pytest.raises(TypeError, match=r"trusted must be a list.*got True"):
        load(path, trusted=True)
    with pytest.raises(TypeError, match=r"trusted=\['pkg.Type'\]"):
        load(path, trusted="pkg.Type")
    for bad in ([3], ["not a name"], ["os"]):
        with pytest.raises(TypeError, match="dotted type names"):
            load(path, trusted=bad)
    assert isinstance(load(path, trusted=["pkg.Type", LSTMRegressor]), LSTMRegressor)
    with pytest.raises(TypeError, match="restore_paths must be True or False"):
        load(path, restore_paths="yes")
    with pytest.raises(TypeError, match="estimator_class must be a class"):
        load(path, estimator_class="LSTMRegressor")


def test_a_class_load_returns_the_class_or_names_what_the_file_holds(
    tmp_path, reg_data
):
    from sklearn.pipeline import Pipeline

    _, path = _model(tmp_path, reg_data)
    with pytest.raises(ValueError, match="holds an LSTMRegressor, not a Pipeline"):
        load(path, estimator_class=Pipeline)
    with pytest.raises(ValueError, match="an LSTMRegressor, not an LSTMClassifier"):
        LSTMClassifier.load(path)
    assert isinstance(LSTMRegressor.load(path), LSTMRegressor)


# ----------------------------------------------------------------- fuzzing
_LOADER = textwrap.dedent(
    """
    import json, sys, warnings
    import numpy as np
    from sklstm import load
    warnings.simplefilter("ignore")
    X = np.load(sys.argv[1])
    for path in sys.argv[2:]:
        print(json.dumps({"start": path}), flush=True)
        try:
            est = load(path)
            est.predict(X)
            est.partial_fit(X, est.predict(X))  # reaches the optimizer state
            outcome = "loaded"
        except ValueError as exc:
            outcome = "ValueError" if path in str(exc) else "ValueError-unnamed"
        except Exception as exc:
            outcome = type(exc).__name__ + ": " + str(exc)[:200]
        print(json.dumps({"path": path, "outcome": outcome}), flush=True)
    """
)


def _json_paths(doc, prefix=()):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield prefix + (k,)
            yield from _json_paths(v, prefix + (k,))
    elif isinstance(doc, list):
        for i, v in enumerate(doc[:3]):
            yield prefix + (i,)
            yield from _json_paths(v, prefix + (i,))


JSON_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=5),
    st.lists(st.integers(-3, 3), max_size=3),
    st.just({"__sklstm__": "ndarray", "dtype": "<f8", "shape": [10**9], "data": []}),
    st.just({"__sklstm__": "scalar", "dtype": "O", "value": "os.system"}),
    st.just({"__sklstm__": "optimizer", "name": "__init__"}),
)
TENSORS = st.sampled_from(
    [torch.zeros(0), torch.zeros(3), torch.full((2, 2), float("nan")), torch.ones(1)]
)


class _Payload:
    """Pickles to ``os.mkdir(marker)``: harmless and observable if ever run."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


KINDS = ["bytes", "truncate", "json", "json", "tensor", "optimizer", "payload", "bomb"]


@st.composite
def mutation(draw, meta, weights, marker):
    kind = draw(st.sampled_from(KINDS))
    if kind in ("bytes", "truncate"):
        return (kind, draw(st.integers(0, 10**6)), draw(st.integers(1, 64)))
    meta = json.loads(json.dumps(meta))
    w = torch.load(io.BytesIO(weights), weights_only=True)
    meta_bytes = None
    if kind == "json":
        where = draw(st.sampled_from(sorted(_json_paths(meta), key=str)))
        node = meta
        for key in where[:-1]:
            node = node[key]
        node[where[-1]] = draw(JSON_VALUES)
    elif kind == "tensor":
        key = draw(st.sampled_from(sorted(w["module"])))
        w["module"][key] = draw(TENSORS)
    elif kind == "optimizer":
        state = w["optimizer"]["state"]
        index = draw(st.sampled_from(sorted(state)))
        key = draw(st.sampled_from(sorted(state[index])))
        state[index][key] = draw(TENSORS)
    elif kind == "payload":
        where = draw(st.sampled_from(["module", "criterion", "optimizer", "top"]))
        payload = _Payload(str(marker))
        w = payload if where == "top" else {**w, where: payload}
    else:  # a member that inflates far beyond its stored size
        size = draw(st.integers(2, 40)) * 2**20
        meta_bytes = json.dumps(meta).encode() + b" " * size
    buffer = io.BytesIO()
    torch.save(w, buffer)
    return ("members", meta_bytes or json.dumps(meta).encode(), buffer.getvalue())


def _apply(change, original: bytes, out):
    kind = change[0]
    if kind == "members":
        with zipfile.ZipFile(out, "w") as archive:
            archive.writestr("meta.json", change[1], zipfile.ZIP_DEFLATED)
            archive.writestr("weights.pt", change[2])
        return
    data = bytearray(original)
    at = change[1] % len(data)
    if kind == "bytes":
        for i in range(change[2]):
            data[(at + 7919 * i) % len(data)] ^= 0xFF
    else:
        data = data[:at]
    out.write_bytes(bytes(data))


# CI runs a fixed set; SKLSTM_FUZZ=N runs N fresh random cases
N_FUZZ = int(os.environ.get("SKLSTM_FUZZ", 150))
DERANDOMIZE = "SKLSTM_FUZZ" not in os.environ


def test_fuzzed_model_files_never_crash_or_run_code(tmp_path):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 5, 2)).astype(np.float32)
    est = LSTMRegressor(**FAST).fit(X, X[:, :, 0].sum(1))
    path = save(est, tmp_path / "m.sklstm")
    meta, weights = _members(path)
    original = path.read_bytes()
    marker = tmp_path / "marker"
    files = []

    # hypothesis draws the mutations; one subprocess then loads them all (a
    # crash would show as a signal, with the file it was loading)
    @settings(
        max_examples=N_FUZZ, deadline=None, database=None, derandomize=DERANDOMIZE
    )
    @given(change=mutation(meta, weights, marker))
    def collect(change):
        out = tmp_path / f"f{len(files):03d}.sklstm"
        _apply(change, original, out)
        files.append(str(out))

    collect()
    np.save(tmp_path / "X.npy", X)
    proc = subprocess.run(
        [sys.executable, "-c", _LOADER, str(tmp_path / "X.npy"), *files],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line]
    outcomes = {d["path"]: d["outcome"] for d in lines if "outcome" in d}
    started = [d["start"] for d in lines if "start" in d]
    assert proc.returncode == 0, (proc.returncode, started[-1:], proc.stderr[-2000:])
    assert len(outcomes) == len(files) >= N_FUZZ // 2
    bad = {p: o for p, o in outcomes.items() if o not in ("loaded", "ValueError")}
    assert not bad, bad
    assert not marker.exists()  # no payload ran
    counts = {o: list(outcomes.values()).count(o) for o in set(outcomes.values())}
    print("fuzz outcomes:", counts)


# ------------------------------------------ fuzzing pipeline and forecaster
# One subprocess loads every mutated file, with its address space capped a
# few GiB above what the imports use: a runaway allocation is then a
# MemoryError counted as a crash, not a machine brought down.
_FILE_LOADER = textwrap.dedent(
    """
    import json, resource, sys, warnings
    import numpy as np
    from sklstm import load
    warnings.simplefilter("ignore")
    try:
        pages = int(open("/proc/self/statm").read().split()[0])
        used = pages * resource.getpagesize()
        hard = resource.getrlimit(resource.RLIMIT_AS)[1]
        resource.setrlimit(resource.RLIMIT_AS, (used + 4 * 2**30, hard))
    except (OSError, ValueError):
        pass  # no /proc: no cap
    X, series = np.load(sys.argv[1]), np.load(sys.argv[2])
    for path in sys.argv[3:]:
        print(json.dumps({"start": path}), flush=True)
        try:
            est = load(path)
            # a file may hold a valid object without predict (a pipeline
            # ending in "passthrough"): then there is nothing to call
            if "forecaster" in path and hasattr(est, "forecast"):
                est.predict(series[:, None])
                est.forecast(2)
            elif hasattr(est, "predict"):
                # a mutant may be another valid file (a truncated pipeline
                # file can be the model file it holds): give it its features
                width = getattr(est, "n_features_in_", X.shape[2])
                est.predict(np.resize(X, X.shape[:2] + (width,)))
            outcome = "loaded"
        except ValueError as exc:
            outcome = "ValueError" if path in str(exc) else "ValueError-unnamed"
        except Exception as exc:
            outcome = type(exc).__name__ + ": " + str(exc)[:200]
        print(json.dumps({"path": path, "outcome": outcome}), flush=True)
    """
)


def _json_node(value):
    """A skops schema node holding a JSON value."""
    return {
        "__class__": type(value).__name__,
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
        "__id__": 1,
    }


def _array_node(name, i=0):
    return {
        "__class__": "ndarray",
        "__module__": "numpy",
        "__loader__": "NdArrayNode",
        "type": "numpy",
        "file": name,
        "__id__": 10**6 + i,
    }


SCHEMA_VALUES = st.one_of(
    JSON_VALUES,
    st.integers(-5, 10**9).map(_json_node),
    st.just(_array_node("missing.npy")),
    st.just({"__class__": "system", "__module__": "os", "__loader__": "TypeNode"}),
    st.just({"__class__": "list", "__module__": "builtins", "__loader__": "ListNode"}),
)


def _npy(array=None, **header):
    buffer = io.BytesIO()
    if header:
        np.lib.format.write_array_header_1_0(
            buffer, {"descr": "<f8", "fortran_order": False, **header}
        )
        return buffer.getvalue() + bytes(64)
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _unzip(data):
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return [
            (i.filename, archive.read(i), i.compress_type) for i in archive.infolist()
        ]


def _zip(items):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile's "Duplicate name"
        with zipfile.ZipFile(buffer, "w") as archive:
            for name, data, compression in items:
                archive.writestr(name, data, compression)
    return buffer.getvalue()


def _file_parts(path):
    """A pipeline file as editable parts: meta, schema, skops arrays, model."""
    outer = {n: d for n, d, _ in _unzip(path.read_bytes())}
    skops_part = _unzip(outer["pipeline.skops"])
    return {
        "meta": json.loads(outer["meta.json"]),
        "schema": json.loads(dict((n, d) for n, d, _ in skops_part)["schema.json"]),
        "arrays": [m for m in skops_part if m[0] != "schema.json"],
        "model": _unzip(outer["model-0.sklstm"]),
    }


def _set(doc, where, value):
    for key in where[:-1]:
        doc = doc[key]
    doc[where[-1]] = value


_FILE_KINDS = [
    "bytes",
    "truncate",
    "meta",
    "schema",
    "schema",
    "state",
    "state",
    "array",
    "nested",
    "nested-payload",
    "duplicate",
    "bomb",
]


@st.composite
def file_mutation(draw, parts, marker):
    """One change to a pipeline or forecaster file (see ``_FILE_KINDS``)."""
    kind = draw(st.sampled_from(_FILE_KINDS))
    if kind in ("bytes", "truncate"):
        return (kind, draw(st.integers(0, 10**6)), draw(st.integers(1, 64)))
    new = json.loads(json.dumps({k: parts[k] for k in ("meta", "schema")}))
    arrays, model = list(parts["arrays"]), list(parts["model"])
    extra_outer = []
    if kind == "meta":
        where = draw(st.sampled_from(sorted(_json_paths(new["meta"]), key=str)))
        _set(new["meta"], where, draw(JSON_VALUES))
    elif kind == "schema":
        where = draw(st.sampled_from(sorted(_json_paths(new["schema"]), key=str)))
        _set(new["schema"], where, draw(SCHEMA_VALUES))
    elif kind == "state":  # an attribute of the object the file holds
        state = new["schema"]["content"]["content"]
        name = draw(st.sampled_from(sorted(state)))
        state[name] = draw(SCHEMA_VALUES)
    elif kind == "array" and arrays:
        i = draw(st.integers(0, len(arrays) - 1))
        data = draw(
            st.sampled_from(
                [
                    _npy(shape=(10**9,)),
                    _npy(np.array([_Payload(str(marker))], dtype=object)),
                    _npy(shape=(3,), descr="<U400000000"),
                    arrays[i][1][: len(arrays[i][1]) // 2],
                ]
            )
        )
        arrays[i] = (arrays[i][0], data, arrays[i][2])
    elif kind == "nested":
        meta = json.loads(dict((n, d) for n, d, _ in model)["meta.json"])
        where = draw(st.sampled_from(sorted(_json_paths(meta), key=str)))
        _set(meta, where, draw(JSON_VALUES))
        model = [
            (n, json.dumps(meta).encode() if n == "meta.json" else d, c)
            for n, d, c in model
        ]
    elif kind == "nested-payload":
        buffer = io.BytesIO()
        torch.save({"module": _Payload(str(marker))}, buffer)
        model = [
            (n, buffer.getvalue() if n == "weights.pt" else d, c) for n, d, c in model
        ]
    elif kind == "duplicate":
        level = draw(st.sampled_from(["outer", "arrays", "model"]))
        if level == "outer":
            extra_outer.append(("meta.json", b"{}", zipfile.ZIP_STORED))
        elif level == "arrays":
            arrays.append(("schema.json", b"{}", zipfile.ZIP_STORED))
        else:
            model.append(("weights.pt", b"", zipfile.ZIP_STORED))
    elif kind == "bomb":
        refs = draw(st.sampled_from([1, 3000]))
        size = 2**21 if refs == 1 else 2**17 - 16
        arrays.append(("big.npy", _npy(np.zeros(size)), zipfile.ZIP_DEFLATED))
        state = new["schema"]["content"]["content"]
        state["extra"] = {
            "__class__": "list",
            "__module__": "builtins",
            "__loader__": "ListNode",
            "content": [_array_node("big.npy", i) for i in range(refs)],
            "__id__": 99,
        }
    return ("parts", new["meta"], new["schema"], arrays, model, extra_outer)


def _apply_file(change, original: bytes, out) -> None:
    if change[0] != "parts":
        _apply(change, original, out)
        return
    _, meta, schema, arrays, model, extra = change
    skops_blob = _zip([("schema.json", json.dumps(schema).encode(), 0), *arrays])
    out.write_bytes(
        _zip(
            [
                ("meta.json", json.dumps(meta).encode(), zipfile.ZIP_DEFLATED),
                ("pipeline.skops", skops_blob, zipfile.ZIP_STORED),
                ("model-0.sklstm", _zip(model), zipfile.ZIP_STORED),
                *extra,
            ]
        )
    )


N_FILE_FUZZ = int(os.environ.get("SKLSTM_FUZZ", 40))  # cases per file kind


def _fitted_files(tmp_path, X, series) -> dict:
    from sklearn.pipeline import make_pipeline

    from sklstm.preprocessing import SequenceScaler

    pipe = make_pipeline(SequenceScaler(), LSTMRegressor(**FAST))
    forecaster = WindowedForecaster(LSTMRegressor(**FAST), lookback=4)
    return {
        "pipeline": save(pipe.fit(X, X[:, :, 0].sum(1)), tmp_path / "pipe.sklstm"),
        "forecaster": save(
            forecaster.fit(series[:, None], series), tmp_path / "fc.sklstm"
        ),
    }


def _collect_mutations(kind: str, path, marker, files: list) -> None:
    """Write ``N_FILE_FUZZ`` mutated copies of ``path``, listed in ``files``."""
    parts, original = _file_parts(path), path.read_bytes()

    @settings(
        max_examples=N_FILE_FUZZ, deadline=None, database=None, derandomize=DERANDOMIZE
    )
    @given(change=file_mutation(parts, marker))
    def collect(change):
        out = path.with_name(f"{kind}-{len(files):03d}.sklstm")
        _apply_file(change, original, out)
        files.append(str(out))

    collect()


def test_fuzzed_pipeline_and_forecaster_files_never_crash_or_run_code(tmp_path):
    """Mutations of every part: the whole file's bytes, meta.json, the skops
    schema and the restored object's state values, the skops arrays, the
    nested model file, duplicate names and bombs at each level."""
    pytest.importorskip("skops")
    rng = np.random.RandomState(0)
    X = rng.normal(size=(20, 5, 2)).astype(np.float32)
    series = np.sin(np.arange(40.0) / 3)
    marker = tmp_path / "marker"
    files = []
    for kind, path in _fitted_files(tmp_path, X, series).items():
        _collect_mutations(kind, path, marker, files)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "series.npy", series)
    args = [str(tmp_path / "X.npy"), str(tmp_path / "series.npy"), *files]
    proc = subprocess.run(
        [sys.executable, "-c", _FILE_LOADER, *args],
        capture_output=True,
        text=True,
        timeout=600,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line]
    outcomes = {d["path"]: d["outcome"] for d in lines if "outcome" in d}
    started = [d["start"] for d in lines if "start" in d]
    assert proc.returncode == 0, (proc.returncode, started[-1:], proc.stderr[-2000:])
    assert len(outcomes) == len(files) >= N_FILE_FUZZ
    bad = {p: o for p, o in outcomes.items() if o not in ("loaded", "ValueError")}
    assert not bad, bad
    assert not marker.exists()  # no payload ran
    for kind in ("pipeline", "forecaster"):
        mine = [o for p, o in outcomes.items() if f"{kind}-" in Path(p).name]
        counts = {o: mine.count(o) for o in sorted(set(mine))}
        print(f"{kind} fuzz outcomes:", counts)


def test_classifier_file_round_trip_still_exact(tmp_path, clf_data):
    clf = LSTMClassifier(**FAST).fit(*clf_data)
    again = load(save(clf, tmp_path / "c.sklstm"))
    np.testing.assert_array_equal(
        again.predict_proba(clf_data[0]), clf.predict_proba(clf_data[0])
    )
