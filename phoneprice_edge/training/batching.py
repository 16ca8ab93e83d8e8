"""The mini-batch rule shared by single-process and DDP training (drop_last, batch count)."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch

    from phoneprice_edge.config import TrainConfig


def n_steps(n: int, cfg: TrainConfig) -> int:
    """Mini-batches over n rows: the partial last batch is dropped only with drop_last and n >= batch_size."""
    bs = cfg.batch_size
    return n // bs if cfg.drop_last and n >= bs else math.ceil(n / bs)


def index_batches(order: torch.Tensor, x: torch.Tensor, y: torch.Tensor,
                  cfg: TrainConfig) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(x, y) rows of consecutive batch_size slices of the index tensor order, n_steps of them."""
    bs = cfg.batch_size
    for i in range(n_steps(order.numel(), cfg)):
        idx = order[i * bs:(i + 1) * bs]
        yield x[idx], y[idx]
