"""Adam, AdamW and SGD over parameters stacked on a model axis.

The K models of a group share one tensor per parameter, ``(K, *shape)``,
and each keeps its own learning rate, weight decay, momentum and step
count. A model that is inactive at a step (its fold has run out of
batches) keeps its weights and optimizer state, step count included,
exactly as if its own ``torch.optim`` optimizer had skipped that step.

The updates follow torch's single-tensor implementations formula by
formula (bias corrections in float64, as torch computes them on the host),
so that every model's slice equals the ordinary fit up to float rounding.
Weight decay shrinks weight matrices only: sklstm's ordinary fit puts
biases and normalization scales in a parameter group without it. ``step``
never reads a value back to the host, so it can be captured in a CUDA
graph. Pure torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

# torch's Adam defaults, which sklstm keeps
BETAS: tuple[float, float] = (0.9, 0.999)
EPS: float = 1e-8


def per_model(values: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values`` (one per model) shaped to broadcast against ``like``.

    Parameters
    ----------
    values : Tensor of shape (n_models,)
        One value per model.
    like : Tensor of shape (n_models, ...)
        A stacked tensor.

    Returns
    -------
    view : Tensor of shape (n_models, 1, ..., 1)
        ``values`` with as many trailing axes of size 1 as ``like`` has.
    """
    return values.view(-1, *([1] * (like.dim() - 1)))


class _StackedOptimizer:
    """What the stacked optimizers share: parameters, decay mask, inputs."""

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        *,
        weight_decay,
        matrix: Sequence[bool] | None = None,
    ) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("A stacked optimizer needs at least one parameter.")
        self.n_models = int(self.params[0].shape[0])
        self.weight_decay = self._per_model_values(weight_decay)
        if matrix is None:  # a model's weight matrix: 2 axes after the model's
            matrix = [p.dim() >= 3 for p in self.params]
        if len(matrix) != len(self.params):
            raise ValueError("matrix needs one flag per parameter.")
        # read once here, not in step: a CUDA graph cannot read it back, and
        # without decay its kernels are skipped
        decays = bool(self.weight_decay.any())
        self.decay = [decays and bool(is_matrix) for is_matrix in matrix]

    def _per_model_values(self, values) -> torch.Tensor:
        first = self.params[0]
        out = torch.as_tensor(values, dtype=first.dtype, device=first.device)
        return out.reshape(-1).expand(self.n_models).clone()  # a float: all models

    def _check(self, grads: Sequence[torch.Tensor]) -> None:
        if len(grads) != len(self.params):
            raise ValueError(
                f"Got {len(grads)} gradients for {len(self.params)} parameters."
            )


