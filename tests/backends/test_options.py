"""LoadOptions: typed defaults, validation, and an unknown option is a clear UsageError."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from artifact_factory import make_manifest

from phoneprice_edge.backends.options import LoadOptions
from phoneprice_edge.backends.registry import load_backend
from phoneprice_edge.errors import UsageError
from phoneprice_edge.export.profile import load_profile
from phoneprice_edge.export.runner import export_profile


def test_defaults_and_merging() -> None:
    o = LoadOptions.of()
    assert o == LoadOptions() and o.threads is None and o.manifest is None
    m = make_manifest()
    merged = LoadOptions.of(LoadOptions(threads=2), manifest=m)
    assert merged.threads == 2 and merged.manifest is m
    assert LoadOptions.of({"threads": np.int64(3)}).threads == 3
    with pytest.raises(AttributeError):
        o.threads = 4  # type: ignore[misc]  # frozen


@pytest.mark.parametrize(("opts", "match"), [
    ({"thread": 2}, r"unknown backend option\(s\) thread \(known: inference_precision, "
                    r"manifest, threads, verify_key\)"),
    ({"threads": 0}, "threads must be an integer >= 1, got 0"),
    ({"threads": "2"}, "threads must be an integer >= 1"),
    ({"threads": True}, "threads must be an integer >= 1"),
    ({"manifest": {"target": "onnx"}}, "manifest must be an artifact.Manifest, got dict"),
    ({"verify_key": 3}, "verify_key must be a path"),
    ({"inference_precision": "fp32"}, "inference_precision must be one of f32, f16, bf16"),
])
def test_bad_options_are_usage_errors(opts: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        LoadOptions.of(**opts)


def test_backends_take_the_typed_options(synth_run: Path) -> None:
    art = export_profile(synth_run, load_profile("onnx-fp32")).out_dir
    with load_backend(art, threads=1) as b:
        assert b._session.get_session_options().intra_op_num_threads == 1
    with pytest.raises(UsageError, match="unknown backend option"):
        load_backend(art, treads=1)
    from phoneprice_edge.backends.onnxruntime import OnnxRuntimeBackend

    with OnnxRuntimeBackend.load(art, options=LoadOptions(threads=2)) as b:
        assert b._session.get_session_options().intra_op_num_threads == 2
