"""The skorch net that trains an ``LSTMNetwork`` on in-memory tensors.

It is a plain skorch ``NeuralNet`` whose hooks are overridden, never its loop:
``get_iterator`` slices tensors instead of collating samples, batches keep
skorch's ``(X, y)`` shape (``X`` a dict holding the inputs, their lengths and
sample weights), ``infer``/``get_loss`` read that dict, and the train and
validation steps add L1, gradient clipping and validation scoring. Every stock
skorch callback therefore works, and ``net_.predict`` / ``net_.predict_proba``
behave as skorch's.

Speed: per-batch notifications are sent only when some callback listens to a
batch hook. Without listeners an epoch keeps its batch losses as tensors and
writes the batch rows of the history once at the epoch's end (one host
sync), so the history has the same rows either way.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Mapping

import numpy as np
import torch
from sklearn.utils import ClassifierTags, RegressorTags
from skorch import NeuralNet
from skorch.callbacks import (
    Callback,
    EarlyStopping,
    EpochTimer,
    PassthroughScoring,
    ProgressBar,
)
from skorch.utils import to_tensor

from sklstm._data import Batch, BatchIterator, SequenceDataset
from sklstm._engine._callbacks import EpochLog, to_stderr
from sklstm._engine._losses import PinballLoss
from sklstm._engine._masked import step_mask
from sklstm._engine._runtime import seeded

_BATCH_HOOKS = ("on_batch_begin", "on_batch_end")


def record_batches(history, prefix: str, losses: list, sizes: list) -> None:
    """The batch rows of an epoch, as skorch's loop writes them."""
    for loss, size in zip(losses, sizes, strict=True):
        history.new_batch()
        history.record_batch(prefix + "_loss", loss)
        history.record_batch(prefix + "_batch_size", size)
    history.record(prefix + "_batch_count", len(losses))


class TrainingDivergedError(ValueError):
    """The training loss became NaN or infinite.

    The estimator keeps the weights of the last finite epoch and stays usable;
    inside a search the candidate gets ``error_score``.
    """


def _listens(cb: Callback, hook: str) -> bool:
    return getattr(type(cb), hook) is not getattr(Callback, hook)


def softmax_last(x: torch.Tensor) -> torch.Tensor:
    """Class probabilities over the last axis (``predict_nonlinearity``)."""
    return torch.softmax(x, dim=-1)


