"""The convolutional branch (LSTM-FCN) with everything else the estimators do."""

import warnings

import joblib
import numpy as np
import pytest
import torch
from conftest import LABELS, LONG, SETTINGS, SMALL_CONV, rewrite_meta
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV

from sklstm import LSTMClassifier, LSTMRegressor, load, save
from sklstm._engine import _conv as conv
from sklstm._engine._build import (
    CONV_AUTO_MIN_STEPS,
    class_batch,
    conv_work,
    resolve_batch_size,
    resolve_conv_stride,
    resolve_max_epochs,
)
from sklstm._engine._conv import ConvBranch
from sklstm._engine._runtime import auto_threads
from sklstm.model_selection import GroupingReport, search_space

FAST = SETTINGS["fast"]


def test_auto_uses_the_branch_on_long_numeric_sequences_only():
    long = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    assert long.conv_branch_ and long.net_.module_.conv is not None
    short = LSTMClassifier(**FAST).fit(LONG[:, : CONV_AUTO_MIN_STEPS - 1], LABELS)
    assert not short.conv_branch_ and short.net_.module_.conv is None
    forced = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True)
    assert forced.fit(LONG[:, :5], LABELS).conv_branch_
    off = LSTMClassifier(**FAST, conv_branch=False).fit(LONG, LABELS)
    assert not off.conv_branch_
    # per-step outputs and token ids: "auto" leaves it out
    seq = LSTMRegressor(**FAST, return_sequences=True, patch_size=None)
    assert not seq.fit(LONG, LONG[:, :, 0]).conv_branch_
    tokens = (np.abs(LONG[:, :, 0]) * 3).astype(np.int64) + 1
    text = LSTMClassifier(**FAST, embedding_dim=3).fit(tokens, LABELS)
    assert not text.conv_branch_


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(conv_branch=True, return_sequences=True), "return_sequences"),
        (dict(conv_branch=np.True_, return_sequences=True), "return_sequences"),
        (dict(conv_branch=True, stateful=True), "stateful"),
        (dict(conv_branch=True, embedding_dim=4), "token ids"),
        (dict(conv_filters=(3, 4), conv_kernel_sizes=(3,)), "one entry per"),
        (dict(conv_filters=(3, 0)), "positive"),
        (dict(conv_kernel_sizes=(True, 3, 3)), "positive"),
        (dict(conv_filters=()), "non-empty"),
        (dict(conv_pool_size=0), "conv_pool_size"),
        (dict(conv_pool_size=np.float64(2.0)), "conv_pool_size"),
        (dict(conv_pool_size="max"), "conv_pool_size"),
        (dict(conv_pool_size=2**21), "conv_pool_size"),  # else saved, never loaded
        (dict(conv_pool_size=(2, 2, 2)), "one such int per gap"),  # 3 blocks
        (dict(conv_pool_size=[2, 0]), "one such int per gap"),
        (dict(conv_pool_size=(2, 2.5)), "one such int per gap"),
        (dict(conv_pool_size=(True, 2)), "one such int per gap"),
        (dict(conv_pool_size=(2, 2**21)), "one such int per gap"),
        (dict(conv_stride=0), "conv_stride"),
        (dict(conv_stride=2.5), "conv_stride"),
        (dict(conv_stride="max"), "conv_stride"),
        (dict(conv_stride=2**21), "conv_stride"),
    ],
)
def test_bad_combinations_name_the_fix(params, match):
    with pytest.raises(ValueError, match=match):
        LSTMRegressor(**FAST, **params).fit(LONG, LONG[:, 0, 0])


