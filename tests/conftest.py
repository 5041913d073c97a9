"""Small sequence data sets and training settings shared by the tests."""

import numpy as np
import pytest

from sklstm._engine._build import CONV_AUTO_MIN_STEPS

# One table of small training settings. A test file takes a row as its FAST
# (``FAST = SETTINGS["small"]``) and varies it with ``{**row, ...}``, so
# that a change of what "fast" means is made once.
SETTINGS = {
    # one epoch of a tiny model: parameter checks, input errors
    "tiny": {"hidden_size": 4, "max_epochs": 1, "random_state": 0},
    # a few batches of a tiny model: round trips, exports, searches
    "fast": {"hidden_size": 4, "max_epochs": 2, "batch_size": 16, "random_state": 0},
    # enough to learn the shared data sets' signal a little
    "small": {"hidden_size": 8, "max_epochs": 3, "batch_size": 16, "random_state": 0},
}

# the convolutional branch's tests: a two-block branch small enough for a
# few epochs; series just long enough for its "auto" (CONV_AUTO_MIN_STEPS
# steps), labelled by the first feature's mean; SHORT, their first 8 steps
# (too short for the branch), with a regression target
SMALL_CONV = {"conv_filters": (3, 4), "conv_kernel_sizes": (4, 3)}
LONG = (
    np.random.RandomState(0)
    .normal(size=(40, CONV_AUTO_MIN_STEPS, 2))
    .astype(np.float32)
)
LABELS = np.where(LONG[:, :, 0].mean(axis=1) > 0, "up", "down")
SHORT = LONG[:, :8]
TARGET = SHORT[:, :, 0].sum(axis=1)


def make_sequences(n=60, steps=6, features=2, seed=0):
    """Sequences whose label/target depends on the first feature's mean."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, steps, features))
    signal = X[:, :, 0].mean(axis=1)
    return X, signal


@pytest.fixture
def clf_data():
    X, signal = make_sequences()
    y = np.where(signal > 0, "up", "down")
    return X, y


@pytest.fixture
def reg_data():
    X, signal = make_sequences()
    return X, 3.0 * signal + 10.0


def rewrite_meta(path, out, edit, weights_edit=None):
    """Copy the model file ``path`` to ``out`` with ``edit(meta)`` applied to
    its meta.json and ``weights_edit(state)`` to the module's state dict
    (when given): a file as an older sklstm, or an attacker, would have
    written it."""
    import io
    import json
    import zipfile

    import torch

    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("meta.json"))
        weights = archive.read("weights.pt")
    edit(meta)
    if weights_edit is not None:
        state = torch.load(io.BytesIO(weights))
        weights_edit(state["module"])
        buffer = io.BytesIO()
        torch.save(state, buffer)
        weights = buffer.getvalue()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("meta.json", json.dumps(meta))
        archive.writestr("weights.pt", weights)
    return out


def edited_model_file(est, tmp_path, edit=None, weights_edit=None) -> str:
    """``est`` saved, then rewritten by :func:`rewrite_meta` with ``edit``
    (of its metadata) and ``weights_edit`` (of its module's state dict)."""
    from sklstm import save

    path = save(est, tmp_path / "ok.sklstm")
    out = rewrite_meta(
        path, tmp_path / "edited.sklstm", edit or (lambda meta: None), weights_edit
    )
    return str(out)
