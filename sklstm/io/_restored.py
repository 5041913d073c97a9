"""Checks of the objects a pipeline file restores, before ``load`` returns them.

skops restores an estimator's ``__dict__`` as the file says, bypassing the
constructor and ``set_params``. So after loading, every estimator found
inside (any object with ``get_params``, walked by protocol) is checked as a
fresh one would be:

- its parameters must build a new instance and pass its own
  ``_validate_params`` (scikit-learn's constraints), and the checks that a
  scikit-learn meta-estimator makes of its parts when fit starts (a
  Pipeline's steps, a union's transformers, an ensemble's members);
- parameters that make a fit read or write files (``Pipeline.memory``,
  where a planted joblib cache would be unpickled, and any path-valued
  parameter whose name says so) are reset to the class default with a
  warning, unless the caller passes ``restore_paths=True``;
- regular expressions (``token_pattern``, and what a class lists in
  ``_pattern_params``) other than the class default are refused unless the
  caller trusts them by name (``"module.Class.param"`` in ``trusted``): a
  crafted pattern can make ``predict`` backtrack for ever;
- finally every restored object that has a ``_check_loaded_state()`` method
  checks its own fitted state; its ``ValueError``/``TypeError`` becomes a
  refusal naming the file.

sklstm's own estimators are not walked into: their model files are checked
by :mod:`sklstm.io._model`.
"""

from __future__ import annotations

import inspect
import os
import types
import warnings
from collections.abc import Iterator

import numpy as np
import torch

import sklstm.io._registry as _registry

# parameter names that hold a place a fit reads or writes
PATH_NAMES = frozenset(
    {
        "memory",
        "cachedir",
        "location",
        "dirname",
        "filename",
        "path",
        "logdir",
        "epoch_cache",
        "init_from",
        "f_params",
        "f_optimizer",
        "f_criterion",
        "f_history",
        "f_pickle",
    }
)
PATH_SUFFIXES = ("_dir", "_path", "_file", "_dirname", "_filename", "_cache")
# parameters holding a regular expression, in sklearn's and sklstm's text
# objects; a class may list more in ``_pattern_params``
PATTERN_NAMES = frozenset({"token_pattern"})
# what scikit-learn's meta-estimators check of their parts at the start of
# fit (a Pipeline's steps, a union's transformers, an ensemble's members):
# their constraints say only "a list", so a restored one is checked as fit
# would check it
_STRUCTURE_CHECKS = (
    "_validate_steps",
    "_validate_transformers",
    "_validate_estimators",
)
_LEAVES = (str, bytes, int, float, complex, bool, type(None), np.ndarray, np.generic)
_OPAQUE = (
    type,
    types.FunctionType,
    types.BuiltinFunctionType,
    types.ModuleType,
    np.ufunc,
    torch.nn.Module,
    torch.Tensor,
)


def check_restored(root, path: str, *, trusted: frozenset, restore_paths: bool):
    """Check (and reset the paths of) everything ``root`` holds; see the
    module doc. ``ValueError`` naming ``path`` and the object on refusal."""
    found = list(_walk(root, f"the {type(root).__name__}"))
    reset: list[str] = []
    for where, obj in found:
        if not _is_estimator(obj):
            continue
        params = _params(obj, where, path)
        _check_params(obj, params, where, path)
        _check_patterns(obj, params, where, path, trusted)
        if not restore_paths:
            reset += _reset_paths(obj, params, where)
    if reset:
        warnings.warn(
            f"{path}: {', '.join(reset)} (where a fit would read or write files) "
            f"{'was' if len(reset) == 1 else 'were'} reset to the class default; "
            "pass restore_paths=True to keep what the file says, for a file you "
            "trust.",
            UserWarning,
            stacklevel=4,
        )
    for where, obj in found:
        check = getattr(obj, "_check_loaded_state", None)
        if not callable(check):
            continue
        try:
            check()
        except (ValueError, TypeError) as exc:
            raise ValueError(
                f"{path}: {_named(where, obj)} holds an invalid fitted state: {exc}"
            ) from None
    return root


