"""The regression gate: p50 of each (artifact, batch, threads, device) against a baseline report."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from phoneprice_edge.errors import DataError, UsageError

Key = tuple[str, int, int, str]
RETRIES = 2  # extra measurements of a point that looks regressed; the best p50 counts


def point_key(row: dict[str, Any]) -> Key:
    return (str(row["artifact"]), int(row["batch_size"]), int(row["threads"]), str(row["device"]))


def read_baseline(path: str | Path) -> list[dict[str, Any]]:
    """The results[] of a baseline report.json."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"--compare {path}: baseline report not found")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        rows = data["results"]
        for r in rows:
            point_key(r), float(r["p50_us"])
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: not a pe-bench report.json with results[] ({exc!r})") from None
    return rows


@dataclass
class Comparison:
    """One point: baseline and current p50, the best after re-measuring, and the verdict."""

    key: Key
    baseline_us: float
    current_us: float
    best_us: float
    attempts: int
    regressed: bool

    @property
    def ratio(self) -> float:
        return self.best_us / self.baseline_us if self.baseline_us > 0 else float("inf")

    def to_dict(self) -> dict[str, Any]:
        artifact, batch, threads, device = self.key
        return {"artifact": artifact, "batch_size": batch, "threads": threads, "device": device,
                "baseline_p50_us": self.baseline_us, "current_p50_us": self.current_us,
                "best_p50_us": round(self.best_us, 3), "attempts": self.attempts,
                "ratio": round(self.ratio, 3), "regressed": self.regressed}


@dataclass
class CompareResult:
    """Every compared point, plus the points found on one side only."""

    max_regression: float
    points: list[Comparison]
    only_current: list[Key] = field(default_factory=list)
    only_baseline: list[Key] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not any(p.regressed for p in self.points)

    def to_dict(self) -> dict[str, Any]:
        return {"max_regression": self.max_regression, "passed": self.passed,
                "points": [p.to_dict() for p in self.points],
                "only_current": [list(k) for k in self.only_current],
                "only_baseline": [list(k) for k in self.only_baseline]}


def compare_results(current: list[dict[str, Any]], baseline: list[dict[str, Any]],
                    max_regression: float = 0.15,
                    remeasure: Callable[[dict[str, Any]], float] | None = None,
                    retries: int = RETRIES) -> CompareResult:
    """Flag points whose p50 is more than max_regression slower than the baseline's.

    A point over the limit is measured again (up to `retries` more times, through remeasure) and
    its best p50 is judged, so that one noisy sample on a shared machine does not fail CI.
    """
    if not 0 <= max_regression < 100:
        raise UsageError(f"--max-regression must be a fraction >= 0 (0.15 = 15%), got {max_regression}")
    base = {point_key(r): float(r["p50_us"]) for r in baseline}
    seen: set[Key] = set()
    points, only_current = [], []
    for row in current:
        key = point_key(row)
        seen.add(key)
        if key not in base:
            only_current.append(key)
            continue
        limit = base[key] * (1.0 + max_regression)
        best = cur = float(row["p50_us"])
        attempts = 1
        while best > limit and remeasure is not None and attempts <= retries:
            best = min(best, float(remeasure(row)))
            attempts += 1
        points.append(Comparison(key, base[key], cur, best, attempts, regressed=best > limit))
    only_baseline = [k for k in base if k not in seen]
    return CompareResult(max_regression, points, only_current, only_baseline)


def format_table(result: CompareResult) -> str:
    """A plain-text table of the comparison (printed by pe-bench --compare)."""
    head = ("artifact", "batch", "thr", "device", "base p50 us", "p50 us", "best us", "tries",
            "ratio", "verdict")
    lines = [head]
    for p in result.points:
        a, b, t, d = p.key
        verdict = "REGRESSED" if p.regressed else "ok"
        lines.append((a, str(b), str(t), d, f"{p.baseline_us:.1f}", f"{p.current_us:.1f}",
                      f"{p.best_us:.1f}", str(p.attempts), f"{p.ratio:.2f}", verdict))
    widths = [max(len(r[i]) for r in lines) for i in range(len(head))]
    out = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in lines]
    out.insert(1, "  ".join("-" * w for w in widths))
    for k in result.only_current:
        out.append(f"(new, no baseline) {k[0]} batch={k[1]} threads={k[2]} {k[3]}")
    for k in result.only_baseline:
        out.append(f"(in baseline only) {k[0]} batch={k[1]} threads={k[2]} {k[3]}")
    limit = f"max regression {result.max_regression:.0%}"
    bad = sum(p.regressed for p in result.points)
    out.append(f"{'FAIL' if bad else 'PASS'}: {bad} of {len(result.points)} point(s) over the "
               f"{limit}")
    return "\n".join(out)
