"""K-fold folds of equal size trained as one stacked model: batched matmuls, one optimizer step for all.

Each fold gets what an independent fold gets: its own model built from the run's seed, its own
seeded shuffle generator, its own scaler, L1 penalty, relaxed-lasso mask, history, best-epoch and
early-stopping bookkeeping. Nothing couples the folds: the loss is the sum of the folds' mean
losses (fold k's gradient is that of its own mean loss) and the optimizers are elementwise, so a
fold that stops early keeps its weights from that epoch. The arithmetic differs from the per-fold
`Trainer` (batched instead of single matrix products) in rounding only; this is the reference
path for k-fold runs it covers (`stacked_model.unsupported`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from phoneprice_edge.config import TrainConfig
from phoneprice_edge.model import ModelConfig, TabularClassifier
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.training import select
from phoneprice_edge.training import stacked_model as sm
from phoneprice_edge.training.batching import n_steps
from phoneprice_edge.training.builders import make_model
from phoneprice_edge.training.stacked_io import FoldCheckpoints
from phoneprice_edge.training.stacked_optim import StackedAdamW
from phoneprice_edge.training.state import seed_everything


@dataclass
class FoldSpec:
    """One fold of a stacked group: its number, label, schema (with its scaler), rows, folder."""

    index: int
    label: str
    schema: FeatureSchema
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    folder: Path | None  # None: no files (last.pt, history, TensorBoard), as FitPaths(None)
    tb: Path | None = None


@dataclass
class FoldOutcome:
    """A fold's trained model (final weights, or those of the epoch it stopped at) and its record."""

    model: TabularClassifier
    history: list[dict[str, Any]]
    stopped_early: bool
    samples: int
    extra: dict[str, Any] = field(default_factory=dict)


def _new_best(epoch: int) -> dict[str, Any]:
    return {"epoch": epoch, "val_accuracy": -1.0, "val_loss": math.inf, "min_val_loss": math.inf,
            "bad_epochs": 0}


