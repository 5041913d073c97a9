"""The model file: one fitted LSTM estimator in a zip archive, without pickle.

The file is a zip archive (any suffix; ``.sklstm`` is a good one) of two members:

- ``meta.json``: the format version, the sklstm and torch versions, the estimator
  class name, its constructor parameters, its fitted attributes (arrays as
  lists plus their numpy dtype) and the training history;
- ``weights.pt``: ``torch.save`` of ``{"module": ..., "criterion": ...,
  "optimizer": ...}`` state dicts (tensors on the CPU), read back with
  ``torch.load(weights_only=True)``, so loading never runs pickled code.
"""

from __future__ import annotations

import inspect
import io
import json
import os
import pathlib
import re
import warnings
import zipfile

import torch
from skorch.history import History

import sklstm.io._registry as _registry
from sklstm._data import SequenceDataset
from sklstm._engine import _build
from sklstm._engine._runtime import cuda_indices, resolve_device
from sklstm._version import __version__
from sklstm.io._archive import (
    Budget,
    check_nested_archive,
    read_members,
    write_members,
)
from sklstm.io._codec import Unstorable, decode, encode
from sklstm.io._trust import (
    PATH_PARAMS,
    check_declared_sizes,
    check_device_name,
    check_fitted,
    check_history,
    check_module_shapes,
    check_optimizer_state,
    check_tensors,
)

FORMAT_VERSION = 1
MIN_FORMAT_VERSION = 1  # the oldest model file format this sklstm reads
_META, _WEIGHTS = "meta.json", "weights.pt"
_PUBLIC_FITTED = re.compile(r"[a-z][a-z0-9_]*_")
_PRIVATE_FITTED = ("_fitted_on_2d", "_target_ndim")
_NOT_IN_META = ("net_", "history_")  # the net is rebuilt, the history stored apart


def storable_params(estimator) -> dict:
    """The estimator's parameters, if a model file can hold them."""
    params = estimator.get_params(deep=False)
    if params.get("callbacks"):
        raise ValueError(
            "Cannot save an estimator with callbacks: skorch callbacks are objects, "
            "not JSON. Use set_params(callbacks=None) first (they only act during "
            "fit), or pickle the estimator instead."
        )
    if _registry.is_model(params.get("init_from")):
        raise ValueError(
            "Cannot save init_from: it holds a fitted estimator. It only acts in "
            "fit: use set_params(init_from=None), or save that model and pass its "
            "path as init_from."
        )
    return params


def save_state(estimator, path) -> pathlib.Path:
    """Save the fitted state only: ``callbacks`` and ``init_from`` (which act
    in ``fit`` alone) are stored as None. For the epoch cache, which resumes
    fitted states under the caller's own parameters."""
    params = {**estimator.get_params(deep=False), "callbacks": None, "init_from": None}
    return write_members(path, model_members(estimator, params))


