"""Request validation for /v1/predict: a JSON body (records or columns + data) or a binary body
(little-endian float32 rows) -> float32 [N, F].

The common case is checked with numpy in a few vectorised steps; only when something is wrong does
a Python scan locate the record index and the field for the error message.
"""

from __future__ import annotations

import json
import math
import operator
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import chain
from typing import Any

import numpy as np

from phoneprice_edge.errors import InputError
from phoneprice_edge.schema import FeatureSchema
from phoneprice_edge.serve.jsonio import loads
from phoneprice_edge.serve.wire import BINARY_TYPE

_NUMBER_TYPES = {int, float}
_F32_MAX = float(np.finfo(np.float32).max)
_TILE_ROWS = 4096  # rows per vectorised check of a binary batch (bounds tiled to this length)


@dataclass(frozen=True)
class Issue:
    """One problem with the input: which record (None = the whole body), which field, what."""

    index: int | None
    field: str | None
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "field": self.field, "message": self.message}

    def __str__(self) -> str:
        where = [] if self.index is None else [f"record {self.index}"]
        where += [] if self.field is None else [f"field {self.field!r}"]
        return f"{', '.join(where)}: {self.message}" if where else self.message


class RequestRejected(InputError):
    """A request the server refuses: HTTP status, a short code and the issues found."""

    def __init__(self, status: int, code: str, issues: list[Issue]) -> None:
        first = str(issues[0]) if issues else code
        more = f" (and {len(issues) - 1} more)" if len(issues) > 1 else ""
        super().__init__(first + more)
        self.status = status
        self.code = code
        self.issues = issues

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": str(self),
                          "issues": [i.to_dict() for i in self.issues]}}


@dataclass
class Validated:
    """The model input and any out-of-range warnings (in --out-of-range warn mode)."""

    x: np.ndarray
    warnings: list[Issue] = field(default_factory=list)


def _reject(index: int | None, fld: str | None, message: str, status: int = 422,
            code: str = "invalid_input") -> RequestRejected:
    return RequestRejected(status, code, [Issue(index, fld, message)])


def _json_type(v: Any) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, str):
        return "string"
    if isinstance(v, list):
        return "array"
    if isinstance(v, dict):
        return "object"
    return type(v).__name__


def parse_json(body: bytes) -> Any:
    """Parse a body; NaN/Infinity/1e999 are accepted here so that the checks can name the field."""
    try:
        return loads(body)
    except ValueError:
        pass
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise _reject(None, None, f"body is not valid JSON ({exc})", 400, "malformed_json") from None


