"""Backend's template methods: a closed backend of every runtime raises BackendClosed, close twice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from artifact_factory import make_manifest

from phoneprice_edge.backends.base import Backend
from phoneprice_edge.backends.registry import load_backend
from phoneprice_edge.errors import BackendClosed, PEError
from phoneprice_edge.export.profile import profile_for
from phoneprice_edge.export.reference import load_reference
from phoneprice_edge.export.runner import export_profile
from phoneprice_edge.targets import TARGETS


def _assert_closed_refuses(b: Backend, x: np.ndarray) -> None:
    assert not b.closed
    assert b.run(x).shape == (len(x), 4)
    b.close()
    b.close()  # a second close is harmless
    assert b.closed
    with pytest.raises(BackendClosed, match=f"the {b.name} backend was closed") as info:
        b.run(x)
    assert isinstance(info.value, PEError) and info.value.exit_code == 1


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_a_closed_backend_raises_backend_closed(synth_run: Path, target: str) -> None:
    """Every target's backend, on its default built-in profile (fp32 where one ships)."""
    profile = profile_for(target)
    reason = TARGETS[target].unavailable_reason(profile.precision)
    if reason is not None:
        pytest.skip(f"{target}: {reason}")
    art = export_profile(synth_run, profile).out_dir
    device = "cuda" if TARGETS[target].needs_gpu else "cpu"
    x = np.zeros((3, 20), np.float32)
    _assert_closed_refuses(load_backend(art, device), x)
    with load_backend(art, device) as b:  # the context manager closes it too
        pass
    with pytest.raises(BackendClosed):
        b.run(x)
    b.close()


def test_the_torch_reference_closed(synth_run: Path) -> None:
    _assert_closed_refuses(load_reference(synth_run), np.zeros((2, 20), np.float32))


def test_tensorrt_closed_without_a_gpu() -> None:
    """TensorRT needs a GPU to load; an instance whose __init__ never ran (no engine, context or
    buffers, as after a failed start) still closes twice and then refuses run like the others."""
    from phoneprice_edge.backends.base import IOSpec
    from phoneprice_edge.backends.tensorrt import TensorRTBackend

    m = make_manifest(target="tensorrt")
    b = object.__new__(TensorRTBackend)
    b._spec = IOSpec(inputs=m.inputs, outputs=m.outputs)
    b.close()
    b.close()
    with pytest.raises(BackendClosed, match="the tensorrt backend was closed"):
        b.run(np.zeros((1, b.describe().n_features), np.float32))


def test_close_releases_once() -> None:
    """The runtime's _close hook runs exactly once however often close() is called."""

    class Counting(Backend):
        name = "counting"
        calls = 0

        @classmethod
        def _load(cls, artifact, device, options):  # noqa: ANN001, ANN206
            return cls()

        def describe(self):  # noqa: ANN201
            raise AssertionError("run must refuse before describing")

        def _run(self, x: np.ndarray) -> np.ndarray:
            raise AssertionError("unreachable")

        def _close(self) -> None:
            type(self).calls += 1

    b = Counting.load("unused")
    with b:
        pass
    b.close()
    assert Counting.calls == 1
    with pytest.raises(BackendClosed, match="counting"):
        b.run(np.zeros((1, 1), np.float32))
