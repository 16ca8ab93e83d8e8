"""Per-fold files of a stacked group: last.pt (the per-fold Trainer's format), history.jsonl, TensorBoard.

Every epoch the group's resumable state is snapshotted in memory; each fold's `last.pt` is cut
from it (its parameter and optimizer-state slices, the shared schedule, its own generator, history,
best and stop records) and written at most every CHECKPOINT_EVERY_S, when a fold stops early, at
the end and on Ctrl-C. Stacking per-fold payloads back gives the group's state on resume.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any

import torch

from phoneprice_edge.checkpoint import save_checkpoint
from phoneprice_edge.training import stacked_model as sm
from phoneprice_edge.training.loop import (
    CHECKPOINT_EVERY_S,
    LAST,
    _log_tb,
    _pack_history,
    _Snapshot,
    _tb_writer,
    _unpack_history,
    _write_history,
)
from phoneprice_edge.training.state import capture_rng, restore_rng


def fold_optimizer_state(sd: dict[str, Any], k: int) -> dict[str, Any]:
    """Fold k's optimizer state_dict from the stacked one (shared scalars such as `step` copied)."""
    state = {i: {key: (v[k].clone() if torch.is_tensor(v) and v.ndim > 0 else copy.deepcopy(v))
                 for key, v in s.items()} for i, s in sd["state"].items()}
    return {"state": state, "param_groups": copy.deepcopy(sd["param_groups"])}


def stack_optimizer_states(sds: list[dict[str, Any]]) -> dict[str, Any]:
    """Inverse of fold_optimizer_state over all folds of a group."""
    first = sds[0]
    state = {i: {key: (torch.stack([sd["state"][i][key] for sd in sds])
                       if torch.is_tensor(v) and v.ndim > 0 else v) for key, v in s.items()}
             for i, s in first["state"].items()}
    return {"state": state, "param_groups": first["param_groups"]}


def _rng_states(gens: list[torch.Generator], base: dict[str, Any]) -> list[dict[str, Any]]:
    """capture_rng for every fold's generator; base holds the global generators' states."""
    return [{**base, "generator": g.get_state()} for g in gens]


class FoldCheckpoints:
    """The per-fold files of one StackedTrainer."""

    def __init__(self, trainer: Any) -> None:  # a stacked.StackedTrainer (imports this module)
        self.t = trainer
        self._pending: dict[str, Any] | None = None
        self._last_written = -math.inf
        self._done: set[int] = set()  # folds whose last.pt is final (stopped early)
        self._tb_done = [0] * len(trainer.folds)
        self._writers: dict[int, Any] = {}
        self._start = [0] * len(trainer.folds)
        # The stacked trainer draws only from the folds' own generators once the models are
        # built, so the global (torch, numpy, python) states are those of now for every epoch.
        self._global_rng = capture_rng(trainer.gens[0])
        self._copies: list[torch.Tensor] = []  # the snapshot's tensors, reused every epoch

    def _copy_state(self) -> tuple[dict[str, torch.Tensor], list[torch.Tensor]]:
        """Parameters and optimizer state copied into the reused buffers (one foreach copy).

        A pending snapshot is written or replaced by the next one before the buffers are
        overwritten, and writing copies each fold's slices, so one set of buffers is enough.
        """
        t = self.t
        src = [*t.p.values(), *t.optimizer.state_tensors()]
        if [c.shape for c in self._copies] != [v.shape for v in src]:
            self._copies = [torch.empty_like(v) for v in src]
        with torch.no_grad():
            torch._foreach_copy_(self._copies, src)
        n = len(t.p)
        return dict(zip(t.p, self._copies[:n], strict=True)), self._copies[n:]

    def snapshot(self, stopped_now: list[int]) -> None:
        """Take the state of the epoch just finished; write it when due (and now for stopped folds)."""
        t = self.t
        params, optim = self._copy_state()
        self._pending = {
            "params": params,
            "optimizer": t.optimizer.state_dict(optim),
            "scheduler": t.optimizer.scheduler_state(),
            "rng": _rng_states(t.gens, self._global_rng), "epoch": t.epoch,
            "best": [dict(b) for b in t.best], "stopped": list(t.stopped),
            "mask": None if t.mask is None else t.mask.clone(),
            "n_history": [len(h) for h in t.history]}
        if stopped_now:
            self._flush(only=stopped_now)
            self._done.update(stopped_now)
        if time.monotonic() - self._last_written >= CHECKPOINT_EVERY_S:
            self.flush()

    def flush(self) -> None:
        """Write every running fold's last.pt from the pending snapshot, and its new TB records."""
        if self._pending is None:
            return
        self._flush(only=[k for k in range(len(self.t.folds)) if k not in self._done])
        self._pending, self._last_written = None, time.monotonic()

    def _flush(self, only: list[int]) -> None:
        t, snap = self.t, self._pending
        assert snap is not None
        for k in only:
            f = t.folds[k]
            if f.folder is None:  # a fit without files (recipe searches)
                continue
            extra = dict(optimizer=fold_optimizer_state(snap["optimizer"], k),
                         scheduler=snap["scheduler"], epoch=snap["epoch"], rng=snap["rng"][k],
                         train_config=t.cfg.to_dict(),
                         history=_pack_history(t.history[k][:snap["n_history"][k]]),
                         best=snap["best"][k], stopped_early=snap["stopped"][k],
                         **({} if snap["mask"] is None else {"input_mask": snap["mask"][k].clone()}))
            state = sm.fold_state(snap["params"], k, t.models[k])
            save_checkpoint(f.folder / "checkpoints" / LAST, _Snapshot(state),
                            t.mcfg.materialized(), f.schema, **extra)
            self._log_tb(k, snap["n_history"][k])

    def _log_tb(self, k: int, upto: int) -> None:
        if k not in self._writers:
            self._writers[k] = _tb_writer(self.t.folds[k].tb, purge_step=self._start[k] + 1)
        for record in self.t.history[k][self._tb_done[k]:upto]:
            _log_tb(self._writers[k], record)
        self._tb_done[k] = max(self._tb_done[k], upto)

    def close(self) -> None:
        """At the end or on an interruption: last.pt, history.jsonl and TB of every fold."""
        self.flush()
        for k, f in enumerate(self.t.folds):
            _write_history(None if f.folder is None else f.folder / "history.jsonl",
                           self.t.history[k])
        for w in self._writers.values():
            if w is not None:
                w.close()

    def restore(self, payloads: list[dict[str, Any]]) -> None:
        """Load every fold's last.pt payload into the group (same epoch for all)."""
        t = self.t
        with torch.no_grad():
            for name, v in t.p.items():
                v.copy_(torch.stack([pl["state_dict"][name] for pl in payloads]).to(v.device))
        t.epoch = int(payloads[0]["epoch"])
        if "input_mask" in payloads[0]:
            t.enter_stage2(torch.stack([pl["input_mask"] for pl in payloads]))
        t.optimizer.load_state_dict(stack_optimizer_states([pl["optimizer"] for pl in payloads]),
                                    payloads[0]["scheduler"])
        for k, pl in enumerate(payloads):
            restore_rng(pl["rng"], t.gens[k])
            self._global_rng = capture_rng(t.gens[0])
            t.history[k] = _unpack_history(pl["history"])
            t.best[k] = dict(pl["best"])
            t.stopped[k] = bool(pl.get("stopped_early", False))
            self._start[k] = self._tb_done[k] = len(t.history[k])
            if t.stopped[k]:
                t.frozen[k] = sm.fold_state(t.p, k, t.models[k])
                self._done.add(k)
