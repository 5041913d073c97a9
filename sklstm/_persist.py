"""Save a fitted estimator to one file and load it back, without pickle.

The file is a zip archive (any suffix; ``.sklstm`` is a good one) of two members:

- ``meta.json``: the format version, the sklstm and torch versions, the estimator
  class name, its constructor parameters, its fitted attributes (arrays as
  lists plus their numpy dtype) and the training history;
- ``weights.pt``: ``torch.save`` of ``{"module": ..., "criterion": ...,
  "optimizer": ...}`` state dicts (tensors on the CPU), read back with
  ``torch.load(weights_only=True)``, so loading never runs pickled code.
"""

from __future__ import annotations

import io
import json
import os
import pathlib
import re
import warnings
import zipfile

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from sklstm import _build
from sklstm._base import _BaseLSTM
from sklstm._build import resolve_device
from sklstm._data import SequenceDataset

FORMAT_VERSION = 1
_META, _WEIGHTS = "meta.json", "weights.pt"
_TAG = "__sklstm__"  # marks a typed value in meta.json
_PUBLIC_FITTED = re.compile(r"[a-z][a-z0-9_]*_")
_PRIVATE_FITTED = ("_fitted_on_2d", "_target_ndim")
_NOT_IN_META = ("net_", "history_")  # the net is rebuilt, the history stored apart


class _Unstorable(ValueError):
    pass


# ------------------------------------------------------------- JSON encoding
def _encode(value, where: str):
    """``value`` as JSON data; typed values become ``{_TAG: kind, ...}``."""
    if isinstance(value, np.generic):
        return {_TAG: "scalar", "dtype": value.dtype.str, "value": value.item()}
    if value is None or type(value) in (bool, int, float, str):
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value, where)
    if isinstance(value, list):
        return [_encode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, tuple):
        return {_TAG: "tuple", "items": _encode(list(value), where)}
    if isinstance(value, dict):
        if all(type(k) is str for k in value) and _TAG not in value:
            return {k: _encode(v, f"{where}[{k!r}]") for k, v in value.items()}
        items = [
            [_encode(k, where), _encode(v, f"{where}[{k!r}]")] for k, v in value.items()
        ]
        return {_TAG: "dict", "items": items}
    if isinstance(value, np.random.RandomState):
        return {_TAG: "random_state", "state": _encode(value.get_state(), where)}
    if isinstance(value, type) and issubclass(value, torch.optim.Optimizer):
        if getattr(torch.optim, value.__name__, None) is not value:
            raise _Unstorable(
                f"{where} is {value.__module__}.{value.__qualname__}; only optimizer "
                "classes of torch.optim can be saved. Use a name ('adam', ...) or a "
                "torch.optim class, or pickle the estimator instead."
            )
        return {_TAG: "optimizer", "name": value.__name__}
    if isinstance(value, torch.device):
        return {_TAG: "device", "value": str(value)}
    if isinstance(value, os.PathLike):
        return {_TAG: "path", "value": os.fspath(value)}
    raise _Unstorable(
        f"{where} holds a {type(value).__name__}, which cannot be saved as JSON; "
        "set it to a plain value first, or pickle the estimator instead."
    )


def _encode_array(a: np.ndarray, where: str) -> dict:
    if a.dtype.kind not in "biufUO":
        raise _Unstorable(f"{where} is an array of dtype {a.dtype}, not storable.")
    flat = a.ravel()
    if a.dtype.kind == "O":
        data = [_encode(v, f"{where}[{i}]") for i, v in enumerate(flat)]
    else:
        data = flat.tolist()
    return {_TAG: "ndarray", "dtype": a.dtype.str, "shape": list(a.shape), "data": data}


