"""A typed manifest for tests that need one without an export (parsed from a digested body)."""

from __future__ import annotations

from typing import Any

from phoneprice_edge.artifact import Manifest, parse, with_digest
from phoneprice_edge.schema import PHONE_SCHEMA


def manifest_body(**fields: Any) -> dict[str, Any]:
    """A complete manifest body for PHONE_SCHEMA (fields override), digest set."""
    schema = PHONE_SCHEMA.to_dict()
    body: dict[str, Any] = {
        "format": "onnx", "target": "onnx", "precision": "fp32",
        "files": {"model.onnx": "0" * 64},
        "inputs": [{"name": "input", "shape": [None, PHONE_SCHEMA.n_features], "dtype": "float32"}],
        "outputs": [{"name": "logits", "shape": [None, PHONE_SCHEMA.n_classes],
                     "dtype": "float32"}],
        "features": list(PHONE_SCHEMA.feature_names), "classes": list(PHONE_SCHEMA.classes),
        "schema": schema, "opset": 18, "source_checkpoint_sha256": "0" * 64,
        "versions": {"phoneprice_edge": "0"}, "host": {}, "profile": {}, "parity": None,
    }
    body.update(fields)
    return with_digest(body)


def make_manifest(**fields: Any) -> Manifest:
    """manifest_body(**fields), parsed."""
    return parse(manifest_body(**fields))
