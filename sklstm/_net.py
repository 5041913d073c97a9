"""The skorch net that trains an ``LSTMNetwork`` on in-memory tensors.

skorch's default loop collates every sample through a ``DataLoader`` and
notifies callbacks on every batch. Here batches are tensor slices and the
per-batch notifications are only sent when a callback actually listens to
them, so epoch-level callbacks (early stopping, schedulers, checkpoints,
logging) work unchanged while small models train at the speed of a plain loop.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
from skorch import NeuralNet
from skorch.callbacks import Callback, EpochTimer, PrintLog

from sklstm._callbacks import to_stderr
from sklstm._data import Batch, BatchIterator, SequenceDataset

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end", "on_grad_computed")


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite.

    The estimator keeps the weights of the last finite epoch and stays usable;
    inside a search the candidate gets ``error_score``.
    """


class SequenceNet(NeuralNet):
    """``NeuralNet`` with a tensor-slicing fast path and in-loop regularization.

    Extra parameters: ``l1`` (L1 strength on weight matrices), ``gradient_clip``
    (max global gradient norm), ``gradient_clip_value`` (max absolute gradient),
    ``shuffle``, ``seed`` (for the shuffling order), ``min_batch``,
    ``predict_batch_size`` and ``bucket_by_length``.
    """

    def __init__(
        self,
        *args,
        l1: float = 0.0,
        gradient_clip: float | None = None,
        gradient_clip_value: float | None = None,
        shuffle: bool = True,
        seed: int = 0,
        min_batch: int = 1,
        predict_batch_size: int = 512,
        bucket_by_length: bool = False,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.l1 = l1
        self.gradient_clip = gradient_clip
        self.gradient_clip_value = gradient_clip_value
        self.shuffle = shuffle
        self.seed = seed
        self.min_batch = min_batch
        self.predict_batch_size = predict_batch_size
        self.bucket_by_length = bucket_by_length

    @property
    def _default_callbacks(self) -> list[tuple[str, Callback]]:
        # losses are recorded by run_single_epoch itself, so no Passthrough scorers;
        # the epoch table is only built when it is shown (formatting costs ms)
        callbacks: list[tuple[str, Callback]] = [("epoch_timer", EpochTimer())]
        if self.verbose:
            callbacks.append(("print_log", PrintLog(sink=to_stderr)))
        return callbacks

    def initialize_callbacks(self) -> SequenceNet:
        super().initialize_callbacks()
        base = Callback
        self.batch_callbacks_ = [
            cb
            for _, cb in self.callbacks_
            if any(getattr(type(cb), h) is not getattr(base, h) for h in _BATCH_HOOKS)
        ]
        return self

    def get_iterator(
        self, dataset: SequenceDataset, training: bool = False
    ) -> BatchIterator:
        if not training:
            return BatchIterator(dataset, max(self.batch_size, self.predict_batch_size))
        generator = torch.Generator().manual_seed(self.seed + len(self.history))
        return BatchIterator(
            dataset,
            self.batch_size,
            self.shuffle,
            generator,
            self.min_batch,
            self.bucket_by_length,
        )

    def _penalized_weights(self) -> list[torch.Tensor]:
        # weight matrices only: biases and normalization scales are not shrunk
        return [
            p for p in self.module_.parameters() if p.requires_grad and p.dim() >= 2
        ]

    def batch_loss(self, batch: Batch) -> torch.Tensor:
        """Weighted mean of the per-sample losses of one batch."""
        out = self.module_(batch.X, batch.lengths)
        return self._weighted_mean(self.criterion_(out, batch.y), batch)

    @staticmethod
    def _weighted_mean(per_sample: torch.Tensor, batch: Batch) -> torch.Tensor:
        if batch.weight is not None:
            per_sample = per_sample * batch.weight
        return per_sample.mean()

    def _train_batch(self, batch: Batch) -> torch.Tensor:
        optimizer = self.optimizer_
        weights = self._penalized_weights() if self.l1 else ()

        def closure() -> torch.Tensor:
            optimizer.zero_grad(set_to_none=True)
            loss = self.batch_loss(batch)
            total = loss
            if self.l1:
                total = loss + self.l1 * sum(w.abs().sum() for w in weights)
            total.backward()
            if self.batch_callbacks_:
                self.notify_batch(
                    "on_grad_computed",
                    named_parameters=list(self.module_.named_parameters()),
                    X=batch.X,
                    y=batch.y,
                )
            if self.gradient_clip_value is not None:
                params = self.module_.parameters()
                torch.nn.utils.clip_grad_value_(params, self.gradient_clip_value)
            if self.gradient_clip is not None:
                params = self.module_.parameters()
                torch.nn.utils.clip_grad_norm_(params, self.gradient_clip)
            return loss

        return optimizer.step(closure)

    def notify_batch(self, hook: str, **kwargs) -> None:
        for cb in self.batch_callbacks_:
            getattr(cb, hook)(self, **kwargs)

    def run_single_epoch(
        self, iterator, training, prefix, step_fn, **fit_params
    ) -> None:
        if iterator is None:
            return
        self._set_training(training)
        if training:
            self.history.record("lr", self.optimizer_.param_groups[0]["lr"])
            # the weights to fall back on if this epoch diverges
            last_finite = copy.deepcopy(self.module_.state_dict())
        listen = bool(self.batch_callbacks_)
        total = torch.zeros((), device=self.device)
        seen = 0
        outputs = []
        with torch.set_grad_enabled(training):
            for batch in iterator:
                if listen:
                    self.history.new_batch()
                    self.notify_batch("on_batch_begin", batch=batch, training=training)
                if training:
                    loss = self._train_batch(batch)
                else:
                    out = self.module_(batch.X, batch.lengths)
                    loss = self._weighted_mean(self.criterion_(out, batch.y), batch)
                    outputs.append((out, batch.y))
                size = len(batch.X)
                total.add_(loss.detach(), alpha=size)
                seen += size
                if listen:
                    self.history.record_batch(prefix + "_loss", loss.item())
                    self.history.record_batch(prefix + "_batch_size", size)
                    self.notify_batch(
                        "on_batch_end", batch=batch, training=training, loss=loss
                    )
        mean = total.item() / max(seen, 1)  # the epoch's only host sync
        self.history.record(prefix + "_loss", mean)
        self.history.record(prefix + "_batch_count", len(iterator))
        if outputs:
            out, y = (torch.cat(t) for t in zip(*outputs, strict=True))
            self.history.record(prefix + "_score", float(self.criterion_.score(out, y)))
        if training and not (math.isfinite(mean) and self._weights_finite()):
            self.module_.load_state_dict(last_finite)
            raise TrainingDivergedError(
                f"Training diverged: the loss (or the weights) became non-finite "
                f"in epoch {len(self.history)}; the weights of the epoch before are "
                "kept. "
                "Lower lr, set gradient_clip, or scale the inputs "
                "(sklstm.preprocessing.SequenceScaler)."
            )

    def _weights_finite(self) -> bool:
        # a NaN or inf anywhere makes that parameter's sum non-finite
        sums = torch.stack([p.detach().sum() for p in self.module_.parameters()])
        return bool(torch.isfinite(sums).all())

    def predict_stream(self, dataset: SequenceDataset, state):
        """Outputs for the next chunk of each stream, and the state after it."""
        self._set_training(False)
        with torch.inference_mode():
            out, state = self.module_.forward_stream(dataset.X, state)
        return out.float().cpu().numpy(), state

    def predict_raw(self, dataset: SequenceDataset) -> np.ndarray:
        """Network outputs for every row, as a float32 numpy array."""
        self._set_training(False)
        outs = []
        with torch.inference_mode():
            for batch in self.get_iterator(dataset, training=False):
                outs.append(self.module_(batch.X, batch.lengths))
        if not outs:
            return np.empty((0,), dtype=np.float32)
        # per-step outputs of ragged batches have different widths: pad to the widest
        steps = max(o.shape[1] for o in outs) if outs[0].dim() == 3 else None
        if steps is not None:
            outs = [
                torch.nn.functional.pad(o, (0, 0, 0, steps - o.shape[1])) for o in outs
            ]
        return torch.cat(outs).float().cpu().numpy()
