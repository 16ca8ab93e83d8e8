"""Checkpoint files: save atomically, load with weights_only=True and rebuild the model."""

from __future__ import annotations

import io
import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from phoneprice_edge.errors import CheckpointError, one_line
from phoneprice_edge.io_utils import atomic_write_bytes
from phoneprice_edge.model import ModelConfig, TabularClassifier, build_model
from phoneprice_edge.schema import FeatureSchema

CHECKPOINT_FORMAT = "phoneprice_edge.checkpoint/1"


@dataclass
class LoadedModel:
    """A model rebuilt from a checkpoint, in eval mode, with the config and schema it was saved with."""

    model: TabularClassifier
    config: ModelConfig
    schema: FeatureSchema
    payload: dict[str, Any]


def save_checkpoint(path: str | Path, model: torch.nn.Module, model_config: ModelConfig,
                    schema: FeatureSchema, **extra: Any) -> Path:
    """Write {format, model_config, schema, state_dict, **extra} atomically.

    extra must hold only weights_only-safe values (tensors, numbers, strings, lists, dicts).
    A DDP-wrapped model is unwrapped so the file loads in a single process.
    """
    module = model.module if hasattr(model, "module") else model
    payload: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "model_config": model_config.to_dict(),
        "schema": schema.to_dict(),
        "state_dict": {k: v.detach().cpu() for k, v in module.state_dict().items()},
        **extra,
    }
    buf = io.BytesIO()
    torch.save(payload, buf)
    return atomic_write_bytes(path, buf.getvalue())


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load the raw payload with weights_only=True; a clear CheckpointError for every bad file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable checkpoint (truncated, tampered or not "
                              f"written by phoneprice_edge): {one_line(exc)[:200]}") from None
    except OSError as exc:  # PermissionError, EIO
        raise CheckpointError(f"{path}: cannot read the checkpoint: "
                              f"{exc.strerror or one_line(exc)}") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a phoneprice_edge checkpoint (format "
                              f"{payload.get('format') if isinstance(payload, dict) else type(payload).__name__!r})")
    return payload


def load_model(path: str | Path) -> LoadedModel:
    """Rebuild the classifier from a checkpoint, in eval mode on the CPU."""
    payload = read_checkpoint(path)
    try:
        cfg = ModelConfig.from_dict(payload["model_config"])
        schema = FeatureSchema.from_dict(payload["schema"], source=str(path))
        model = build_model(cfg)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: checkpoint does not match the model it describes: "
                              f"{one_line(exc)[:200]}") from None
    model.eval()
    return LoadedModel(model=model, config=cfg, schema=schema, payload=payload)


def weights_sha256(path: str | Path) -> str:
    """sha256 over a checkpoint's state_dict tensors (name, dtype, shape, bytes), not the file's
    bytes: the identity of the trained weights, as the reproducibility checks compare it."""
    import hashlib

    state = read_checkpoint(path)["state_dict"]
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.numpy().tobytes())
    return h.hexdigest()
