"""Distributed data-parallel primitives: process group from torchrun's environment, DistributedSampler
sharding of in-memory batches, metric reduction across ranks, rank-0-only I/O, the DDP wrapper.

The DDP *runs* (train, resume, the CLI entry) are in training/ddp_run.py, above the trainer."""

from __future__ import annotations

import gc
import math
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from phoneprice_edge.errors import PEError, UsageError, one_line
from phoneprice_edge.training.batching import index_batches

if TYPE_CHECKING:
    from phoneprice_edge.config import TrainConfig

T = TypeVar("T")
TORCHRUN_VARS: tuple[str, ...] = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
DEFAULT_TIMEOUT_S = 60.0
LAUNCH_HINT = ("launch it with torchrun, one process per device: `torchrun --nproc_per_node=N "
               "--no-python pe-train --distributed ...` (several machines: add --nnodes, "
               "--node-rank and --rdzv-backend c10d --rdzv-endpoint HOST:PORT; see docs/distributed.md)")


class DistributedError(PEError):
    """A rendezvous or collective that failed or timed out, or another rank's failure."""


# -- who am I ---------------------------------------------------------------------------------
def active() -> bool:
    """True inside an initialised process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    return dist.get_rank() if active() else 0


def world_size() -> int:
    return dist.get_world_size() if active() else 1


def is_main() -> bool:
    """Rank 0, or a single process: the one that writes files and prints."""
    return rank() == 0


def missing_env() -> list[str]:
    """The torchrun variables absent from the environment (empty when launched by torchrun)."""
    return [v for v in TORCHRUN_VARS if not os.environ.get(v)]


def backend_for(device: str) -> str:
    """nccl when training on CUDA (device auto/cuda with a GPU present), gloo on CPUs."""
    return "nccl" if device != "cpu" and torch.cuda.is_available() else "gloo"


# -- process group ----------------------------------------------------------------------------
def init(device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> str:
    """Join the process group torchrun describes; UsageError with launch instructions otherwise.

    The timeout bounds the rendezvous and every collective, so a lost peer fails instead of hanging.
    Returns the backend name.
    """
    missing = missing_env()
    if missing:
        raise UsageError(f"--distributed needs the torchrun environment ({', '.join(missing)} not set): "
                         + LAUNCH_HINT)
    if not dist.is_available():
        raise UsageError("--distributed: this torch build has no torch.distributed support")
    backend = backend_for(device)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    try:
        dist.init_process_group(backend, timeout=timedelta(seconds=timeout_s))
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"cannot join the process group ({backend}, "
                               f"{os.environ['MASTER_ADDR']}:{os.environ['MASTER_PORT']}, "
                               f"timeout {timeout_s:g} s): {one_line(exc)}") from None
    return backend


def shutdown(*, wait_for_peers: bool = False) -> None:
    """Leave the process group; with wait_for_peers, first wait until every rank is done.

    The group's native objects (gloo worker and connection threads) are released here, while the
    interpreter is whole; DistributedDataParallel wrappers can hold the group through reference
    cycles, so they are collected first. Once in CI a rank aborted with "terminate called without
    an active exception" (not reproduced in 110 runs since): this takes teardown at interpreter exit
    out of the suspects, and faulthandler (run_cli) prints the Python stacks if it happens again.
    """
    if not active():
        return
    if wait_for_peers:
        try:
            dist.barrier()
        except (RuntimeError, ValueError):  # a peer already gone: leave anyway
            pass
    gc.collect()
    dist.destroy_process_group()


@contextmanager
def session(device: str = "auto", timeout_s: float = DEFAULT_TIMEOUT_S) -> Iterator[str]:
    """init() ... shutdown(), also on errors (on success every rank leaves together)."""
    backend = init(device, timeout_s)
    ok = False
    try:
        yield backend
        ok = True
    finally:
        shutdown(wait_for_peers=ok)


def _comm_device() -> torch.device:
    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def on_main(fn: Callable[[], T]) -> T:
    """Run fn on rank 0 only and hand its result (or its error) to every rank.

    Rank 0 alone reads sources and run files, so the other ranks (possibly on machines without
    those files) train on exactly the same rows. Without a process group, just fn().
    """
    if not active():
        return fn()
    box: list[Any] = [None]
    error: BaseException | None = None
    if is_main():
        try:
            box[0] = ("ok", fn())
        except PEError as exc:
            error, box[0] = exc, ("error", type(exc).__name__, str(exc), exc.exit_code)
        except BaseException as exc:  # noqa: BLE001 - told to the others, then re-raised here
            error, box[0] = exc, ("error", type(exc).__name__, one_line(exc), 1)
    dist.broadcast_object_list(box, src=0, device=_comm_device())
    if error is not None:
        raise error
    if box[0][0] == "error":
        _, _, message, code = box[0]
        exc = DistributedError(message)
        exc.exit_code = code
        raise exc
    return box[0][1]


# -- sharding, reduction, model ---------------------------------------------------------------
def shard_size(n: int) -> int:
    """Rows per rank per epoch: ceil(n / world size), as DistributedSampler (drop_last=False)."""
    return math.ceil(n / world_size()) if active() else n


def shard_indices(n: int, seed: int, epoch: int, rank_: int, world: int,
                  shuffle: bool = True) -> torch.Tensor:
    """The row indices DistributedSampler(shuffle, seed, drop_last=False) gives rank_ after set_epoch(epoch).

    A permutation from seed + epoch (the same on every rank), padded by wrapping around to a
    multiple of world, then every world-th index from rank_: the shards are disjoint up to the
    padding and together cover every row.
    """
    if shuffle:
        order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + epoch))
    else:
        order = torch.arange(n)
    total = math.ceil(n / world) * world
    pad = total - n
    if pad:
        order = torch.cat([order, order.repeat(math.ceil(pad / n))[:pad]])
    return order[rank_:total:world]


def sharded_batches(cfg: TrainConfig, x: torch.Tensor, y: torch.Tensor,
                    epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """This rank's mini-batches (cfg.batch_size rows each) of epoch `epoch`; same count on every rank."""
    idx = shard_indices(x.shape[0], cfg.seed, epoch, rank(), world_size(), cfg.shuffle).to(x.device)
    yield from index_batches(idx, x, y, cfg)


def sum_across_ranks(*values: float | torch.Tensor) -> tuple[Any, ...]:
    """Sums of the values over all ranks (float64, one all-reduce); the values unchanged alone."""
    if not active():
        return values
    t = torch.tensor([float(v) for v in values], dtype=torch.float64, device=_comm_device())
    dist.all_reduce(t)
    return tuple(t.tolist())


@torch.no_grad()
def validate(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Validation loss and accuracy over all ranks: each rank scores rows rank::W, sums are reduced."""
    xs, ys = x[rank()::world_size()], y[rank()::world_size()]
    loss_sum, correct = 0.0, 0.0
    if xs.shape[0]:
        logits = model(xs)
        loss_sum = float(F.cross_entropy(logits, ys, reduction="sum"))
        correct = float((logits.argmax(1) == ys).sum())
    loss_sum, correct, n = sum_across_ranks(loss_sum, correct, float(xs.shape[0]))
    return {"val_loss": loss_sum / n, "val_accuracy": correct / n}


def wrap(model: nn.Module) -> nn.Module:
    """DistributedDataParallel around model inside a process group (rank 0's weights are
    broadcast to all ranks here; gradients are averaged in backward); the model itself otherwise."""
    if not active():
        return model
    from torch.nn.parallel import DistributedDataParallel

    device = next(model.parameters()).device
    ids = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)
