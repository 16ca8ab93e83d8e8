"""Bounded loopback load test: pe-serve (validation, metrics, access log, prediction log on) against
the ten-minute baseline (baseline_app.py), alternately in one run, wrk -t1 -c8; medians of repeats.

    .venv/bin/python benchmarks/load/run_load.py [--artifact DIR] [--repeats 3] [--duration 10]

Writes benchmarks/load/report.json and report.md. Only 127.0.0.1; every run is time-bounded.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PY = sys.executable
LUA = HERE / "post.lua"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start(kind: str, artifact: Path, port: int, work: Path) -> subprocess.Popen[bytes]:
    if kind == "baseline":
        cmd = [PY, "-m", "uvicorn", "baseline_app:app", "--app-dir", str(HERE), "--port",
               str(port), "--no-access-log", "--log-level", "warning"]
    else:
        cmd = [PY, "-c", "from phoneprice_edge.cli import serve_cli; serve_cli()", "--artifact",
               str(artifact), "--port", str(port), "--log-predictions",
               str(work / "predictions.jsonl")]
    env = {**os.environ, "PE_ARTIFACT": str(artifact)}
    err = open(work / f"{kind}.stderr", "ab")  # noqa: SIM115 - closed with the process
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err, cwd=REPO)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"{kind} server did not start; see {work / (kind + '.stderr')}")


def stop(proc: subprocess.Popen[bytes]) -> int:
    proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        return -9


def wrk(port: int, body: Path, seconds: float, max_requests: int | None = None) -> dict[str, Any]:
    args = ["wrk", "-t1", "-c8", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(LUA),
            f"http://127.0.0.1:{port}/v1/predict", "--", str(body)]
    if max_requests:
        args.append(str(max_requests))
    out = subprocess.run(args, capture_output=True, text=True, timeout=seconds + 60).stdout
    res = json.loads(next(line for line in out.splitlines() if line.startswith("{")))
    res["req_s"] = res["requests"] / (res["duration_us"] / 1e6)
    res["errors"] = sum(v for k, v in res.items() if k.startswith("err_"))
    return res


def bodies(artifact: Path, work: Path) -> dict[str, Path]:
    manifest = json.loads((artifact / "manifest.json").read_text())
    feats = manifest["schema"]["features"]
    names = [f["name"] for f in feats]
    row = {f["name"]: (round((f["min"] + f["max"]) / 2) if f["kind"] != "float"
                       else round((f["min"] + f["max"]) / 2, 1)) for f in feats}
    rows = []
    for i in range(256):  # vary ram and battery_power so the batch is not one row repeated
        r = dict(row)
        r["ram"] = 256 + (i * 37) % 3744
        r["battery_power"] = 500 + (i * 53) % 1500
        rows.append(r)
    out = {"single": {"records": [row]}, "records256": {"records": rows},
           "columnar256": {"columns": names, "data": [[r[n] for n in names] for r in rows]}}
    paths = {}
    for k, v in out.items():
        paths[k] = work / f"{k}.json"
        paths[k].write_text(json.dumps(v))
    return paths


POINTS = {"baseline": ("single", "records256"), "full": ("single", "records256", "columnar256")}


def one_round(kind: str, artifact: Path, work: Path, b: dict[str, Path],
              seconds: float) -> dict[str, Any]:
    port = free_port()
    proc = start(kind, artifact, port, work)
    try:
        wrk(port, b["single"], 2)  # warm-up
        res = {p: wrk(port, b[p], seconds) for p in POINTS[kind]}
    finally:
        rc = stop(proc)
    res["exit_code"] = rc
    return res


def memory_run(kind: str, artifact: Path, work: Path, b: dict[str, Path],
               n: int) -> dict[str, Any]:
    port = free_port()
    proc = start(kind, artifact, port, work)
    try:
        wrk(port, b["single"], 2)
        before = rss_mib(proc.pid)
        res = wrk(port, b["single"], 120, max_requests=n)
        after = rss_mib(proc.pid)
    finally:
        rc = stop(proc)
    return {"requests": res["requests"], "errors": res["errors"], "rss_before_mib": before,
            "rss_after_mib": after, "exit_code": rc}


def median(rounds: list[dict[str, Any]], point: str, key: str) -> float:
    return statistics.median(r[point][key] for r in rounds)


def summarise(rounds: dict[str, list[dict[str, Any]]]) -> dict[str, Any]:
    s: dict[str, Any] = {}
    for kind, pts in POINTS.items():
        for p in pts:
            rows = 1 if p == "single" else 256
            req_s = median(rounds[kind], p, "req_s")
            s[f"{kind}/{p}"] = {"req_s": round(req_s, 1), "rows_s": round(req_s * rows),
                                "p50_ms": median(rounds[kind], p, "p50_us") / 1000,
                                "p99_ms": median(rounds[kind], p, "p99_us") / 1000,
                                "errors": sum(r[p]["errors"] for r in rounds[kind]),
                                "repeats_req_s": [round(r[p]["req_s"], 1) for r in rounds[kind]]}
    base = s["baseline/single"]["req_s"]
    s["ratio_single_full_to_baseline"] = round(s["full/single"]["req_s"] / base, 3)
    return s


def write_report(report: dict[str, Any]) -> None:
    (HERE / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    s, m = report["summary"], report["memory"]
    lines = [f"# Load test: pe-serve vs the ten-minute baseline ({report['date']})", "",
             f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores (shared "
             f"with wrk and other work), Python {report['machine']['python']}. wrk -t1 -c8, "
             f"{report['config']['duration_s']} s per point, {report['config']['repeats']} "
             "alternating repeats, medians quoted. Full server: validation, metrics, JSON access "
             "log and JSONL prediction log on.", "",
             "| server / payload | req/s | rows/s | p50 ms | p99 ms | errors | repeats (req/s) |",
             "|---|---:|---:|---:|---:|---:|---|"]
    for k, v in s.items():
        if isinstance(v, dict):
            lines.append(f"| {k} | {v['req_s']:,.0f} | {v['rows_s']:,} | {v['p50_ms']:.2f} | "
                         f"{v['p99_ms']:.2f} | {v['errors']} | {v['repeats_req_s']} |")
    lines += ["", f"Single record, full / baseline req/s: **{s['ratio_single_full_to_baseline']}**",
              "", "| server | requests | errors | RSS before MiB | RSS after MiB |",
              "|---|---:|---:|---:|---:|"]
    for k, v in m.items():
        lines.append(f"| {k} | {v['requests']:,} | {v['errors']} | {v['rss_before_mib']:.1f} | "
                     f"{v['rss_after_mib']:.1f} |")
    lines += ["", "Goals: single record >= 90% of the baseline's req/s with p99 <= 5 ms; batches "
              ">= 200k rows/s; no errors; no memory growth.", ""]
    (HERE / "report.md").write_text("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", type=Path, default=None,
                    help="ONNX export folder (default: build a random-weight one, as the tests do)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10.0)
    ap.add_argument("--memory-requests", type=int, default=100_000)
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    work = Path(tempfile.mkdtemp(prefix="pe-load-"))
    artifact = args.artifact
    if artifact is None:
        sys.path.insert(0, str(REPO / "tests" / "serve"))
        from artifact import make_onnx_artifact  # the tests' random-weight exporter

        artifact = make_onnx_artifact(work / "artifact")
    b = bodies(artifact, work)
    rounds: dict[str, list[dict[str, Any]]] = {"baseline": [], "full": []}
    for i in range(args.repeats):
        for kind in ("baseline", "full") if i % 2 == 0 else ("full", "baseline"):
            rounds[kind].append(one_round(kind, artifact, work, b, args.duration))
            print(kind, {p: round(rounds[kind][-1][p]["req_s"]) for p in POINTS[kind]},
                  flush=True)
    memory = {k: memory_run(k, artifact, work, b, args.memory_requests)
              for k in ("baseline", "full")}
    from phoneprice_edge.export.manifest import cpu_model

    report = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                          "python": platform.python_version(), "host": platform.node()},
              "config": {"repeats": args.repeats, "duration_s": args.duration, "wrk": "-t1 -c8",
                         "memory_requests": args.memory_requests},
              "summary": summarise(rounds), "memory": memory, "rounds": rounds}
    write_report(report)
    shutil.rmtree(work, ignore_errors=True)  # the prediction log alone reaches ~1 GB
    print((HERE / "report.md").read_text())


if __name__ == "__main__":
    main()
