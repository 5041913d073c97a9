"""The torch network behind both estimators: pure torch, no sklearn or skorch."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from sklstm._engine._asinh import asinh_view, fit_asinh_view
from sklstm._engine._augment import random_crop
from sklstm._engine._conv import ConvBranch
from sklstm._engine._masked import batch_norm_own_steps, step_mask
from sklstm._engine._patching import patch_torch
from sklstm._engine._series import MIN_STD, normalize_series, series_statistics

_ASINH_BUFFERS = ("asinh_reference", "asinh_scale", "asinh_center", "asinh_spread")
_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "elu": nn.ELU}


class _StepBatchNorm(nn.BatchNorm1d):
    """Batch norm over the feature axis of ``(batch, [steps,] features)``;
    with ``lengths`` (padded rows of per-step outputs), training statistics
    count each row's real steps only."""

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        if x.dim() == 3 and lengths is not None and self.training:
            mask = step_mask(lengths, x)[..., None]
            rows = batch_norm_own_steps(self, x.reshape(-1, x.shape[-1]), mask)
            return rows.view_as(x)
        if x.dim() == 3:
            return super().forward(x.transpose(1, 2)).transpose(1, 2)
        return super().forward(x)


def init_gates(lstm: nn.LSTM, how: str, timescale: int | None) -> None:
    """Initialise the gate biases of ``lstm`` for long memory.

    - ``"default"``: PyTorch's uniform initialisation.
    - ``"forget_bias"``: forget-gate bias 1, so the cell state is kept by
      default early in training (Jozefowicz, Zaremba and Sutskever, "An
      Empirical Exploration of Recurrent Network Architectures", ICML 2015).
    - ``"chrono"``: forget-gate bias ``log(u)``, ``u ~ U(1, T - 1)``, and
      input-gate bias its negative, so the units' memory spans range up to
      ``T = timescale`` steps (Tallec and Ollivier, "Can Recurrent Neural
      Networks Warp Time?", ICLR 2018).

    PyTorch's gate order is input, forget, cell, output; each layer has two
    bias vectors (``bias_ih``, ``bias_hh``) that add up: the value is put in
    ``bias_ih`` and the ``bias_hh`` slice is zeroed.
    """
    if how == "default":
        return
    h = lstm.hidden_size
    with torch.no_grad():
        for name, bias in lstm.named_parameters():
            if not name.startswith("bias_"):
                continue
            own = name.startswith("bias_ih")
            if how == "forget_bias":
                bias[h : 2 * h] = 1.0 if own else 0.0
            elif not own:
                bias[: 2 * h] = 0.0
            else:
                top = max(float(timescale or 2) - 1.0, 1.0 + 1e-3)
                forget = torch.log(torch.empty_like(bias[:h]).uniform_(1.0, top))
                bias[h : 2 * h] = forget
                bias[:h] = -forget


