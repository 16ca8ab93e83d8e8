"""Checkpoint error messages: one line, and the exception's type name when its message is empty."""

from __future__ import annotations

from pathlib import Path

import pytest

import phoneprice_edge.checkpoint as checkpoint
from phoneprice_edge.errors import CheckpointError, one_line
from phoneprice_edge.model import ModelConfig, build_model
from phoneprice_edge.schema import FeatureSchema, FeatureSpec


def test_one_line_takes_the_first_line_or_the_type_name() -> None:
    assert one_line(ValueError("  first\nsecond")) == "first"
    assert one_line(KeyError()) == "KeyError"
    assert one_line(RuntimeError("   \n ")) == "RuntimeError"


def test_load_model_error_with_an_empty_message_names_the_type(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = ModelConfig(in_features=2, num_classes=2, hidden_dims=())
    schema = FeatureSchema(tuple(FeatureSpec(f"f{i}") for i in range(2)), "label", ("0", "1"))
    path = checkpoint.save_checkpoint(tmp_path / "m.pt", build_model(cfg), cfg, schema)

    def broken(*_a: object, **_k: object) -> None:
        raise RuntimeError()

    monkeypatch.setattr(checkpoint, "build_model", broken)
    with pytest.raises(CheckpointError, match=r"does not match the model it describes: RuntimeError$"):
        checkpoint.load_model(path)
