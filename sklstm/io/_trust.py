"""Checks of what a model file holds, made before it is used.

Every check raises ``ValueError`` naming the file and the problem. Sizes are
compared with the stored tensors before any network is built, so a file
cannot make ``load`` allocate more than it holds; the optimizer state is
compared with its parameters, so a crafted state cannot reach a fused kernel.
"""

from __future__ import annotations

import math
import re
from numbers import Real

import numpy as np
import torch

from sklstm._engine import _build
from sklstm._engine._module import LSTMNetwork
from sklstm._engine._series import MIN_STD
from sklstm._validation import MAX_VOCAB, bookkeeping_problem, is_int

# parameters that make sklstm read or write files: not restored from a file
# unless the caller says so
PATH_PARAMS = ("epoch_cache", "tensorboard_dir", "init_from")


def check_device_name(device) -> None:
    """``device`` names a device sklstm can use ("auto", "cpu", "cuda",
    "cuda:<index>", or such a ``torch.device``), whether or not this
    machine has it: a model trained on a GPU still loads on a CPU.
    ``ValueError`` otherwise."""
    if isinstance(device, str) and device == "auto":
        return
    parsed = None
    if isinstance(device, (str, torch.device)):
        try:
            parsed = torch.device(device)
        except (RuntimeError, TypeError, ValueError):
            parsed = None
    if parsed is None or parsed.type not in ("cpu", "cuda"):
        raise ValueError(
            f"device={device!r} is not a device sklstm uses ('cpu', 'cuda', "
            "'cuda:<index>' or 'auto')."
        )


def _pools_fit(est, pools, branch) -> bool:
    if is_int(pools, 1):
        return pools <= _build.MAX_POOL
    if not isinstance(pools, tuple):
        return False
    if not branch:
        return pools == ()
    try:
        gaps = len(_build.conv_layers(est)[0]) - 1
        return _build.explicit_pools(pools, gaps) == pools
    except ValueError:
        return False


def _floats(value, shape: tuple) -> bool:
    return (
        isinstance(value, np.ndarray)
        and value.dtype.kind == "f"
        and value.shape == shape
        and bool(np.isfinite(value).all())
    )


def check_fitted(est, path) -> None:
    """Fitted attributes are present, typed, shaped and finite."""

    def need(name: str, ok: bool, what: str) -> None:
        if not ok:
            raise ValueError(
                f"{path}: fitted attribute {name} is missing or invalid: it must be "
                f"{what}."
            )

    attrs = vars(est)
    problem = bookkeeping_problem(attrs)
    if problem is not None:
        need(problem[0], False, problem[1])
    for name in ("patch_size_", "patch_stride_", "conv_stride_"):
        if name in attrs:
            need(
                name, is_int(attrs[name], 1) and attrs[name] <= 2**20, "a positive int"
            )
    if "conv_pool_size_" in attrs:
        need(
            "conv_pool_size_",
            _pools_fit(est, attrs["conv_pool_size_"], attrs.get("conv_branch_")),
            "an int in [1, 2**20] (files before per-gap pooling), or one such int "
            "per gap between the convolution blocks (none without the branch)",
        )
    for name in ("conv_branch_", "series_norm_", "asinh_view_"):
        if name in attrs:
            need(name, isinstance(attrs[name], (bool, np.bool_)), "a bool")
    if attrs.get("lstm_steps_") is not None:
        need("lstm_steps_", is_int(attrs["lstm_steps_"], 1), "a positive integer")
    if est.embedding_dim is not None:
        vocab = attrs.get("vocab_size_")
        need("vocab_size_", is_int(vocab, 2) and vocab <= MAX_VOCAB, "an id count")
    names = attrs.get("feature_names_in_")
    if names is not None:
        need(
            "feature_names_in_",
            isinstance(names, np.ndarray) and names.shape == (est.n_features_in_,),
            "an array of n_features_in_ names",
        )
    if hasattr(est, "_check_indicator"):  # the classifier
        multilabel = attrs.get("multilabel_")
        need("multilabel_", isinstance(multilabel, (bool, np.bool_)), "a bool")
        classes = attrs.get("classes_")
        need(
            "classes_",
            isinstance(classes, np.ndarray)
            and classes.ndim == 1
            and len(classes) >= 2
            and classes.dtype.kind in "biufUO"
            and len(set(classes.tolist())) == len(classes),
            "a 1D array of at least 2 distinct labels",
        )
    else:
        k = attrs.get("n_outputs_")
        need("n_outputs_", is_int(k, 1) and k <= 2**20, "a positive integer")
        need("y_mean_", _floats(attrs.get("y_mean_"), (k,)), f"{k} finite floats")
        scale = attrs.get("y_scale_")
        need(
            "y_scale_",
            _floats(scale, (k,)) and bool((scale > 0).all()),
            f"{k} finite positive floats",
        )
        ndim = attrs.get("_target_ndim")
        need("_target_ndim", is_int(ndim, 1) and ndim <= 3, "1, 2 or 3")


