"""FeatureSchema: validation of its own fields, JSON round trip, the built-in phone schema."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from phoneprice_edge.errors import SchemaError
from phoneprice_edge.schema import PHONE_SCHEMA, FeatureSchema, FeatureSpec


def test_phone_schema_facts() -> None:
    assert PHONE_SCHEMA.n_features == 20 and PHONE_SCHEMA.n_classes == 4
    assert PHONE_SCHEMA.label == "price_range" and PHONE_SCHEMA.classes == ("0", "1", "2", "3")
    kinds = {f.name: f.kind for f in PHONE_SCHEMA.features}
    assert {n for n, k in kinds.items() if k == "binary"} == {
        "blue", "dual_sim", "four_g", "three_g", "touch_screen", "wifi"}
    assert {n for n, k in kinds.items() if k == "float"} == {"clock_speed", "m_dep"}


def test_round_trip(tmp_path: Path) -> None:
    s = PHONE_SCHEMA.with_scaler([1.0] * 20, [2.0] * 20)
    path = s.save(tmp_path / "schema.json")
    loaded = FeatureSchema.load(path)
    assert loaded == s and loaded.scaler_std == (2.0,) * 20
    assert json.loads(path.read_text())["features"][0] == {
        "name": "battery_power", "kind": "integer", "min": 500, "max": 2000}
    assert FeatureSchema.load(PHONE_SCHEMA.save(tmp_path / "p.json")) == PHONE_SCHEMA


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"features": ()}, "no features"),
    ({"features": (FeatureSpec("a"), FeatureSpec("a"))}, "more than once: a"),
    ({"label": "a"}, "label column 'a' is also listed as a feature"),
    ({"classes": ("x",)}, "at least 2 classes"),
    ({"classes": ("x", "x")}, "unique"),
    ({"features": (FeatureSpec("a", "text"),)}, "unknown kind 'text'"),  # type: ignore[arg-type]
    ({"scaler_mean": (0.0, 1.0), "scaler_std": (1.0,)}, "scaler_mean has 2 values for 1 features"),
    ({"scaler_mean": (0.0,), "scaler_std": (0.0,)}, "finite and > 0"),
])
def test_invalid_schemas(kwargs: dict, message: str) -> None:
    base = {"features": (FeatureSpec("a"),), "label": "y", "classes": ("p", "q")}
    with pytest.raises(SchemaError, match=message):
        FeatureSchema(**{**base, **kwargs})


def test_bad_files(tmp_path: Path) -> None:
    with pytest.raises(SchemaError, match="schema file not found"):
        FeatureSchema.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(SchemaError, match=r"bad\.json: not valid JSON"):
        FeatureSchema.load(bad)
    bad.write_text('{"features": [{"name": "a"}], "classes": ["p", "q"]}')
    with pytest.raises(SchemaError, match=r"bad\.json: malformed schema \(KeyError: 'label'\)"):
        FeatureSchema.load(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(SchemaError, match="must be a JSON object"):
        FeatureSchema.load(bad)
