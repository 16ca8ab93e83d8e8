"""Static int8 (.pem format version 2; W8A16, version 3) and the exporter's copy of the runtime's
limits: the C++ runtime against the bit-exact NumPy reference (every dispatch level for W8A16), the
exported profile's agreement with PyTorch, old files still loading, unknown versions refused by
name, oversized models refused at export."""

from __future__ import annotations

import ctypes
import dataclasses
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from pem_factory import random_program, run_pem

from phoneprice_edge.errors import ExportError
from phoneprice_edge.export.cpp_pem import (
    FORMAT_VERSION,
    FORMAT_VERSION_STATIC,
    FORMAT_VERSION_W8A16,
    IN16,
    MAX_DIM,
    MAX_SLOTS,
    OUT16,
    RELU_U8,
    STATIC,
    build_pem,
    fix_checksums,
    run_reference,
    set_int8_keep_fp32,
)
from phoneprice_edge.export.cpp_static import make_static, requant_pair


def _dense_flags(data: bytes) -> list[int]:
    n_tensors, n_ops = struct.unpack_from("<II", data, 32)
    at = 64 + 32 * n_tensors
    return [struct.unpack_from("<I", data, at + 40 * i + 36)[0] for i in range(n_ops)
            if struct.unpack_from("<I", data, at + 40 * i)[0] == 2]


def test_static_runtime_equals_reference_bitwise(pe_lib, tmp_path: Path) -> None:
    """ReLU model, every DENSE static int8: one QUANTIZE shared by the first and wide layers, the
    hidden ReLUs folded into uint8 requantisation; the runtime's logits equal the reference's."""
    prog = random_program((8, 6))
    set_int8_keep_fp32(prog, [])
    rng = np.random.default_rng(0)
    calib = rng.standard_normal((400, 5)).astype(np.float32) * 3
    static = make_static(prog, calib)
    assert [op.kind for op in static.ops] == ["standardize", "quantize", "dense", "dense", "dense", "dense"]
    data = build_pem(static, "int8")
    assert struct.unpack_from("<I", data, 8)[0] == FORMAT_VERSION_STATIC
    assert _dense_flags(data) == [STATIC | RELU_U8, STATIC | RELU_U8, STATIC, STATIC | 1]
    x = rng.standard_normal((300, 5)).astype(np.float32) * 3
    got = run_pem(data, tmp_path, x)
    assert np.array_equal(got, run_reference(static, x, "int8"))
    ref = run_reference(prog, x, "fp32")
    assert float((got.argmax(1) == ref.argmax(1)).mean()) >= 0.95
    # fp32 and dynamic int8 files stay version 1
    assert struct.unpack_from("<I", build_pem(prog, "int8"), 8)[0] == FORMAT_VERSION


def test_static_gelu_dequantises(pe_lib, tmp_path: Path) -> None:
    """GELU between layers: DENSE outputs are dequantised to float and quantised again."""
    prog = random_program((8,), "gelu")
    set_int8_keep_fp32(prog, [])
    x = np.random.default_rng(1).standard_normal((200, 5)).astype(np.float32) * 3
    static = make_static(prog, x)
    assert [op.kind for op in static.ops].count("quantize") == 2
    assert not any(op.relu_u8 for op in static.ops)
    got = run_pem(build_pem(static, "int8"), tmp_path, x)
    assert float(np.abs(got - run_reference(static, x, "int8")).max()) <= 0.05


def test_zero_weight_channel_keeps_its_bias(pe_lib, tmp_path: Path) -> None:
    """A hidden unit whose weights L1 training drove to ~0 but whose bias is not: its int32 bias
    must not overflow (the scale is widened), and it still outputs relu(bias)."""
    prog = random_program((8, 6))
    set_int8_keep_fp32(prog, [])
    first = next(op for op in prog.ops if op.kind == "dense")
    first.params["weight"][3, :] = 1e-12
    first.params["bias"][3] = 2.5
    rng = np.random.default_rng(2)
    static = make_static(prog, rng.standard_normal((400, 5)).astype(np.float32) * 3)
    x = rng.standard_normal((200, 5)).astype(np.float32) * 3
    got = run_pem(build_pem(static, "int8"), tmp_path, x)
    assert np.array_equal(got, run_reference(static, x, "int8"))
    assert float((got.argmax(1) == run_reference(prog, x, "fp32").argmax(1)).mean()) >= 0.95


