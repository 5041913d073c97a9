"""Small sequence data sets shared by the tests."""

import numpy as np
import pytest


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
