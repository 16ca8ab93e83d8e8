"""Batch scoring against a running pe-serve with the binary request type: only httpx and numpy.

    pe-serve --artifact RUN/export/onnx-fp32 &
    python examples/binary_client.py --url http://127.0.0.1:8000 --rows 10000

GET /v1/model gives the feature order, the classes and the limits; each request is N rows of
little-endian float32 (Content-Type: application/octet-stream), and with
Accept: application/octet-stream the answer is N x C float32 probabilities then N int32 classes.
The rows here are random values inside each feature's range (a stand-in for real data).
"""

from __future__ import annotations

import argparse
import os
import time

import httpx
import numpy as np


def random_rows(features: list[dict], n: int, seed: int = 0) -> np.ndarray:
    """n rows inside each feature's [min, max], whole numbers where the feature is not a float."""
    rng = np.random.default_rng(seed)
    cols = []
    for f in features:
        v = rng.uniform(f["min"], f["max"], size=n)
        cols.append(v if f["kind"] == "float" else np.round(v))
    return np.stack(cols, axis=1).astype("<f4")


def score(http: httpx.Client, x: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    r = http.post("/v1/predict", content=np.ascontiguousarray(x, dtype="<f4").tobytes(),
                  headers={"Content-Type": "application/octet-stream",
                           "Accept": "application/octet-stream"})
    if r.status_code != 200:  # errors are JSON: {"error": {"code", "message", "issues"}}
        raise SystemExit(f"HTTP {r.status_code}: {r.json()['error']['message']}")
    n = int(r.headers["x-pe-rows"])
    probs = np.frombuffer(r.content, dtype="<f4", count=n * n_classes).reshape(n, n_classes)
    classes = np.frombuffer(r.content, dtype="<i4", offset=n * n_classes * 4)
    return probs, classes


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default="http://127.0.0.1:8000")
    ap.add_argument("--rows", type=int, default=10_000)
    args = ap.parse_args()
    key = os.environ.get("PE_API_KEY")
    with httpx.Client(base_url=args.url, headers={"X-API-Key": key} if key else {},
                      timeout=30) as http:
        info = http.get("/v1/model").raise_for_status().json()
        features, names = info["schema"]["features"], info["classes"]
        assert [f["name"] for f in features] == info["features"]
        batch = min(info["limits"]["max_batch"],
                    info["limits"]["max_body_bytes"] // (4 * len(features)))
        x = random_rows(features, args.rows)
        t0 = time.perf_counter()
        parts = [score(http, x[i:i + batch], len(names)) for i in range(0, len(x), batch)]
        seconds = time.perf_counter() - t0
    classes = np.concatenate([c for _, c in parts])
    counts = np.bincount(classes, minlength=len(names))
    print(f"{len(x)} rows in {len(parts)} requests of <= {batch} rows: {seconds:.3f} s "
          f"({len(x) / seconds:,.0f} rows/s); classes: "
          + ", ".join(f"{n}: {c}" for n, c in zip(names, counts, strict=True)))


if __name__ == "__main__":
    main()