def test_dead_unit_does_not_set_the_next_layers_scale(pe_lib, tmp_path: Path) -> None:
    """A hidden ReLU unit that is 0 on every calibration row (zero weights, negative bias, as L1
    training leaves them) gets no weight in the layer reading it: the live columns keep the full
    -127..127 grid (a stand-in scale of 1 for the dead unit used to take it; the trained default
    model's logits were off by ~2 and 16% of its rows flipped)."""
    prog = random_program((8,))
    set_int8_keep_fp32(prog, [])
    dense = [op for op in prog.ops if op.kind == "dense"]
    dense[0].params["weight"][3, :] = 0.0
    dense[0].params["bias"][3] = -0.5
    dense[1].params["weight"][:, 3] = 5.0  # large, but it never sees anything but 0
    rng = np.random.default_rng(3)
    static = make_static(prog, rng.standard_normal((400, 5)).astype(np.float32) * 3)
    head = [op for op in static.ops if op.kind == "dense"][1]
    assert not head.params["q"][:, 3].any()
    assert np.array_equal(np.abs(head.params["q"]).max(1), [127] * 3)
    x = rng.standard_normal((300, 5)).astype(np.float32) * 3
    got = run_pem(build_pem(static, "int8"), tmp_path, x)
    assert np.array_equal(got, run_reference(static, x, "int8"))
    ref = run_reference(prog, x, "fp32")
    assert float(np.median(np.abs(got - ref))) <= 0.05 * float(np.median(np.abs(ref)))


def test_requant_pair() -> None:
    for m in (1e-9, 0.001, 0.37, 0.5, 0.999999, 1.0, 3.5, 1000.0):
        mult, n = requant_pair(m)
        assert 1 <= n <= 62 and 1 <= mult < 2**31
        assert abs(mult / 2.0**n - m) <= m * 2**-29 + 2.0**-62
    with pytest.raises(ExportError):
        requant_pair(0.0)


def test_versions(pe_lib, tmp_path: Path) -> None:
    """Version 1 files load; a version this runtime does not read is refused and named."""
    prog = random_program((4,))
    data = build_pem(prog, "fp32")
    handle = ctypes.c_void_p()
    for version, want in ((1, 0), (2, 0), (3, 0), (4, 6), (0, 6)):
        b = bytearray(data)
        struct.pack_into("<I", b, 8, version)
        p = tmp_path / f"v{version}.pem"
        p.write_bytes(fix_checksums(bytes(b)))
        assert pe_lib.pe_model_open(str(p).encode(), ctypes.byref(handle)) == want, version
        if want == 0:
            pe_lib.pe_model_close(handle)
    assert b"reads 1 to 3" in pe_lib.pe_status_str(6)


LEVELS = ("baseline", "avx2", "avx512", "vnni")


