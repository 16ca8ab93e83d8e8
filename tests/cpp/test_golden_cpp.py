"""pe-infer --golden (the C++ golden reader, tools/golden.*) gives the verdict of
phoneprice_edge.golden.check on the same artifact and rows; damage is one line, exit 1."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from phoneprice_edge import golden as g

REPO = Path(__file__).resolve().parents[2]
TREE = REPO / "cpp_runtime" / "tests" / "golden"




def run_golden(infer: Path, gold: Path, model: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(infer), "--golden", str(gold), str(model)], capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("model", "tol"), [
    ("default_fp32", None), ("default_int8", None),
    ("default_fp32", g.Tolerance(1e-7, 0.0, 1.0)),       # too tight for float rounding: FAIL
    ("default_int8", g.Tolerance(1e-3, 1e-3, 1.0)),      # int8 is not within fp32's bound: FAIL
    ("default_int8", g.Tolerance(float("inf"), 0.0, 1.0)),  # top-1 only
])
def test_verdict_matches_python(infer: Path, runtime_logits, tmp_path: Path, model: str,
                                tol: g.Tolerance | None) -> None:
    gold = g.read(TREE / f"{model}_golden.bin")
    if tol is not None:
        gold = g.Golden(gold.inputs, gold.logits, tol)
    path = g.write(tmp_path / "golden.bin", gold)
    pem = TREE / f"{model}.pem"
    expected = g.check(gold, runtime_logits(pem, gold.inputs))
    res = run_golden(infer, path, pem)
    line = res.stdout.strip()
    assert res.returncode == (0 if expected.passed else 1), line
    m = re.fullmatch(r"golden (\d+)/(\d+) (pass|FAIL), top-1 (\d+)/\2 \(needs \d+\), "
                     r"max \|diff\| (\S+), logits crc32 [0-9a-f]{8}", line)
    assert m, line
    assert int(m[1]) == expected.rows - expected.rows_out_of_tolerance
    assert int(m[2]) == expected.rows
    assert int(m[4]) == round(expected.top1_agreement * expected.rows)
    assert float(m[5]) == pytest.approx(expected.max_abs_diff, rel=6e-3)


@pytest.mark.parametrize("damage", ["flip", "truncate", "magic"])
def test_damaged_golden_rows_are_one_line(infer: Path, tmp_path: Path, damage: str) -> None:
    data = bytearray((TREE / "default_fp32_golden.bin").read_bytes())
    if damage == "flip":
        data[100] ^= 1
    elif damage == "truncate":
        data = data[:-9]
    else:
        data[:8] = b"NOTGOLD!"
    path = tmp_path / "golden.bin"
    path.write_bytes(bytes(data))
    with pytest.raises(Exception, match="CRC|truncated|magic"):
        g.read(path)
    res = run_golden(infer, path, TREE / "default_fp32.pem")
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 1 and len(lines) == 1
    assert re.search(r"CRC mismatch|truncated|size differs|bad magic", lines[0]), lines[0]


def test_shape_mismatch_and_usage(infer: Path) -> None:
    res = run_golden(infer, TREE / "default_fp32_golden.bin", TREE / "mlp_relu_fp32.pem")
    assert res.returncode == 1 and "20 features and 4 classes, the model 6 and 3" in res.stderr
    assert subprocess.run([str(infer), "--golden"], capture_output=True, timeout=30).returncode == 2
