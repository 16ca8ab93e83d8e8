"""The fp32 batch kernel's large-batch path (>= 128 rows, weights converted once per call, chunked)
gives the same bits at every dispatch level and for each row run alone."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.pem_factory import random_program

LEVELS = ("baseline", "avx2", "avx512", "vnni")
ROWS = 300  # above the 128-row threshold, with a 4-row tail past the last 8-row block

RUNNER = """
import sys
import numpy as np
from tests.pem_factory import run_pem
from pathlib import Path
folder = Path(sys.argv[1])
x = np.load(folder / "x.npy")
np.save(folder / f"out-{sys.argv[2]}.npy", run_pem((folder / "src.pem").read_bytes(), folder, x))
import ctypes
from phoneprice_edge.backends.cpp import load_library
lib = load_library()
lib.pe_dispatch_level.restype = ctypes.c_char_p
(folder / "level").write_bytes(lib.pe_dispatch_level())
"""


def _logits_at(level: str, folder: Path) -> np.ndarray:
    env = {**os.environ, "PE_CPU_DISPATCH": level,
           "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    sub = folder / level
    sub.mkdir()
    for name in ("x.npy", "src.pem"):
        (sub / name).write_bytes((folder / name).read_bytes())
    subprocess.run([sys.executable, "-c", RUNNER, str(sub), level], check=True, env=env,
                   timeout=120)
    ran = (sub / "level").read_text()
    if ran != level:
        pytest.skip(f"this CPU cannot run the {level} kernels (ran {ran})")
    return np.load(sub / f"out-{level}.npy")


@pytest.mark.parametrize("hidden", [(100, 64), (37, 21)])
def test_large_batches_are_bitwise_equal_across_levels_and_to_single_rows(
        hidden: tuple[int, ...], pe_lib: object, tmp_path: Path) -> None:
    """100 -> 64 needs two weight chunks (6,400 doubles > 4,096); 37/21 outputs hit the 24/16/8
    blocks and the masked tail."""
    from phoneprice_edge.export.cpp_pem import build_pem
    from tests.pem_factory import run_pem

    data = build_pem(random_program(hidden=hidden), "fp32")
    x = np.random.default_rng(7).normal(0, 2, size=(ROWS, 5)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "src.pem").write_bytes(data)
    outs = {level: _logits_at(level, tmp_path) for level in LEVELS}
    for level in LEVELS[1:]:
        assert outs[level].tobytes() == outs["baseline"].tobytes(), level
    single = np.concatenate([run_pem(data, tmp_path, x[i:i + 1]) for i in range(0, ROWS, 23)])
    assert single.tobytes() == outs["vnni"][::23].tobytes()