@pytest.mark.parametrize("hidden", [(8, 6), (37, 21), (300, 600)])
def test_w8a16_runtime_equals_reference_bitwise_at_every_level(pe_lib, tmp_path: Path,
                                                               hidden: tuple[int, ...]) -> None:
    """activation_bits 16: int16 QUANTIZE, int16-in / int16-out DENSE with the ReLU folded, float
    dequantisation (and the wide path accumulating); the logits equal the NumPy reference's bit for
    bit at every dispatch level (NaN inputs included). 300 -> 600: the 600-input layer's sums do
    not fit int32 with int16 inputs, so it stays 8-bit and the layer before requantises to uint8.
    37 / 21 outputs: the 16/8/4-wide blocks and their tails; 301 rows: the 4-row blocks' tail."""
    from tests.cpp.test_batch_kernel import _logits_at

    prog = random_program(hidden)
    set_int8_keep_fp32(prog, [])
    rng = np.random.default_rng(5)
    calib = rng.standard_normal((400, 5)).astype(np.float32) * 3
    static = make_static(prog, calib, 16)
    data = build_pem(static, "int8")
    assert struct.unpack_from("<I", data, 8)[0] == FORMAT_VERSION_W8A16
    flags = _dense_flags(data)
    if hidden == (300, 600):
        assert flags == [STATIC | RELU_U8 | IN16 | OUT16, STATIC | RELU_U8 | IN16, STATIC, STATIC | IN16 | 1]
    else:
        assert flags == [STATIC | RELU_U8 | IN16 | OUT16] * 2 + [STATIC | IN16, STATIC | IN16 | 1]
    x = rng.standard_normal((301, 5)).astype(np.float32) * 3
    x[0, 1] = np.nan
    x[1, 2] = 1e30
    want = run_reference(static, x, "int8").astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    (tmp_path / "src.pem").write_bytes(data)
    for level in LEVELS:
        assert _logits_at(level, tmp_path).tobytes() == want.tobytes(), level
    # 16 bits is closer to the float program than 8 with the same calibration, on the same rows
    ref = run_reference(prog, x[2:], "fp32")
    got8 = run_pem(build_pem(make_static(prog, calib), "int8"), tmp_path, x[2:])
    assert np.abs(want[2:] - ref).mean() < np.abs(got8 - ref).mean()


def test_activation_bits_8_is_version_2_byte_for_byte() -> None:
    """bits 8 (the default) writes what the exporter wrote before: the same bytes, version 2;
    16 stamps version 3; other widths are refused."""
    prog = random_program((8, 6))
    set_int8_keep_fp32(prog, [])
    calib = np.random.default_rng(0).standard_normal((100, 5)).astype(np.float32)
    v2 = build_pem(make_static(prog, calib), "int8")
    assert build_pem(make_static(prog, calib, 8), "int8") == v2
    assert struct.unpack_from("<I", v2, 8)[0] == FORMAT_VERSION_STATIC
    assert struct.unpack_from("<I", build_pem(make_static(prog, calib, 16), "int8"), 8)[0] == FORMAT_VERSION_W8A16
    with pytest.raises(ExportError, match="8 or 16"):
        make_static(prog, calib, 12)


def test_w8a16_flags_refused_in_a_version_2_file(pe_lib, tmp_path: Path) -> None:
    """A file using int16 activations but stamped version 2 is refused (invalid op graph), as a
    version-2 runtime refuses a version-3 file by its version."""
    prog = random_program((8,))
    set_int8_keep_fp32(prog, [])
    data = bytearray(build_pem(make_static(prog, np.ones((10, 5), np.float32), 16), "int8"))
    struct.pack_into("<I", data, 8, 2)
    p = tmp_path / "v2.pem"
    p.write_bytes(fix_checksums(bytes(data)))
    handle = ctypes.c_void_p()
    assert pe_lib.pe_model_open(str(p).encode(), ctypes.byref(handle)) == 10


def test_activation_bits_option_checked_when_read() -> None:
    from phoneprice_edge.errors import ConfigError
    from phoneprice_edge.export.profile import parse_profile

    ok = parse_profile({"target": "cpp", "precision": "int8", "cpp": {"activation_bits": 16}}, "p")
    assert ok.option("activation_bits") == 16
    assert parse_profile({"target": "cpp", "precision": "int8"}, "p").option("activation_bits") == 8
    with pytest.raises(ConfigError, match="activation_bits"):
        parse_profile({"target": "cpp", "precision": "int8", "cpp": {"activation_bits": 12}}, "p")


def test_limits_refused_at_export() -> None:
    """A program the loader would refuse by its limits is an ExportError with one line."""
    prog = random_program((4,))
    wide = dataclasses.replace(prog.ops[1], out_dim=MAX_DIM + 1)
    with pytest.raises(ExportError, match=f"up to {MAX_DIM}"):
        build_pem(dataclasses.replace(prog, ops=[prog.ops[0], wide, *prog.ops[2:]]), "fp32")
    with pytest.raises(ExportError, match=f"has {MAX_SLOTS}"):
        build_pem(dataclasses.replace(prog, n_slots=MAX_SLOTS + 1), "fp32")
    with pytest.raises(ExportError, match="ops"):
        build_pem(dataclasses.replace(prog, ops=prog.ops * 100), "fp32")


