"""Training faults: divergence, interruption, out of memory."""

import numpy as np
import pytest
import torch
from sklearn.exceptions import FitFailedWarning
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback

from sklstm import LSTMRegressor, TrainingDivergedError

FAST = {
    "hidden_size": 8,
    "max_epochs": 3,
    "batch_size": 16,
    "random_state": 0,
    "gradient_clip": None,  # the divergence tests need unclipped steps
}


def test_divergence_stops_and_keeps_last_finite_weights(reg_data):
    X, y = reg_data
    est = LSTMRegressor(
        **{**FAST, "max_epochs": 50}, optimizer="sgd", lr=1e3, momentum=0.9
    )
    with pytest.raises(TrainingDivergedError, match="diverged"):
        est.fit(X, y * 1e6)
    assert est.n_iter_ < 50
    assert all(torch.isfinite(p).all() for p in est.net_.module_.parameters())
    assert np.isfinite(est.predict(X)).all()  # still usable


def test_divergent_candidate_gets_error_score(reg_data):
    X, y = reg_data
    search = GridSearchCV(
        LSTMRegressor(**{**FAST, "max_epochs": 30}, optimizer="sgd", momentum=0.9),
        {"lr": [1e-3, 1e3]},
        cv=2,
        error_score=-99.0,
    )
    with pytest.warns(FitFailedWarning, match="fits failed"):
        search.fit(X, y * 1e6)
    scores = search.cv_results_["mean_test_score"]
    assert scores[1] == -99.0 and np.isfinite(scores[0])
    assert search.best_params_ == {"lr": 1e-3}


class _Interrupt(Callback):
    def on_epoch_end(self, net, **kwargs):
        if len(net.history) == 2:
            raise KeyboardInterrupt


def test_callback_stopping_training_skorch_style_returns_normally(reg_data):
    # skorch callbacks stop training by raising KeyboardInterrupt (EarlyStopping
    # does); only a real Ctrl-C propagates (tests/test_combinations.py)
    X, y = reg_data
    est = LSTMRegressor(**{**FAST, "max_epochs": 10}, callbacks=[_Interrupt()]).fit(
        X, y
    )
    assert est.n_iter_ == 2
    assert est.predict(X).shape == y.shape


def test_cuda_out_of_memory_suggests_smaller_batch(reg_data, monkeypatch):
    from sklstm._engine._net import SequenceNet

    def boom(self, *args, **kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(SequenceNet, "partial_fit", boom)
    X, y = reg_data
    with pytest.raises(MemoryError, match="batch_size=8"):
        LSTMRegressor(**FAST).fit(X, y)


def test_cpu_out_of_memory_becomes_memory_error(reg_data, monkeypatch):
    from sklstm._engine._net import SequenceNet

    def boom(self, *args, **kwargs):
        raise RuntimeError(
            "[enforce fail at alloc_cpu.cpp:118] DefaultCPUAllocator: can't allocate "
            "memory: you tried to allocate 99999999999 bytes."
        )

    monkeypatch.setattr(SequenceNet, "partial_fit", boom)
    X, y = reg_data
    with pytest.raises(MemoryError, match="on the CPU.*batch_size=8"):
        LSTMRegressor(**FAST).fit(X, y)


def test_thread_count_is_bounded(reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match="n_threads"):
        LSTMRegressor(**FAST, n_threads=10**6).fit(X, y)


@pytest.mark.parametrize(
    "optimizer, params, match",
    [
        (torch.optim.LBFGS, {}, "LBFGS is not supported"),
        (torch.optim.SparseAdam, {}, "sparse gradients"),
        (torch.optim.Rprop, {"weight_decay": 0.1}, "takes no weight_decay"),
        (len, {}, "torch.optim optimizer class"),
    ],
)
def test_unusable_optimizers_are_refused(optimizer, params, match, reg_data):
    X, y = reg_data
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**FAST, optimizer=optimizer, **params).fit(X, y)


def test_optimizer_without_weight_decay_trains(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST, optimizer=torch.optim.Rprop).fit(X, y)
    assert type(est.net_.optimizer_) is torch.optim.Rprop


@pytest.mark.parametrize("labels", [["a", None], [1.0, None]])
def test_y_holding_none_is_refused(labels, reg_data):
    from sklstm import LSTMClassifier

    X, _ = reg_data
    y = labels * (len(X) // 2)
    est = (
        LSTMClassifier(**FAST) if isinstance(labels[0], str) else LSTMRegressor(**FAST)
    )
    with pytest.raises(ValueError, match="y contains None"):
        est.fit(X, y)


def test_predict_on_an_empty_list_is_refused(reg_data):
    X, y = reg_data
    est = LSTMRegressor(**FAST).fit(X, y)
    with pytest.raises(ValueError, match="X is empty"):
        est.predict([])