class Validator:
    """Checks request bodies against one FeatureSchema with the server's limits."""

    def __init__(self, schema: FeatureSchema, out_of_range: str = "error", max_batch: int = 4096,
                 max_issues: int = 20) -> None:
        self.names = schema.feature_names
        self.n = len(self.names)
        self.out_of_range = out_of_range
        self.max_batch = max_batch
        self.max_issues = max_issues
        self._getter = (operator.itemgetter(*self.names) if self.n > 1
                        else (lambda r, k=self.names[0]: (r[k],)))
        self._lo, self._hi = schema.bounds()
        self._whole = np.array([f.kind in ("integer", "binary") for f in schema.features])
        self._whole_idx = np.flatnonzero(self._whole)
        lo32, hi32 = _inward_f32(self._lo, self._hi)
        self._bounded = bool(np.isfinite(self._lo).all() and np.isfinite(self._hi).all())
        rows = min(max_batch, _TILE_ROWS)
        self._tiles = (np.tile(lo32, rows), np.tile(hi32, rows), np.tile(~self._whole, rows))
        # (lo, hi, whole) per feature as Python values, for the one-record fast path
        self._bounds = list(zip(self._lo.tolist(), self._hi.tolist(), self._whole.tolist(),
                                strict=True))
        self._kinds = [f.kind for f in schema.features]
        self._name_set = set(self.names)

    def validate_body(self, body: bytes) -> Validated:
        """Parse and check a JSON body: {"records": [...]} or {"columns": [...], "data": [[...]]}."""
        payload = parse_json(body)
        if not isinstance(payload, dict):
            raise _reject(None, None, f"body must be a JSON object, got {_json_type(payload)}",
                          code="invalid_body")
        keys = set(payload)
        if keys == {"records"}:
            return self.records(payload["records"])
        if keys == {"columns", "data"}:
            return self.columnar(payload["columns"], payload["data"])
        raise _reject(None, None, "body must have exactly 'records', or 'columns' and 'data' "
                      f"(got {sorted(keys) or 'no keys'})", code="invalid_body")

    def _check_count(self, rows: Any, what: str) -> int:
        if not isinstance(rows, list):
            raise _reject(None, what, f"must be an array, got {_json_type(rows)}", code="invalid_body")
        if not rows:
            raise _reject(None, what, "must hold at least one record", code="invalid_body")
        if len(rows) > self.max_batch:
            raise _reject(None, what, f"{len(rows)} records exceed the limit of {self.max_batch} "
                          "per request", 413, "batch_too_large")
        return len(rows)

    def records(self, records: Any) -> Validated:
        """A list of {feature: number} objects, each with exactly the schema's features."""
        n = self._check_count(records, "records")
        try:
            if sum(map(len, records)) != n * self.n:
                raise KeyError
            rows = list(map(self._getter, records))
        except (TypeError, KeyError):
            raise self._locate_records(records) from None
        return self._finish(rows, n, lambda: self._locate_records(records))

    def columnar(self, columns: Any, data: Any) -> Validated:
        """Column names (the schema's features in the schema's order) and rows of numbers."""
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise _reject(None, "columns", "must be an array of feature names", code="invalid_body")
        self._check_columns(columns)
        n = self._check_count(data, "data")
        if set(map(type, data)) != {list} or set(map(len, data)) != {self.n}:
            raise self._locate_rows(data)
        return self._finish(data, n, lambda: self._locate_rows(data))

    def _check_columns(self, columns: list[str]) -> None:
        if columns == self.names:
            return
        counts = Counter(columns)
        issues = [Issue(None, c, "listed more than once") for c in sorted(counts) if counts[c] > 1]
        issues += [Issue(None, c, "unknown feature") for c in columns if c not in self._name_set]
        issues += [Issue(None, c, "missing") for c in self.names if c not in counts]
        if not issues:  # the right names, in another order
            issues = [Issue(None, "columns", "must list the features in the schema's order: "
                                             + ", ".join(self.names))]
        raise RequestRejected(422, "invalid_input", issues[: self.max_issues])

    def _finish(self, rows: list[Any], n: int,
                locate: Callable[[], RequestRejected]) -> Validated:
        """rows: n sequences of F values each. One pass checks the value types (exactly int or
        float: no bool, str, null or array), one np.fromiter builds the float64 matrix."""
        if not set(map(type, chain.from_iterable(rows))) <= _NUMBER_TYPES:
            raise locate()
        if n == 1 and self._one_row_ok(rows[0]):
            return Validated(np.array(rows, dtype=np.float32), [])
        try:
            flat = np.fromiter(chain.from_iterable(rows), dtype=np.float64, count=n * self.n)
            arr = flat.reshape(n, self.n)
        except OverflowError:  # an integer beyond float64
            arr = np.array([[_clip_float(v) for v in r] for r in rows], dtype=np.float64)
        return self._checked(arr)

    def binary(self, body: bytes) -> Validated:
        """A binary columnar body: little-endian float32 rows, the schema's features in its order
        (BINARY_TYPE); the same checks as JSON, on the array itself."""
        row = 4 * self.n
        if not body or len(body) % row:
            raise _reject(None, None, f"an {BINARY_TYPE} body must be a whole number of rows of "
                          f"{self.n} little-endian float32 values ({row} bytes each), got "
                          f"{len(body)} bytes", code="invalid_body")
        n = len(body) // row
        if n > self.max_batch:
            raise _reject(None, None, f"{n} records exceed the limit of {self.max_batch} per "
                          "request", 413, "batch_too_large")
        # a native, writable copy (some runtimes refuse or warn on a read-only buffer); ~20 us
        x = np.frombuffer(body, dtype="<f4").astype(np.float32).reshape(n, self.n)
        return self._checked(x)

    def _checked(self, x: np.ndarray) -> Validated:
        """x: [N, F] float64 (from JSON) or float32 (binary). Finite float32 values, in range and
        whole where the schema says so: errors, or warnings in --out-of-range warn mode."""
        if x.dtype == np.float32 and self._all_ok32(x):
            return Validated(x, [])
        bad = ~np.isfinite(x)
        if x.dtype != np.float32:
            bad |= np.abs(x) > _F32_MAX
        if bad.any():
            raise self._issues_at(bad, x, "not a finite float32 number")
        w = x[:, self._whole_idx]
        outside = (x < self._lo) | (x > self._hi)
        outside[:, self._whole_idx] |= w != np.floor(w)
        warnings: list[Issue] = []
        if outside.any():
            err = self._issues_at(outside, x, None)
            if self.out_of_range == "error":
                raise err
            warnings = err.issues
        return Validated(np.ascontiguousarray(x, dtype=np.float32), warnings)

    def _all_ok32(self, x: np.ndarray) -> bool:
        """The common case of a float32 batch, on the flat array against bounds tiled to its
        length (numpy on [N, 20] with [20] bounds pays a loop per row; flat it is SIMD), up to
        _TILE_ROWS rows at a time. NaN fails the range test; the float32 bounds are the float64
        ones rounded inwards, so the test is exact."""
        lo, hi, free = self._tiles
        step = _TILE_ROWS * self.n
        flat = x.reshape(-1)
        for start in range(0, flat.size, step):
            f = flat[start:start + step]
            k = f.size
            ok = (f >= lo[:k]) & (f <= hi[:k])
            ok &= (f == np.floor(f)) | free[:k]
            if not ok.all():
                return False
        return self._bounded or bool(np.isfinite(flat).all())

    def _one_row_ok(self, row: Any) -> bool:
        """True when a single row is finite, float32-sized, in range and whole where it must be.

        A dozen numpy calls on a 1x20 array cost more than the request's model run; this plain
        loop answers the common case, and anything it does not pass goes through the numpy path,
        which names the problems.
        """
        try:
            for v, (lo, hi, whole) in zip(row, self._bounds, strict=True):
                f = float(v)
                if not (lo <= f <= hi and abs(f) <= _F32_MAX) or (whole and f != math.floor(f)):
                    return False
        except (OverflowError, ValueError):
            return False
        return True

    def _issues_at(self, mask: np.ndarray, x: np.ndarray, message: str | None) -> RequestRejected:
        issues = []
        for i, j in np.argwhere(mask)[: self.max_issues]:
            msg = message or self._range_message(int(j), float(x[i, j]))
            issues.append(Issue(int(i), self.names[int(j)], f"{msg} (got {float(x[i, j])!r})"))
        return RequestRejected(422, "invalid_input", issues)

    def _range_message(self, j: int, v: float) -> str:
        lo, hi = self._lo[j], self._hi[j]
        if not lo <= v <= hi:
            return f"out of range [{lo:g}, {hi:g}]"
        return f"must be a whole number ({self._kinds[j]} feature)"

    def _locate_records(self, records: list[Any]) -> RequestRejected:
        issues: list[Issue] = []
        for i, rec in enumerate(records):
            if len(issues) >= self.max_issues:
                break
            if not isinstance(rec, dict):
                issues.append(Issue(i, None, f"record must be an object, got {_json_type(rec)}"))
                continue
            issues += [Issue(i, k, "unknown feature") for k in rec if k not in self._name_set]
            issues += [Issue(i, k, "missing") for k in self.names if k not in rec]
            issues += [Issue(i, k, f"must be a number, got {_json_type(v)}")
                       for k, v in rec.items() if k in self._name_set and not _is_number(v)]
        return RequestRejected(422, "invalid_input", issues[: self.max_issues])

    def _locate_rows(self, data: list[Any]) -> RequestRejected:
        issues: list[Issue] = []
        for i, row in enumerate(data):
            if len(issues) >= self.max_issues:
                break
            if not isinstance(row, list) or len(row) != self.n:
                got = f"{len(row)} values" if isinstance(row, list) else _json_type(row)
                issues.append(Issue(i, None, f"row must be an array of {self.n} numbers, got {got}"))
                continue
            issues += [Issue(i, self.names[j], f"must be a number, got {_json_type(v)}")
                       for j, v in enumerate(row) if not _is_number(v)]
        return RequestRejected(422, "invalid_input", issues[: self.max_issues])


def _inward_f32(lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The smallest float32 >= lo and the largest float32 <= hi: for a float32 x, x >= lo32 exactly
    when x >= lo (and likewise for hi)."""
    with np.errstate(over="ignore"):
        lo32, hi32 = lo.astype(np.float32), hi.astype(np.float32)
    lo32 = np.where(lo32 < lo, np.nextafter(lo32, np.float32(np.inf)), lo32)
    hi32 = np.where(hi32 > hi, np.nextafter(hi32, np.float32(-np.inf)), hi32)
    return lo32.astype(np.float32), hi32.astype(np.float32)


def _is_number(v: Any) -> bool:
    return type(v) is float or type(v) is int


def _clip_float(v: float) -> float:
    try:
        return float(v)
    except OverflowError:
        return math.inf