@pytest.mark.parametrize("bits", [16, 8])
def test_static_export_profile(pe_lib, variant_run: Path, bits: int) -> None:
    """The built-in cpp-int8 profile (static, every DENSE int8, int16 activations) and its 8-bit
    variant: calibrated on the run's training rows, recorded in the manifest (W8A16 named),
    .pem version 3 / 2, top-1 agreement with PyTorch >= 99%."""
    from phoneprice_edge.backends.registry import load_backend
    from phoneprice_edge.checkpoint import load_model
    from phoneprice_edge.export.manifest import verify_artifact
    from phoneprice_edge.export.profile import profile_for
    from phoneprice_edge.export.runner import export_profile, load_split

    base = profile_for("cpp", "int8")
    assert (base.option("activation_scheme"), base.option("activation_bits"), base.option("int8_keep_fp32")) \
        == ("static", 16, [])
    profile = base if bits == 16 else dataclasses.replace(base, options={**base.options, "activation_bits": 8})
    out = export_profile(variant_run, profile).out_dir
    facts = verify_artifact(out).to_dict()
    assert facts["activation_scheme"] == "static" and facts["calibration"].startswith("static")
    assert facts["pem_format_version"] == (FORMAT_VERSION_W8A16 if bits == 16 else FORMAT_VERSION_STATIC)
    assert ("W8A16" in facts["activation_quantization"]) == (bits == 16)
    x, y = load_split(variant_run / "data" / "val.npz")
    with torch.no_grad():
        ref = load_model(variant_run / "checkpoints" / "best_model.pt").model(torch.from_numpy(x)).numpy()
    with load_backend(out) as b:
        got = b.run(x)
    agree = float((got.argmax(1) == ref.argmax(1)).mean())
    assert agree >= 0.99, agree


@pytest.mark.parametrize("bits", [8, 16])
def test_rounding_search_simulates_the_static_runtime(pe_lib, variant_run: Path, bits: int) -> None:
    """int8_prep's cpp_static simulator (what the rounding search scores) computes what the C++
    runtime computes for a static export: the same input scales, weight grid and uint8 (int16 with
    activation_bits 16) hidden units, so its logits match the runtime's to rounding ties and their
    top-1 agrees."""
    from phoneprice_edge.backends.registry import load_backend
    from phoneprice_edge.checkpoint import load_model
    from phoneprice_edge.export import int8_prep
    from phoneprice_edge.export.manifest import verify_artifact
    from phoneprice_edge.export.profile import profile_for
    from phoneprice_edge.export.runner import export_profile, load_split

    base = profile_for("cpp", "int8")
    profile = dataclasses.replace(base, options={**base.options, "activation_scheme": "static",
                                                 "int8_keep_fp32": [], "activation_bits": bits})
    out = export_profile(variant_run, profile).out_dir
    assert verify_artifact(out).to_dict()["pem_format_version"] == (3 if bits == 16 else 2)
    tx, _ = load_split(variant_run / "data" / "train.npz")
    vx, _ = load_split(variant_run / "data" / "val.npz")
    model, facts = int8_prep.prepare_int8(load_model(variant_run / "checkpoints" / "best_model.pt").model,
                                          tx.astype(np.float64), "cpp_static", split=False, act_bits=bits)
    assert facts["simulated_activations"] == "cpp_static"
    assert verify_artifact(out).to_dict()["int8_prep"]["simulated_activations"] == "cpp_static"
    sim = int8_prep._Sim(model.double(), "cpp_static", False, bits=bits)
    sim.run(tx.astype(np.float64), quant=False)
    want = sim.run(vx.astype(np.float64))
    with load_backend(out) as b:
        got = b.run(vx).astype(np.float64)
    scale = np.abs(want).max()
    err = np.abs(got - want).max(1)
    assert np.median(err) < 1e-4 * scale, (np.median(err), scale)
    assert (got.argmax(1) == want.argmax(1)).mean() >= 0.995