def _number(value) -> bool:
    return isinstance(value, (Real, np.number)) and not isinstance(value, np.bool_)


def check_history(rows, path) -> list:
    """The training history: a list of epoch dicts of plain values, whose
    losses, scores, rates and durations are numbers."""

    def numeric(key: str) -> bool:
        return key in ("epoch", "lr", "dur") or key.endswith(
            ("_loss", "_score", "_batch_count", "_batch_size")
        )

    def valid_row(row) -> bool:
        if not isinstance(row, dict) or not all(isinstance(k, str) for k in row):
            return False
        for key, value in row.items():
            if key == "batches":
                if not isinstance(value, list) or not all(valid_row(b) for b in value):
                    return False
            elif numeric(key) and not _number(value):
                return False
            elif not (value is None or isinstance(value, (bool, str, Real))):
                return False
        return True

    if not isinstance(rows, list) or not all(valid_row(r) for r in rows):
        raise ValueError(f"{path}: the training history is malformed.")
    return rows


_DIVISORS = {
    "running_var": 0.0,
    "stats_scale": MIN_STD,
    "asinh_scale": MIN_STD,
    "asinh_spread": MIN_STD,
}


def check_tensors(state, what: str, path) -> dict:
    """``state`` is a ``{name: tensor}`` dict of finite numbers."""
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ValueError(f"{path}: the {what} state is not a dict of named tensors.")
    for name, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{path}: {what} tensor {name} holds NaN or infinity.")
        if tensor.layout is not torch.strided:
            raise ValueError(f"{path}: {what} tensor {name} is not a dense tensor.")
        # divisors: a batch-norm variance (plus eps), the series statistics'
        # spread, the asinh view's scale and spread
        low = _DIVISORS.get(name.rsplit(".")[-1])
        if low is not None and not bool((tensor >= low).all()):
            raise ValueError(
                f"{path}: {what} tensor {name} must be at least {low:g} (a divisor)."
            )
    return state


def check_declared_sizes(est, state: dict, path) -> None:
    """The declared sizes agree with the stored LSTM tensors.

    Done before building anything: once ``hidden_size`` and ``num_layers``
    match tensors that the file really holds, the network to build is no
    larger than the file.
    """
    layers = {
        int(m.group(1))
        for key in state
        if (m := re.fullmatch(r"lstm\.weight_ih_l(\d+)(_reverse)?", key))
    }
    if layers != set(range(int(est.num_layers))):
        raise ValueError(
            f"{path}: num_layers={est.num_layers} but the file holds LSTM weights "
            f"for {len(layers)} layers."
        )
    hh = state.get("lstm.weight_hh_l0")
    hidden = int(est.hidden_size)
    if hh is None or tuple(hh.shape) != (4 * hidden, hidden):
        shape = None if hh is None else tuple(hh.shape)
        raise ValueError(
            f"{path}: hidden_size={est.hidden_size} but the stored recurrent "
            f"weights have shape {shape}."
        )
    if "embedding.weight" in state and est.embedding_dim is not None:
        emb = state["embedding.weight"]
        expected = (int(est.vocab_size_), int(est.embedding_dim))
        if tuple(emb.shape) != expected:
            raise ValueError(
                f"{path}: the embedding should be {expected}, the file holds "
                f"{tuple(emb.shape)}."
            )


