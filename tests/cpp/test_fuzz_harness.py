"""The CRC-recomputing fuzz harness reaches deeper into the loader than the plain one, and the
overflow-shape seeds load without a sanitizer report (issue 18: fuzzing that reaches the parser)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CPP = REPO / "cpp_runtime"
BUILD = CPP / "build-fuzz"  # the cpp test step's fuzz build (incremental)
TARGETS = ("pe_fuzz_loader", "pe_fuzz_loader_crc", "pe_fuzz_seeds")


def _clang_links_libfuzzer(tmp: Path) -> bool:
    if shutil.which("clang++") is None:
        return False
    src = tmp / "p.cpp"
    src.write_text('#include <stddef.h>\n#include <stdint.h>\nextern "C" int LLVMFuzzerTestOneInput('
                   "const uint8_t*, size_t) { return 0; }\n")
    res = subprocess.run(["clang++", "-fsanitize=fuzzer,address,undefined", str(src), "-o",
                          str(tmp / "p")], capture_output=True, timeout=120)
    return res.returncode == 0


@pytest.fixture(scope="module")
def fuzz_bin(tmp_path_factory) -> Path:
    if not _clang_links_libfuzzer(tmp_path_factory.mktemp("probe")):
        pytest.skip("clang++ with libFuzzer not available (scripts/test.d/10-cpp-runtime.sh installs it)")
    env = {"CXX": "clang++", "CC": "clang", "PATH": "/usr/bin:/bin"}
    if not (BUILD / "CMakeCache.txt").exists():
        subprocess.run(["cmake", "-S", str(CPP), "-B", str(BUILD), "-DPE_FUZZ=ON", "-DPE_BUILD_TESTS=OFF",
                        "-DPE_WITH_ADAPTERS=OFF"], check=True, capture_output=True, env=env, timeout=300)
    res = subprocess.run(["cmake", "--build", str(BUILD), "-j", "2", *sum((["--target", t] for t in TARGETS), [])],
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return BUILD / "fuzz"


def _coverage(binary: Path, corpus: Path, runs: int) -> int:
    res = subprocess.run([str(binary), str(corpus), f"-runs={runs}", "-seed=1", "-max_len=8192"],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    covs = re.findall(r"cov: (\d+)", res.stderr)
    assert covs, res.stderr[-2000:]
    return int(covs[-1])


@pytest.mark.slow
def test_crc_harness_reaches_more_of_the_parser(fuzz_bin: Path, tmp_path: Path) -> None:
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    golden = CPP / "tests" / "golden"
    res = subprocess.run([str(fuzz_bin / "pe_fuzz_seeds"), str(seeds), str(golden / "mlp_relu_fp32.pem"),
                          str(golden / "bn_gelu_wide_split.pem")], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert len(list(seeds.iterdir())) > 200
    # every overflow seed through both harnesses without a sanitizer report (-runs=0: corpus only)
    for h in ("pe_fuzz_loader", "pe_fuzz_loader_crc"):
        _coverage(fuzz_bin / h, seeds, 0)
    # the same mutations, from the same valid models: the CRC harness explores more
    plain, crc = tmp_path / "plain", tmp_path / "crc"
    for d in (plain, crc):
        d.mkdir()
        for m in ("mlp_relu_fp32", "ln_relu_wide_split"):
            shutil.copy(golden / f"{m}.pem", d)
    cov_plain = _coverage(fuzz_bin / "pe_fuzz_loader", plain, 5000)
    cov_crc = _coverage(fuzz_bin / "pe_fuzz_loader_crc", crc, 5000)
    assert cov_crc > cov_plain, (cov_plain, cov_crc)
