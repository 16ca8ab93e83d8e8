"""Small lowered programs with random weights and a bare-.pem runner, for the C++ runtime tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def random_program(hidden: tuple[int, ...] = (8, 6), act: str = "relu"):  # noqa: ANN201 - Program
    """A 5-feature, 3-class model with a wide path and N(0, 0.7) weights, lowered for the .pem."""
    from phoneprice_edge.export.cpp import lower_model
    from phoneprice_edge.model import ModelConfig, build_model

    torch.manual_seed(0)
    cfg = ModelConfig(in_features=5, num_classes=3, hidden_dims=hidden, activation=act, wide=True)
    model = build_model(cfg, torch.zeros(5), torch.ones(5)).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.7)
    return lower_model(model, [f"f{i}" for i in range(5)], ["a", "b", "c"])


def run_pem(data: bytes, folder: Path, x: np.ndarray) -> np.ndarray:
    """Write data as folder/m.pem and return the C++ runtime's logits for x."""
    from phoneprice_edge.backends.cpp import CppBackend

    (folder / "m.pem").write_bytes(data)
    with CppBackend.open_pem(folder / "m.pem") as b:
        return b.run(x)