class SequenceNet(NeuralNet):
    """``NeuralNet`` over ``SequenceDataset`` tensors, with in-step regularization.

    Extra parameters: ``task`` (``"regression"``, ``"classification"`` or
    ``"multilabel"``: what ``predict`` returns), ``l1`` (L1 strength on
    weight matrices), ``gradient_clip`` (max global gradient norm),
    ``gradient_clip_value`` (max absolute gradient), ``shuffle``, ``seed``
    (for the shuffling order), ``min_batch``, ``predict_batch_size`` and
    ``bucket_by_length``.
    """

    def __init__(
        self,
        *args,
        task: str = "regression",
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
        self.task = task
        self.l1 = l1
        self.gradient_clip = gradient_clip
        self.gradient_clip_value = gradient_clip_value
        self.shuffle = shuffle
        self.seed = seed
        self.min_batch = min_batch
        self.predict_batch_size = predict_batch_size
        self.bucket_by_length = bucket_by_length

    def __sklearn_tags__(self):
        # a classifier's net is one to scikit-learn too, so stock scorers such
        # as EpochScoring("roc_auc") pick the positive class's column
        tags = super().__sklearn_tags__()
        if self.task == "classification":
            tags.estimator_type = "classifier"
            tags.classifier_tags = ClassifierTags()
        elif self.task == "regression":
            tags.estimator_type = "regressor"
            tags.regressor_tags = RegressorTags()
        return tags

    @property
    def classes_(self) -> np.ndarray:
        """The encoded classes the net predicts: ``0 .. n_classes - 1``."""
        if self.task != "classification" or not hasattr(self, "module_"):
            raise AttributeError("classes_ exists for a fitted classifier's net.")
        return np.arange(self.module_.head[-1].out_features)

    @property
    def _default_callbacks(self) -> list[tuple[str, Callback]]:
        # skorch's defaults; the epoch table is only built when shown (it costs ms)
        callbacks: list[tuple[str, Callback]] = [
            ("epoch_timer", EpochTimer()),
            ("train_loss", PassthroughScoring(name="train_loss", on_train=True)),
            ("valid_loss", PassthroughScoring(name="valid_loss")),
        ]
        if self.verbose:
            callbacks.append(
                ("print_log", EpochLog(sink=to_stderr, keys_ignored=["event_lr"]))
            )
        if self.verbose >= 2:  # a per-batch bar, for long epochs (on stderr)
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def initialize_callbacks(self) -> SequenceNet:
        super().initialize_callbacks()
        cbs = [cb for _, cb in self.callbacks_]
        self.batch_listeners_ = any(_listens(cb, h) for cb in cbs for h in _BATCH_HOOKS)
        self.grad_listeners_ = any(_listens(cb, "on_grad_computed") for cb in cbs)
        return self

    # ------------------------------------------------------------------ data
    def get_dataset(self, X, y=None) -> SequenceDataset:
        """Arrays (or a ``SequenceDataset``) as the net's tensors.

        Accepts what the estimators hand over, or an equal-length array:
        ``(n, T, F)`` floats, ``(n, T)`` univariate floats, or ``(n, T)`` token
        ids for a model with an embedding, in raw time steps (a patched
        model's network patches them itself). Ragged lists go through the
        estimator, which validates and pads them.
        """
        if isinstance(X, SequenceDataset):
            return X
        if isinstance(X, Mapping) and "x" in X:  # a batch's inputs
            return SequenceDataset(
                X["x"], X.get("lengths"), None, X.get("sample_weight")
            )
        x = X if isinstance(X, torch.Tensor) else torch.as_tensor(np.asarray(X))
        tokens = getattr(self.module_, "embedding", None) is not None
        if tokens:
            x = x.long()
        else:
            x = x.float()
            if x.dim() == 2:
                x = x.unsqueeze(-1)
            width = self.module_.input_size  # raw features: the module patches
            if x.dim() != 3 or x.shape[-1] != width:
                raise ValueError(
                    f"net_ takes (n_samples, n_timesteps, {width}) inputs ({width} "
                    f"features per time step), got shape {tuple(x.shape)}. For "
                    "ragged lists or data_format='channels_first', use the "
                    "estimator's predict."
                )
        if y is not None and not isinstance(y, torch.Tensor):
            y = torch.as_tensor(np.asarray(y))
        return SequenceDataset(x, None, y)

    def get_iterator(
        self, dataset: SequenceDataset, training: bool = False
    ) -> BatchIterator:
        if not training:
            return BatchIterator(dataset, max(self.batch_size, self.predict_batch_size))
        # seeded per epoch (the history's length when the pass starts): a fit
        # continued over several calls shuffles as one long fit would
        return BatchIterator(
            dataset,
            self.batch_size,
            self.shuffle,
            lambda: self.seed + len(self.history),
            self.min_batch,
            self.bucket_by_length,
        )

    # ----------------------------------------------------------------- steps
    def infer(self, x, **fit_params) -> torch.Tensor:
        if type(x) is dict or isinstance(x, Mapping):
            return self.module_(x["x"], x.get("lengths"))
        return self.module_(x)

    def get_loss(self, y_pred, y_true, X=None, training=False) -> torch.Tensor:
        """Mean of the per-sample losses, weighted by ``X["sample_weight"]``.

        Per-step outputs of padded sequences count their real steps only.
        """
        if not isinstance(y_true, torch.Tensor):
            y_true = to_tensor(y_true, device=self.device)
        loss = self.criterion_(y_pred, y_true)
        inputs = X if type(X) is dict or isinstance(X, Mapping) else {}
        if loss.dim() == 2:  # one loss per step: average the real steps
            lengths = inputs.get("lengths")
            if lengths is None:
                loss = loss.mean(dim=1)
            else:
                real = step_mask(lengths, loss)
                loss = (loss * real).sum(dim=1) / real.sum(dim=1).clamp_min(1)
        weight = inputs.get("sample_weight")
        if weight is not None:
            loss = loss * weight
        return loss.mean()

    def get_params_for_optimizer(self, prefix, named_parameters):
        # weight decay, like l1, shrinks weight matrices only: biases and
        # normalization scales (1-D) go in a group of their own without it.
        # Without decay one group is kept: each group costs a kernel per step
        args, kwargs = super().get_params_for_optimizer(prefix, named_parameters)
        if not kwargs.get("weight_decay"):
            return args, kwargs
        groups = []
        for group in args[0]:
            params = group["params"]
            matrices = [p for p in params if p.dim() >= 2]
            vectors = [p for p in params if p.dim() < 2]
            if matrices:
                groups.append({**group, "params": matrices})
            if vectors:
                groups.append({**group, "params": vectors, "weight_decay": 0.0})
        return (groups, *args[1:]), kwargs

    def _penalized_weights(self) -> list[torch.Tensor]:
        # weight matrices only: biases and normalization scales are not shrunk
        return [
            p for p in self.module_.parameters() if p.requires_grad and p.dim() >= 2
        ]

    def train_step_single(self, batch: Batch, **fit_params) -> dict:
        # the module is put in train mode once per epoch, in run_single_epoch
        Xi, yi = batch
        y_pred = self.infer(Xi, **fit_params)
        loss = self.get_loss(y_pred, yi, X=Xi, training=True)
        total = loss
        if self.l1:
            total = loss + self.l1 * sum(
                w.abs().sum() for w in self._penalized_weights()
            )
        total.backward()
        if self.gradient_clip_value is not None:
            params = self.module_.parameters()
            torch.nn.utils.clip_grad_value_(params, self.gradient_clip_value)
        if self.gradient_clip is not None:
            torch.nn.utils.clip_grad_norm_(
                self.module_.parameters(), self.gradient_clip
            )
        return {"loss": loss.detach(), "y_pred": y_pred.detach()}

    def train_step(self, batch: Batch, **fit_params) -> dict:
        if self.grad_listeners_:  # skorch's step notifies on_grad_computed
            return super().train_step(batch, **fit_params)
        # no closure: the supported optimizers evaluate the loss once per step
        self.optimizer_.zero_grad(set_to_none=True)
        step = self.train_step_single(batch, **fit_params)
        self.optimizer_.step()
        return step

    def validation_step(self, batch: Batch, **fit_params) -> dict:
        Xi, yi = batch
        with torch.no_grad():
            y_pred = self.infer(Xi, **fit_params)
            loss = self.get_loss(y_pred, yi, X=Xi, training=False)
        if self._valid_outputs is not None:
            self._valid_outputs.append((y_pred, yi))
        return {"loss": loss, "y_pred": y_pred}

    _valid_outputs: list | None = None

    # ----------------------------------------------------------------- epoch
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
        else:
            self._valid_outputs = []
        try:
            with self._epoch_rng(training):
                if self.batch_listeners_:
                    super().run_single_epoch(
                        iterator, training, prefix, step_fn, **fit_params
                    )
                else:
                    self._run_epoch_quietly(iterator, prefix, step_fn, **fit_params)
            if not training and self._valid_outputs:
                out, y = (torch.cat(t) for t in zip(*self._valid_outputs, strict=True))
                score = float(self.criterion_.score(out, y))
                self.history.record(prefix + "_score", score)
        finally:
            self._valid_outputs = None
        if training:
            mean = self._epoch_mean(prefix)
            if not (math.isfinite(mean) and self._weights_finite()):
                self.module_.load_state_dict(last_finite)
                raise TrainingDivergedError(
                    f"Training diverged: the loss (or the weights) became non-finite "
                    f"in epoch {len(self.history)}; the weights of the epoch before "
                    "are kept. Lower lr, set gradient_clip, or scale the inputs "
                    "(sklstm.preprocessing.SequenceScaler)."
                )

    @contextlib.contextmanager
    def _epoch_rng(self, training: bool):
        """Training epochs draw dropout from a generator seeded per epoch, so a
        fit continued later (partial_fit, the epoch cache) draws as one long
        fit would; the caller's RNG state is restored afterwards."""
        if not training:
            yield
            return
        with seeded(self.seed + len(self.history), self.device):
            yield

    def _run_epoch_quietly(self, iterator, prefix, step_fn, **fit_params) -> None:
        """skorch's epoch without per-batch notifications or host syncs."""
        losses, sizes = [], []
        for batch in iterator:
            step = step_fn(batch, **fit_params)
            losses.append(step["loss"])  # detached by the step
            sizes.append(len(batch[0]["x"]))
        values = torch.stack(losses).tolist() if losses else []  # one host sync
        record_batches(self.history, prefix, values, sizes)

    def _epoch_mean(self, prefix: str) -> float:
        rows = [r for r in self.history[-1]["batches"] if prefix + "_loss" in r]
        seen = sum(r[prefix + "_batch_size"] for r in rows)
        total = sum(r[prefix + "_loss"] * r[prefix + "_batch_size"] for r in rows)
        return total / max(seen, 1)

    def _weights_finite(self) -> bool:
        # a NaN or inf anywhere makes that parameter's sum non-finite
        sums = torch.stack([p.detach().sum() for p in self.module_.parameters()])
        return bool(torch.isfinite(sums).all())

    # ------------------------------------------- what the estimator asks of it
    def apply_training(self, params: dict, *, new_lr: bool) -> None:
        """Take new training settings (``_build.training_params``) between fits.

        The optimizer state is kept unless the optimizer class or its group
        layout (weight decay splits matrices from biases) changes; ``lr``
        reaches the optimizer's groups only when ``new_lr``.
        """
        params = dict(params)
        optimizer, lr = params.pop("optimizer"), params.pop("lr")
        settings = {
            k: params.pop(k) for k in list(params) if k.startswith("optimizer__")
        }
        self.set_params(**params)
        layout = bool(settings.get("optimizer__weight_decay"))
        if optimizer is not self.optimizer or layout != (
            len(self.optimizer_.param_groups) > 1
        ):
            # settings of the old optimizer class must not reach the new one
            for key in [k for k in vars(self) if k.startswith("optimizer__")]:
                delattr(self, key)
            vars(self).update(settings)
            self.optimizer, self.lr = optimizer, lr
            self.initialize_optimizer()
            return
        vars(self).update(settings)  # for a later re-initialisation
        if new_lr:
            self.set_params(lr=lr)  # skorch's virtual parameter: every group
        plain = {k[len("optimizer__") :]: v for k, v in settings.items()}
        for group in self.optimizer_.param_groups:
            decays = any(p.dim() >= 2 for p in group["params"])
            group.update(plain)
            if not decays:  # biases and scales are never decayed
                group["weight_decay"] = 0.0

    def set_dropout(self, p: float, lstm_p: float) -> None:
        """Change the dropout rates of the fitted module (``dropout`` and
        ``lstm_dropout``), weights kept."""
        # skorch's set_params would rebuild the module
        vars(self).update(module__dropout=p, module__lstm_dropout=lstm_p)
        self.module_.set_dropout(p, lstm_p)

    def set_random_crop(self, fraction: float) -> None:
        """Change the fitted module's training windows (``random_crop``)."""
        vars(self).update(module__random_crop=fraction)
        self.module_.set_random_crop(fraction)

    def set_criterion_buffers(self, fresh: torch.nn.Module) -> None:
        """Take ``fresh``'s buffers (class weights); drop those it lacks."""
        new = dict(fresh.named_buffers())
        for name, buffer in new.items():
            setattr(self.criterion_, name, buffer.to(self.device))
        for name, _ in list(self.criterion_.named_buffers()):
            if new.get(name) is None:
                setattr(self.criterion_, name, None)

    def replace_callbacks(self, callbacks: list) -> None:
        """New per-fit callbacks (skorch's ``set_params`` re-initialises them)."""
        self.set_params(callbacks=callbacks)
        self.initialize_callbacks()

    def early_stopping_epoch(self) -> int | None:
        """The epoch whose weights early stopping restored (None: none)."""
        for _, cb in self.callbacks_:
            if isinstance(cb, EarlyStopping) and cb.best_epoch_:
                return int(cb.best_epoch_)
        return None

    def drop_best_weights_copy(self) -> None:
        """Free EarlyStopping's copy of the best weights once they are restored.

        (skorch keeps it in ``best_model_weights_``: one of the two skorch
        internals sklstm relies on, with ``_default_callbacks``; both live in
        this module.)
        """
        for _, cb in self.callbacks_:
            if isinstance(cb, EarlyStopping):
                cb.best_model_weights_ = None

    # ------------------------------------------------------------ prediction
    def predict(self, X) -> np.ndarray:
        """Encoded predictions, comparable with the targets the net trains on.

        Class indices (classification), 0/1 indicators (multi-label), or
        outputs on the scaled target's units (regression; the output axis
        is dropped for a single output). The estimators' ``predict`` maps
        these back to labels and target units.
        """
        out = self.predict_proba(X)
        if self.task == "classification":
            return out.argmax(axis=-1)
        if self.task == "multilabel":
            return (out > 0.5).astype(np.int64)
        if isinstance(self.criterion_, PinballLoss):  # the median, per output
            out = self.criterion_.point(out)
        return out[..., 0] if out.shape[-1] == 1 else out

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
            for Xi, _ in self.get_iterator(dataset, training=False):
                outs.append(self.infer(Xi))
        if not outs:
            return np.empty((0,), dtype=np.float32)
        # per-step outputs of ragged batches have different widths: pad to the widest
        steps = max(o.shape[1] for o in outs) if outs[0].dim() == 3 else None
        if steps is not None:
            outs = [
                torch.nn.functional.pad(o, (0, 0, 0, steps - o.shape[1])) for o in outs
            ]
        return torch.cat(outs).float().cpu().numpy()