def _decode(value):
    """Inverse of :func:`_encode`; builds only data, never imports or calls code."""
    if isinstance(value, list):
        return [_decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    kind = value.get(_TAG)
    if kind is None:
        return {k: _decode(v) for k, v in value.items()}
    if kind == "scalar":
        return _checked_dtype(value["dtype"]).type(value["value"])
    if kind == "ndarray":
        dtype = _checked_dtype(value["dtype"])
        data = _decode(value["data"])
        if dtype.kind == "O":
            flat = np.empty(len(data), dtype=object)
            flat[:] = data
            return flat.reshape(value["shape"])
        return np.array(data, dtype=dtype).reshape(value["shape"])
    if kind == "tuple":
        return tuple(_decode(value["items"]))
    if kind == "dict":
        return {_hashable(_decode(k)): _decode(v) for k, v in value["items"]}
    if kind == "random_state":
        rng = np.random.RandomState()
        rng.set_state(_decode(value["state"]))
        return rng
    if kind == "optimizer":
        cls = getattr(torch.optim, str(value["name"]), None)
        if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
            raise ValueError(f"torch.optim has no optimizer {value['name']!r}.")
        return cls
    if kind == "device":
        return torch.device(value["value"])
    if kind == "path":
        return pathlib.Path(value["value"])
    raise ValueError(f"unknown value type {kind!r}")


def _checked_dtype(text: str) -> np.dtype:
    dtype = np.dtype(str(text))
    if dtype.kind not in "biufUO":
        raise ValueError(f"dtype {text!r} is not allowed")
    return dtype


def _hashable(key):
    if isinstance(key, list):
        raise ValueError("a dict key is a list")
    return key


# ------------------------------------------------------------------- saving
def save(estimator: _BaseLSTM, path: str | os.PathLike) -> pathlib.Path:
    """Save a fitted sklstm estimator to one file, without pickle.

    The file is a zip archive holding ``meta.json`` (versions, class name,
    constructor parameters, fitted attributes, training history) and
    ``weights.pt`` (the network's, criterion's and optimizer's state dicts,
    on the CPU). It is written to a temporary file first, then renamed.

    Parameters
    ----------
    estimator : LSTMClassifier or LSTMRegressor
        A fitted estimator. Its parameters must be plain values:
        ``callbacks`` must be empty, ``optimizer`` a name or a ``torch.optim``
        class, and ``init_from`` None or a path.
    path : str or path-like
        Where to write (an existing file is replaced).

    Returns
    -------
    path : pathlib.Path
        The path written.

    Raises
    ------
    sklearn.exceptions.NotFittedError
        If the estimator is not fitted.
    ValueError
        If a parameter or fitted attribute cannot be stored as JSON.

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sklstm import LSTMRegressor
    >>> from sklstm import load, save
    >>> X = np.random.RandomState(0).normal(size=(32, 5, 2))
    >>> reg = LSTMRegressor(max_epochs=2, random_state=0).fit(X, X.sum(axis=(1, 2)))
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save(reg, pathlib.Path(tmp) / "model.sklstm")
    ...     again = load(path)
    >>> bool(np.array_equal(again.predict(X), reg.predict(X)))
    True
    """
    if not isinstance(estimator, _BaseLSTM):
        raise TypeError(
            f"save expects an sklstm estimator, got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    import sklstm

    params = estimator.get_params(deep=False)
    if params.get("callbacks"):
        raise ValueError(
            "Cannot save an estimator with callbacks: skorch callbacks are objects, "
            "not JSON. Use set_params(callbacks=None) first (they only act during "
            "fit), or pickle the estimator instead."
        )
    if isinstance(params.get("init_from"), _BaseLSTM):
        raise ValueError(
            "Cannot save init_from: it holds a fitted estimator. It only acts in "
            "fit: use set_params(init_from=None), or save that model and pass its "
            "path as init_from."
        )
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
            "sklstm_version": sklstm.__version__,
            "torch_version": torch.__version__,
            "estimator": type(estimator).__name__,
            "params": {
                k: _encode(_build.plain(v), f"parameter {k}") for k, v in params.items()
            },
            "fitted": {k: _encode(v, f"attribute {k}") for k, v in fitted.items()},
            "history": _encode(list(net.history), "history_"),
            "net": {"seed": int(net.seed), "n_train": int(batches * net.batch_size)},
        }
    except _Unstorable as exc:
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
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr(_META, json.dumps(meta, indent=1), zipfile.ZIP_DEFLATED)
            archive.writestr(_WEIGHTS, buffer.getvalue(), zipfile.ZIP_STORED)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _to_cpu(value):
    if isinstance(value, torch.Tensor):
        return value.detach().cpu()
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value


# ------------------------------------------------------------------ loading
def load(
    path: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    estimator_class: type[_BaseLSTM] | None = None,
) -> _BaseLSTM:
    """Load an estimator written by :func:`save`.

    Nothing in the file is unpickled: ``meta.json`` is plain JSON and the
    weights are read with ``torch.load(weights_only=True)``. The estimator is
    rebuilt with its class's constructor, its fitted attributes are restored,
    and its skorch net is built as ``fit`` builds it and given the saved
    weights, so ``predict`` gives the same outputs as the saved estimator.
    The optimizer state (moments, learning rate) and the history are restored
    too, so ``partial_fit`` (or a fit with ``warm_start=True``) carries on
    where training stopped; learning-rate schedulers and early stopping start
    afresh, as they do in a warm-started fit. A ``stateful`` model starts with
    no carried state.

    Parameters
    ----------
    path : str or path-like
        A file written by :func:`save`.
    device : str or torch.device, default="cpu"
        Where to put the network (``"cpu"``, ``"cuda"``, ``"cuda:1"`` or
        ``"auto"``), whatever device it was trained on. It becomes the
        fitted ``device_``; the ``device`` parameter keeps its saved value
        (set it with ``set_params`` before fitting again on another device).
    estimator_class : class, default=None
        The class the file must hold (for ``LSTMRegressor.load``-style
        class methods, and for subclasses of the sklstm estimators). By
        default the stored name must be ``"LSTMClassifier"`` or
        ``"LSTMRegressor"``.

    Returns
    -------
    estimator : LSTMClassifier or LSTMRegressor
        The fitted estimator.

    Raises
    ------
    ValueError
        If the file is not an sklstm model file, was written by a newer
        format version, holds another or an unknown class, or its weights
        cannot be read safely (for instance a pickle payload that is not
        plain tensors) or do not fit the model.

    Warns
    -----
    UserWarning
        If the file was written by another sklstm major.minor version.

    See Also
    --------
    save : Write the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> import numpy as np
    >>> from sklstm import LSTMClassifier
    >>> from sklstm import load, save
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(40, 6, 2))
    >>> y = np.where(X[:, :, 0].mean(axis=1) > 0, "up", "down")
    >>> clf = LSTMClassifier(max_epochs=2, random_state=0).fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = save(clf, pathlib.Path(tmp) / "clf.sklstm")
    ...     again = load(path, estimator_class=LSTMClassifier)
    >>> again.classes_
    array(['down', 'up'], dtype='<U4')
    >>> bool(np.array_equal(again.predict_proba(X), clf.predict_proba(X)))
    True
    """
    meta, blob = _read_archive(path)
    cls = _estimator_class(meta.get("estimator"), estimator_class)
    device = resolve_device(device)
    try:
        params = {str(k): _decode(v) for k, v in dict(meta["params"]).items()}
        fitted = {str(k): _decode(v) for k, v in dict(meta["fitted"]).items()}
        history = History(_decode(list(meta["history"])))
        seed, n_train = int(meta["net"]["seed"]), int(meta["net"]["n_train"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(f"{path}: meta.json is not valid: {exc!r}") from None
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the saved parameters are not valid: {exc}") from None
    for name, value in fitted.items():
        if not _PUBLIC_FITTED.fullmatch(name) and name not in _PRIVATE_FITTED:
            raise ValueError(f"{path}: unexpected fitted attribute {name!r}.")
        if name in _NOT_IN_META:
            raise ValueError(f"{path}: {name} cannot come from meta.json.")
        setattr(estimator, name, value)
    weights = _read_weights(blob, device, path)
    try:
        net = _rebuild_net(estimator, weights, device, seed, n_train)
    except (RuntimeError, ValueError, KeyError, AttributeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else repr(exc)
        raise ValueError(
            f"{path}: the saved weights do not fit the saved model: {first}"
        ) from None
    net.history_ = history
    estimator.net_ = net
    estimator.history_ = net.history
    estimator.device_ = device
    return estimator


def _read_archive(path) -> tuple[dict, bytes]:
    try:
        with zipfile.ZipFile(path) as archive:
            meta = json.loads(archive.read(_META).decode("utf-8"))
            blob = archive.read(_WEIGHTS)
    except (zipfile.BadZipFile, KeyError, UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError(
            f"{path} is not an sklstm model file (a zip archive with {_META} and "
            f"{_WEIGHTS}, written by sklstm's save)."
        ) from None
    if not isinstance(meta, dict) or meta.get("format") != "sklstm":
        raise ValueError(f"{path} is not an sklstm model file.")
    version = meta.get("format_version")
    if type(version) is not int:
        raise ValueError(f"{path} is not an sklstm model file.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} uses model file format {version}, written by sklstm "
            f"{meta.get('sklstm_version')}; this sklstm reads formats up to "
            f"{FORMAT_VERSION}. Upgrade sklstm to load it."
        )
    _check_version(str(meta.get("sklstm_version")), path)
    return meta, blob


def _check_version(saved: str, path) -> None:
    import sklstm

    def major_minor(version: str) -> tuple[str, ...]:
        return tuple(version.split(".")[:2])

    if major_minor(saved) != major_minor(sklstm.__version__):
        warnings.warn(
            f"{path} was saved with sklstm {saved} and is loaded with sklstm "
            f"{sklstm.__version__}; check its predictions, or refit with this "
            "version.",
            UserWarning,
            stacklevel=4,
        )


def _estimator_class(name, expected: type[_BaseLSTM] | None) -> type[_BaseLSTM]:
    if expected is not None:
        if not (isinstance(expected, type) and issubclass(expected, _BaseLSTM)):
            raise TypeError("estimator_class must be an sklstm estimator class.")
        if name != expected.__name__:
            raise ValueError(f"The file holds a {name}, not a {expected.__name__}.")
        return expected
    from sklstm import LSTMClassifier, LSTMRegressor

    known = {cls.__name__: cls for cls in (LSTMClassifier, LSTMRegressor)}
    if name not in known:
        raise ValueError(
            f"The file holds an unknown estimator class {name!r}; sklstm loads "
            f"{sorted(known)}. For a subclass, pass it as estimator_class."
        )
    return known[name]


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


def _rebuild_net(estimator: _BaseLSTM, weights: dict, device, seed, n_train):
    """Build and initialize the net as ``fit`` does, then load the state."""
    k = estimator._n_outputs()
    # a criterion needs targets (class weights): give one of each output, then
    # overwrite its state (the saved class weights) below
    stand_in = SequenceDataset(torch.zeros(k, 1, 1), y=torch.arange(k))
    cuda = [torch.device(device).index or 0] if device.startswith("cuda") else []
    with torch.random.fork_rng(devices=cuda):  # leave the caller's RNG alone
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
    if weights["optimizer"] is not None:
        try:
            net.optimizer_.load_state_dict(weights["optimizer"])
        except (ValueError, KeyError, RuntimeError):
            # written by sklstm 0.1 (one parameter group): training continues
            # with a fresh optimizer state
            warnings.warn(
                "The saved optimizer state does not fit this sklstm's optimizer "
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


__all__ = ["FORMAT_VERSION", "load", "save"]
