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

import torch
from sklearn.pipeline import Pipeline
from sklearn.utils.validation import check_is_fitted
from skorch.history import History

from sklstm import _build
from sklstm._archive import read_members, write_members
from sklstm._base import _BaseLSTM
from sklstm._build import resolve_device
from sklstm._codec import Unstorable, decode, encode
from sklstm._data import SequenceDataset
from sklstm._net import cuda_indices
from sklstm._trust import (
    PATH_PARAMS,
    check_declared_sizes,
    check_fitted,
    check_history,
    check_module_shapes,
    check_optimizer_state,
    check_tensors,
)

FORMAT_VERSION = 1
_META, _WEIGHTS = "meta.json", "weights.pt"
_PUBLIC_FITTED = re.compile(r"[a-z][a-z0-9_]*_")
_PRIVATE_FITTED = ("_fitted_on_2d", "_target_ndim")
_NOT_IN_META = ("net_", "history_")  # the net is rebuilt, the history stored apart


# ------------------------------------------------------------------- saving
def save(estimator, path: str | os.PathLike) -> pathlib.Path:
    """Save a fitted sklstm estimator, or a pipeline holding some, without pickle.

    An estimator's file is a zip archive holding ``meta.json`` (versions,
    class name, constructor parameters, fitted attributes, training history)
    and ``weights.pt`` (the network's, criterion's and optimizer's state
    dicts, on the CPU). A :class:`~sklearn.pipeline.Pipeline` (for instance
    a scaler and an LSTM, or a search's ``best_estimator_``) is stored as
    its scikit-learn part in skops' auditable format (``skops.io``; needs
    ``pip install 'sklstm[persist]'``) plus one such model file per sklstm
    step. The file is written to a temporary file created exclusively in
    the target directory, then renamed over the target.

    Parameters
    ----------
    estimator : LSTMClassifier, LSTMRegressor, Pipeline or WindowedForecaster
        A fitted estimator, pipeline or forecaster (stored like a
        pipeline: skops for its own state, a model file per LSTM). The
        sklstm estimators' parameters must be plain values: ``callbacks``
        must be empty, ``optimizer`` a name or a ``torch.optim`` class, and
        ``init_from`` None or a path.
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
    from sklstm.preprocessing import WindowedForecaster

    if isinstance(estimator, (Pipeline, WindowedForecaster)):
        from sklstm._pipeline_io import save_pipeline

        check_is_fitted(estimator)
        return save_pipeline(estimator, path)
    if not isinstance(estimator, _BaseLSTM):
        raise TypeError(
            "save expects an sklstm estimator, a Pipeline or a WindowedForecaster, "
            f"got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    return write_members(path, model_members(estimator, storable_params(estimator)))


def storable_params(estimator: _BaseLSTM) -> dict:
    """The estimator's parameters, if a model file can hold them."""
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
    return params


def save_state(estimator: _BaseLSTM, path) -> pathlib.Path:
    """Save the fitted state only: ``callbacks`` and ``init_from`` (which act
    in ``fit`` alone) are stored as None. For the epoch cache, which resumes
    fitted states under the caller's own parameters."""
    params = {**estimator.get_params(deep=False), "callbacks": None, "init_from": None}
    return write_members(path, model_members(estimator, params))


def model_members(estimator: _BaseLSTM, params: dict) -> list:
    """The members of a model file: ``(name, bytes, compression)``."""
    import sklstm

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
                k: encode(_build.plain(v), f"parameter {k}") for k, v in params.items()
            },
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


