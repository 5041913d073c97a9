"""The epoch cache: safe files, a key that misses nothing, resumed == scratch."""

import os
import pickle
import shutil
import threading

import numpy as np
import pytest
from skorch.callbacks import Callback

from sklstm import LSTMClassifier, LSTMRegressor

FAST = {"hidden_size": 6, "batch_size": 16, "random_state": 0}


def _entries(directory):
    return sorted(p for p in directory.iterdir() if p.suffix == ".sklstm")


def test_resumed_fit_equals_a_fit_from_scratch(reg_data, tmp_path):
    X, y = reg_data
    params = {
        **FAST,
        "num_layers": 2,
        "dropout": 0.3,
        "lr_scheduler": "exponential",
        "lr": 0.01,
    }
    LSTMRegressor(**params, max_epochs=3, epoch_cache=str(tmp_path)).fit(X, y)
    resumed = LSTMRegressor(**params, max_epochs=6, epoch_cache=str(tmp_path))
    resumed.fit(X, y)
    scratch = LSTMRegressor(**params, max_epochs=6).fit(X, y)
    assert resumed.n_iter_ == 3
    assert resumed.loss_curve_ == scratch.loss_curve_  # bitwise, on CPU
    np.testing.assert_array_equal(resumed.predict(X), scratch.predict(X))


@pytest.mark.parametrize("policy", ["cosine", "step", "onecycle", "plateau"])
def test_schedules_spanning_max_epochs_are_not_resumed(policy, reg_data, tmp_path):
    X, y = reg_data
    params = {**FAST, "lr_scheduler": policy, "epoch_cache": str(tmp_path)}
    LSTMRegressor(**params, max_epochs=3).fit(X, y)
    longer = LSTMRegressor(**params, max_epochs=6).fit(X, y)
    assert longer.n_iter_ == 6
    scratch = LSTMRegressor(**{**params, "epoch_cache": None}, max_epochs=6)
    np.testing.assert_array_equal(longer.predict(X), scratch.fit(X, y).predict(X))


def test_labels_join_the_key(clf_data, tmp_path):
    X, y = clf_data
    params = {**FAST, "max_epochs": 3, "epoch_cache": str(tmp_path)}
    LSTMClassifier(**params).fit(X, np.where(y == "up", "cat", "dog"))
    clf = LSTMClassifier(**params).fit(X, y)
    assert list(clf.classes_) == ["down", "up"] and clf.n_iter_ == 3


def test_target_scale_joins_the_key(reg_data, tmp_path):
    X, y = reg_data
    params = {**FAST, "max_epochs": 3, "epoch_cache": str(tmp_path)}
    LSTMRegressor(**params).fit(X, y)
    big = LSTMRegressor(**params).fit(X, 1000 * y + 500)
    assert (
        big.n_iter_ == 3 and abs(big.predict(X).mean() - (1000 * y + 500).mean()) < 500
    )


def test_the_resolved_batch_joins_the_key(reg_data, tmp_path, monkeypatch):
    # batch_size="auto" in both fits, but a later rule (another release)
    # resolves it to another batch: the cached epochs are not that fit's
    X, y = reg_data
    params = {
        **FAST,
        "batch_size": "auto",
        "lr_scheduler": "exponential",
        "epoch_cache": str(tmp_path),
    }
    first = LSTMRegressor(**params, max_epochs=2).fit(X, y)
    assert first.batch_size_ == 8
    monkeypatch.setattr("sklstm._engine._build.AUTO_BATCH", (16, 64))
    later = LSTMRegressor(**params, max_epochs=3).fit(X, y)
    assert later.batch_size_ == 16 and later.n_iter_ == 3
    again = LSTMRegressor(**params, max_epochs=4).fit(X, y)
    assert again.n_iter_ == 1  # the same rule resumes


def test_pretrained_weights_and_random_state_join_the_key(reg_data, tmp_path):
    X, y = reg_data
    first = LSTMRegressor(**FAST, max_epochs=2).fit(X, y)
    second = LSTMRegressor(**{**FAST, "random_state": 1}, max_epochs=2).fit(X, y)
    params = {**FAST, "max_epochs": 3, "epoch_cache": str(tmp_path)}
    LSTMRegressor(**params, init_from=first).fit(X, y)
    assert LSTMRegressor(**params, init_from=second).fit(X, y).n_iter_ == 3
    rs = {**params, "random_state": np.random.RandomState(5)}
    LSTMRegressor(**rs).fit(X, y)
    other = {**params, "random_state": np.random.RandomState(6)}
    assert LSTMRegressor(**other).fit(X, y).n_iter_ == 3


class _Count(Callback):
    def initialize(self):
        self.epochs_ = 0
        return self

    def on_epoch_end(self, net, **kwargs):
        self.epochs_ += 1


def test_unwritable_cache_fails_before_training(reg_data, tmp_path):
    X, y = reg_data
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    counter = _Count()
    est = LSTMRegressor(
        **FAST, max_epochs=3, epoch_cache=str(blocker / "cache"), callbacks=[counter]
    )
    with pytest.raises(ValueError, match="not a writable directory"):
        est.fit(X, y)
    assert not hasattr(est, "net_")


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_planted_files_are_never_unpickled(reg_data, tmp_path):
    X, y = reg_data
    params = {**FAST, "max_epochs": 2, "epoch_cache": str(tmp_path)}
    LSTMRegressor(**params).fit(X, y)
    (entry,) = _entries(tmp_path)
    marker = tmp_path / "marker"
    entry.write_bytes(pickle.dumps(_Payload(str(marker))))  # same name, a pickle
    (tmp_path / "evil.joblib").write_bytes(pickle.dumps(_Payload(str(marker))))
    again = LSTMRegressor(**{**params, "max_epochs": 3}).fit(X, y)
    assert again.n_iter_ == 3 and not marker.exists()


def test_threads_share_a_cache(reg_data, tmp_path):
    X, y = reg_data
    errors = []

    def work():
        try:
            for epochs in (1, 2):
                LSTMRegressor(
                    **FAST, max_epochs=epochs, epoch_cache=str(tmp_path), n_threads=1
                ).fit(X, y)
        except Exception as exc:  # noqa: BLE001 - collected for the assert
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert not list(tmp_path.glob("*.tmp"))
    assert len(_entries(tmp_path)) == 2


class _RemoveDirectory(Callback):
    """Deletes the cache directory at the end of training (another process
    cleaning up, a temporary directory expiring)."""

    def __init__(self, directory):
        self.directory = directory

    def on_train_end(self, net, **kwargs):
        shutil.rmtree(self.directory)


def test_losing_the_cache_directory_mid_fit_keeps_the_model(reg_data, tmp_path):
    X, y = reg_data
    cache = tmp_path / "cache"
    est = LSTMRegressor(
        **FAST,
        max_epochs=2,
        epoch_cache=str(cache),
        callbacks=[_RemoveDirectory(cache)],
    )
    with pytest.warns(UserWarning, match=f"epoch_cache='{cache}'.*model is kept"):
        est.fit(X, y)
    assert est.n_iter_ == 2 and not cache.exists()
    assert np.isfinite(est.predict(X)).all()
