"""Golden-row tolerances derived from the profile, schema-drawn rows, the options' checks."""

from __future__ import annotations

import math

import numpy as np
import pytest

from phoneprice_edge.errors import UsageError
from phoneprice_edge.export.golden_rows import (
    GoldenOptions,
    agreement_floor,
    golden_tolerance,
    schema_rows,
)
from phoneprice_edge.export.profile import load_profile
from phoneprice_edge.schema import PHONE_SCHEMA


def test_agreement_floor_is_the_binomial_quantile() -> None:
    assert agreement_floor(1.0, 256) == 1.0
    assert agreement_floor(0.995, 256) == 1 - 6 / 256
    assert agreement_floor(0.99, 256) == 1 - 9 / 256
    # an artifact exactly at the floor fails on about 1 sample in 1000, not more
    rng = np.random.default_rng(0)
    k = rng.binomial(256, 0.005, size=200_000)
    assert (1 - k / 256 < agreement_floor(0.995, 256)).mean() < 0.002


@pytest.mark.parametrize(("profile", "abs_tol", "rel_tol"), [
    ("onnx-fp32", 1e-4, 1e-3), ("onnx-fp16", 2e-2, 0.0), ("onnx-int8", math.inf, 0.0),
    ("cpp-int8", math.inf, 0.0)])
def test_tolerance_follows_the_profile(profile: str, abs_tol: float, rel_tol: float) -> None:
    t = golden_tolerance(load_profile(profile), 256)
    assert (t.abs_tol, t.rel_tol) == (abs_tol, rel_tol)
    floor = load_profile(profile).tolerance.min_top1_agreement
    assert t.min_top1 == agreement_floor(floor, 256) <= floor


def test_schema_rows_are_seeded_and_inside() -> None:
    a, b = schema_rows(PHONE_SCHEMA, 500, 1), schema_rows(PHONE_SCHEMA, 500, 1)
    assert np.array_equal(a, b) and not np.array_equal(a, schema_rows(PHONE_SCHEMA, 500, 2))
    for i, f in enumerate(PHONE_SCHEMA.features):
        assert a[:, i].min() >= f.min and a[:, i].max() <= f.max
        if f.kind != "float":
            assert np.array_equal(a[:, i], np.rint(a[:, i]))


def test_options_are_checked() -> None:
    with pytest.raises(UsageError, match="--golden-rows"):
        GoldenOptions(rows=-1)
    with pytest.raises(UsageError, match="--golden-source"):
        GoldenOptions(source="test")
