"""What sklstm's files may hold: classes register themselves here.

The file code sits below the estimators and imports none of them. An LSTM
estimator class registers as a *model* (stored in its own model file: JSON
and a ``state_dict``); sklstm's transformers and meta-estimators register as
*plain* types, whose state skops may restore inside a pipeline file.
"""

from __future__ import annotations

_MODELS: dict[str, type] = {}
_PLAIN: set[str] = set()
_FORMERLY: dict[str, str] = {}  # a type's dotted name in older files -> today's


def register_model(cls: type) -> type:
    """Record ``cls`` as a model class (class decorator)."""
    _MODELS[cls.__name__] = cls
    return cls


def register_plain(cls: type | None = None, *, formerly: tuple[str, ...] = ()):
    """Record ``cls`` as a type whose skops state a pipeline file may hold
    (class decorator); ``formerly``: its dotted names in older files."""

    def register(cls: type) -> type:
        name = f"{cls.__module__}.{cls.__qualname__}"
        _PLAIN.add(name)
        _FORMERLY.update(dict.fromkeys(formerly, name))
        return cls

    return register if cls is None else register(cls)


def current_name(dotted: str) -> str:
    """Today's dotted name of a type an older file names ``dotted``."""
    return _FORMERLY.get(dotted, dotted)


def model_class(name: str) -> type | None:
    """The registered model class called ``name``, or None."""
    return _MODELS.get(name) if isinstance(name, str) else None


def is_model_class(cls) -> bool:
    return isinstance(cls, type) and issubclass(cls, tuple(_MODELS.values()))


def is_model(obj) -> bool:
    """Whether ``obj`` is an instance of a registered model class."""
    return is_model_class(type(obj))


def plain_types() -> frozenset[str]:
    """Dotted names of the registered plain types."""
    return frozenset(_PLAIN)


def model_names() -> list[str]:
    return sorted(_MODELS)