def check_module_shapes(est, output_size: int, state: dict, path) -> None:
    """Every stored tensor has the name and shape the network will have
    (computed on the ``meta`` device: nothing is allocated)."""
    with torch.device("meta"):
        params = _build.module_params(est, est.input_size_, output_size)
        module = LSTMNetwork(**params)
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    stored = {k: tuple(v.shape) for k, v in state.items()}
    if expected != stored:
        wrong = sorted(set(expected) ^ set(stored)) or sorted(
            k for k in expected if expected[k] != stored[k]
        )
        raise ValueError(
            f"{path}: the stored weights do not fit the saved parameters (first "
            f"difference: {wrong[0]})."
        )


def _finite_number(value) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, Real):
        return math.isfinite(value)
    if isinstance(value, torch.Tensor):
        return value.numel() == 1 and bool(torch.isfinite(value).all())
    if isinstance(value, (tuple, list)):
        return all(_finite_number(v) for v in value)
    return value is None or isinstance(value, str)


def check_optimizer_state(saved, optimizer: torch.optim.Optimizer, path):
    """The saved optimizer state, if it fits ``optimizer``; None otherwise.

    A layout from another sklstm version (other parameter groups) is dropped
    with a warning by the caller (None); a state that has the layout but bad
    tensors or hyperparameters raises ``ValueError``.
    """
    if saved is None:
        return None
    if not (isinstance(saved, dict) and {"state", "param_groups"} <= set(saved)):
        raise ValueError(f"{path}: the optimizer state is malformed.")
    groups, state = saved["param_groups"], saved["state"]
    mine = optimizer.param_groups
    if not isinstance(groups, list) or not isinstance(state, dict):
        raise ValueError(f"{path}: the optimizer state is malformed.")
    if len(groups) != len(mine) or any(
        not isinstance(g, dict)
        or not isinstance(g.get("params"), list)
        or len(g["params"]) != len(m["params"])
        for g, m in zip(groups, mine, strict=False)
    ):
        return None
    params = {}
    for group, current in zip(groups, mine, strict=True):
        for key, value in group.items():
            if key != "params" and not _finite_number(value):
                raise ValueError(
                    f"{path}: optimizer setting {key}={value!r} is not a finite number."
                )
        if not all(is_int(i) for i in group["params"]):
            raise ValueError(f"{path}: the optimizer state names its parameters badly.")
        params.update(zip(group["params"], current["params"], strict=True))
    for index, entry in state.items():
        param = params.get(index)
        if param is None or not isinstance(entry, dict):
            raise ValueError(
                f"{path}: the optimizer state refers to parameter {index!r}, which "
                "the model does not have."
            )
        for key, value in entry.items():
            if not isinstance(value, torch.Tensor):
                if not _finite_number(value):
                    raise ValueError(f"{path}: optimizer state {key} is not a number.")
                continue
            if value.numel() == 1 and key == "step":
                if not bool(torch.isfinite(value).all()) or float(value) < 0:
                    raise ValueError(f"{path}: optimizer step count is invalid.")
                continue
            if value.shape != param.shape or not value.is_floating_point():
                raise ValueError(
                    f"{path}: optimizer state {key} has shape {tuple(value.shape)} "
                    f"({value.dtype}) for a parameter of shape {tuple(param.shape)}."
                )
            if not bool(torch.isfinite(value).all()):
                raise ValueError(f"{path}: optimizer state {key} holds NaN or inf.")
    return saved
