"""Stacked Adam, AdamW and SGD equal one torch.optim optimizer per model."""

import pytest
import torch

from sklstm.model_selection._grouped._optim import (
    StackedAdam,
    StackedSGD,
    stacked_optimizer,
)

RTOL, ATOL = 1e-5, 1e-6
K, STEPS = 3, 5
LRS = [1e-2, 3e-2, 1e-1]
DECAYS = [0.0, 1e-2, 1e-1]
MOMENTA = [0.0, 0.5, 0.9]
KINDS = ["adam", "adamw", "sgd"]


def _torch_optimizer(kind: str, weight: torch.Tensor, bias: torch.Tensor, j: int):
    """Model ``j``'s optimizer as sklstm's ordinary fit builds it: the matrix
    in a group with weight decay, the bias in a group without."""
    groups = [
        {"params": [weight], "weight_decay": DECAYS[j]},
        {"params": [bias], "weight_decay": 0.0},
    ]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=LRS[j], momentum=MOMENTA[j])
    cls = torch.optim.AdamW if kind == "adamw" else torch.optim.Adam
    return cls(groups, lr=LRS[j])


def _setup(kind: str):
    """Stacked parameters, their optimizer, and K single models with theirs."""
    generator = torch.Generator().manual_seed(0)
    weight = torch.randn(K, 4, 3, generator=generator)
    bias = torch.randn(K, 4, generator=generator)
    stacked = [weight.clone(), bias.clone()]
    optimizer = stacked_optimizer(
        kind,
        stacked,
        weight_decay=torch.tensor(DECAYS),
        momentum=torch.tensor(MOMENTA),
    )
    singles = []
    for j in range(K):
        w = weight[j].clone().requires_grad_()
        b = bias[j].clone().requires_grad_()
        singles.append(([w, b], _torch_optimizer(kind, w, b, j)))
    return stacked, optimizer, singles


def _random_grads(generator: torch.Generator) -> list[torch.Tensor]:
    return [
        torch.randn(K, 4, 3, generator=generator),
        torch.randn(K, 4, generator=generator),
    ]


def _assert_equal(stacked, singles) -> None:
    for j, (params, _) in enumerate(singles):
        for got, want in zip(stacked, params, strict=True):
            torch.testing.assert_close(
                got[j], want.detach(), rtol=RTOL, atol=ATOL, msg=f"model {j}"
            )


def _torch_step(params, optimizer, grads, j: int) -> None:
    for p, g in zip(params, grads, strict=True):
        p.grad = g[j].clone()
    optimizer.step()


@pytest.mark.parametrize("kind", KINDS)
def test_each_model_equals_its_torch_optimizer(kind):
    stacked, optimizer, singles = _setup(kind)
    lr, active = torch.tensor(LRS), torch.ones(K)
    generator = torch.Generator().manual_seed(1)
    for _ in range(STEPS):
        grads = _random_grads(generator)
        optimizer.step(grads, lr, active)
        for j, (params, single) in enumerate(singles):
            _torch_step(params, single, grads, j)
        _assert_equal(stacked, singles)


@pytest.mark.parametrize("kind", KINDS)
def test_weight_decay_spares_the_bias(kind):
    stacked, optimizer, _ = _setup(kind)
    bias = stacked[1].clone()
    zero = [torch.zeros_like(p) for p in stacked]
    optimizer.step(zero, torch.tensor(LRS), torch.ones(K))
    # a zero gradient moves a decayed weight, never a bias
    torch.testing.assert_close(stacked[1], bias, rtol=0, atol=0)
    assert not torch.equal(stacked[0][2], _setup(kind)[0][0][2])


@pytest.mark.parametrize("kind", KINDS)
def test_inactive_model_is_left_as_if_its_optimizer_skipped_the_step(kind):
    stacked, optimizer, singles = _setup(kind)
    lr = torch.tensor(LRS)
    generator = torch.Generator().manual_seed(2)
    # model 1 sits out step 0 (so Adam's first real step is its step 1) and
    # model 2 sits out step 2 (its momentum and moments must survive)
    skips = {0: 1, 2: 2}
    for step in range(STEPS):
        grads = _random_grads(generator)
        active = torch.ones(K)
        skipped = skips.get(step)
        if skipped is not None:
            active[skipped] = 0.0
            before = [p[skipped].clone() for p in stacked]
        optimizer.step(grads, lr, active)
        for j, (params, single) in enumerate(singles):
            if j != skipped:
                _torch_step(params, single, grads, j)
        if skipped is not None:
            for p, old in zip(stacked, before, strict=True):
                assert torch.equal(p[skipped], old)
        _assert_equal(stacked, singles)
    if kind != "sgd":
        assert optimizer.steps.tolist() == [STEPS, STEPS - 1, STEPS - 1]


def test_bool_active_mask_and_kinds():
    assert isinstance(
        stacked_optimizer("sgd", [torch.zeros(2, 3)], weight_decay=0.0), StackedSGD
    )
    adamw = stacked_optimizer("adamw", [torch.zeros(2, 3)], weight_decay=0.1)
    assert isinstance(adamw, StackedAdam) and adamw.decoupled
    adamw.step([torch.ones(2, 3)], torch.full((2,), 0.1), torch.tensor([True, False]))
    assert adamw.steps.tolist() == [1.0, 0.0]
    assert (adamw.params[0][1] == 0).all() and (adamw.params[0][0] < 0).all()
    with pytest.raises(ValueError, match="Unknown stacked optimizer"):
        stacked_optimizer("rmsprop", [torch.zeros(2, 3)], weight_decay=0.0)
