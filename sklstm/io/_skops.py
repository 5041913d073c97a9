"""The scikit-learn part of a pipeline file: a skops archive, checked before
skops reads any of it.

skops (``skops.io``) is scikit-learn's auditable format: it refuses types it
does not trust, but it reads whatever its zip archive declares. So sklstm
checks the archive first, with the policy of every sklstm file
(:mod:`sklstm.io._archive`): unique member names, bounded sizes and ratios,
every array's header against its bytes, and the inflation budget of the
whole file, charged once for each time skops will read a member (an array
referenced a thousand times in the schema is read a thousand times). Types
that older sklstm versions stored under other module paths are renamed in
the schema first.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter

import sklstm.io._registry as _registry
from sklstm.io._archive import Budget, check_nested_archive, read_members

_SCHEMA = "schema.json"
# scikit-learn's private helpers that its public meta-estimators hold (plain
# numpy state); skops does not list them as trusted by default
SKLEARN_PARTS = frozenset(
    {
        "sklearn.calibration._CalibratedClassifier",
        "sklearn.calibration._SigmoidCalibration",
        "sklearn.utils._bunch.Bunch",
    }
)
# skops builds the tree of nodes twice (to list the untrusted types, then to
# load), and holds each array's bytes next to the array it builds from them
_READS_PER_REFERENCE = 2


def skops_io():
    """``skops.io``, or an ``ImportError`` saying how to install it."""
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ImportError(
            "Saving or loading a pipeline needs skops (scikit-learn's auditable "
            "format): pip install 'skops>=0.16'."
        ) from exc
    return sio


def read_schema(blob: bytes, path: str, budget: Budget) -> dict:
    """The parsed ``schema.json`` of a skops archive (read under the policy)."""
    label = f"{path}[pipeline.skops]"
    members = read_members(io.BytesIO(blob), (_SCHEMA,), label, budget=budget)
    try:
        schema = json.loads(members[_SCHEMA])
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise ValueError(f"{path}: pipeline.skops has no valid schema.") from None
    if not isinstance(schema, dict):
        raise ValueError(f"{path}: pipeline.skops has no valid schema.")
    return schema


def root_type(schema: dict) -> str:
    """The dotted type name of the object a skops schema holds."""
    module, name = schema.get("__module__"), schema.get("__class__")
    if isinstance(module, str) and isinstance(name, str):
        return _registry.current_name(f"{module}.{name}")[:200]
    return "unknown object"


def read_skops(blob: bytes, path: str, trusted: frozenset, budget: Budget):
    """The object a skops archive holds, after the checks of the module doc.

    Types skops does not trust by default are refused unless they are
    sklstm's registered types, scikit-learn's private parts, or in
    ``trusted``.
    """
    sio = skops_io()
    schema = read_schema(blob, path, budget)
    label = f"{path}[pipeline.skops]"
    check_nested_archive(blob, label, budget, _reads(schema))
    if _rename_types(schema):
        budget.charge(len(blob), "rewriting pipeline.skops")
        blob = _rewritten(blob, schema)
    try:
        unknown = sio.get_untrusted_types(data=blob)
    except Exception as exc:  # noqa: BLE001 - any failure means: refuse
        raise ValueError(f"{path}: pipeline.skops is not readable: {exc}") from None
    allowed = _registry.plain_types() | SKLEARN_PARTS | trusted
    refused = sorted(set(unknown) - allowed)
    if refused:
        raise ValueError(
            f"{path}: pipeline.skops holds types skops does not trust: {refused}. "
            "Load it with trusted=[...] naming them if you trust this file."
        )
    try:
        return sio.loads(blob, trusted=sorted(set(unknown)))
    except Exception as exc:  # noqa: BLE001 - any failure means: refuse
        raise ValueError(f"{path}: pipeline.skops is not readable: {exc}") from None


def _reads(schema) -> Counter:
    """How many times skops will inflate each member: once per node naming
    it as its ``file``, for each pass over the tree."""
    counts: Counter = Counter()
    stack = [schema]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            if isinstance(item.get("file"), str):
                counts[item["file"]] += _READS_PER_REFERENCE
            stack.extend(item.values())
    return counts


def _rewritten(blob: bytes, schema: dict) -> bytes:
    """``blob`` with ``schema`` as its schema (its members already checked)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(blob)) as old, zipfile.ZipFile(out, "w") as new:
        for info in old.infolist():
            data = old.read(info.filename)
            if info.filename == _SCHEMA:
                data = json.dumps(schema).encode()
            new.writestr(info, data)
    return out.getvalue()


def _rename_types(node) -> bool:
    """Rename moved types in a skops schema in place; whether any was."""
    changed = False
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        module, name = item.get("__module__"), item.get("__class__")
        if isinstance(module, str) and isinstance(name, str):
            new = _registry.current_name(f"{module}.{name}")
            if new != f"{module}.{name}":
                item["__module__"], item["__class__"] = new.rsplit(".", 1)
                changed = True
        stack.extend(item.values())
    return changed