class StackedTrainer:
    """Trains the folds of one group (same number of training rows) to the end, together."""

    def __init__(self, cfg: TrainConfig, mcfg: ModelConfig, folds: list[FoldSpec],
                 device: torch.device, *, init_from: str | None = None) -> None:
        self.cfg, self.mcfg, self.folds, self.device = cfg, mcfg, folds, device
        self.gens: list[torch.Generator] = []
        self.models: list[TabularClassifier] = []
        for f in folds:  # exactly the per-fold Trainer's seeding and model construction
            seed_everything(cfg.seed)
            self.gens.append(torch.Generator().manual_seed(cfg.seed))
            mean = torch.tensor(f.schema.scaler_mean or [0.0] * mcfg.in_features)
            std = torch.tensor(f.schema.scaler_std or [1.0] * mcfg.in_features)
            self.models.append(make_model(mcfg, mean.numpy(), std.numpy(), init_from))
        self.layout = sm.Layout.of(self.models[0])
        self.p = sm.stack_params(self.models, self.layout, device)
        self.v = sm.Views.of(self.p, self.layout)
        with torch.no_grad():
            pairs = list(zip(self.models, folds, strict=True))
            self.z = torch.stack([m.standardize(f.x_train) for m, f in pairs]).to(device)
            self.zv = torch.stack([m.standardize(f.x_val) for m, f in pairs]).to(device)
        self.y = torch.stack([f.y_train for f in folds]).to(device)
        self.yv = torch.stack([f.y_val for f in folds]).to(device)
        self.soft = sm.targets(self.y, mcfg.num_classes, cfg.label_smoothing)  # [K, n, C]
        self.steps_per_epoch = max(1, n_steps(self.z.shape[1], cfg))
        self._row_offsets = (torch.arange(len(folds)) * self.z.shape[1]).unsqueeze(1).to(device)
        self.optimizer = self._optimizer(cfg)
        k = len(folds)
        self.epoch, self.l1 = 0, cfg.l1_input
        self.history: list[list[dict[str, Any]]] = [[] for _ in range(k)]
        self.best = [_new_best(0) for _ in range(k)]
        self.stopped = [False] * k
        self.samples = [0] * k
        self.frozen: dict[int, dict[str, torch.Tensor]] = {}  # fold -> its weights when it stopped
        self.mask: torch.Tensor | None = None  # [K, F] bool, the relaxed-lasso stage 2
        self.ckpt = FoldCheckpoints(self)

    def _optimizer(self, cfg: TrainConfig) -> StackedAdamW:
        """builders.make_optimizer + make_scheduler for the stack (weights decayed, biases not)."""
        decay = [t for t in self.p.values() if t.ndim > 2]  # per fold: ndim > 1
        rest = [t for t in self.p.values() if t.ndim <= 2]
        return StackedAdamW(cfg, decay, rest, self.steps_per_epoch)

    # -- relaxed lasso -----------------------------------------------------------------------
    def enter_stage2(self, mask: torch.Tensor) -> None:
        """Fix each fold's input mask, zero its dropped columns, fresh optimizer + schedule."""
        self.mask = mask.to(torch.bool).cpu()
        self._apply_mask()
        cfg2 = select.stage2_config(self.cfg)
        self.l1 = cfg2.l1_input
        self.optimizer = self._optimizer(cfg2)
        self.best = [_new_best(self.epoch) for _ in self.folds]

    @torch.no_grad()
    def _apply_mask(self) -> None:
        """Zero the dropped columns of the input weights and of the standardised rows.

        With those inputs at zero their weights get exactly zero gradients, and a fresh AdamW
        (zero moments) leaves them at exactly zero: the per-fold Trainer's gradient and weight
        masking after every step, without the per-step work.
        """
        assert self.mask is not None
        m = self.mask.to(device=self.device, dtype=torch.float32).unsqueeze(1)  # [K, 1, F]
        for name in self.layout.input_names:
            self.p[name].mul_(m)
        self.z.mul_(m)
        self.zv.mul_(m)

    # -- one epoch ---------------------------------------------------------------------------
    def _epoch_rows(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every fold's training rows, labels and soft targets in its own seeded order for this epoch.

        The folds' rows are one [K * n] table: fold k's order, offset by k * n, indexes it (a row
        copy; the targets are those of the labels, computed once).
        """
        k, n, f = self.z.shape
        orders = [torch.randperm(n, generator=g) if self.cfg.shuffle else torch.arange(n)
                  for g in self.gens]
        flat = torch.stack(orders).to(self.device).add_(self._row_offsets).view(-1)
        zp = self.z.view(k * n, f).index_select(0, flat).view(k, n, f)
        tp = self.soft.view(k * n, -1).index_select(0, flat).view(k, n, -1)
        return zp, self.y.view(k * n).index_select(0, flat).view(k, n), tp

    @torch.no_grad()
    def _train_epoch(self) -> dict[str, list[float]]:
        cfg, v, l1 = self.cfg, self.v, self.l1
        zp, yp, tp = self._epoch_rows()
        bs, steps, n = cfg.batch_size, self.steps_per_epoch, zp.shape[1]
        rows = min(n, steps * bs)
        ones = torch.ones(zp.shape[0], 1, bs, device=self.device)
        batches = zip(zp[:, :rows].split(bs, 1), tp[:, :rows].split(bs, 1), strict=True)
        step, last = self.optimizer.step, steps - 1
        outs = []  # each step's logits (fresh tensors): the epoch's training loss and accuracy
        for s, (zb, tb) in enumerate(batches):
            outs.append(sm.train_step(v, zb, tb, l1,
                                      ones if zb.shape[1] == bs else ones[:, :, :zb.shape[1]]))
            if s == last:
                norm = self._grad_norms()
            step()
        seen = torch.cat(outs, 1)
        y = yp[:, :rows]
        loss_sum = sm.fold_ce(seen, y, cfg.label_smoothing).sum(1)
        correct = (seen.argmax(2) == y).sum(1)
        return {"train_loss": (loss_sum / rows).tolist(),
                "train_accuracy": (correct.double() / rows).tolist(),
                "grad_norm": norm.tolist(), "rows": [rows]}

    def _grad_norms(self) -> np.ndarray:
        """Each fold's total gradient L2 norm [K] (over its parameters), float32.

        The square root is numpy's (the IEEE-exact instruction): torch.sqrt goes through MKL's
        vector math, whose result differs in the last bit between CPUs (e.g. Intel and AMD).
        """
        sq = [t.grad.pow(2).flatten(1).sum(1) for t in self.p.values()]
        return np.sqrt(torch.stack(sq).sum(0).cpu().numpy())

    @torch.no_grad()
    def validate(self) -> dict[str, list[float]]:
        """Each fold's cross-entropy (no smoothing) and accuracy on its validation rows."""
        k = len(self.folds)
        if self.zv.shape[1] == 0:
            return {"val_loss": [math.nan] * k, "val_accuracy": [math.nan] * k}
        logits = sm.forward(self.p, self.layout, self.zv)
        loss = sm.fold_ce(logits, self.yv).mean(1)
        acc = (logits.argmax(2) == self.yv).float().mean(1)
        return {"val_loss": loss.tolist(), "val_accuracy": acc.tolist()}

    def _track_best(self, k: int, record: dict[str, Any]) -> None:
        b = self.best[k]
        acc, loss = record["val_accuracy"], record["val_loss"]
        if acc > b["val_accuracy"] or (acc == b["val_accuracy"] and loss < b["val_loss"]):
            b.update(epoch=self.epoch, val_accuracy=acc, val_loss=loss)
        if loss < b["min_val_loss"]:
            b.update(min_val_loss=loss, bad_epochs=0)
        else:
            b["bad_epochs"] += 1

    # -- the run -----------------------------------------------------------------------------
    def run(self, on_epoch_end: Callable[[str, int], None] | None = None,
            progress: Any = None) -> list[FoldOutcome]:
        """Train every fold from the current epoch to the end (or its early stop)."""
        cfg = self.cfg
        try:
            for _ in range(self.epoch, select.total_epochs(cfg)):
                if all(self.stopped):
                    break
                if select.enabled(cfg) and self.mask is None and self.epoch >= cfg.epochs:
                    self.enter_stage2(sm.select_masks(self.p, self.layout, cfg.select_threshold))
                active = [k for k, s in enumerate(self.stopped) if not s]
                self._epoch(active)
                if progress is not None:
                    progress(self)
                if on_epoch_end is not None:
                    for k in active:
                        on_epoch_end(self.folds[k].label, self.epoch)
        finally:  # also on Ctrl-C: every fold's last.pt holds its last finished epoch
            self.ckpt.close()
        return [self._outcome(k) for k in range(len(self.folds))]

    def _epoch(self, active: list[int]) -> None:
        stats = self._train_epoch()
        val = self.validate()
        self.epoch += 1
        lr = self.optimizer.lr
        keys = ("train_loss", "train_accuracy", "grad_norm")
        for k in active:
            record = {"epoch": self.epoch, **{key: stats[key][k] for key in keys},
                      "val_loss": val["val_loss"][k], "val_accuracy": val["val_accuracy"][k], "lr": lr}
            self.history[k].append(record)
            self.samples[k] += int(stats["rows"][0])
            self._track_best(k, record)
            if self.cfg.patience and self.best[k]["bad_epochs"] >= self.cfg.patience:
                self.stopped[k] = True
        newly = [k for k in active if self.stopped[k]]
        for k in newly:
            self.frozen[k] = sm.fold_state(self.p, k, self.models[k])
        self.ckpt.snapshot(newly)

    def _outcome(self, k: int) -> FoldOutcome:
        model = self.models[k]
        state = self.frozen.get(k) or sm.fold_state(self.p, k, model)
        model.load_state_dict(state)
        model.eval()
        extra = ({} if self.mask is None else
                 {"selected_features": select.selected_names(self.mask[k], self.folds[k].schema.feature_names)})
        return FoldOutcome(model, self.history[k], self.stopped[k], self.samples[k], extra)

    # -- resume --------------------------------------------------------------------------------
    def resume(self, payloads: list[dict[str, Any]]) -> None:
        """Continue from the folds' last.pt payloads (one per fold, all at the same epoch)."""
        self.ckpt.restore(payloads)