class StackedSGD(_StackedOptimizer):
    """SGD with momentum and weight decay, per model (``torch.optim.SGD``).

    Parameters
    ----------
    params : sequence of Tensor of shape (n_models, ...)
        Stacked parameters, updated in place.
    weight_decay : float or array-like of shape (n_models,)
        L2 penalty of each model, on the weight matrices only.
    momentum : float or array-like of shape (n_models,), default=0.0
        Momentum of each model (no dampening, no Nesterov, as sklstm's SGD).
    matrix : sequence of bool, default=None
        Which parameters are weight matrices (decayed); by default those
        with two axes or more besides the model axis.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        *,
        weight_decay=0.0,
        momentum=0.0,
        matrix: Sequence[bool] | None = None,
    ) -> None:
        super().__init__(params, weight_decay=weight_decay, matrix=matrix)
        self.momentum = self._per_model_values(momentum)
        # a zero buffer times momentum plus the gradient is torch's first
        # buffer (a copy of the gradient), so no "first step" branch is needed
        self.buffers = [torch.zeros_like(p) for p in self.params]

    @torch.no_grad()
    def step(
        self, grads: Sequence[torch.Tensor], lr: torch.Tensor, active: torch.Tensor
    ) -> None:
        """Update the parameters of the active models in place.

        Parameters
        ----------
        grads : sequence of Tensor
            One gradient per parameter, shaped as it.
        lr : Tensor of shape (n_models,)
            Each model's learning rate at this step.
        active : Tensor of shape (n_models,)
            1 (or True) for the models to update, 0 for those to leave as is.
        """
        self._check(grads)
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            on = per_model(active, p) > 0
            if self.decay[i]:
                g = g + per_model(self.weight_decay, p) * p
            buf = per_model(self.momentum, p) * self.buffers[i] + g
            new = p - per_model(lr.to(p.dtype), p) * buf
            self.buffers[i].copy_(torch.where(on, buf, self.buffers[i]))
            p.copy_(torch.where(on, new, p))


class StackedAdam(_StackedOptimizer):
    """Adam, or AdamW with ``decoupled=True``, per model (``torch.optim.Adam``).

    Parameters
    ----------
    params : sequence of Tensor of shape (n_models, ...)
        Stacked parameters, updated in place.
    weight_decay : float or array-like of shape (n_models,)
        Weight decay of each model, on the weight matrices only: an L2 term
        in the gradient (Adam) or a shrinkage of the weights (AdamW).
    decoupled : bool, default=False
        AdamW's decoupled weight decay.
    matrix : sequence of bool, default=None
        Which parameters are weight matrices (decayed); by default those
        with two axes or more besides the model axis.
    betas : tuple of float, default=(0.9, 0.999)
        Averaging coefficients of the gradient and its square.
    eps : float, default=1e-8
        Added to the denominator.
    """

    def __init__(
        self,
        params: Sequence[torch.Tensor],
        *,
        weight_decay=0.0,
        decoupled: bool = False,
        matrix: Sequence[bool] | None = None,
        betas: tuple[float, float] = BETAS,
        eps: float = EPS,
    ) -> None:
        super().__init__(params, weight_decay=weight_decay, matrix=matrix)
        self.decoupled = decoupled
        self.betas = betas
        self.eps = eps
        self.exp_avg = [torch.zeros_like(p) for p in self.params]
        self.exp_avg_sq = [torch.zeros_like(p) for p in self.params]
        # float64 like the Python floats torch derives its bias corrections from
        self.steps = torch.zeros(
            self.n_models, dtype=torch.float64, device=self.params[0].device
        )

    @torch.no_grad()
    def step(
        self, grads: Sequence[torch.Tensor], lr: torch.Tensor, active: torch.Tensor
    ) -> None:
        """Update the parameters of the active models in place.

        Parameters
        ----------
        grads : sequence of Tensor
            One gradient per parameter, shaped as it.
        lr : Tensor of shape (n_models,)
            Each model's learning rate at this step.
        active : Tensor of shape (n_models,)
            1 (or True) for the models to update, 0 for those to leave as is:
            their step count does not advance either.
        """
        self._check(grads)
        beta1, beta2 = self.betas
        dtype = self.params[0].dtype
        steps = self.steps + (active > 0).to(self.steps.dtype)
        safe = steps.clamp_min(1.0)  # an inactive model's unused correction
        lr64 = lr.to(torch.float64)
        step_size = (lr64 / (1.0 - torch.pow(beta1, safe))).to(dtype)
        bias2_sqrt = torch.sqrt(1.0 - torch.pow(beta2, safe)).to(dtype)
        shrink = (1.0 - lr64 * self.weight_decay.to(torch.float64)).to(dtype)
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            on = per_model(active, p) > 0
            base = p
            if self.decay[i] and self.decoupled:
                base = p * per_model(shrink, p)
            elif self.decay[i]:
                g = g + per_model(self.weight_decay, p) * p
            m = torch.lerp(self.exp_avg[i], g, 1.0 - beta1)
            v = self.exp_avg_sq[i] * beta2 + (1.0 - beta2) * g * g
            denom = v.sqrt() / per_model(bias2_sqrt, p) + self.eps
            new = base - per_model(step_size, p) * (m / denom)
            self.exp_avg[i].copy_(torch.where(on, m, self.exp_avg[i]))
            self.exp_avg_sq[i].copy_(torch.where(on, v, self.exp_avg_sq[i]))
            p.copy_(torch.where(on, new, p))
        self.steps.copy_(steps)


def stacked_optimizer(
    kind: str,
    params: Sequence[torch.Tensor],
    *,
    weight_decay,
    momentum=0.0,
    matrix: Sequence[bool] | None = None,
) -> StackedAdam | StackedSGD:
    """The stacked optimizer of ``kind`` (``"adam"``, ``"adamw"`` or ``"sgd"``).

    Parameters
    ----------
    kind : {"adam", "adamw", "sgd"}
        The optimizer, as ``_plan.OPTIMIZERS`` names torch's classes.
    params : sequence of Tensor of shape (n_models, ...)
        Stacked parameters, updated in place.
    weight_decay : float or array-like of shape (n_models,)
        Weight decay of each model (weight matrices only).
    momentum : float or array-like of shape (n_models,), default=0.0
        Momentum of each model (SGD only).
    matrix : sequence of bool, default=None
        Which parameters are weight matrices.

    Returns
    -------
    optimizer : StackedAdam or StackedSGD
        The optimizer, with zero state.
    """
    if kind == "sgd":
        return StackedSGD(
            params, weight_decay=weight_decay, momentum=momentum, matrix=matrix
        )
    if kind in ("adam", "adamw"):
        return StackedAdam(
            params, weight_decay=weight_decay, decoupled=kind == "adamw", matrix=matrix
        )
    raise ValueError(f"Unknown stacked optimizer {kind!r}: adam, adamw or sgd.")


__all__ = [
    "BETAS",
    "EPS",
    "StackedAdam",
    "StackedSGD",
    "per_model",
    "stacked_optimizer",
]
