"""The training loop for one model: batches, loss, optimizer/scheduler steps, logging, checkpoints, resume."""

from __future__ import annotations

import copy
import json
import math
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from phoneprice_edge.checkpoint import read_checkpoint, save_checkpoint
from phoneprice_edge.config import TrainConfig
from phoneprice_edge.io_utils import atomic_write_text
from phoneprice_edge.model import ModelConfig, TabularClassifier
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.training import distributed as dd
from phoneprice_edge.training import select
from phoneprice_edge.training.batching import index_batches, n_steps
from phoneprice_edge.training.builders import (
    add_l1_subgradient,
    make_model,
    make_optimizer,
    make_scheduler,
)
from phoneprice_edge.training.state import capture_rng, restore_rng, seed_everything

LAST = "last.pt"
BEST = "best_model.pt"
# last.pt is snapshotted in memory every epoch but written at most this often (and always at the
# end, on Ctrl-C or an error): writing ~300 small checkpoints per fit cost ~15% of training time.
CHECKPOINT_EVERY_S = 2.0


@dataclass
class SplitTensors:
    """Raw float32 features and int64 labels of one train/validation split (CPU tensors)."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor


@dataclass
class FitPaths:
    """Where one fit writes: checkpoints folder, history.jsonl, TensorBoard folder (None = off).

    checkpoints=None trains without writing checkpoints (recipe searches, benchmarks).
    """

    checkpoints: Path | None
    history: Path | None = None
    tb: Path | None = None


@dataclass
class FitResult:
    """The trained model (final weights, eval mode) and what happened."""

    model: TabularClassifier
    history: list[dict[str, Any]]
    best: dict[str, Any]
    stopped_early: bool = False
    seconds: float = 0.0
    samples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


def _batches(cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor, gen: torch.Generator,
             device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """In-memory mini-batches from a seeded permutation; a DataLoader only when num_workers > 0."""
    n = x.shape[0]
    if cfg.num_workers > 0:
        loader = torch.utils.data.DataLoader(
            torch.utils.data.TensorDataset(x.cpu(), y.cpu()), batch_size=cfg.batch_size,
            shuffle=cfg.shuffle, generator=gen, num_workers=cfg.num_workers,
            pin_memory=cfg.pin_memory and device.type == "cuda", drop_last=cfg.drop_last)
        for xb, yb in loader:
            yield xb.to(device, non_blocking=True), yb.to(device, non_blocking=True)
        return
    order = torch.randperm(n, generator=gen) if cfg.shuffle else torch.arange(n)
    yield from index_batches(order.to(x.device), x, y, cfg)


def _augment(cfg: TrainConfig, model: TabularClassifier, xb: torch.Tensor, targets: torch.Tensor,
             gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Gaussian noise and/or mixup on standardised features, mapped back to raw units."""
    from phoneprice_edge.data import augment

    base = getattr(model, "module", model)  # the classifier inside a DDP wrapper
    std, mean = base.standardize.std, base.standardize.mean
    z, targets = augment.augment_batch((xb - mean) / std, targets, gen, noise_sigma=cfg.noise_sigma,
                                       mixup_alpha=cfg.mixup_alpha)  # a strength of 0 draws nothing
    return z * std + mean, targets


