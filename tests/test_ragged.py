"""Variable-length sequences: padding and packing never change a result."""

import numpy as np
import pytest
from conftest import SETTINGS
from sklearn.model_selection import GridSearchCV, KFold, StratifiedKFold, cross_validate
from skopt import BayesSearchCV
from skopt.space import Integer

from sklstm import LSTMClassifier, LSTMRegressor

FAST = {**SETTINGS["small"], "hidden_size": 6, "batch_size": 8}


def _ragged(n=40, features=2, seed=0):
    rng = np.random.RandomState(seed)
    X = [rng.normal(size=(rng.randint(2, 12), features)) for _ in range(n)]
    signal = np.array([x[:, 0].sum() for x in X])
    return X, signal


@pytest.mark.parametrize("bidirectional", [False, True])
@pytest.mark.parametrize("Est", [LSTMClassifier, LSTMRegressor])
def test_prediction_does_not_depend_on_padding(Est, bidirectional):
    X, signal = _ragged()
    y = (signal > 0).astype(int) if Est is LSTMClassifier else signal
    est = Est(**FAST, bidirectional=bidirectional).fit(X, y)
    assert est.n_timesteps_in_ is None and est.input_size_ == 2
    method = est.predict_proba if Est is LSTMClassifier else est.predict
    together = method(X)
    alone = np.concatenate([method([x]) for x in X])
    np.testing.assert_allclose(together, alone, rtol=1e-5, atol=1e-6)
    # padding to a common length by hand gives a different (wrong) answer
    padded = np.zeros((len(X), 11, 2))
    for i, x in enumerate(X):
        padded[i, : len(x)] = x
    assert not np.allclose(method(padded), together, atol=1e-4)


def test_univariate_ragged_and_object_array():
    X, signal = _ragged(features=1)
    X1 = [x[:, 0] for x in X]
    obj = np.empty(len(X1), dtype=object)
    obj[:] = X1
    reg = LSTMRegressor(**FAST).fit(X1, signal)
    np.testing.assert_allclose(reg.predict(obj), reg.predict(X1))
    np.testing.assert_allclose(reg.predict(X), reg.predict(X1))


def test_ragged_in_searches_and_cross_validation():
    X, signal = _ragged()
    y = (signal > 0).astype(int)
    res = cross_validate(LSTMClassifier(**FAST), X, y, cv=StratifiedKFold(3))
    assert len(res["test_score"]) == 3
    GridSearchCV(LSTMClassifier(**FAST), {"hidden_size": [2, 4]}, cv=KFold(2)).fit(X, y)
    BayesSearchCV(
        LSTMRegressor(**FAST), {"hidden_size": Integer(2, 8)}, n_iter=2, cv=KFold(2)
    ).fit(X, signal)


@pytest.mark.parametrize(
    ("bad", "match"),
    [
        ([np.zeros((3, 2)), np.zeros((0, 2))], "empty"),
        ([np.zeros((3, 2)), np.zeros((4, 3))], "different feature counts"),
        ([np.zeros((3, 2)), np.full((4, 2), np.nan)], "NaN"),
        ([np.zeros((3, 2)), np.zeros(4)], "same rank"),
        ([np.zeros((3, 2)), np.array([["a", "b"]] * 4)], "numbers"),
    ],
)
def test_ragged_errors(bad, match):
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**FAST).fit(bad, [0.0, 1.0])


def test_ragged_feature_count_checked_at_predict():
    X, signal = _ragged()
    reg = LSTMRegressor(**FAST).fit(X, signal)
    with pytest.raises(ValueError, match="expecting 2 features"):
        reg.predict([x[:, :1] for x in X])


def test_token_sequences_with_embedding():
    rng = np.random.RandomState(0)
    X = [rng.randint(1, 20, size=rng.randint(3, 9)) for _ in range(60)]
    y = np.array([int(5 in x) for x in X])
    clf = LSTMClassifier(**{**FAST, "max_epochs": 30, "lr": 0.02}, embedding_dim=8)
    clf.fit(X, y)
    assert clf.vocab_size_ == max(x.max() for x in X) + 1
    assert clf.score(X, y) > 0.85
    with pytest.raises(ValueError, match="vocabulary"):
        clf.predict([np.array([1, 2, 500])])
    with pytest.raises(ValueError, match="non-negative integer"):
        clf.predict([np.array([1.5, 2.0])])


def test_length_bucketing_cuts_padding_and_keeps_every_row():
    import torch

    from sklstm._data import BatchIterator, SequenceDataset, pad_ragged

    X, _ = _ragged(n=400)
    values, lengths = pad_ragged(X, dtype=np.float32, n_features=None)
    data = SequenceDataset(torch.from_numpy(values), torch.from_numpy(lengths))

    def padded_steps(bucket):
        it = BatchIterator(data, 16, True, lambda: 0, bucket=bucket)
        rows = [x["x"].shape[0] * x["x"].shape[1] for x, _ in it]
        return sum(rows), sum(x["x"].shape[0] for x, _ in it)

    (plain, n_plain), (bucketed, n_bucketed) = padded_steps(False), padded_steps(True)
    assert n_plain == n_bucketed == 400
    assert bucketed < 0.8 * plain
    X_list, signal = _ragged()
    a = LSTMRegressor(**FAST, bucket_by_length=True).fit(X_list, signal).predict(X_list)
    b = LSTMRegressor(**FAST, bucket_by_length=True).fit(X_list, signal).predict(X_list)
    np.testing.assert_array_equal(a, b)


def test_equal_length_token_training_predicts_any_length():
    X = np.array([[2, 3, 4], [5, 6, 7]] * 10)
    clf = LSTMClassifier(**FAST, embedding_dim=4).fit(X, [0, 1] * 10)
    assert clf.predict([np.array([2])]).shape == (1,)
    assert clf.predict(np.array([[2, 3, 4, 5, 6]])).shape == (1,)
