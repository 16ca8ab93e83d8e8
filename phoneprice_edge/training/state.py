"""Reproducibility plumbing: seeding, device and thread choice, RNG state capture and restore."""

from __future__ import annotations

import os
import random
from typing import Any

import numpy as np
import torch

from phoneprice_edge.errors import ConfigError


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA) global generators."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


def resolve_device(name: str) -> torch.device:
    """auto -> cuda when available else cpu; cuda without a GPU is a ConfigError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("device = 'cuda' but no CUDA GPU is available on this host (use auto or cpu)")
    return torch.device(name)


def set_threads(threads: int) -> int:
    """Set torch intra-op threads (0 = all cores)."""
    n = threads or (os.cpu_count() or 1)
    torch.set_num_threads(n)
    return n


def capture_rng(generator: torch.Generator) -> dict[str, Any]:
    """Every RNG state the loop depends on, as weights_only-safe values (tensors, lists, ints)."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "generator": generator.get_state(),
        "numpy": {"name": str(np_state[0]), "keys": torch.from_numpy(np_state[1].astype(np.int64)),
                  "pos": int(np_state[2]), "has_gauss": int(np_state[3]),
                  "cached_gaussian": float(np_state[4])},
        "python": [py_state[0], torch.tensor(py_state[1], dtype=torch.int64), py_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator) -> None:
    """Inverse of capture_rng."""
    torch.set_rng_state(state["torch"])
    generator.set_state(state["generator"])
    npd = state["numpy"]
    np.random.set_state((npd["name"], npd["keys"].numpy().astype(np.uint32), npd["pos"],
                         npd["has_gauss"], npd["cached_gaussian"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(int(v) for v in internal.tolist()), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
