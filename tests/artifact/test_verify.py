"""pe verify: golden rows on this host's runtime, one line per artifact, --json, exit codes; it
and `pe bench --artifact` run with torch made unimportable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from phoneprice_edge import golden
from phoneprice_edge.artifact import with_digest
from phoneprice_edge.cli import main
from phoneprice_edge.verify import verify_one

REPO = Path(__file__).resolve().parents[2]
# Makes torch (and the other build-side libraries) unimportable, runs the `pe` CLI, then fails
# if torch or any build-side module of the package was imported anyway.
NO_TORCH = """
import sys
BLOCK = ("torch", "sklearn", "matplotlib", "onnx", "tensorboard")
class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r} (blocked by the test)", name=name)
sys.meta_path.insert(0, Block())
from phoneprice_edge.cli import main
try:
    main(sys.argv[1:])
finally:
    build = ("phoneprice_edge.export", "phoneprice_edge.training", "phoneprice_edge.checkpoint",
             "phoneprice_edge.train", "phoneprice_edge.parity", "torch")
    bad = sorted(m for m in sys.modules if m.startswith(build))
    if bad:
        print("BUILD-SIDE MODULES IMPORTED:", bad, file=sys.stderr)
        sys.exit(99)
"""


def _pe(*args: str) -> int:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    return int(exc.value.code or 0)


def test_verify_passes_every_exported_artifact(exported: dict[str, Path], tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "v.json"
    assert _pe("verify", *map(str, exported.values()), "--json", str(report)) == 0
    lines = capsys.readouterr().out.splitlines()
    for name in exported:
        line = next(ln for ln in lines if ln.startswith(name + " "))
        assert line.endswith("PASS") and "rows (validation)" in line and "max |diff|" in line
    data = json.loads(report.read_text())
    assert data["passed"] is True and len(data["results"]) == len(exported)
    assert all(r["rows"] > 0 and r["top1_agreement"] >= r["min_top1"] for r in data["results"])


def test_wrong_reference_logits_fail(onnx_copy: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """golden.bin rewritten with other logits (and re-hashed, re-digested): the check fails."""
    g = golden.read(onnx_copy / "golden.bin")
    golden.write(onnx_copy / "golden.bin", golden.Golden(g.inputs, g.logits[:, ::-1].copy(),
                                                         g.tolerance))
    from phoneprice_edge.io_utils import sha256_file

    raw = json.loads((onnx_copy / "manifest.json").read_text())
    raw["files"]["golden.bin"] = sha256_file(onnx_copy / "golden.bin")
    (onnx_copy / "manifest.json").write_text(json.dumps(with_digest(raw)))
    r = verify_one(onnx_copy)
    assert not r.passed and "out of tolerance" in r.message
    assert _pe("verify", str(onnx_copy)) == 1 and "FAIL" in capsys.readouterr().out


def test_tampered_and_goldenless_artifacts_fail_with_the_reason(
        onnx_copy: Path, synth_run: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (onnx_copy / "model.onnx").write_bytes(b"not a model")
    assert _pe("verify", str(onnx_copy)) == 1
    assert "FAIL: " in (out := capsys.readouterr().out) and "sha256 mismatch" in out
    from phoneprice_edge.export.golden_rows import GoldenOptions
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile

    res = export_profile(synth_run, load_profile("onnx-fp16"), golden=GoldenOptions(rows=0))
    assert "golden.bin" not in res.files
    r = verify_one(res.out_dir)
    assert not r.passed and "no golden rows" in r.message


def test_schema_golden_rows_stay_inside_the_ranges(synth_run: Path) -> None:
    from phoneprice_edge.export.golden_rows import GoldenOptions
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile
    from phoneprice_edge.schema import PHONE_SCHEMA

    res = export_profile(synth_run, load_profile("onnx-int8"),
                         golden=GoldenOptions(rows=100, source="schema", seed=3))
    g = golden.read(res.out_dir / "golden.bin")
    lo = np.array([f.min for f in PHONE_SCHEMA.features], np.float32)
    hi = np.array([f.max for f in PHONE_SCHEMA.features], np.float32)
    assert g.inputs.shape == (100, 20) and (g.inputs >= lo).all() and (g.inputs <= hi).all()
    assert np.isinf(g.tolerance.abs_tol) and 0.9 < g.tolerance.min_top1 < 0.995
    r = verify_one(res.out_dir)
    assert r.passed and r.source == "schema" and r.rows == 100


def _no_torch(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("PE_VERIFY_KEY", None)
    return subprocess.run([sys.executable, "-c", NO_TORCH, *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300)


def test_verify_and_bench_run_without_torch(exported: dict[str, Path], tmp_path: Path) -> None:
    """onnx-fp32, onnx-int8 and cpp-fp32 verified and benched in a process that cannot import
    torch, with no run folder."""
    wanted = [p for n, p in exported.items() if n in ("onnx-fp32", "onnx-int8", "cpp-fp32")]
    if "cpp-fp32" not in exported:
        pytest.skip("libpe_runtime.so not built (bash scripts/build-cpp.sh)")
    proc = _no_torch("verify", *map(str, wanted), "--json", str(tmp_path / "v.json"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.count("PASS") == 3
    proc = _no_torch("bench", *[a for p in wanted for a in ("--artifact", str(p))],
                     "--min-iters", "20", "--min-time", "0", "--batch-sizes", "1,16",
                     "--no-overhead", cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((tmp_path / "bench" / "report.json").read_text())
    assert {r["artifact"] for r in report["results"]} == {p.name for p in wanted}
    assert all(r["parity_passed"] is None and r["inputs"] == "golden" for r in report["results"])
    assert "| n/a |" in proc.stdout and report["settings"]["inputs"] == "golden rows"


def test_torchscript_without_torch_is_one_line(synth_run: Path, tmp_path: Path) -> None:
    from phoneprice_edge.export.profile import load_profile
    from phoneprice_edge.export.runner import export_profile

    art = export_profile(synth_run, load_profile("torchscript-fp32")).out_dir
    proc = _no_torch("verify", str(art), cwd=tmp_path)
    assert proc.returncode == 1
    assert "FAIL: TorchScript artifacts need torch" in proc.stdout and "Traceback" not in proc.stderr
    from phoneprice_edge.schema import PHONE_SCHEMA

    x = golden.read(art / "golden.bin").inputs[:5]
    rows = [",".join(PHONE_SCHEMA.feature_names)] + [",".join(f"{v:g}" for v in r) for r in x]
    (tmp_path / "x.csv").write_text("\n".join(rows) + "\n")
    proc = _no_torch("predict", "--artifact", str(art), "--data", str(tmp_path / "x.csv"),
                     "--out", str(tmp_path / "o.csv"), cwd=tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[0].startswith("error: TorchScript artifacts need torch")
