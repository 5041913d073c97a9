"""``save`` and ``load``: one entry point for every file kind.

A fitted LSTM estimator goes to a model file (:mod:`sklstm.io._model`);
anything else holding LSTM estimators (a pipeline, a meta-estimator, a
forecaster) goes to a pipeline file (:mod:`sklstm.io._pipelines`).
"""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sklstm._engine._runtime import resolve_device
from sklstm.io._archive import Budget, write_members
from sklstm.io._model import (
    FORMAT_VERSION,
    article,
    load_model,
    model_members,
    read_meta,
    storable_params,
)
from sklstm.io._pipelines import held_type, load_pipeline, save_pipeline
from sklstm.io._registry import is_model, is_model_class


# ------------------------------------------------------------------- saving
def save(estimator, path: str | os.PathLike) -> pathlib.Path:
    """Save a fitted sklstm estimator, or a pipeline holding some, without pickle.

    An estimator's file is a zip archive holding ``meta.json`` (versions,
    class name, constructor parameters, fitted attributes, training history)
    and ``weights.pt`` (the network's, criterion's and optimizer's state
    dicts, on the CPU). A :class:`~sklearn.pipeline.Pipeline` (for instance
    a scaler and an LSTM, or a search's ``best_estimator_``) is stored as
    its scikit-learn part in skops' auditable format (``skops.io``; needs
    ``pip install "skops>=0.16"``) plus one such model file per sklstm
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
    TypeError
        If ``estimator`` is a hyperparameter search: save its
        ``best_estimator_`` instead.

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
    _refuse_search(estimator)
    if not is_model(estimator):
        return save_pipeline(estimator, path)
    check_is_fitted(estimator)
    return write_members(path, model_members(estimator, storable_params(estimator)))


def _refuse_search(estimator) -> None:
    # a search holds its splitter, scorers and every candidate's results: a
    # file of it would need all of them trusted on load, and the model the
    # user wants is the refitted one
    if (
        hasattr(estimator, "cv_results_")
        or hasattr(estimator, "param_distributions")
        or hasattr(estimator, "param_grid")
        or hasattr(estimator, "search_spaces")
    ):
        name = type(estimator).__name__
        fix = (
            "save(search.best_estimator_, path) stores the refitted best model"
            if hasattr(estimator, "best_estimator_")
            else "fit the search with refit=True and save search.best_estimator_"
        )
        raise TypeError(
            f"save() stores models and pipelines, not a {name}: {fix}; keep "
            "search.cv_results_ with pandas (pd.DataFrame(search.cv_results_)"
            ".to_csv(...)) if you need the scores."
        )


# ------------------------------------------------------------------ loading
def load(
    path: str | os.PathLike,
    *,
    device: str | torch.device = "cpu",
    estimator_class: type | None = None,
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
        The class the file must hold: the object returned is an instance
        of it, or the file is refused with a message naming what it holds
        (for ``LSTMRegressor.load``-style class methods, subclasses of the
        sklstm estimators, or ``Pipeline`` and other classes for a
        pipeline file). By default a model file's stored name must be
        ``"LSTMClassifier"`` or ``"LSTMRegressor"``.
    restore_paths : bool, default=False
        Restore the parameters that make a fit read or write files: the
        sklstm estimators' ``epoch_cache``, ``tensorboard_dir`` and a path
        in ``init_from``, and in a pipeline file any estimator's
        ``memory`` (scikit-learn's joblib cache, whose files a fit would
        unpickle) and path-valued parameters named like paths
        (``*_dir``, ``*_path``, ``dirname``, ...). By default they are reset
        to their defaults with a warning: a file from elsewhere must not
        choose where the next ``fit`` reads or writes.
    trusted : list of str or None, default=None
        For a pipeline file: types (``"module.Class"``) to accept in its
        scikit-learn part beyond those skops trusts by default and sklstm's
        own transformers, and regular expressions to accept
        (``"module.Class.parameter"``, for example
        ``"sklstm.preprocessing._text.TextSequencer.token_pattern"``):
        a pattern other than the class default is refused otherwise, since
        a crafted one can make ``predict`` run for ever. Classes are
        accepted in place of their names. Anything else is refused.

    Returns
    -------
    estimator : LSTMClassifier, LSTMRegressor or Pipeline
        The fitted estimator (or pipeline, for a file holding one).

    Raises
    ------
    ValueError
        Naming the file and the problem, for anything that is not a valid
        sklstm file: not a zip archive; a member name repeated, a member
        encrypted, oddly compressed, larger than its limit or inflating
        like a decompression bomb, at any nesting level (the whole file
        may inflate to 200 times its size); an array whose header does not
        describe its bytes, or whose declared dtype is far wider than its
        values; malformed or oversized JSON; a format version outside the
        range this sklstm reads; another class than ``estimator_class``,
        or an unknown one; parameters or fitted attributes of the wrong
        type, shape or value (NaN included), in a model file or on any
        estimator a pipeline file restores; an untrusted type or regular
        expression; a fitted state that its object's
        ``_check_loaded_state`` refuses; weights that are not plain tensors
        (a pickle payload is refused unrun), or that do not have the shapes
        the parameters declare (checked before any network is built); an
        optimizer state that does not fit its parameters.
    TypeError
        If ``trusted``, ``estimator_class`` or ``restore_paths`` is not of
        the documented type (``trusted="pkg.Type"`` included: use a list).

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
    trusted = _checked_trusted(trusted)
    _check_arguments(estimator_class, restore_paths)
    device = resolve_device(device)  # the caller's argument: not the file's fault
    try:
        budget = Budget.of(path, str(path))
        meta = read_meta(path, str(path), budget=budget)
        if meta.get("format") == "sklstm-pipeline":
            return _load_pipeline_file(
                path, meta, budget, device, estimator_class, trusted, restore_paths
            )
        return load_model(
            path, str(path), device, estimator_class, restore_paths, budget=budget
        )
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


def _load_pipeline_file(
    path, meta, budget, device, estimator_class, trusted, restore_paths
):
    """A pipeline file's object, if it is an ``estimator_class`` (when given)."""
    if estimator_class is not None and is_model_class(estimator_class):
        # named from the schema, before loading anything
        held = held_type(path, str(path), budget)
        raise ValueError(
            f"The file holds a pipeline or meta-estimator (a {held}), not "
            f"{article(estimator_class.__name__)}; load it with sklstm.load(path)."
        )
    obj = load_pipeline(
        path,
        str(path),
        meta=meta,
        device=device,
        budget=budget,
        trusted=trusted,
        restore_paths=restore_paths,
    )
    if estimator_class is not None and not isinstance(obj, estimator_class):
        held = f"{type(obj).__module__}.{type(obj).__qualname__}"
        raise ValueError(
            f"The file holds a {held}, not {article(estimator_class.__name__)}."
        )
    return obj


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+")