def test_set_params_then_partial_fit_is_checked():
    est = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    with pytest.raises(ValueError, match="one entry per"):
        est.set_params(conv_kernel_sizes=(3,)).partial_fit(LONG, LABELS)
    est.set_params(conv_kernel_sizes=SMALL_CONV["conv_kernel_sizes"])
    with pytest.raises(ValueError, match="conv_pool_size"):
        est.set_params(conv_pool_size=0).partial_fit(LONG, LABELS)
    with pytest.raises(ValueError, match="conv_pool_size"):  # weights pooled by 4
        est.set_params(conv_pool_size=2).partial_fit(LONG, LABELS)
    with pytest.raises(ValueError, match="one such int per gap"):  # 2 blocks
        est.set_params(conv_pool_size=(4, 4)).partial_fit(LONG, LABELS)
    est.set_params(conv_pool_size=[np.int64(4)]).partial_fit(LONG, LABELS)  # as fitted
    with pytest.raises(ValueError, match="conv_stride"):  # weights read every window
        est.set_params(conv_stride=np.int64(2)).partial_fit(LONG, LABELS)
    with pytest.raises(ValueError, match="conv_stride"):
        est.set_params(conv_stride=0).partial_fit(LONG, LABELS)
    est.set_params(conv_stride=np.int64(1)).partial_fit(LONG, LABELS)  # as fitted


@pytest.mark.parametrize(
    "pool, stride", [(1, 1), (2, 1), (3, 1), ((3, 2), 1), (2, 2), (1, 3)]
)
def test_masked_pooling_reads_each_row_alone(pool, stride):
    """A padded row's summary equals the same row given alone (eval mode),
    pooled windows and strided windows cut by the row's end included."""
    torch.manual_seed(0)
    branch = ConvBranch(2, (3, 5, 4), (4, 3, 2), pool, stride).eval()
    with torch.no_grad():  # biases that make a padded step's output non-zero
        for block in branch.blocks:
            block[2].bias.uniform_(0.5, 1.0)
    x = torch.randn(4, 11, 2)
    lengths = torch.tensor([11, 4, 7, 2])
    garbage = x.clone()
    garbage[1, 4:] = 100.0  # whatever sits in the padding is ignored
    garbage[2, 7:] = -7.0
    garbage[3, 2:] = 50.0
    batch = branch(garbage, lengths)
    for i, n in enumerate(lengths.tolist()):
        alone = branch(x[i : i + 1, :n])
        torch.testing.assert_close(batch[i : i + 1], alone, rtol=1e-5, atol=1e-6)
    if pool != 1 or stride != 1:  # the padding counts unless masked: can fail
        assert not torch.allclose(branch(garbage)[1], batch[1], atol=1e-3)


