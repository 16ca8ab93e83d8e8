"""bench.int8: nominal int8 (same files or no faster than fp32) is flagged; the share is read."""

from __future__ import annotations

from phoneprice_edge.bench.int8 import int8_flags, share_of


def _row(art: str, prec: str, batch: int, p50: float, target: str = "onnx") -> dict:
    return {"artifact": art, "target": target, "precision": prec, "device": "cpu", "threads": 1,
            "batch_size": batch, "p50_us": p50}


def test_faster_int8_with_its_own_file_is_not_flagged() -> None:
    rows = [_row("onnx-fp32", "fp32", 64, 10.0), _row("onnx-int8", "int8", 64, 6.0)]
    files = {"onnx-fp32": {"model.onnx": "a"}, "onnx-int8": {"model.onnx": "b"}}
    assert int8_flags(rows, files) == []


def test_same_file_and_no_speedup_are_flagged() -> None:
    rows = [_row("cpp-fp32", "fp32", 1, 1.0, "cpp"), _row("cpp-int8", "int8", 1, 0.99, "cpp"),
            _row("cpp-fp32", "fp32", 64, 20.0, "cpp"), _row("cpp-int8", "int8", 64, 10.0, "cpp")]
    files = {"cpp-fp32": {"model.pem": "x"}, "cpp-int8": {"model.pem": "x"}}
    flags = int8_flags(rows, files)
    assert len(flags) == 2
    assert "byte-identical to cpp-fp32" in flags[0]
    assert "not faster" in flags[1] and "b=1 0.99x" in flags[1] and "b=64" not in flags[1]


def test_int8_without_an_fp32_sibling_is_not_judged() -> None:
    assert int8_flags([_row("onnx-int8", "int8", 1, 5.0)], {}) == []


def test_share_of_reads_the_manifest() -> None:
    from artifact_factory import make_manifest

    assert share_of(make_manifest(int8_share={"int8_mac_share": 0.9})) == 0.9
    assert share_of(make_manifest()) is None and share_of(None) is None