def _checked_trusted(trusted) -> frozenset[str]:
    """``trusted`` as a set of dotted names; ``TypeError`` for anything but a
    list (or tuple, set) of ``"module.Class"`` names or classes."""
    if trusted is None:
        return frozenset()
    if isinstance(trusted, (str, bytes)):
        raise TypeError(
            f"trusted must be a list of type names, got the string {trusted!r}; "
            f"for one type write trusted=[{trusted!r}]."
        )
    if not isinstance(trusted, (list, tuple, set, frozenset)):
        raise TypeError(
            "trusted must be a list of type names such as "
            f"['mypackage.MyTransformer'], got {trusted!r}."
        )
    names = set()
    for item in trusted:
        if isinstance(item, type):
            item = f"{item.__module__}.{item.__qualname__}"
        if not (isinstance(item, str) and _DOTTED.fullmatch(item)):
            raise TypeError(
                "trusted must hold dotted type names ('module.Class', or "
                f"'module.Class.parameter' for a pattern), got {item!r}."
            )
        names.add(item)
    return frozenset(names)


def _check_arguments(estimator_class, restore_paths) -> None:
    if estimator_class is not None and not isinstance(estimator_class, type):
        raise TypeError(f"estimator_class must be a class, got {estimator_class!r}.")
    if not isinstance(restore_paths, (bool, np.bool_)):
        raise TypeError(f"restore_paths must be True or False, got {restore_paths!r}.")


__all__ = ["FORMAT_VERSION", "load", "save"]
