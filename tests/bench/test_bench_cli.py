"""pe-bench end to end on a real ONNX export: outputs, errors, the regression gate."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from phoneprice_edge.backends.base import Backend, IOSpec
from phoneprice_edge.bench import harness

Runner = Callable[..., tuple[int, str, str]]
FAST = ["--min-time", "0.02", "--min-iters", "20"]  # tests check behaviour, never speed
KEYS = {"artifact", "target", "precision", "device", "batch_size", "threads", "p50_us", "p90_us",
        "p99_us", "mean_us", "throughput_rows_s", "load_ms", "size_bytes", "parity_passed"}


def test_all_writes_json_md_png(bench_run: Path, pe_bench: Runner) -> None:
    code, out, err = pe_bench("--run", str(bench_run), "--all", "--threads", "1,2", *FAST)
    assert code == 0, err
    report = json.loads((bench_run / "bench" / "report.json").read_text())
    assert {"env", "results", "overhead"} <= set(report)
    assert report["env"]["cpu"] and "cpu_flags" in report["env"] and report["env"]["date"]
    rows = report["results"]
    assert {(r["batch_size"], r["threads"]) for r in rows} == {(1, 1), (8, 1), (1, 2), (8, 2)}
    for r in rows:
        assert KEYS <= set(r)
        assert r["target"] == "onnx" and r["parity_passed"] is True and r["accuracy"] == 0.25
        assert 0 < r["p50_us"] <= r["p90_us"] <= r["p99_us"] and r["iters"] >= 20
        assert r["throughput_rows_s"] == pytest.approx(r["batch_size"] / r["mean_us"] * 1e6, rel=1e-3)
        assert r["size_bytes"] == (bench_run / "export/onnx-fp32/model.onnx").stat().st_size
    ovh = report["overhead"]
    assert [p["threads"] for p in ovh["points"]] == [1, 2] and ovh["limit"] == 1.3
    assert all(p["same_outputs"] and p["ratio"] > 0 for p in ovh["points"])
    md = (bench_run / "bench" / "report.md").read_text()
    assert "| Artifact | Format | Precision | int8 MACs | Device | Threads | Parity | Size | Accuracy" in md
    assert report["int8_flags"] == []  # no int8 artifact timed
    assert "rows/s @p50 (b=8)" in md and "Harness overhead" in md and "## Environment" in md
    assert (bench_run / "bench" / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "ONNX backend overhead" in out


def test_reference_and_explicit_batch_sizes(bench_run: Path, pe_bench: Runner,
                                            tmp_path: Path) -> None:
    code, _, err = pe_bench("--run", str(bench_run), "--artifact",
                            str(bench_run / "export" / "onnx-fp32"), "--reference",
                            "--batch-sizes", "2,3", "--no-overhead", "--out", str(tmp_path), *FAST)
    assert code == 0, err
    report = json.loads((tmp_path / "report.json").read_text())
    got = {(r["artifact"], r["batch_size"]) for r in report["results"]}
    assert got == {(a, b) for a in ("reference", "onnx-fp32") for b in (2, 3)}
    assert report["overhead"]["points"] == []


@pytest.mark.parametrize("args, code, msg", [
    (["--all", "--artifact", "X"], 2, "not both"),
    ([], 2, "or --all"),
    (["--all", "--batch-sizes", "1,x"], 2, "comma-separated"),
    (["--all", "--threads", "0"], 2, ">= 1"),
])
def test_usage_errors(bench_run: Path, pe_bench: Runner, args: list[str], code: int,
                      msg: str) -> None:
    args = [str(bench_run / "export" / "onnx-fp32") if a == "X" else a for a in args]
    got, _, err = pe_bench("--run", str(bench_run), *args)
    assert got == code and msg in err and "Traceback" not in err


def test_missing_val_rows_and_tampered_artifact(bench_run: Path, pe_bench: Runner) -> None:
    onnx = bench_run / "export" / "onnx-fp32" / "model.onnx"
    onnx.write_bytes(onnx.read_bytes()[:-10])
    code, _, err = pe_bench("--run", str(bench_run), "--all", *FAST)
    assert code == 1 and "sha256 mismatch" in err
    (bench_run / "data" / "val.npz").unlink()
    code, _, err = pe_bench("--run", str(bench_run), "--all", *FAST)
    assert code == 1 and "val.npz" in err and "Traceback" not in err


def test_cuda_absent_is_a_clear_error(bench_run: Path, pe_bench: Runner) -> None:
    import torch
    if torch.cuda.is_available():
        pytest.skip("this host has a GPU")
    code, _, err = pe_bench("--run", str(bench_run), "--all", "--device", "cuda", *FAST)
    assert code == 1 and "cuda" in err.lower() and "Traceback" not in err
    assert not (bench_run / "bench" / "report.json").exists()


def _baseline(bench_run: Path, pe_bench: Runner, tmp_path: Path) -> Path:
    code, _, err = pe_bench("--run", str(bench_run), "--all", "--no-overhead",
                            "--out", str(tmp_path / "base"), *FAST)
    assert code == 0, err
    return tmp_path / "base" / "report.json"


def test_compare_unchanged_run_passes(bench_run: Path, pe_bench: Runner, tmp_path: Path) -> None:
    base = _baseline(bench_run, pe_bench, tmp_path)
    # A loose limit: this checks the gate does not fire on an unchanged run; the recorded
    # benchmark runs use the 15% default on a quiet machine, a unit test shares two busy cores.
    code, out, err = pe_bench("--run", str(bench_run), "--all", "--no-overhead", "--compare",
                              str(base), "--max-regression", "0.5", *FAST)
    assert code == 0, out + err
    assert "PASS: 0 of 2" in out
    report = json.loads((bench_run / "bench" / "report.json").read_text())
    assert report["compare"]["passed"] is True


def test_compare_catches_scaled_baseline(bench_run: Path, pe_bench: Runner,
                                         tmp_path: Path) -> None:
    base = _baseline(bench_run, pe_bench, tmp_path)
    data = json.loads(base.read_text())
    for r in data["results"]:
        r["p50_us"] /= 10  # the baseline claims ten times faster
    base.write_text(json.dumps(data))
    code, out, _ = pe_bench("--run", str(bench_run), "--all", "--no-overhead", "--compare",
                            str(base), *FAST)
    assert code == 1 and "REGRESSED" in out and "FAIL: 2 of 2" in out
    report = json.loads((bench_run / "bench" / "report.json").read_text())
    assert report["compare"]["passed"] is False  # the report is still written
    assert all(p["attempts"] == 3 for p in report["compare"]["points"])


class SlowBackend(Backend):
    """Wraps a real backend and sleeps 2 ms per call: an injected slowdown."""

    def __init__(self, inner: Backend) -> None:
        self.inner, self.name, self.device = inner, inner.name, inner.device

    @classmethod
    def _load(cls, artifact: Any, device: str, options: Any) -> Backend:
        raise NotImplementedError

    def describe(self) -> IOSpec:
        return self.inner.describe()

    def _run(self, x: np.ndarray) -> np.ndarray:
        time.sleep(0.002)
        return self.inner.run(x)

    def _close(self) -> None:
        self.inner.close()


def test_compare_catches_a_slow_backend(bench_run: Path, pe_bench: Runner, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    base = _baseline(bench_run, pe_bench, tmp_path)
    real = harness.default_loader
    monkeypatch.setattr(harness, "default_loader",
                        lambda path, **kw: SlowBackend(real(path, **kw)))
    code, out, _ = pe_bench("--run", str(bench_run), "--all", "--no-overhead", "--compare",
                            str(base), *FAST)
    assert code == 1 and "FAIL: 2 of 2" in out


def test_all_on_cpu_lists_gpu_only_artifacts_as_not_timed(bench_run: Path,
                                                          pe_bench: Runner) -> None:
    from phoneprice_edge.artifact import read_manifest
    from phoneprice_edge.export.manifest import write_manifest

    src = read_manifest(bench_run / "export" / "onnx-fp32").to_dict()
    trt = bench_run / "export" / "tensorrt-fp16"
    trt.mkdir()
    (trt / "model.plan").write_bytes(b"engine")
    write_manifest(trt, target="tensorrt", precision="fp16", fmt="tensorrt-engine",
                   files=["model.plan"], inputs=src["inputs"], outputs=src["outputs"],
                   schema=src["schema"], source_checkpoint_sha256="0" * 64)
    code, _, err = pe_bench("--run", str(bench_run), "--all", "--no-overhead", *FAST)
    assert code == 0 and "skipped tensorrt-fp16: tensorrt needs a GPU" in err
    report = json.loads((bench_run / "bench" / "report.json").read_text())
    assert {r["artifact"] for r in report["results"]} == {"onnx-fp32"}
    assert report["skipped"] == [{"artifact": "tensorrt-fp16", "reason": "tensorrt needs a GPU"}]


def test_without_run_all_and_reference_are_usage_errors(bench_run: Path, pe_bench: Runner) -> None:
    art = str(bench_run / "export" / "onnx-fp32")
    code, _, err = pe_bench("--artifact", art, "--reference", *FAST)
    assert code == 2 and "--reference need --run" in err
    code, _, err = pe_bench("--all", *FAST)
    assert code == 2 and "need --run" in err
