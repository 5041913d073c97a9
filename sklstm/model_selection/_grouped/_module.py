"""K LSTM networks of one shape trained as one: weights stacked on a model axis.

``torch.func.vmap`` has no batching rule for the RNN kernels, so the
recurrence is written out: a Python loop over time whose every step is one
batched matrix product over the model axis (``torch.baddbmm``). On a GPU,
where a small LSTM's step is launch-bound, K models then cost about as much
as one. Pure torch: no sklearn or skorch.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from sklstm._engine._module import LSTMNetwork
from sklstm._engine._patching import patch_torch
from sklstm._engine._series import normalize_series

_ACTIVATION_FUNCTIONS = {
    nn.ReLU: torch.relu,
    nn.Tanh: torch.tanh,
    nn.GELU: F.gelu,
    nn.ELU: F.elu,
}


def unsupported(template: LSTMNetwork) -> str | None:
    """Why ``template`` cannot be grouped, or None when it can.

    Patching is supported: it has no weights, and :class:`GroupedLSTM`
    patches its input as the single network does.
    """
    if template.embedding is not None:
        return "token inputs (embedding_dim)"
    if template.return_sequences:
        return "return_sequences=True"
    if not isinstance(template.norm, (nn.Identity, nn.LayerNorm)):
        return "norm='batch'"
    if getattr(template, "n_quantiles", 1) > 1:
        return "quantile outputs"
    if template.lstm.proj_size:
        return "proj_size"
    if (
        getattr(template, "conv", None) is not None
    ):  # batch norm: statistics across the batch
        return "the convolutional branch (conv_branch)"
    if getattr(template, "asinh", False):  # each model's own fitted levels
        return "the asinh view (asinh_view)"
    if getattr(template, "random_crop", 1.0) < 1:  # each model's own windows
        return "random crops (random_crop < 1)"
    for layer in list(template.head)[1:]:
        if not isinstance(layer, nn.Linear) and type(layer) not in (
            _ACTIVATION_FUNCTIONS
        ):
            return f"head layer {type(layer).__name__}"
    return None


class GroupedLSTM(nn.Module):
    """``n_models`` copies of ``template``'s architecture with their own weights.

    Every parameter of the single network is held as one tensor with a
    leading model axis: ``lstm.weight_ih_l0`` of shape ``(4H, F)`` becomes
    ``(n_models, 4H, F)``, in the order of ``template.named_parameters()``,
    so model ``k``'s weights load from, and go back into, an ordinary
    :class:`~sklstm._engine._module.LSTMNetwork` (:meth:`load_model`,
    :meth:`store_model`). Inputs are per-model batches ``(n_models, batch,
    steps, features)`` of raw steps, patched (and, with ``series_norm``,
    normalized per series, each model with its own statistics' scaling) as
    ``template`` does;
    outputs ``(n_models, batch, outputs)``: the head on the last layer's
    final hidden state (both directions when bidirectional), as in the
    single network.

    Parameters
    ----------
    template : LSTMNetwork
        A network of the wanted architecture (its weights are not used).
    n_models : int
        Number of models held.

    Examples
    --------
    >>> import torch
    >>> from sklstm._engine._module import LSTMNetwork
    >>> from sklstm.model_selection._grouped._module import GroupedLSTM
    >>> nets = [LSTMNetwork(2, 1, hidden_size=4) for _ in range(3)]
    >>> group = GroupedLSTM(nets[0], 3)
    >>> for k, net in enumerate(nets):
    ...     group.load_model(k, net)
    >>> x = torch.randn(3, 5, 7, 2)
    >>> out = group(x)
    >>> out.shape
    torch.Size([3, 5, 1])
    >>> torch.allclose(out[1], nets[1](x[1]), atol=1e-6)
    True
    """

    def __init__(self, template: LSTMNetwork, n_models: int) -> None:
        super().__init__()
        reason = unsupported(template)
        if reason is not None:
            raise ValueError(f"Cannot group networks with {reason}.")
        lstm = template.lstm
        self.n_models = int(n_models)
        self.hidden_size = lstm.hidden_size
        self.num_layers = lstm.num_layers
        self.directions = 2 if lstm.bidirectional else 1
        # the template's first layer: patches of its raw input steps
        self.patch_size = template.patch_size
        self.patch_stride = template.patch_stride
        self.series_norm = template.series_norm
        if self.series_norm:  # each model's own (load_model)
            for name in ("stats_center", "stats_scale"):
                buffer = getattr(template, name)
                self.register_buffer(
                    name, buffer.new_ones(self.n_models, *buffer.shape)
                )
        self.layer_norm_eps = getattr(template.norm, "eps", None)
        self.names = [name for name, _ in template.named_parameters()]
        self.weights = nn.ParameterList(
            nn.Parameter(p.detach().new_zeros((self.n_models, *p.shape)))
            for _, p in template.named_parameters()
        )
        # which tensors are matrices in the single network: weight decay and
        # l1 apply to those only (the optimizer's and the net's rule)
        self.matrix = [p.dim() >= 2 for _, p in template.named_parameters()]
        self._index = {name: i for i, name in enumerate(self.names)}
        # the group's sizes, which smaller members are padded to
        self._sizes = (self.hidden_size, self.directions, lstm.input_size)
        # the head after its dropout: ("linear", prefix) or ("act", function)
        self.head_plan: list[tuple[str, object]] = []
        for i, layer in enumerate(list(template.head)[1:], start=1):
            if isinstance(layer, nn.Linear):
                self.head_plan.append(("linear", f"head.{i}"))
            else:
                self.head_plan.append(("act", _ACTIVATION_FUNCTIONS[type(layer)]))

    def param(self, name: str) -> torch.Tensor:
        """The stacked tensor of the single network's parameter ``name``."""
        return self.weights[self._index[name]]

    @torch.no_grad()
    def load_model(self, k: int, net: LSTMNetwork) -> None:
        """Copy ``net``'s weights into model ``k``.

        ``net`` may be smaller than the group's architecture (fewer hidden
        units, or fewer units in a hidden head layer): its weights go into
        their slots and every other entry of model ``k`` is zero, so the
        padded units' states, outputs and gradients stay exactly zero (see
        :func:`slots`).
        """
        if self.series_norm:
            self.stats_center[k].copy_(net.stats_center)
            self.stats_scale[k].copy_(net.stats_scale)
        for (name, p), stacked in zip(
            net.named_parameters(), self.weights, strict=True
        ):
            if stacked.shape[1:] == p.shape:
                stacked[k].copy_(p)
                continue
            index = slots(name, net, self._sizes)
            if [len(i) for i in index] != list(p.shape):
                raise ValueError(f"{name}: shape {tuple(p.shape)} does not fit.")
            stacked[k].zero_()
            stacked[k][_grid(index, stacked.device)] = p.to(stacked.device)

    @torch.no_grad()
    def store_model(self, k: int, net: LSTMNetwork) -> None:
        """Copy model ``k``'s weights (its slots, when padded) into ``net``."""
        for (name, p), stacked in zip(
            net.named_parameters(), self.weights, strict=True
        ):
            if stacked.shape[1:] == p.shape:
                p.copy_(stacked[k])
            else:
                index = slots(name, net, self._sizes)
                p.copy_(stacked[k][_grid(index, stacked.device)])

    def forward(
        self,
        x: torch.Tensor,
        dropout: torch.Tensor | None = None,
        lstm_dropout: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Outputs of every model on its own batch.

        ``x`` is ``(n_models, batch, steps, features)``; ``dropout`` and
        ``lstm_dropout`` (shape ``(n_models,)``, only used in training mode)
        are each model's rates, as ``LSTMNetwork`` applies them.
        """
        use_dropout = self.training and dropout is not None
        stats = None
        if self.series_norm:  # weightless: the same for every model
            # no branch (unsupported here), so the LSTM reads the copy beside
            k, batch = x.shape[:2]
            z, stats = normalize_series(x.reshape(k * batch, *x.shape[2:]))
            x = torch.cat([x, z.view(x.shape)], dim=-1)
            stats = stats.view(k, batch, -1) - self.stats_center[:, None]
            stats = stats / self.stats_scale[:, None]
        out = self._patches(x)
        finals: list[torch.Tensor] = []
        for layer in range(self.num_layers):
            if layer and use_dropout:  # between layers, as nn.LSTM does
                out = _dropout(out, dropout)
            outputs, finals = [], []
            for direction in range(self.directions):
                seq, last = self._run(out, layer, direction)
                outputs.append(seq)
                finals.append(last)
            out = outputs[0] if self.directions == 1 else torch.cat(outputs, dim=-1)
        summary = finals[0] if self.directions == 1 else torch.cat(finals, dim=-1)
        if self.layer_norm_eps is not None:
            summary = F.layer_norm(summary, summary.shape[-1:], eps=self.layer_norm_eps)
            summary = summary * self.param("norm.weight")[:, None, :]
            summary = summary + self.param("norm.bias")[:, None, :]
        if self.training and lstm_dropout is not None:
            summary = _dropout(summary, lstm_dropout)
        if stats is not None:
            summary = torch.cat([summary, stats], dim=-1)
        if use_dropout:
            summary = _dropout(summary, dropout)
        for kind, what in self.head_plan:
            if kind == "linear":
                bias = self.param(f"{what}.bias")[:, None, :]
                weight = self.param(f"{what}.weight").transpose(1, 2)
                summary = torch.baddbmm(bias, summary, weight)
            else:
                summary = what(summary)
        return summary

    def _patches(self, x: torch.Tensor) -> torch.Tensor:
        """``(n_models, batch, steps, F)`` as the template's LSTM steps."""
        if self.patch_size == 1:
            return x
        k, batch = x.shape[:2]
        flat, _ = patch_torch(
            x.reshape(k * batch, *x.shape[2:]), None, self.patch_size, self.patch_stride
        )
        return flat.view(k, batch, *flat.shape[1:])

    def _run(
        self, x: torch.Tensor, layer: int, direction: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """One direction of one layer: every step's output and the final state."""
        suffix = f"_l{layer}" + ("_reverse" if direction else "")
        w_ih = self.param(f"lstm.weight_ih{suffix}")
        w_hh = self.param(f"lstm.weight_hh{suffix}").transpose(1, 2)
        bias = self.param(f"lstm.bias_ih{suffix}") + self.param(f"lstm.bias_hh{suffix}")
        k, batch, steps, width = x.shape
        h_size = self.hidden_size
        # the input's part of the gates for every step at once: one product
        gates_in = torch.baddbmm(
            bias[:, None, :], x.reshape(k, batch * steps, width), w_ih.transpose(1, 2)
        ).view(k, batch, steps, 4 * h_size)
        h = x.new_zeros(k, batch, h_size)
        c = x.new_zeros(k, batch, h_size)
        outs: list[torch.Tensor] = [h] * steps
        order = range(steps - 1, -1, -1) if direction else range(steps)
        for t in order:
            gates = torch.baddbmm(gates_in[:, :, t], h, w_hh)
            i, f, g, o = gates.chunk(4, dim=-1)  # nn.LSTM's gate order
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = torch.sigmoid(o) * torch.tanh(c)
            outs[t] = h
        return torch.stack(outs, dim=2), h


def _blocks(n_blocks: int, real: int, padded: int) -> torch.Tensor:
    """Indices of ``n_blocks`` blocks of ``real`` entries in blocks of ``padded``."""
    return torch.cat([torch.arange(real) + b * padded for b in range(n_blocks)])


def slots(
    name: str, net: LSTMNetwork, sizes: tuple[int, int, int]
) -> list[torch.Tensor]:
    """Where parameter ``name`` of ``net`` sits in a larger group's tensor.

    One index tensor per dimension. A hidden size ``H`` padded to ``Hg``
    keeps each gate block (``nn.LSTM``'s ``i, f, g, o`` rows) and each
    direction's block of a layer's input at its start; a head layer's
    units keep the first places. With zero weights and biases in the other
    places, a padded unit's gates are ``sigmoid(0)``, its cell input
    ``tanh(0) = 0``, so its cell and output stay 0 from the zero initial
    state; it feeds nothing (zero columns), so its gradients are 0 too, and
    Adam, AdamW, SGD, weight decay, ``l1`` and norm clipping leave it at 0.
    A LayerNorm would mix padded entries into its statistics: groups with a
    LayerNorm are not padded (their key holds the hidden size).
    """
    group_hidden, directions, n_inputs = sizes
    hidden = net.lstm.hidden_size
    part, _, kind = name.partition(".")
    if part == "lstm":
        gates = _blocks(4, hidden, group_hidden)
        if kind.startswith("bias"):
            return [gates]
        if kind.startswith("weight_hh"):
            return [gates, _blocks(1, hidden, group_hidden)]
        if kind.startswith("weight_ih_l0"):
            return [gates, torch.arange(n_inputs)]
        return [gates, _blocks(directions, hidden, group_hidden)]
    if part == "head":
        linear = [i for i, m in enumerate(net.head) if isinstance(m, nn.Linear)]
        layer = int(kind.split(".")[0])
        j = linear.index(layer)
        rows = torch.arange(net.head[layer].out_features)
        if kind.endswith("bias"):
            return [rows]
        if j == 0:
            columns = _blocks(directions, hidden, group_hidden)
            extra = net.head[layer].in_features - directions * hidden
            if extra:  # the series' statistics, after the LSTM's summary
                columns = torch.cat(
                    [columns, torch.arange(extra) + directions * group_hidden]
                )
            return [rows, columns]
        return [rows, torch.arange(net.head[linear[j - 1]].out_features)]
    raise ValueError(f"{name}: cannot be padded (only LSTM and head weights are).")


def _grid(index: list[torch.Tensor], device) -> tuple:
    index = [i.to(device) for i in index]
    if len(index) == 1:
        return (index[0],)
    return (index[0][:, None], index[1][None, :])


def _dropout(x: torch.Tensor, rate: torch.Tensor) -> torch.Tensor:
    """Inverted dropout with one rate per model (leading axis)."""
    keep = (1.0 - rate).view(-1, *([1] * (x.dim() - 1)))
    mask = torch.bernoulli(keep.expand_as(x))
    return x * mask / keep


__all__ = ["GroupedLSTM", "slots", "unsupported"]