@pytest.mark.parametrize("path", ["_forward_time_major", "_forward_channels_first"])
@pytest.mark.parametrize("pool, stride", [(1, 1), (3, 1), (2, 2)])
def test_training_statistics_read_each_row_own_steps(path, pool, stride):
    """In training, batch normalization counts no padded step: a batch gives
    the same summaries and running statistics however far it is padded, and
    rows alone give the statistics a batch of them gives without padding."""
    torch.manual_seed(2)
    x = torch.randn(3, 9, 2)
    lengths = torch.tensor([9, 4, 6])

    def run(padded_to: int | None, fill: float):
        torch.manual_seed(3)
        branch = ConvBranch(2, (3, 5, 4), (4, 3, 2), pool, stride).train()
        with torch.no_grad():  # biases that make a padded step's output non-zero
            for block in branch.blocks:
                block[1].bias.uniform_(0.5, 1.0)
        if padded_to is None:
            return getattr(branch, path)(x, None), branch
        wide = torch.full((3, padded_to, 2), fill)
        for i, n in enumerate(lengths.tolist()):
            wide[i, :n] = x[i, :n]
        return getattr(branch, path)(wide, lengths), branch

    short, first = run(9, 0.0)
    long, second = run(31, 40.0)
    torch.testing.assert_close(short, long, rtol=1e-5, atol=1e-5)
    for a, b in zip(first.buffers(), second.buffers(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)
    # the first block's running mean moved from 0 by momentum x the mean of
    # the rows' own windows, each row convolved alone
    pad, conv1d, norm, _ = first.blocks[0]
    with torch.no_grad():
        own = torch.cat(
            [conv1d(pad(x[i, :n].T[None]))[0].T for i, n in enumerate([9, 4, 6])]
        )
    torch.testing.assert_close(
        norm.running_mean, norm.momentum * own.mean(dim=0), rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize(
    "pool, stride, steps",
    [(4, 1, [37, 10, 3]), ((5, 2), 1, [37, 8, 4]), (4, 2, [19, 5, 2])],
)
def test_pooling_between_blocks_shortens_what_each_block_reads(pool, stride, steps):
    branch = ConvBranch(1, (2, 2, 2), (3, 3, 3), pool_size=pool, stride=stride)
    seen = []
    for block in branch.blocks:  # batch norm reads (batch x steps, channels)
        block[2].register_forward_hook(lambda m, i, o: seen.append(o.shape[0] // 2))
    branch(torch.randn(2, 37, 1))
    # ceil(37 / 4), ceil(10 / 4); ceil(37 / 5), ceil(8 / 2); stride 2: ceil(37 / 2)
    assert seen == steps
    shapes = conv.block_shapes(1, ((2, 3),) * 3, branch.pool_sizes, 37, stride)
    assert [windows for *_, windows, _ in shapes] == steps
    for bad in (0, (2,), (2, 0)):
        with pytest.raises(ValueError, match="conv_pool_size"):
            ConvBranch(1, (2, 2, 2), (3, 3, 3), pool_size=bad)
    with pytest.raises(ValueError, match="conv_stride"):
        ConvBranch(1, (2, 2, 2), (3, 3, 3), stride=0)


@pytest.mark.parametrize("pool, stride", [(1, 1), (3, 1), ((4, 2), 1), (3, 2)])
@pytest.mark.parametrize("mode", ["train", "eval"])
@pytest.mark.parametrize(
    "layouts", [(True,) * 3, (True, False, True), (False, True, False)]
)
def test_time_major_blocks_equal_conv1d(pool, stride, mode, layouts):
    """Training's unfolded products compute what Conv1d and max_pool1d (the
    ONNX export's path) compute, batch statistics and ragged rows included,
    whichever blocks run time-major and whichever layout hands over."""
    torch.manual_seed(1)
    branch = getattr(ConvBranch(2, (3, 5, 4), (4, 3, 2), pool, stride), mode)()
    with torch.no_grad():
        for block in branch.blocks:
            block[2].bias.uniform_(-1.0, 1.0)
            block[2].running_mean.uniform_(-1.0, 1.0)
    x = torch.randn(4, 23, 2)
    for lengths in (None, torch.tensor([23, 9, 1, 17])):
        ours = branch._run(x, lengths, layouts)
        ours.sum().backward()
        grads = [p.grad.clone() for p in branch.parameters()]
        branch.zero_grad()
        conv1d = branch._forward_channels_first(x, lengths)
        conv1d.sum().backward()
        torch.testing.assert_close(ours, conv1d, rtol=1e-5, atol=1e-5)
        for mine, theirs in zip(grads, branch.parameters(), strict=True):
            torch.testing.assert_close(mine, theirs.grad, rtol=1e-4, atol=1e-4)
        branch.zero_grad()


def test_each_block_takes_the_faster_layout(monkeypatch):
    """A block runs time-major while its windows are narrow and its batch's
    multiply-adds stay below TIME_MAJOR_MAX_WORK, or, for windows wider than
    TIME_MAJOR_MAX_WINDOW values, below WIDE_TIME_MAJOR_MAX_WORK (Conv1d's
    kernels win on wide windows once there is work enough)."""
    branch = ConvBranch(1, (2, 40, 2), (3, 4, 3), pool_size=4)
    x = torch.randn(2, 37, 1)
    shapes = list(conv.block_shapes(1, branch.layers, (4, 4), 37))
    work = [width * out * kernel * windows for width, out, kernel, windows, _ in shapes]
    assert work == [1 * 2 * 3 * 37, 2 * 40 * 4 * 10, 40 * 2 * 3 * 3]
    assert conv.multiply_adds(1, branch.layers, (4, 4), 37) == sum(work)
    assert branch.time_major_blocks(x) == (True, True, True)
    used = []
    for block in branch.blocks:  # Conv1d's module runs in channels-first blocks only
        block[1].register_forward_hook(lambda m, i, o: used.append(m.out_channels))
    small = branch(x)
    assert used == []
    monkeypatch.setattr(conv, "TIME_MAJOR_MAX_WINDOW", 7)  # 2 x 4 and 40 x 3 are wide
    monkeypatch.setattr(conv, "WIDE_TIME_MAJOR_MAX_WORK", 2 * work[2])
    assert branch.time_major_blocks(x) == (True, False, True)
    torch.testing.assert_close(branch(x), small, rtol=1e-5, atol=1e-6)
    assert used == [40]
    monkeypatch.setattr(conv, "TIME_MAJOR_MAX_WORK", 2 * work[0] - 1)
    assert branch.time_major_blocks(x) == (False, False, True)
    assert branch.time_major_blocks(x[:1]) == (True, False, True)  # half the work
    monkeypatch.setattr(torch.onnx, "is_in_onnx_export", lambda: True)
    assert branch.time_major_blocks(x[:1]) == (False, False, False)
    assert branch.time_major_blocks(x.to("meta")) == (False, False, False)


def test_auto_pooling_and_training_length_follow_the_data():
    est = LSTMClassifier(**{**FAST, "max_epochs": 1}, **SMALL_CONV).fit(LONG, LABELS)
    # 64 steps // 16; the network pools as recorded
    assert est.conv_pool_size_ == (4,) == est.net_.module_.conv.pool_sizes
    forced = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True)
    assert forced.fit(LONG[:, :20], LABELS).conv_pool_size_ == (1,)
    assert forced.fit(LONG[:, :48], LABELS).conv_pool_size_ == (3,)  # 48 // 16
    # 1024 steps: later gaps keep the cap of 4, the first pools to 64 steps
    three = dict(conv_filters=(2, 2, 2), conv_kernel_sizes=(3, 3, 3))
    long = np.repeat(LONG[:, :, :1], 16, axis=1)
    deep = LSTMClassifier(**FAST, **three, conv_branch=True, conv_stride=1)
    deep.fit(long, LABELS)  # (unstrided: "auto" would stride by 2 from 1000 steps)
    assert deep.conv_pool_size_ == (16, 4) == deep.net_.module_.conv.pool_sizes
    one = LSTMClassifier(**FAST, conv_filters=2, conv_kernel_sizes=3, conv_branch=True)
    assert one.fit(LONG, LABELS).conv_pool_size_ == ()  # one block: no gap
    set_ = LSTMClassifier(**FAST, **SMALL_CONV, conv_pool_size=np.int64(3))
    assert set_.fit(LONG, LABELS).net_.module_.conv.pool_sizes == (3,)
    per_gap = LSTMClassifier(**FAST, **three, conv_pool_size=[np.int64(5), 2])
    assert per_gap.fit(LONG, LABELS).conv_pool_size_ == (5, 2)
    off = LSTMClassifier(**FAST, conv_branch=False, conv_pool_size=5)
    assert off.fit(LONG, LABELS).conv_pool_size_ == ()
    # "auto" epochs: 400 optimizer steps with the branch, 1000 without
    assert resolve_max_epochs("auto", 40, 8, conv=True) == 80
    assert resolve_max_epochs("auto", 40, 8) == 200
    assert resolve_max_epochs("auto", 200, 16, conv=True) == 31
    assert resolve_max_epochs(7, 40, 8, conv=True) == 7
    auto = LSTMClassifier(random_state=0, hidden_size=2, **SMALL_CONV)
    assert auto.fit(LONG, LABELS).max_epochs_ == 80  # 40 rows, batches of 8


def test_auto_stride_for_long_series_with_auto_pooling():
    three = dict(conv_filters=(2, 2, 2), conv_kernel_sizes=(3, 3, 3))
    long = np.repeat(LONG[:, :, :1], 16, axis=1)  # 1024 steps
    est = LSTMClassifier(**FAST, **three).fit(long, LABELS)
    # every second window; the first pooling still leaves the second block
    # at most 64 steps: ceil(1024 / 2 / 64)
    assert (est.conv_stride_, est.conv_pool_size_) == (2, (8, 4))
    conv_net = est.net_.module_.conv
    assert conv_net.stride == 2 and conv_net.blocks[0][1].stride == (2,)
    assert conv_net.blocks[1][1].stride == (1,)
    assert conv_work(est, 1024) == 512 * 2 * 3 + 64 * 2 * 2 * 3 + 16 * 2 * 2 * 3
    shorter = LSTMClassifier(**FAST, **three).fit(long[:, :999], LABELS)
    assert (shorter.conv_stride_, shorter.conv_pool_size_) == (1, (16, 4))
    # explicit pooling keeps its meaning: no stride unless asked for
    pooled = LSTMClassifier(**FAST, **three, conv_pool_size=16).fit(long, LABELS)
    assert (pooled.conv_stride_, pooled.conv_pool_size_) == (1, (16, 16))
    asked = LSTMClassifier(**FAST, **SMALL_CONV, conv_stride=np.int64(3))
    assert asked.fit(LONG, LABELS).conv_stride_ == 3  # "auto" pools 22 windows
    assert asked.conv_pool_size_ == (4,) and asked.net_.module_.conv.stride == 3
    off = LSTMClassifier(**FAST, conv_branch=False, conv_stride=3).fit(LONG, LABELS)
    assert off.conv_stride_ == 1


@pytest.mark.parametrize(
    "kernels, strides",
    [
        # the first block reads 500 windows or more: 2 from 1000, 4 from 2000
        ((8, 5, 3), {999: 1, 1000: 2, 1999: 2, 2000: 4, 4000: 8, 10**6: 8}),
        ((3, 3, 3), {1000: 2, 4000: 2, 10**6: 2}),  # never past the kernel
        ((1, 3), {10**6: 1}),
    ],
)
def test_auto_stride_doubles_with_length_up_to_the_first_kernel(kernels, strides):
    est = LSTMClassifier(conv_kernel_sizes=kernels, conv_filters=(2,) * len(kernels))
    assert {n: resolve_conv_stride(est, n) for n in strides} == strides
    pooled = est.set_params(conv_pool_size=4)
    assert {resolve_conv_stride(pooled, n) for n in strides} == {1}


def test_auto_batch_holds_every_class_with_the_branch():
    ten = np.arange(len(LONG)) % 10
    # 40 rows: batches of 8 for 80 epochs; ten classes raise the batch to 16
    # (the branch's batch norm then sees most classes), for 400 steps again:
    # three an epoch, 134 epochs (within twice 80)
    est = LSTMClassifier(random_state=0, hidden_size=2, **SMALL_CONV)
    est.partial_fit(LONG, ten, classes=np.arange(10))
    assert (est.batch_size_, est.max_epochs_) == (16, 134)
    assert est.net_.batch_size == 16 and est.net_.max_epochs == 134
    # 52 classes in 104 rows: 31 epochs of 13 steps; batches of 32 take 4
    # steps an epoch, and 100 epochs would be 400: capped at twice 31
    many = np.vstack([LONG, LONG, LONG[:24]])
    pig = LSTMClassifier(random_state=0, hidden_size=2, **SMALL_CONV)
    pig.partial_fit(many, np.arange(104) % 52, classes=np.arange(52))
    assert (pig.batch_size_, pig.max_epochs_) == (32, 62)
    fixed = LSTMClassifier(random_state=0, hidden_size=2, max_epochs=5, **SMALL_CONV)
    fixed.partial_fit(LONG, ten, classes=np.arange(10))
    assert (fixed.batch_size_, fixed.max_epochs_) == (16, 5)  # as given
    few = LSTMClassifier(random_state=0, hidden_size=2, **SMALL_CONV)
    assert few.partial_fit(LONG, LABELS, classes=["down", "up"]).batch_size_ == 8
    for other in (
        LSTMClassifier(random_state=0, hidden_size=2, conv_branch=False),
        LSTMClassifier(random_state=0, hidden_size=2, batch_size=8, **SMALL_CONV),
    ):
        other.partial_fit(LONG, ten, classes=np.arange(10))
        assert other.batch_size_ == 8
    reg = LSTMRegressor(random_state=0, hidden_size=2, **SMALL_CONV)
    assert reg.partial_fit(LONG, ten.astype(float)).batch_size_ == 8
    assert class_batch("auto", 8, 100, 1000) == 64  # the cap
    assert class_batch("auto", 32, 9, 1000) == 32
    assert class_batch(np.int64(8), 8, 10, 1000) == 8
    # at least three steps an epoch: 52 classes in 104 rows -> 32, not 64
    assert class_batch("auto", 8, 52, 104) == 32
    assert class_batch("auto", 8, 52, 130) == 64  # 130 / 64: three steps
    assert class_batch("auto", 8, 10, 40) == 16 and class_batch("auto", 8, 10, 32) == 8


def test_auto_batch_stops_at_32_with_the_branch():
    """With the branch, the batch for many rows is 32 (64 without), and the
    epochs count their steps at it; many classes may still raise it."""
    rows = np.tile(LONG, (13, 1, 1))  # 520 rows: n / 8 = 65
    labels = np.tile(LABELS, 13)
    est = LSTMClassifier(random_state=0, hidden_size=2, **SMALL_CONV)
    est.partial_fit(rows, labels, classes=["down", "up"])
    assert (est.batch_size_, est.max_epochs_) == (32, 30)  # 17 steps an epoch
    assert est.net_.batch_size == 32
    plain = LSTMRegressor(random_state=0, hidden_size=2, conv_branch=False)
    assert plain.partial_fit(rows, labels == "up").batch_size_ == 64
    assert resolve_batch_size("auto", 20_000, conv=True) == 32
    assert resolve_batch_size("auto", 200, conv=True) == 16  # below the cap
    assert resolve_batch_size(np.int64(64), 20_000, conv=True) == 64  # as given
    assert class_batch("auto", 32, 60, 1000) == 64  # one sample per class


def test_threads_count_the_branch_work():
    est = LSTMClassifier(**FAST, conv_filters=(8, 16), conv_kernel_sizes=(5, 3))
    est.fit(LONG, LABELS)
    # 64 raw steps x 2 features -> 8 filters, then 16 pooled steps -> 16 filters
    assert conv_work(est, 64) == 64 * 2 * 8 * 5 + 16 * 8 * 16 * 3
    assert (
        conv_work(LSTMClassifier(**FAST, conv_branch=False).fit(LONG, LABELS), 64) == 0
    )
    assert auto_threads(8, 2, 4, conv_work=0) == 1
    assert auto_threads(8, 2, 4, conv_work=10**6) == 1  # 8M per batch: small
    assert auto_threads(8, 2, 4, conv_work=10**7) == torch.get_num_threads()


@pytest.mark.parametrize("pool", [1, 3])
def test_ragged_fit_and_predict_do_not_depend_on_the_batch(pool):
    seqs = [x[: 20 + 3 * (i % 10)] for i, x in enumerate(LONG)]
    est = LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True, conv_pool_size=pool)
    est.fit(seqs, LABELS)
    together = est.predict_proba(seqs)
    alone = np.vstack([est.predict_proba([s]) for s in seqs[:5]])
    np.testing.assert_allclose(together[:5], alone, rtol=1e-5, atol=1e-6)


def test_branch_reads_raw_steps_with_patching_and_either_layout():
    est = LSTMRegressor(**FAST, **SMALL_CONV, conv_branch=True, patch_size=4)
    est.fit(LONG, LONG[:, :, 0].mean(axis=1))
    module = est.net_.module_
    assert module.lstm.input_size == 8  # patches of 4 steps x 2 features
    assert module.conv.blocks[0][1].in_channels == 2  # the raw features
    first = LSTMRegressor(
        **FAST,
        **SMALL_CONV,
        conv_branch=True,
        patch_size=4,
        data_format="channels_first",
    ).fit(LONG.transpose(0, 2, 1), LONG[:, :, 0].mean(axis=1))
    np.testing.assert_allclose(
        first.predict(LONG.transpose(0, 2, 1)), est.predict(LONG), rtol=1e-5, atol=1e-6
    )


def test_persistence_round_trip_and_warm_start(tmp_path):
    # a constant rate: a cosine schedule ends a fit at a rate near 0
    est = LSTMClassifier(**FAST, **SMALL_CONV, lr_scheduler=None).fit(LONG, LABELS)
    again = load(save(est, tmp_path / "conv.sklstm"))
    assert again.conv_branch_ and again.net_.module_.conv is not None
    np.testing.assert_array_equal(again.predict_proba(LONG), est.predict_proba(LONG))
    # carries on training from the loaded weights, branch included
    before = again.net_.module_.conv.blocks[0][1].weight.detach().clone()
    again.partial_fit(LONG, LABELS)
    assert not torch.equal(before, again.net_.module_.conv.blocks[0][1].weight)
    assert again.conv_pool_size_ == est.conv_pool_size_ == (4,)
    assert again.net_.module_.conv.pool_sizes == (4,)
    # a warm start that would drop the branch or change its pooling is
    # refused, naming it
    est.set_params(warm_start=True, conv_pool_size=2)
    with pytest.raises(ValueError, match="conv_pool_size"):
        est.fit(LONG, LABELS)
    est.set_params(conv_pool_size=4)
    est.fit(LONG, LABELS)  # the same pooling, set explicitly: trains on
    with pytest.raises(ValueError, match="conv_stride"):
        est.set_params(conv_stride=2).fit(LONG, LABELS)
    est.set_params(conv_stride=1).fit(LONG, LABELS)
    est.set_params(conv_branch=False)
    with pytest.raises(ValueError, match="conv_filters"):
        est.fit(LONG, LABELS)


def test_a_strided_branch_round_trips(tmp_path):
    est = LSTMClassifier(**FAST, **SMALL_CONV, conv_stride=2).fit(LONG, LABELS)
    again = load(save(est, tmp_path / "strided.sklstm"))
    assert again.conv_stride_ == 2 and again.net_.module_.conv.stride == 2
    np.testing.assert_array_equal(again.predict_proba(LONG), est.predict_proba(LONG))
    ragged = [x[: 40 + i] for i, x in enumerate(LONG[:6])]  # odd ends included
    np.testing.assert_allclose(
        again.predict_proba(ragged),
        np.vstack([est.predict_proba([x]) for x in ragged]),
        rtol=1e-5,
        atol=1e-6,
    )


def test_files_with_one_pooling_int_load_pooled_per_gap(tmp_path):
    """Files saved before per-gap pooling hold ``conv_pool_size_`` as one int."""
    est = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    path = save(est, tmp_path / "new.sklstm")

    def older(meta):
        assert meta["fitted"]["conv_pool_size_"]["items"] == [4]
        meta["fitted"]["conv_pool_size_"] = 4
        assert meta["fitted"].pop("conv_stride_") == 1  # and before strides

    rewrite_meta(path, tmp_path / "old.sklstm", older)
    old = load(tmp_path / "old.sklstm")
    assert old.net_.module_.conv.pool_sizes == (4,)
    assert old.net_.module_.conv.stride == 1
    np.testing.assert_array_equal(old.predict_proba(LONG), est.predict_proba(LONG))


def test_grouped_search_falls_back_naming_the_branch():
    est = LSTMRegressor(**FAST, **SMALL_CONV, conv_branch=True)
    y = LONG[:, :, 0].mean(axis=1)
    report = GroupingReport()
    with (
        joblib.parallel_config(backend="sklstm", grouping="always", report=report),
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        search = GridSearchCV(est, {"lr": [1e-2, 2e-2]}, cv=2).fit(LONG, y)
    plain = GridSearchCV(clone(est), {"lr": [1e-2, 2e-2]}, cv=2).fit(LONG, y)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"], plain.cv_results_["mean_test_score"]
    )
    assert report.groups == []
    assert report.reasons() == {"the convolutional branch (conv_branch)": 4}
    assert any("convolutional branch" in str(w.message) for w in caught)


def test_search_spaces_offer_the_branch_for_long_sequences():
    space = search_space("grid", n_samples=100, n_timesteps=CONV_AUTO_MIN_STEPS)
    assert space["conv_branch"] == [False, True]
    assert "conv_branch" not in search_space("grid", n_samples=100, n_timesteps=20)
    search = GridSearchCV(
        LSTMClassifier(**FAST),
        {
            "conv_branch": np.array(space["conv_branch"]),  # numpy scalars
            "conv_filters": [tuple(np.arange(3, 5))],
            "conv_kernel_sizes": [(np.int64(4), np.int64(3))],
        },
        cv=2,
    ).fit(LONG, LABELS)
    assert [p["conv_branch"] for p in search.cv_results_["params"]] == [False, True]
    assert search.best_estimator_.conv_branch_ == search.best_params_["conv_branch"]
    pools = GridSearchCV(
        LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True),
        {"conv_pool_size": np.array([1, 4])},  # numpy ints from a grid
        cv=2,
    ).fit(LONG, LABELS)
    assert pools.best_estimator_.net_.module_.conv.pool_sizes == (
        int(pools.best_params_["conv_pool_size"]),
    )
    per_gap = GridSearchCV(
        LSTMClassifier(**FAST, **SMALL_CONV, conv_branch=True),
        {"conv_pool_size": [(2,), [np.int64(8)]]},  # per gap, numpy ints too
        cv=2,
    ).fit(LONG, LABELS)
    best = per_gap.best_estimator_
    assert best.conv_pool_size_ == tuple(per_gap.best_params_["conv_pool_size"])


def test_init_from_transfers_the_branch_and_freezes_it():
    source = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    other = np.where(LONG[:, :, 1].mean(axis=1) > 0, "a", "b")  # a new task
    frozen = LSTMClassifier(**FAST, **SMALL_CONV, init_from=source, freeze=True)
    frozen.fit(LONG, other)
    conv, pre = frozen.net_.module_.conv, source.net_.module_.conv
    for name, value in pre.named_parameters():
        assert torch.equal(dict(conv.named_parameters())[name], value), name
    assert not torch.equal(  # the head learns
        frozen.net_.module_.head[-1].weight, source.net_.module_.head[-1].weight
    )
    tuned = LSTMClassifier(**FAST, **SMALL_CONV, init_from=source).fit(LONG, other)
    w = tuned.net_.module_.conv.blocks[0][1].weight
    assert w.requires_grad and not torch.equal(w, pre.blocks[0][1].weight)
    # the branch is left out when only the source has it
    plain = LSTMClassifier(**FAST, conv_branch=False, init_from=source, freeze=True)
    assert plain.fit(LONG, other).net_.module_.conv is None
    # without the branch, series_norm's copy would go beside the LSTM's input,
    # which the pretrained LSTM did not read: "auto" leaves it out, and an
    # explicit True is refused with the fix
    assert source.series_norm_ and not plain.series_norm_
    with pytest.raises(ValueError, match=r"Set series_norm=False \(or conv_branch"):
        plain.set_params(series_norm=True).fit(LONG, other)
    # the branch read each series standardized: so must the new one
    raw = LSTMClassifier(**FAST, **SMALL_CONV, series_norm=False, init_from=source)
    with pytest.raises(ValueError, match="Set series_norm=True"):
        raw.fit(LONG, other)
    assert raw.set_params(series_norm="auto").fit(LONG, other).series_norm_


@pytest.mark.parametrize(
    "params, match",
    [
        (dict(conv_pool_size=2), r"conv_pool_size=\(4,\)"),
        (dict(conv_filters=(3, 5)), "conv_filters, conv_kernel_sizes"),
        (dict(conv_stride=2), "conv_stride=1"),
    ],
)
def test_init_from_a_different_branch_names_the_fix(params, match):
    source = LSTMClassifier(**FAST, **SMALL_CONV).fit(LONG, LABELS)
    est = LSTMClassifier(**FAST, **{**SMALL_CONV, **params}, init_from=source)
    with pytest.raises(ValueError, match=match):
        est.fit(LONG, LABELS)


def test_init_from_without_a_branch_trains_ours_unless_frozen():
    # both LSTMs read the input alone (series_norm's copy would go beside the
    # source's input, and to the new model's branch)
    plain = {**FAST, "series_norm": False}
    source = LSTMClassifier(**plain, conv_branch=False).fit(LONG, LABELS)
    fresh = LSTMClassifier(**plain, **SMALL_CONV, init_from=source).fit(LONG, LABELS)
    assert fresh.conv_branch_
    lstm = fresh.net_.module_.lstm
    assert lstm.weight_ih_l0.shape == source.net_.module_.lstm.weight_ih_l0.shape
    with pytest.raises(ValueError, match="no convolutional branch"):
        LSTMClassifier(**plain, **SMALL_CONV, init_from=source, freeze=True).fit(
            LONG, LABELS
        )