def _step_loss(cfg: TrainConfig, model: TabularClassifier, xb: torch.Tensor, yb: torch.Tensor,
               n_classes: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy loss (the L1 penalty is added to the gradient after backward) and logits."""
    if cfg.noise_sigma > 0 or cfg.mixup_alpha > 0:
        targets = F.one_hot(yb, n_classes).to(xb.dtype)
        xb, targets = _augment(cfg, model, xb, targets, gen)
        logits = model(xb)
        loss = F.cross_entropy(logits, targets, label_smoothing=cfg.label_smoothing)
    else:
        logits = model(xb)
        loss = F.cross_entropy(logits, yb, label_smoothing=cfg.label_smoothing)
    return loss, logits


class Trainer:
    """Owns the model, optimizer, scheduler and RNG of one fit; `run()` trains to the end."""

    def __init__(self, cfg: TrainConfig, mcfg: ModelConfig, schema: FeatureSchema,
                 data: SplitTensors, paths: FitPaths, device: torch.device, *, seed: int,
                 init_from: str | None = None, quiet: bool = True, label: str = "train",
                 track_best: bool = True) -> None:
        self.cfg, self.mcfg, self.schema, self.paths = cfg, mcfg, schema, paths
        self.track_best = track_best
        self.device, self.quiet, self.label = device, quiet, label
        seed_everything(seed)
        self.gen = torch.Generator().manual_seed(seed)
        mean = torch.tensor(schema.scaler_mean or [0.0] * mcfg.in_features)
        std = torch.tensor(schema.scaler_std or [1.0] * mcfg.in_features)
        self.model = make_model(mcfg, mean.numpy(), std.numpy(), init_from).to(device)
        self.net = dd.wrap(self.model)  # DDP inside a process group, else the model itself
        self.data = SplitTensors(*(t.to(device) for t in (data.x_train, data.y_train,
                                                          data.x_val, data.y_val)))
        n = dd.shard_size(self.data.x_train.shape[0])  # rows per rank under DDP
        self.steps_per_epoch = max(1, n_steps(n, cfg))
        self.optimizer = make_optimizer(cfg, self.model)
        self.scheduler = make_scheduler(cfg, self.optimizer, self.steps_per_epoch)
        self.epoch = 0
        self.history: list[dict[str, Any]] = []
        self.best: dict[str, Any] = {"epoch": 0, "val_accuracy": -1.0, "val_loss": math.inf,
                                     "min_val_loss": math.inf, "bad_epochs": 0}
        self.stopped_early = False
        self.l1 = cfg.l1_input
        self.mask: torch.Tensor | None = None  # input mask of the relaxed-lasso stage 2
        # (state_dict, extra, epochs of history): the snapshot _flush_last writes when due
        self._pending_last: tuple[dict[str, torch.Tensor], dict[str, Any], int] | None = None
        self._last_written = -math.inf

    def _enter_stage2(self, mask: torch.Tensor) -> None:
        """Fix the input mask, zero the dropped columns, fresh optimizer + schedule, stage-2 L1."""
        self.mask = mask.to(torch.bool).cpu()
        select.apply_mask(self.model, self.mask)
        cfg2 = select.stage2_config(self.cfg)
        self.l1 = cfg2.l1_input
        self.optimizer = make_optimizer(cfg2, self.model)
        self.scheduler = make_scheduler(cfg2, self.optimizer, self.steps_per_epoch)
        self.best = {"epoch": self.epoch, "val_accuracy": -1.0, "val_loss": math.inf,
                     "min_val_loss": math.inf, "bad_epochs": 0}  # best_model.pt: a masked epoch

    def _maybe_enter_stage2(self) -> None:
        if select.enabled(self.cfg) and self.mask is None and self.epoch >= self.cfg.epochs:
            self._enter_stage2(select.select_mask(self.model, self.cfg.select_threshold))

    # -- state -------------------------------------------------------------------------------
    def resume(self) -> bool:
        """Load checkpoints/last.pt if present; return whether it did."""
        if self.paths.checkpoints is None:
            return False
        path = self.paths.checkpoints / LAST  # read by rank 0, broadcast to the others
        payload = dd.on_main(lambda: read_checkpoint(path) if path.is_file() else None)
        if payload is None:
            return False
        self.model.load_state_dict(payload["state_dict"])
        if "input_mask" in payload:
            self._enter_stage2(payload["input_mask"])
        self.optimizer.load_state_dict(payload["optimizer"])
        self.scheduler.load_state_dict(payload["scheduler"])
        restore_rng(payload["rng"], self.gen)
        self.epoch = int(payload["epoch"])
        self.history = _unpack_history(payload["history"])
        self.best = dict(payload["best"])
        self.stopped_early = bool(payload.get("stopped_early", False))
        return True

    def _save_last(self) -> None:
        """Snapshot the resumable state of the epoch just finished; write it when due."""
        if self.paths.checkpoints is None or not dd.is_main():
            return
        state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        extra = dict(optimizer=copy.deepcopy(self.optimizer.state_dict()),
                     scheduler=copy.deepcopy(self.scheduler.state_dict()),
                     epoch=self.epoch, rng=capture_rng(self.gen), train_config=self.cfg.to_dict(),
                     history=None, best=dict(self.best),  # history: packed when written
                     stopped_early=self.stopped_early,
                     **({} if self.mask is None else {"input_mask": self.mask.clone()}))
        self._pending_last = (state, extra, len(self.history))
        if time.monotonic() - self._last_written >= CHECKPOINT_EVERY_S:
            self._flush_last()

    def _flush_last(self) -> None:
        """Write the latest epoch snapshot to last.pt (atomically), if one is pending."""
        if self._pending_last is None:
            return
        state, extra, n = self._pending_last
        extra["history"] = _pack_history(self.history[:n])  # history only grows: its first n epochs
        save_checkpoint(self.paths.checkpoints / LAST, _Snapshot(state), self.mcfg.materialized(),
                        self.schema, **extra)
        self._pending_last, self._last_written = None, time.monotonic()

    def _save_best(self, record: dict[str, Any]) -> None:
        if self.paths.checkpoints is None or not dd.is_main():
            return
        save_checkpoint(self.paths.checkpoints / BEST, self.model, self.mcfg.materialized(),
                        self.schema,
                        epoch=self.epoch, train_config=self.cfg.to_dict(), val=record)

    # -- one epoch ---------------------------------------------------------------------------
    def _train_epoch(self) -> dict[str, float]:
        cfg, model = self.cfg, self.model
        self.net.train()
        loss_sum = torch.zeros((), device=self.device)
        correct = torch.zeros((), device=self.device, dtype=torch.long)
        norm = torch.zeros((), device=self.device)
        seen = steps = 0
        params = [p for p in model.parameters() if p.requires_grad]
        last_step = self.steps_per_epoch - 1
        batches = (dd.sharded_batches(cfg, self.data.x_train, self.data.y_train, self.epoch)
                   if dd.active() else
                   _batches(cfg, self.data.x_train, self.data.y_train, self.gen, self.device))
        for xb, yb in batches:
            loss, logits = _step_loss(cfg, self.net, xb, yb, self.mcfg.num_classes, self.gen)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            add_l1_subgradient(model, self.l1)
            if self.mask is not None:
                select.mask_grads(model, self.mask)
            if cfg.grad_clip > 0:
                norm = torch.nn.utils.clip_grad_norm_(params, cfg.grad_clip, foreach=True)
            elif steps == last_step:  # measuring every step costs ~30% of a step
                norm = torch.nn.utils.get_total_norm([p.grad for p in params if p.grad is not None])
            self.optimizer.step()
            if self.mask is not None:
                select.apply_mask(model, self.mask)
            self.scheduler.step()
            loss_sum += loss.detach() * xb.shape[0]
            correct += (logits.detach().argmax(1) == yb).sum()
            seen += xb.shape[0]
            steps += 1
        loss_sum, correct, seen = dd.sum_across_ranks(loss_sum, correct, seen)
        return {"train_loss": float(loss_sum) / max(seen, 1),
                "train_accuracy": float(correct) / max(seen, 1),
                "grad_norm": float(norm), "samples": seen}

    @torch.no_grad()
    def validate(self) -> dict[str, float]:
        """Cross-entropy (no smoothing) and accuracy of the current weights on the validation rows."""
        self.model.eval()
        if self.data.x_val.shape[0] == 0:
            return {"val_loss": math.nan, "val_accuracy": math.nan}
        if dd.active():
            return dd.validate(self.model, self.data.x_val, self.data.y_val)
        logits = self.model(self.data.x_val)
        return {"val_loss": float(F.cross_entropy(logits, self.data.y_val)),
                "val_accuracy": float((logits.argmax(1) == self.data.y_val).float().mean())}

    def _track_best(self, record: dict[str, Any]) -> bool:
        b = self.best
        acc, loss = record["val_accuracy"], record["val_loss"]
        improved = acc > b["val_accuracy"] or (acc == b["val_accuracy"] and loss < b["val_loss"])
        if improved:
            b.update(epoch=self.epoch, val_accuracy=acc, val_loss=loss)
        if loss < b["min_val_loss"]:
            b.update(min_val_loss=loss, bad_epochs=0)
        else:
            b["bad_epochs"] += 1
        return improved

    # -- the run -----------------------------------------------------------------------------
    def run(self, on_epoch_end: Callable[[int], None] | None = None) -> FitResult:
        """Train from the current epoch to cfg.epochs (or early stop); checkpoint every epoch."""
        cfg = self.cfg
        writer = _tb_writer(self.paths.tb if dd.is_main() else None, purge_step=self.epoch + 1)
        bar = _progress(range(self.epoch, select.total_epochs(cfg)), self.quiet, self.label)
        t0, samples = time.perf_counter(), 0
        try:
            for _ in bar:
                if self.stopped_early:
                    break
                self._maybe_enter_stage2()
                stats = self._train_epoch()
                samples += int(stats.pop("samples"))
                self.epoch += 1
                record = {"epoch": self.epoch, **stats, **self.validate(),
                          "lr": self.optimizer.param_groups[0]["lr"]}
                self.history.append(record)
                if self._track_best(record) and self.track_best:
                    self._save_best(record)
                if cfg.patience and self.best["bad_epochs"] >= cfg.patience:
                    self.stopped_early = True
                self._save_last()
                _log_tb(writer, record)
                if hasattr(bar, "set_postfix"):
                    bar.set_postfix(loss=f"{record['train_loss']:.3f}",
                                    val_acc=f"{record['val_accuracy']:.3f}")
                if on_epoch_end is not None:
                    on_epoch_end(self.epoch)
        finally:  # also on Ctrl-C: last.pt holds the last finished epoch, history.jsonl matches
            self._flush_last()
            _write_history(self.paths.history if dd.is_main() else None, self.history)
            if writer is not None:
                writer.close()
            if hasattr(bar, "close"):
                bar.close()
        self.model.eval()
        extra = ({} if self.mask is None else
                 {"selected_features": select.selected_names(self.mask, self.schema.feature_names)})
        return FitResult(self.model, self.history, self.best, self.stopped_early,
                         time.perf_counter() - t0, samples, extra)


def _progress(it: range, quiet: bool, label: str) -> Any:
    if quiet or not sys.stderr.isatty():
        return it
    from tqdm.auto import tqdm
    return tqdm(it, desc=label, unit="epoch", leave=False, dynamic_ncols=True)


class _Snapshot:
    """Stands in for the model in save_checkpoint: a state_dict taken at the end of an epoch."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        self._state = state

    def state_dict(self) -> dict[str, torch.Tensor]:
        return self._state


def _tb_writer(folder: Path | None, purge_step: int) -> Any:
    if folder is None:
        return None
    from torch.utils.tensorboard import SummaryWriter
    return SummaryWriter(str(folder), purge_step=purge_step)


TB_SCALARS = (("loss/train", "train_loss"), ("loss/val", "val_loss"),
              ("accuracy/train", "train_accuracy"), ("accuracy/val", "val_accuracy"),
              ("lr", "lr"), ("grad_norm", "grad_norm"))


def _log_tb(writer: Any, record: dict[str, Any]) -> None:
    """An epoch's scalars as one TensorBoard event (add_scalar's values and tags, one record).

    One event per epoch instead of one per scalar: the event file's writer thread frames and
    checksums each record in Python, which cost more than the training steps of short runs.
    """
    if writer is None:
        return
    from tensorboard.compat.proto.summary_pb2 import Summary

    values = [Summary.Value(tag=tag, simple_value=float(record[key])) for tag, key in TB_SCALARS]
    writer._get_file_writer().add_summary(Summary(value=values), record["epoch"])


def _write_history(path: Path | None, history: list[dict[str, Any]]) -> None:
    if path is None:
        return
    atomic_write_text(path, "".join(json.dumps(r) + "\n" for r in history))


def _pack_history(history: list[dict[str, Any]]) -> dict[str, Any]:
    """History as one float64 tensor (pickling hundreds of dicts every epoch is slow)."""
    keys = list(history[0]) if history else []
    values = torch.tensor([[float(r[k]) for k in keys] for r in history], dtype=torch.float64)
    return {"keys": keys, "values": values}


def _unpack_history(packed: dict[str, Any]) -> list[dict[str, Any]]:
    keys = packed["keys"]
    rows = packed["values"].tolist()
    return [{k: (int(v) if k == "epoch" else v) for k, v in zip(keys, row, strict=True)}
            for row in rows]