class LSTMNetwork(nn.Module):
    """LSTM encoder with a dense head.

    The head reads the last layer's final hidden state ``h_n`` (both directions
    when bidirectional), or every step's output when ``return_sequences`` is set.
    ``lengths`` (a CPU int64 tensor) marks the true length of each padded row; the
    batch is then packed so that padding never enters the recurrence.

    Inputs are ``(batch, steps, input_size)`` floats, or ``(batch, steps)``
    token ids with ``embedding_dim``. With ``patch_size > 1`` the first layer
    reads every ``patch_size`` consecutive steps (starting every
    ``patch_stride`` steps; None: ``patch_size``) as one LSTM step of
    ``patch_size * input_size`` values
    (:func:`~sklstm._engine._patching.patch_torch`), and ``lengths`` count
    steps, not patches. The patching has no weights: the state dict is that
    of an LSTM on the patched width, as when the estimator patched in numpy.

    With ``series_norm`` each row is also standardized by its own mean and
    standard deviation per feature (``_series.normalize_series``): the
    convolutional branch reads that copy instead of the input, or, without
    the branch, the LSTM reads it beside the input (``lstm_reads_copy``);
    the rows' statistics, centered and scaled by the
    ``stats_center`` and ``stats_scale`` buffers (:meth:`fit_statistics`),
    join the head's input after the summaries.

    With ``asinh_view`` each step's features are followed by their asinh
    view (``_asinh.asinh_view``, its reference level, scale, center and
    spread in buffers set by :meth:`fit_asinh`): every part then reads
    ``2 * input_size`` features per step.

    ``dropout`` drops units between stacked LSTM layers and of the whole
    head input; ``lstm_dropout`` drops units of the LSTM's output alone
    (its summary, or each step's output), before the branch's summary and
    the statistics join it, as LSTM-FCN does (Karim et al. 2018).

    ``random_crop`` below 1 trains on random windows of that share of each
    row's steps (:func:`~sklstm._engine._augment.random_crop`), starting on
    the branch's first stride; in evaluation every step is read.
    """

    # modules pickled before patching moved into the module read unpatched
    patch_size, patch_stride = 1, 1
    series_norm = lstm_reads_copy = asinh = False
    lstm_dropout = 0.0
    random_crop = 1.0

    def __init__(
        self,
        input_size: int,
        output_size: int,
        hidden_size: int = 32,
        num_layers: int = 1,
        bidirectional: bool = False,
        dropout: float = 0.0,
        head_units: tuple[int, ...] = (),
        head_activation: str = "relu",
        norm: str | None = None,
        return_sequences: bool = False,
        vocab_size: int | None = None,
        embedding_dim: int | None = None,
        gate_init: str = "default",
        timescale: int | None = None,
        n_quantiles: int = 1,
        patch_size: int = 1,
        patch_stride: int | None = None,
        conv_filters: tuple[int, ...] = (),
        conv_kernel_sizes: tuple[int, ...] = (),
        conv_pool_size: int | tuple[int, ...] = 1,
        conv_stride: int = 1,
        series_norm: bool = False,
        lstm_dropout: float = 0.0,
        random_crop: float = 1.0,
        asinh_view: bool = False,
    ) -> None:
        super().__init__()
        # plain floats, not layers: the state dict keeps its keys
        self.lstm_dropout = float(lstm_dropout)
        self.random_crop = float(random_crop)
        if not 0 < self.random_crop <= 1:
            raise ValueError(f"random_crop={random_crop} must be in (0, 1].")
        if self.random_crop < 1 and (return_sequences or embedding_dim is not None):
            raise ValueError(
                "random crops cut numeric sequences whose label is the whole "
                "series: they apply to no per-step output and no token ids."
            )
        self.return_sequences = return_sequences
        self.n_quantiles = n_quantiles
        # plain ints, not buffers: the state dict keeps its keys and shapes
        self.input_size = int(input_size)  # features per raw time step
        self.patch_size = int(patch_size)
        self.patch_stride = int(patch_size if patch_stride is None else patch_stride)
        if not 1 <= self.patch_stride <= self.patch_size:
            raise ValueError(
                f"patch_stride={self.patch_stride} must be between 1 and "
                f"patch_size={self.patch_size}."
            )
        self.embedding = None
        self.asinh = bool(asinh_view)
        if self.asinh and embedding_dim is not None:
            raise ValueError("the asinh view maps numbers: it reads no token ids.")
        # what every part reads per step: the input, then its asinh view
        features = self.input_size * (2 if self.asinh else 1)
        self.series_norm = bool(series_norm)
        if self.series_norm and (return_sequences or embedding_dim is not None):
            raise ValueError(
                "series normalization reads whole numeric sequences: it has no "
                "per-step output and reads no token ids."
            )
        # series_norm's standardized copy of each series goes to the part
        # that reads shapes: the convolutional branch, which reads it instead
        # of the input, else the LSTM, which reads it beside the input
        self.lstm_reads_copy = self.series_norm and not conv_filters
        step_width = features * (2 if self.lstm_reads_copy else 1)
        width = step_width * self.patch_size  # values per LSTM step
        if embedding_dim is not None:
            if self.patch_size > 1:
                raise ValueError("token ids (embedding_dim) are not patched.")
            # id 0 is padding: its vector stays zero and gets no gradient
            self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=0)
            width = embedding_dim
        self.lstm = nn.LSTM(
            width,
            hidden_size,
            num_layers=num_layers,
            batch_first=True,
            bidirectional=bidirectional,
            dropout=dropout if num_layers > 1 else 0.0,
        )
        init_gates(self.lstm, gate_init, timescale)
        width = hidden_size * (2 if bidirectional else 1)
        self.norm = _summary_norm(norm, width)
        # LSTM-FCN: a convolutional summary of the raw steps beside the LSTM's
        self.conv = None
        if conv_filters:
            if return_sequences or embedding_dim is not None:
                raise ValueError(
                    "the convolutional branch summarizes numeric sequences: it "
                    "has no per-step output and reads no token ids."
                )
            self.conv = ConvBranch(
                features,
                conv_filters,
                conv_kernel_sizes,
                conv_pool_size,
                conv_stride,
            )
            width += self.conv.out_features
        width += self._add_fitted_levels(features)
        self.head = _head(width, output_size, dropout, head_units, head_activation)

    def _add_fitted_levels(self, features: int) -> int:
        """Register the buffers fitted on the training data (the asinh
        view's levels, the statistics' center and spread); return the width
        the statistics add to the head's input."""
        if self.asinh:  # fit_asinh
            for name, value in zip(_ASINH_BUFFERS, (0.0, 1.0, 0.0, 1.0), strict=True):
                self.register_buffer(name, torch.full((self.input_size,), value))
        if not self.series_norm:
            return 0
        # the statistics' own center and spread over the training series
        # (fit_statistics), so that the head reads them on unit scale
        self.register_buffer("stats_center", torch.zeros(2 * features))
        self.register_buffer("stats_scale", torch.ones(2 * features))
        return 2 * features  # each series' mean and log-std

    def set_dropout(self, p: float, lstm_p: float) -> None:
        """Change the dropout rates in place: ``p`` between layers and before
        the head, ``lstm_p`` on the LSTM's output alone."""
        self.lstm.dropout = p if self.lstm.num_layers > 1 else 0.0
        self.head[0].p = p
        self.lstm_dropout = float(lstm_p)

    def set_random_crop(self, fraction: float) -> None:
        """Change the share of each row's steps a training window keeps."""
        self.random_crop = float(fraction)

    def encode(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None = None,
        state: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Return the sequence summary (or per-step outputs) and the final state.

        ``x`` holds raw steps: they are embedded, or patched, first.
        """
        if self.embedding is not None:
            x = self.embedding(x)
        else:
            x, lengths = patch_torch(x, lengths, self.patch_size, self.patch_stride)
        steps = x.shape[1]
        if lengths is not None:
            x = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, (h_n, c_n) = self.lstm(x, state)
        if self.return_sequences:
            if lengths is not None:
                out, _ = pad_packed_sequence(out, batch_first=True, total_length=steps)
            return out, (h_n, c_n)
        directions = 2 if self.lstm.bidirectional else 1
        # last layer's forward (and backward) final states, side by side
        if directions == 1:
            return h_n[-1], (h_n, c_n)
        summary = torch.cat(list(h_n[-directions:]), dim=-1)
        return summary, (h_n, c_n)

    def forward(
        self, x: torch.Tensor, lengths: torch.Tensor | None = None
    ) -> torch.Tensor:
        stats = None
        conv = getattr(self, "conv", None)  # modules pickled before the branch
        if self.training and self.random_crop < 1:
            grid = conv.stride if conv is not None else 1
            x, lengths = random_crop(x, lengths, self.random_crop, grid)
        if self.asinh:
            x = self._asinh(x, lengths)
        shapes = x  # what the convolutional branch reads
        if self.series_norm:
            shapes, stats = normalize_series(x, lengths)
            if self.lstm_reads_copy:
                x = torch.cat([x, shapes], dim=-1)
        summary, _ = self.encode(x, lengths)
        if isinstance(self.norm, _StepBatchNorm) and self.return_sequences:
            summary = self.norm(summary, lengths)  # per-step outputs: real steps
        else:
            summary = self.norm(summary)
        if self.training and self.lstm_dropout > 0:
            summary = F.dropout(summary, self.lstm_dropout, training=True)
        if conv is not None:
            summary = torch.cat([summary, conv(shapes, lengths)], dim=-1)
        if stats is not None:
            stats = (stats - self.stats_center) / self.stats_scale
            summary = torch.cat([summary, stats], dim=-1)
        return self._head(summary)

    @torch.no_grad()
    def fit_statistics(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None,
        weight: torch.Tensor | None = None,
    ) -> None:
        """Set the center and spread of the per-series statistics (means
        and log standard deviations) to their mean and standard deviation
        over the training rows ``x`` (raw steps, ``lengths`` as in
        :meth:`forward`), weighted by ``weight`` (as repeated rows would
        count); a spread below ``MIN_STD`` counts as 1. With the asinh view,
        fit it first (:meth:`fit_asinh`): the statistics are the viewed
        rows'."""
        stats = series_statistics(x, lengths, read=self._asinh if self.asinh else None)
        w = torch.ones(len(stats), 1, dtype=stats.dtype)
        if weight is not None:
            w = weight.to(stats).reshape(-1, 1)
        w = w / w.sum().clamp_min(torch.finfo(stats.dtype).tiny)
        center = (w * stats).sum(dim=0)
        spread = (w * (stats - center) ** 2).sum(dim=0).sqrt()
        spread = torch.where(spread > MIN_STD, spread, torch.ones_like(spread))
        self.stats_center.copy_(center)
        self.stats_scale.copy_(spread)

    @torch.no_grad()
    def fit_asinh(
        self,
        x: torch.Tensor,
        lengths: torch.Tensor | None,
        weight: torch.Tensor | None = None,
    ) -> None:
        """Set the asinh view's reference level, scale, center and spread
        from the training rows ``x`` (raw steps, ``lengths`` as in
        :meth:`forward`) of positive ``weight``
        (:func:`~sklstm._engine._asinh.fit_asinh_view`)."""
        keep = None if weight is None else weight.reshape(-1) > 0
        fitted = fit_asinh_view(x, lengths, keep)
        for name, value in zip(_ASINH_BUFFERS, fitted, strict=True):
            getattr(self, name).copy_(value)

    def _asinh(self, x: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        return asinh_view(x, lengths, *(getattr(self, n) for n in _ASINH_BUFFERS))

    def forward_stream(
        self, x: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Outputs for the next chunk of each stream, starting from ``state``.

        With patches, a chunk should hold whole patches (a multiple of
        ``patch_size`` steps, ``patch_stride == patch_size``) for the streams
        to read as one long sequence would.
        """
        if self.asinh:
            x = self._asinh(x, None)
        summary, state = self.encode(x, None, state)
        return self._head(self.norm(summary)), state

    def _head(self, x: torch.Tensor) -> torch.Tensor:
        dropout, *layers = self.head
        if dropout.p > 0:  # a dropout of 0 would still copy in training
            x = dropout(x)
        for layer in layers:
            x = layer(x)
        if self.n_quantiles > 1:
            x = _monotone(x, self.n_quantiles)
        return x


def _summary_norm(norm: str | None, width: int) -> nn.Module:
    if norm == "layer":
        return nn.LayerNorm(width)
    if norm == "batch":
        return _StepBatchNorm(width)
    return nn.Identity()


def _head(
    width: int,
    output_size: int,
    dropout: float,
    head_units: tuple[int, ...],
    activation: str,
) -> nn.Sequential:
    """Dropout, the hidden layers of ``head_units``, then the output layer."""
    # dropout is always present (p may be 0), so that it can change between fits
    layers: list[nn.Module] = [nn.Dropout(dropout)]
    for units in head_units:
        layers += [nn.Linear(width, units), _ACTIVATIONS[activation]()]
        width = units
    layers.append(nn.Linear(width, output_size))
    return nn.Sequential(*layers)


def _monotone(x: torch.Tensor, n_quantiles: int) -> torch.Tensor:
    """Non-crossing quantiles: the lowest, then positive (softplus) increments.

    The last axis holds ``n_quantiles`` values per output, so every output's
    quantiles increase with the quantile level by construction.
    """
    grouped = x.reshape(*x.shape[:-1], -1, n_quantiles)
    steps = torch.cat(
        [grouped[..., :1], nn.functional.softplus(grouped[..., 1:])], dim=-1
    )
    return steps.cumsum(dim=-1).reshape(x.shape)
