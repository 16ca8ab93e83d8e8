"""golden.bin round trip, damage detection and the tolerance check."""

from __future__ import annotations

import numpy as np
import pytest

from phoneprice_edge import golden as g
from phoneprice_edge.errors import ArtifactError


def _golden(rows: int = 5, tol: g.Tolerance | None = None) -> g.Golden:
    rng = np.random.default_rng(0)
    return g.Golden(rng.normal(size=(rows, 3)).astype(np.float32),
                    rng.normal(size=(rows, 4)).astype(np.float32),
                    tol or g.Tolerance(1e-5, 1e-5, 1.0))


def test_round_trip(tmp_path):
    gold = _golden()
    p = g.write(tmp_path / g.GOLDEN_FILE, gold)
    back = g.read(p)
    assert np.array_equal(back.inputs, gold.inputs) and np.array_equal(back.logits, gold.logits)
    assert back.tolerance == g.Tolerance(np.float32(1e-5), np.float32(1e-5), 1.0)
    assert p.stat().st_size == 40 + 4 * 5 * (3 + 4) + 4


def test_infinite_abs_tolerance_round_trips(tmp_path):
    back = g.read(g.write(tmp_path / "x.bin", _golden(tol=g.Tolerance(float("inf"), 0.0, 0.99))))
    assert back.tolerance.abs_tol == float("inf")


@pytest.mark.parametrize("damage", ["truncate", "flip", "magic"])
def test_damage_is_refused(tmp_path, damage):
    data = bytearray(g.encode(_golden()))
    if damage == "truncate":
        data = data[:-7]
    elif damage == "flip":
        data[60] ^= 0x01
    else:
        data[0:8] = b"NOTGOLD!"
    with pytest.raises(ArtifactError):
        g.decode(bytes(data))


def test_non_finite_is_refused_at_write():
    gold = _golden()
    gold.inputs[0, 0] = np.nan
    with pytest.raises(ArtifactError, match="finite"):
        g.encode(gold)


def test_check_elementwise_and_top1():
    gold = _golden(tol=g.Tolerance(1e-3, 0.0, 1.0))
    assert g.check(gold, gold.logits).passed
    near = gold.logits + 5e-4
    assert g.check(gold, near).passed
    far = gold.logits.copy()
    far[2, 1] += 1e-2
    res = g.check(gold, far)
    assert not res.passed and res.rows_out_of_tolerance == 1
    assert not g.check(gold, gold.logits[:, :3]).passed


def test_check_top1_floor_for_int8():
    gold = _golden(rows=10, tol=g.Tolerance(float("inf"), 0.0, 0.9))
    flipped = gold.logits.copy()
    top = flipped.argmax(axis=1)
    flipped[0, top[0]] -= 100.0  # one row of ten changes its class: 0.9 agreement passes
    assert g.check(gold, flipped).passed
    flipped[1, top[1]] -= 100.0
    assert not g.check(gold, flipped).passed
