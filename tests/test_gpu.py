"""CUDA behaviour; these run on a GPU machine and skip cleanly without one."""

import numpy as np
import pytest
import torch
from conftest import SETTINGS
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier, LSTMRegressor

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a GPU")

FAST = {**SETTINGS["small"], "max_epochs": 2, "batch_size": "auto", "device": "cuda"}


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(64, 6, 3))
    return X, (X[:, :, 0].mean(axis=1) > 0).astype(int)


def test_cuda_fit_matches_cpu_shapes_and_frees_batches():
    X, y = _data()
    # a first fit allocates the cuBLAS and cuDNN workspaces, kept for the process
    LSTMClassifier(**FAST).fit(X, y).predict_proba(X)
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated()
    clf = LSTMClassifier(**FAST).fit(X, y)
    assert clf.device_ == "cuda" and next(clf.net_.module_.parameters()).is_cuda
    assert clf.predict_proba(X).shape == (64, 2)
    # what stays allocated is the model and its optimizer state, not the data
    model_bytes = sum(p.numel() * 4 for p in clf.net_.module_.parameters())
    assert torch.cuda.memory_allocated() - before <= 4 * model_bytes + 2**20


def test_cuda_search_with_two_workers():
    X, y = _data()
    search = GridSearchCV(
        LSTMClassifier(**FAST), {"hidden_size": [4, 8]}, cv=2, n_jobs=2
    )
    search.fit(X, y)
    assert np.isfinite(search.cv_results_["mean_test_score"]).all()


def test_cuda_model_pickle_round_trip():
    import pickle

    X, y = _data()
    reg = LSTMRegressor(**FAST).fit(X, y.astype(float))
    again = pickle.loads(pickle.dumps(reg))
    np.testing.assert_allclose(again.predict(X), reg.predict(X), rtol=1e-5)
