"""Builds a small real ONNX export folder (random-weight TabularClassifier + manifest) for tests."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch

from phoneprice_edge.export.manifest import write_manifest
from phoneprice_edge.model import ModelConfig, TabularClassifier
from phoneprice_edge.schema import PHONE_SCHEMA, FeatureSchema


def make_onnx_artifact(out_dir: Path, schema: FeatureSchema = PHONE_SCHEMA, seed: int = 0) -> Path:
    """Export a random-weight classifier for schema to out_dir/model.onnx and write its manifest."""
    torch.manual_seed(seed)
    lo = torch.tensor([f.min for f in schema.features], dtype=torch.float32)
    hi = torch.tensor([f.max for f in schema.features], dtype=torch.float32)
    cfg = ModelConfig(in_features=schema.n_features, num_classes=schema.n_classes,
                      hidden_dims=(32, 16))
    model = TabularClassifier(cfg, (lo + hi) / 2, (hi - lo).clamp(min=1.0) / 4).eval()
    out_dir.mkdir(parents=True, exist_ok=True)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    with contextlib.redirect_stdout(io.StringIO()):
        prog = torch.onnx.export(model, (torch.zeros(2, schema.n_features),), dynamo=True,
                                 input_names=["input"], output_names=["logits"],
                                 dynamic_shapes={"x": {0: batch}}, verbose=False)
    prog.save(str(out_dir / "model.onnx"))
    write_manifest(out_dir, target="onnx", precision="fp32", fmt="onnx", files=["model.onnx"],
                   inputs=[{"name": "input", "shape": [None, schema.n_features],
                            "dtype": "float32"}],
                   outputs=[{"name": "logits", "shape": [None, schema.n_classes],
                             "dtype": "float32"}],
                   schema=schema.to_dict(), source_checkpoint_sha256="0" * 64, opset=18)
    return out_dir