# ------------------------------------------------------------------ loading
def load(
    path: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    estimator_class: type[_BaseLSTM] | None = None,
    restore_paths: bool = False,
    trusted: list[str] | None = None,
):
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
    restore_paths : bool, default=False
        Restore the parameters that make sklstm read or write files
        (``epoch_cache``, ``tensorboard_dir``, a path in ``init_from``). By
        default they are reset to None with a warning: a model file from
        elsewhere must not choose where the next ``fit`` reads or writes.

    trusted : list of str or None, default=None
        For a pipeline file: types (``"module.Class"``) to accept in its
        scikit-learn part beyond those skops trusts by default and sklstm's
        own transformers. Anything else is refused.

    Returns
    -------
    estimator : LSTMClassifier, LSTMRegressor or Pipeline
        The fitted estimator (or pipeline, for a file holding one).

    Raises
    ------
    ValueError
        Naming the file and the problem, for anything that is not a valid
        sklstm model file: not a zip archive, a member encrypted, oddly
        compressed, larger than its limit or inflating like a
        decompression bomb; malformed or oversized JSON; a newer format
        version, another or an unknown class; parameters or fitted
        attributes of the wrong type, shape or value (NaN included);
        weights that are not plain tensors (a pickle payload is refused
        unrun), or that do not have the shapes the parameters declare
        (checked before any network is built); an optimizer state that
        does not fit its parameters.

    Warns
    -----
    UserWarning
        If the file was written by another sklstm major.minor version, if
        path parameters were reset (see ``restore_paths``), or if the
        optimizer state has another version's layout (training then
        continues with a fresh optimizer state).

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
    try:
        meta = read_meta(path, str(path))
        if meta.get("format") == "sklstm-pipeline":
            from sklstm._pipeline_io import load_pipeline

            return load_pipeline(path, str(path), device=device, trusted=trusted)
        return load_model(path, str(path), device, estimator_class, restore_paths)
    except ValueError as exc:
        message = str(exc)
        if str(path) not in message:
            message = f"{path}: {message}"
        raise ValueError(message) from None
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        raise
    except (
        TypeError,
        KeyError,
        IndexError,
        AttributeError,
        RecursionError,
        RuntimeError,
        NotImplementedError,
        OverflowError,
        EOFError,
        UnicodeDecodeError,
        OSError,
    ) as exc:
        first = str(exc).splitlines()[0] if str(exc) else ""
        raise ValueError(
            f"{path} is not a valid sklstm model file ({type(exc).__name__}: "
            f"{first[:200]})."
        ) from None


def load_model(
    source, path: str, device, estimator_class=None, restore_paths=False
) -> _BaseLSTM:
    """Load a model file from ``source`` (a path or file object) named ``path``."""
    meta, blob = _read_archive(source, path)
    cls = _estimator_class(meta.get("estimator"), estimator_class)
    device = resolve_device(device)
    try:
        params = {str(k): decode(v) for k, v in dict(meta["params"]).items()}
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
                stacklevel=3,
            )
    try:
        estimator = cls(**params)
        estimator._validate_params()
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{path}: the saved parameters are not valid: {exc}") from None
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


def read_meta(source, path: str, members: dict | None = None) -> dict:
    """The parsed ``meta.json`` of a file, which must be a JSON object."""
    if members is None:
        members = read_members(source, (_META,), path)
    try:
        meta = json.loads(members[_META].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError(
            f"{path} is not an sklstm model file: {_META} is not valid JSON."
        ) from None
    if not isinstance(meta, dict):
        raise ValueError(f"{path} is not an sklstm model file.")
    return meta


def _read_archive(source, path: str) -> tuple[dict, bytes]:
    members = read_members(source, (_META, _WEIGHTS), path)
    meta = read_meta(source, path, members)
    if meta.get("format") != "sklstm":
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
    return meta, members[_WEIGHTS]


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
    if not isinstance(name, str) or name not in known:
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


def _rebuild_net(estimator: _BaseLSTM, weights: dict, device, seed, n_train, path):
    """Build and initialize the net as ``fit`` does, then load the state."""
    k = estimator._n_outputs()
    # a criterion needs targets (class weights): give one of each output, then
    # overwrite its state (the saved class weights) below
    stand_in = SequenceDataset(torch.zeros(k, 1, 1), y=torch.arange(k))
    with torch.random.fork_rng(devices=cuda_indices(device)):  # the caller's RNG stays
        net = _build.build_net(
            estimator,
            input_size=estimator._network_input_size(),
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


__all__ = ["FORMAT_VERSION", "load", "save"]