def _walk(root, name: str) -> Iterator[tuple[str, object]]:
    """Every object reachable from ``root`` by attributes and items, once,
    with where it sits; sklstm's estimators are yielded, not entered."""
    seen: set[int] = set()
    stack = [(name, root)]
    while stack:
        where, obj = stack.pop()
        if isinstance(obj, _LEAVES) or isinstance(obj, _OPAQUE) or id(obj) in seen:
            continue
        seen.add(id(obj))
        if isinstance(obj, dict):
            items = [(f"{where}[{k!r:.60}]", v) for k, v in obj.items()]
        elif isinstance(obj, (list, tuple)):
            items = [(f"{where}[{i}]", v) for i, v in enumerate(obj)]
        else:
            yield where, obj
            state = getattr(obj, "__dict__", None)
            if _registry.is_model(obj) or not isinstance(state, dict):
                continue
            items = [(f"{where}.{k}", v) for k, v in state.items()]
        stack.extend(reversed(items))


def _named(where: str, obj) -> str:
    """Where ``obj`` sits, with its type unless that says it already."""
    name = type(obj).__name__
    return where if where.endswith(name) else f"{where} ({name})"


def _is_estimator(obj) -> bool:
    return callable(getattr(obj, "get_params", None)) and not _registry.is_model(obj)


def _params(obj, where: str, path: str) -> dict:
    try:
        params = obj.get_params(deep=False)
    except Exception as exc:  # noqa: BLE001 - a restored object: refuse
        raise ValueError(
            f"{path}: {_named(where, obj)} has no valid parameters: "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(params, dict):
        raise ValueError(f"{path}: {where} has no valid parameters.")
    return params


def _check_params(obj, params: dict, where: str, path: str) -> None:
    """The parameters build a fresh instance that passes its own checks."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # deprecations speak at fit
            fresh = type(obj)(**params)
        # BaseEstimator has _validate_params; classes without constraints
        # (sklearn's private helpers) have nothing for it to check
        validate = getattr(fresh, "_validate_params", None)
        if callable(validate) and hasattr(fresh, "_parameter_constraints"):
            validate()
        for name in _STRUCTURE_CHECKS:
            check = getattr(fresh, name, None)
            if callable(check) and _takes_no_arguments(check):
                check()
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"{path}: {_named(where, obj)} has invalid parameters: {exc}"
        ) from None


def _takes_no_arguments(method) -> bool:
    try:
        parameters = inspect.signature(method).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(p.default is not inspect.Parameter.empty for p in parameters)


def _default(cls: type, name: str):
    """The default of ``cls``'s constructor parameter ``name`` (None if none)."""
    try:
        parameter = inspect.signature(cls.__init__).parameters.get(name)
    except (TypeError, ValueError):
        return None
    if parameter is None or parameter.default is inspect.Parameter.empty:
        return None
    return parameter.default


def _dotted(cls: type, name: str) -> str:
    return f"{cls.__module__}.{cls.__qualname__}.{name}"


def _check_patterns(obj, params, where: str, path: str, trusted) -> None:
    cls = type(obj)
    names = PATTERN_NAMES | set(getattr(cls, "_pattern_params", ()))
    for name in sorted(names & set(params)):
        value = params[name]
        if value is None or _same(value, _default(cls, name)):
            continue
        if _dotted(cls, name) in trusted:
            continue
        raise ValueError(
            f"{path}: {where}.{name} is the regular expression {str(value)[:80]!r}, "
            "not the default one; a pattern from a file can make predict run for "
            "ever. If you trust this file, load it with "
            f"trusted=[..., {_dotted(cls, name)!r}]."
        )


def _same(a, b) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except (TypeError, ValueError):  # arrays and the like: not a default
        return False


def is_path_param(name: str) -> bool:
    """Whether a parameter called ``name`` names a place a fit reads or writes."""
    return name in PATH_NAMES or name.endswith(PATH_SUFFIXES)


def _reset_paths(obj, params: dict, where: str) -> list[str]:
    """Reset ``obj``'s path parameters to the class defaults; their names."""
    cls, reset = type(obj), []
    for name, value in params.items():
        if not is_path_param(name) or value is None:
            continue
        # any value of ``memory`` caches to disk (a joblib.Memory included)
        if name != "memory" and not isinstance(value, (str, bytes, os.PathLike)):
            continue
        default = _default(cls, name)
        if _same(value, default):
            continue
        setattr(obj, name, default)
        reset.append(f"{where}.{name}")
    return reset
