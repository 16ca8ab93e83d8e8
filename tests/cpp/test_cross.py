"""scripts/cross.sh: usage and missing-toolchain lines, and the results of the cross-build step
(scripts/test.d/15-cross.sh: aarch64 and cortex-m4 under QEMU, bitwise against x86-64)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "cross.sh"
STATE = Path(os.environ.get("PE_CROSS_STATE", REPO / "cpp_runtime" / "build-cross-state"))  # per checkout


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args", [[], ["mips"], ["aarch64", "--artifact", "x"], ["armhf", "extra"]])
def test_usage_is_exit_2(args: list[str]) -> None:
    res = _run(args)
    assert res.returncode == 2 and res.stderr.startswith("usage: bash scripts/cross.sh")


def test_missing_toolchain_is_one_line_exit_3(tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "dirname", "id", "timeout", "grep", "cmake", "c++"):
        if shutil.which(tool):
            (bin_dir / tool).symlink_to(shutil.which(tool))
    res = _run(["aarch64"], {"PATH": str(bin_dir), "PE_CROSS_NO_INSTALL": "1"})
    lines = res.stderr.strip().splitlines()
    assert res.returncode == 3 and len(lines) == 1, res.stderr
    assert "aarch64 toolchain missing" in lines[0] and "PE_CROSS_NO_INSTALL" in lines[0]


def _step_result(target: str) -> str:
    skip = STATE / f"{target}.skip"
    if skip.exists():
        pytest.skip(f"cross {target}: {skip.read_text().strip()}")
    if not (STATE / f"{target}.rc").exists():
        pytest.skip(f"cross {target} not run (bash scripts/test.d/15-cross.sh)")
    log = (STATE / f"{target}.log").read_text()
    assert (STATE / f"{target}.rc").read_text().strip() == "0", log[-3000:]
    return log


def test_aarch64_matches_x86_64_bit_for_bit() -> None:
    log = _step_result("aarch64")
    assert re.search(r"ctest under qemu-aarch64: 100% tests passed", log), log[-2000:]
    m = re.search(r"all (\d+) compared outputs bitwise identical to x86-64", log)
    assert m and int(m[1]) >= 16, log[-2000:]
    assert "DIFFERS" not in log
    assert (REPO / "cpp_runtime" / "build-aarch64" / "pe-infer").exists()


def test_cortex_m4_firmware_passes_its_golden_rows() -> None:
    log = _step_result("cortex-m4")
    last = log.strip().splitlines()[-1]
    m = re.fullmatch(r"golden (\d+)/(\d+) pass, top-1 \d+/\d+ \(needs \d+\), max \|diff\| \S+, "
                     r"logits crc32 [0-9a-f]{8}", last)
    assert m and m[1] == m[2], last
    assert re.search(r"firmware: flash \d+ B, RAM \d+ B", log)
    assert re.search(r"firmware: instructions per row \d+", log)
    assert re.search(r"fp32.*logits bitwise identical to x86-64", log)
