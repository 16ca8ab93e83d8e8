"""Fixtures for the benchmark tests: a small run with an ONNX export, val rows and a parity file."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from phoneprice_edge.checkpoint import save_checkpoint
from phoneprice_edge.cli.bench import cmd
from phoneprice_edge.cli.common import entry
from phoneprice_edge.export.manifest import write_manifest
from phoneprice_edge.export.onnx import io_spec, torch_to_onnx
from phoneprice_edge.model import ModelConfig, build_model
from phoneprice_edge.schema import PHONE_SCHEMA

N_FEATURES, N_CLASSES = PHONE_SCHEMA.n_features, PHONE_SCHEMA.n_classes
OPSET = 20  # what the dynamo exporter writes by default


def _build_run(root: Path) -> Path:
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    x = rng.uniform(0, 100, size=(48, N_FEATURES)).astype(np.float32)
    y = rng.integers(0, N_CLASSES, size=48).astype(np.int64)
    cfg = ModelConfig(in_features=N_FEATURES, num_classes=N_CLASSES, hidden_dims=(32, 16))
    model = build_model(cfg, x.mean(0), x.std(0) + 1e-3).eval()
    schema = PHONE_SCHEMA.with_scaler(x.mean(0), x.std(0) + 1e-3)
    (root / "data").mkdir(parents=True)
    np.savez(root / "data" / "val.npz", X=x, y=y)
    save_checkpoint(root / "checkpoints" / "best_model.pt", model, cfg, schema)
    out = root / "export" / "onnx-fp32"
    out.mkdir(parents=True)
    torch_to_onnx(model, N_FEATURES, out / "model.onnx", OPSET)
    io_in, io_out = io_spec(N_FEATURES, N_CLASSES)
    write_manifest(out, target="onnx", precision="fp32", fmt="onnx", files=["model.onnx"],
                   inputs=io_in, outputs=io_out, schema=schema.to_dict(),
                   source_checkpoint_sha256="0" * 64, opset=OPSET,
                   profile={"name": "onnx-fp32", "benchmark_batch_sizes": [1, 8]})
    (root / "parity").mkdir()
    (root / "parity" / "onnx-fp32.json").write_text(
        json.dumps({"passed": True, "accuracy_candidate": 0.25}))
    return root


@pytest.fixture(scope="session")
def _bench_run_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _build_run(tmp_path_factory.mktemp("bench") / "run")


@pytest.fixture
def bench_run(_bench_run_master: Path, tmp_path: Path) -> Path:
    """A private copy of a run folder holding data/val.npz, export/onnx-fp32 and parity/."""
    return Path(shutil.copytree(_bench_run_master, tmp_path / "run"))


@pytest.fixture
def pe_bench(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run pe-bench through its console entry point; return (exit code, stdout, stderr)."""
    def run(*args: str) -> tuple[int, str, str]:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exc:
            entry(cmd)(list(args), prog_name="pe-bench")
        out, err = capsys.readouterr()
        return int(exc.value.code or 0), out, err
    return run