def model_members(estimator, params: dict) -> list:
    """The members of a model file: ``(name, bytes, compression)``."""
    net = estimator.net_
    fitted = {
        name: value
        for name, value in vars(estimator).items()
        if (_PUBLIC_FITTED.fullmatch(name) and name not in _NOT_IN_META)
        or name in _PRIVATE_FITTED
    }
    batches = net.history[-1].get("train_batch_count", 1) if net.history else 1
    try:
        meta = {
            "format": "sklstm",
            "format_version": FORMAT_VERSION,
            "sklstm_version": __version__,
            "torch_version": torch.__version__,
            "estimator": type(estimator).__name__,
            "params": encode_params(params),
            "fitted": {k: encode(v, f"attribute {k}") for k, v in fitted.items()},
            "history": encode(list(net.history), "history_"),
            "net": {"seed": int(net.seed), "n_train": int(batches * net.batch_size)},
        }
    except Unstorable as exc:
        raise ValueError(
            f"Cannot save this {type(estimator).__name__}: {exc}"
        ) from None
    weights = {
        "module": _to_cpu(net.module_.state_dict()),
        "criterion": _to_cpu(net.criterion_.state_dict()),
        "optimizer": _to_cpu(net.optimizer_.state_dict()),
    }
    buffer = io.BytesIO()
    torch.save(weights, buffer)
    return [
        (_META, json.dumps(meta, indent=1).encode(), zipfile.ZIP_DEFLATED),
        (_WEIGHTS, buffer.getvalue(), zipfile.ZIP_STORED),
    ]


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def load_model(
    source,
    path: str,
    device,
    estimator_class=None,
    restore_paths=False,
    *,
    budget: Budget | None = None,
):
    """Load a model file from ``source`` (a path or file object) named ``path``;
    ``budget``: the inflation budget of the file it sits in, if any."""
    meta, blob = _read_archive(source, path, budget)
    cls = _estimator_class(meta.get("estimator"), estimator_class)
    device = resolve_device(device)
    try:
        params = decode_params(meta["params"])
        fitted = {str(k): decode(v) for k, v in dict(meta["fitted"]).items()}
        history = History(check_history(decode(list(meta["history"])), path))
        seed, n_train = int(meta["net"]["seed"]), int(meta["net"]["n_train"])
    except (
        KeyError,
        TypeError,
        ValueError,
        AttributeError,
        IndexError,
        OverflowError,
        RecursionError,
    ) as exc:
        raise ValueError(f"{path}: meta.json is not valid: {exc!r}"[:500]) from None
    if not (0 <= seed < 2**63 and 0 <= n_train < 2**40):
        raise ValueError(f"{path}: meta.json is not valid: bad net settings.")
    estimator = restore_estimator(cls, params, path, restore_paths)
    for name, value in fitted.items():
        if not _PUBLIC_FITTED.fullmatch(name) and name not in _PRIVATE_FITTED:
            raise ValueError(f"{path}: unexpected fitted attribute {name!r}.")
        if name in _NOT_IN_META or name in params:
            raise ValueError(f"{path}: {name} cannot come from meta.json.")
        setattr(estimator, name, value)
    check_fitted(estimator, path)
    weights = _read_weights(blob, device, path)
    module_state = _current_module_keys(
        check_tensors(weights["module"], "module", path)
    )
    check_tensors(weights["criterion"], "criterion", path)
    check_declared_sizes(estimator, module_state, path)
    check_module_shapes(estimator, estimator._n_outputs(), module_state, path)
    weights["module"] = module_state
    try:
        net = _rebuild_net(estimator, weights, device, seed, n_train, path)
    except (RuntimeError, KeyError, AttributeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise ValueError(
            f"{path}: the saved weights do not fit the saved model: {first}"
        ) from None
    net.history_ = history
    estimator.net_ = net
    estimator.history_ = net.history
    estimator.device_ = device
    return estimator


def decode_params(encoded) -> dict:
    """Parameters as ``encode`` wrote them (``meta.json``), decoded."""
    return {str(k): decode(v) for k, v in dict(encoded).items()}


def encode_params(params: dict) -> dict:
    return {k: encode(_build.plain(v), f"parameter {k}") for k, v in params.items()}


# parameters added after files were first saved, with the value a file
# saved before them trained with (its "auto" would now mean something else)
PARAMS_BEFORE_THEY_EXISTED = {"lstm_dropout": 0.0, "random_crop": 1.0}


def restore_estimator(cls: type, params: dict, path, restore_paths: bool):
    """An unfitted ``cls(**params)``, its parameters checked as ``fit`` checks
    them; path parameters reset unless ``restore_paths`` (with a warning)."""
    if not restore_paths:
        dropped = [
            k for k in PATH_PARAMS if isinstance(params.get(k), (str, os.PathLike))
        ]
        for name in dropped:
            params[name] = None
        if dropped:
            warnings.warn(
                f"{path}: the saved {', '.join(dropped)} (paths sklstm would read "
                "or write) were reset to None; pass restore_paths=True to keep "
                "them for a file you trust.",
                UserWarning,
                stacklevel=4,
            )
    takes = inspect.signature(cls).parameters
    for name, value in PARAMS_BEFORE_THEY_EXISTED.items():
        if name in takes:
            params.setdefault(name, value)
    try:
        estimator = cls(**params)
        estimator._validate_params()
        # the constraints take any string; a file's must name a device
        check_device_name(estimator.device)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the saved parameters are not valid: {exc}") from None
    return estimator


def read_meta(
    source, path: str, members: dict | None = None, *, budget: Budget | None = None
) -> dict:
    """The parsed ``meta.json`` of a file, which must be a JSON object."""
    if members is None:
        members = read_members(source, (_META,), path, budget=budget)
    try:
        meta = json.loads(members[_META].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError(
            f"{path} is not an sklstm model file: {_META} is not valid JSON."
        ) from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not an sklstm model file.")
    return meta


def _read_archive(source, path: str, budget: Budget | None) -> tuple[dict, bytes]:
    budget = Budget.of(source, path) if budget is None else budget
    members = read_members(source, (_META, _WEIGHTS), path, budget=budget)
    # torch's format is itself a zip: held to the same policy before torch
    # reads it (anything else, torch's weights-only loader refuses itself)
    if zipfile.is_zipfile(io.BytesIO(members[_WEIGHTS])):
        check_nested_archive(members[_WEIGHTS], f"{path}[{_WEIGHTS}]", budget)
    meta = read_meta(source, path, members)
    if meta.get("format") != "sklstm":
        raise ValueError(f"{path} is not an sklstm model file.")
    version = meta.get("format_version")
    if type(version) is not int:
        raise ValueError(
            f"{path} is not an sklstm model file: its format_version is "
            f"{version!r}, not an integer."
        )
    if version < MIN_FORMAT_VERSION:
        raise ValueError(
            f"{path} declares model file format {version}, which no sklstm "
            f"writes; this sklstm reads formats {MIN_FORMAT_VERSION} to "
            f"{FORMAT_VERSION}."
        )
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses model file format {version}, written by sklstm "
            f"{meta.get('sklstm_version')}; this sklstm reads formats up to "
            f"{FORMAT_VERSION}. Upgrade sklstm to load it."
        )
    _check_version(str(meta.get("sklstm_version")), path)
    return meta, members[_WEIGHTS]


def _check_version(saved: str, path) -> None:
    def major_minor(version: str) -> tuple[str, ...]:
        return tuple(version.split(".")[:2])

    if major_minor(saved) != major_minor(__version__):
        warnings.warn(
            f"{path} was saved with sklstm {saved} and is loaded with sklstm "
            f"{__version__}; check its predictions, or refit with this "
            "version.",
            UserWarning,
            stacklevel=4,
        )


def article(name: str) -> str:
    """``name`` with its indefinite article ("an LSTMRegressor", "a Pipeline")."""
    vowel = name[:1] in "AEIOUaeiou" or name.startswith("LSTM")  # "el-ess-tee-em"
    return f"{'an' if vowel else 'a'} {name}"


def _estimator_class(name, expected: type | None) -> type:
    if expected is not None:
        if not _registry.is_model_class(expected) or name != expected.__name__:
            held = name if isinstance(name, str) else "unknown estimator"
            raise ValueError(
                f"The file holds an {held[:100]}, not {article(expected.__name__)}."
            )
        return expected
    cls = _registry.model_class(name)
    if cls is None:
        raise ValueError(
            f"The file holds an unknown estimator class {name!r}; sklstm loads "
            f"{_registry.model_names()}. For a subclass, pass it as estimator_class."
        )
    return cls


def _read_weights(blob: bytes, device: str, path) -> dict:
    try:
        weights = torch.load(io.BytesIO(blob), weights_only=True, map_location=device)
    except Exception as exc:  # any failure means: refuse the file
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ValueError(
            f"{path}: refused to load {_WEIGHTS}: it is not plain tensor data "
            f"({type(exc).__name__}: {first}). Only load model files you trust."
        ) from None
    if not (
        isinstance(weights, dict)
        and {"module", "criterion", "optimizer"} <= set(weights)
        and all(isinstance(weights[k], dict) for k in ("module", "criterion"))
    ):
        raise ValueError(f"{path}: {_WEIGHTS} does not hold sklstm state dicts.")
    return weights


def _rebuild_net(estimator, weights: dict, device, seed, n_train, path):
    """Build and initialize the net as ``fit`` does, then load the state."""
    k = estimator._n_outputs()
    # a criterion needs targets (class weights): give one of each output, then
    # overwrite its state (the saved class weights) below
    stand_in = SequenceDataset(torch.zeros(k, 1, 1), y=torch.arange(k))
    with torch.random.fork_rng(devices=cuda_indices(device)):  # the caller's RNG stays
        net = _build.build_net(
            estimator,
            input_size=estimator.input_size_,
            output_size=k,
            criterion=estimator._criterion(stand_in),
            device=device,
            seed=seed,
            n_train=n_train,
            early_stopping=bool(estimator.early_stopping),
        )
        net.initialize()
    net.module_.load_state_dict(_current_module_keys(weights["module"]))
    net.criterion_.load_state_dict(weights["criterion"])
    state = check_optimizer_state(weights["optimizer"], net.optimizer_, path)
    if state is not None:
        net.optimizer_.load_state_dict(state)
    elif weights["optimizer"] is not None:
        # written by sklstm 0.1 (one parameter group): training continues
        # with a fresh optimizer state
        warnings.warn(
            f"{path}: the saved optimizer state has another sklstm version's "
            "layout; partial_fit starts with a fresh optimizer state.",
            UserWarning,
            stacklevel=4,
        )
    net.module_.eval()
    return net


def _current_module_keys(state: dict) -> dict:
    """Module state keys as this sklstm names them.

    sklstm 0.1 put the head's dropout layer first only when dropout > 0;
    it is always there now, so older heads without one shift by one.
    """
    if "head.0.weight" not in state:
        return state
    out = {}
    for key, value in state.items():
        if key.startswith("head."):
            _, index, rest = key.split(".", 2)
            key = f"head.{int(index) + 1}.{rest}"
        out[key] = value
    return out
