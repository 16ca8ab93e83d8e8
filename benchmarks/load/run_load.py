"""Bounded loopback load test with wrk -t1 -c8: pe-serve (validation, metrics, JSON access log and
JSONL prediction log on) against the ten-minute baseline (baseline_app.py), both servers up at
once and measured in turn for alternating rounds; then the batch payloads on pe-serve (JSON
columnar vs binary float32 rows at 4,096 rows), also in alternating rounds. Medians and spreads.

    .venv/bin/python benchmarks/load/run_load.py [--artifact DIR] [--rounds 9] [--duration 8]

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
import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PY = sys.executable
LUA = HERE / "post.lua"
JSON, BIN = "application/json", "application/octet-stream"
NOTES = "\n## Notes"
# batch points on pe-serve: (name, body, Content-Type, Accept, rows per request)
BATCH = [("json-columnar-256", "columnar256", JSON, "-", 256),
         ("json-columnar-4096", "columnar4096", JSON, "-", 4096),
         ("binary-4096 (JSON response)", "binary4096", BIN, "-", 4096),
         ("binary-4096 (binary response)", "binary4096", BIN, BIN, 4096)]
SERVERS = ("default", "full")  # pe-serve without / with --log-predictions


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
               str(artifact), "--port", str(port)]
        if kind == "full":  # serialised and written like a file, but no disk fills up
            cmd += ["--log-predictions", "/dev/null"]
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


def wrk(port: int, body: Path, seconds: float, ctype: str = JSON, accept: str = "-",
        max_requests: int | None = None) -> dict[str, Any]:
    args = ["wrk", "-t1", "-c8", f"-d{seconds:g}s", "--timeout", "5s", "-s", str(LUA),
            f"http://127.0.0.1:{port}/v1/predict", "--", str(body), ctype, accept]
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
    for i in range(4096):  # vary ram and battery_power so the batch is not one row repeated
        r = dict(row)
        r["ram"] = 256 + (i * 37) % 3744
        r["battery_power"] = 500 + (i * 53) % 1500
        rows.append(r)
    data = [[r[n] for n in names] for r in rows]
    out = {"single": {"records": [row]}, "columnar256": {"columns": names, "data": data[:256]},
           "columnar4096": {"columns": names, "data": data}}
    paths = {}
    for k, v in out.items():
        paths[k] = work / f"{k}.json"
        paths[k].write_text(json.dumps(v))
    paths["binary4096"] = work / "binary4096.bin"
    paths["binary4096"].write_bytes(np.asarray(data, dtype="<f4").tobytes())
    return paths


def check_points(port: int, b: dict[str, Path]) -> None:
    """Each batch payload is answered 200 with its rows (a benchmark of 4xx answers is void)."""
    for name, body, ctype, accept, rows in BATCH:
        headers = {"Content-Type": ctype, **({"Accept": accept} if accept != "-" else {})}
        r = httpx.post(f"http://127.0.0.1:{port}/v1/predict", content=b[body].read_bytes(),
                       headers=headers, timeout=30)
        n = int(r.headers.get("x-pe-rows", 0)) if accept == BIN else len(
            r.json().get("predictions", [])) if r.status_code == 200 else 0
        if r.status_code != 200 or n != rows:
            raise SystemExit(f"{name}: HTTP {r.status_code}, {n} rows: {r.text[:300]}")


def single_rounds(ports: dict[str, int], b: dict[str, Path], rounds: int,
                  seconds: float) -> list[dict[str, Any]]:
    """Each round measures A B B A (half the duration each; A and B swap every round), so that a
    load that drifts during the round weighs on both servers alike; ratio = B's requests / A's."""
    out = []
    for i in range(rounds):
        a, b2 = ("baseline", "full") if i % 2 == 0 else ("full", "baseline")
        runs: dict[str, list[dict[str, Any]]] = {"baseline": [], "full": []}
        for k in (a, b2, b2, a):
            runs[k].append(wrk(ports[k], b["single"], seconds / 2))
        res: dict[str, Any] = {k: _merge(v) for k, v in runs.items()}
        res["ratio"] = res["full"]["req_s"] / res["baseline"]["req_s"]
        out.append(res)
        print(f"round {i + 1}: baseline {res['baseline']['req_s']:.0f} req/s, full "
              f"{res['full']['req_s']:.0f} req/s (p99 {res['full']['p99_us'] / 1000:.2f} ms), "
              f"ratio {res['ratio']:.3f}", flush=True)
    return out


def _merge(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Two wrk runs as one: requests, time and errors added, percentiles the worse of the two."""
    m = {k: sum(r[k] for r in runs) for k in ("requests", "duration_us", "errors")}
    m.update({k: max(r[k] for r in runs) for k in ("p50_us", "p90_us", "p99_us", "max_us")})
    m["req_s"] = m["requests"] / (m["duration_us"] / 1e6)
    return m


def batch_rounds(ports: dict[str, int], b: dict[str, Path], rounds: int,
                 seconds: float) -> list[dict[str, Any]]:
    """Every batch point on pe-serve as started by default (no prediction log, "default") and
    with the prediction log on ("full"), in an order reversed every round."""
    combos = [(server, point) for point in BATCH for server in SERVERS]
    out = []
    for i in range(rounds):
        res = {}
        for server, (name, body, ctype, accept, rows) in combos if i % 2 == 0 else combos[::-1]:
            key = f"{server}/{name}"
            res[key] = wrk(ports[server], b[body], seconds, ctype, accept)
            res[key]["rows_s"] = res[key]["req_s"] * rows
        out.append(res)
        print(f"batch round {i + 1}: " + ", ".join(f"{k} {v['rows_s']:,.0f}"
                                                   for k, v in res.items()), flush=True)
    return out


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def summarise(single: list[dict[str, Any]], batch: list[dict[str, Any]]) -> dict[str, Any]:
    s: dict[str, Any] = {"ratio": spread([r["ratio"] for r in single])}
    for kind in ("baseline", "full"):
        s[kind] = {"req_s": spread([r[kind]["req_s"] for r in single]),
                   "p50_ms": spread([r[kind]["p50_us"] / 1000 for r in single]),
                   "p99_ms": spread([r[kind]["p99_us"] / 1000 for r in single]),
                   "errors": sum(r[kind]["errors"] for r in single)}
    s["batch"] = {key: {"rows_s": spread([r[key]["rows_s"] for r in batch]),
                        "p50_ms": spread([r[key]["p50_us"] / 1000 for r in batch]),
                        "p99_ms": spread([r[key]["p99_us"] / 1000 for r in batch]),
                        "errors": sum(r[key]["errors"] for r in batch)}
                  for key in batch[0]}
    return s


def memory_run(ports: dict[str, int], pids: dict[str, int], b: dict[str, Path],
               n: int) -> dict[str, Any]:
    out = {}
    for kind in ("baseline", "full"):
        before = rss_mib(pids[kind])
        res = wrk(ports[kind], b["single"], 120, max_requests=n)
        out[kind] = {"requests": res["requests"], "errors": res["errors"],
                     "rss_before_mib": before, "rss_after_mib": rss_mib(pids[kind])}
    return out


def scrape(port: int, names: tuple[str, ...]) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    return {line.split(" ")[0]: float(line.split(" ")[1]) for line in text.splitlines()
            if line.startswith(names)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--artifact", type=Path, default=None,
                    help="ONNX export folder (default: build a random-weight one, as the tests do)")
    ap.add_argument("--rounds", type=int, default=9, help="alternating rounds (at least 5)")
    ap.add_argument("--duration", type=float, default=8.0,
                    help="seconds per server per round, single record (two runs of half)")
    ap.add_argument("--batch-duration", type=float, default=3.0, help="seconds per batch point")
    ap.add_argument("--memory-requests", type=int, default=100_000, help="0: skip the memory run")
    args = ap.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    if args.rounds < 5:
        raise SystemExit("--rounds must be >= 5 (a median of fewer hides a regression in noise)")
    work = Path(tempfile.mkdtemp(prefix="pe-load-"))
    artifact = args.artifact
    if artifact is None:
        sys.path.insert(0, str(REPO / "tests" / "serve"))
        from artifact import make_onnx_artifact  # the tests' random-weight exporter

        artifact = make_onnx_artifact(work / "artifact")
    b = bodies(artifact, work)
    ports = {k: free_port() for k in ("baseline", *SERVERS)}
    procs = {k: start(k, artifact, ports[k], work) for k in ports}
    load_start = os.getloadavg()
    try:
        for k in ports:
            wrk(ports[k], b["single"], 2)  # warm-up
        for k in SERVERS:
            check_points(ports[k], b)
        single = single_rounds(ports, b, args.rounds, args.duration)
        batch = batch_rounds(ports, b, args.rounds, args.batch_duration)
        memory = (memory_run(ports, {k: p.pid for k, p in procs.items()}, b,
                             args.memory_requests) if args.memory_requests else {})
        sink = scrape(ports["full"], ("pe_prediction_log_dropped", "pe_predict_rows_total"))
    finally:
        exit_codes = {k: stop(p) for k, p in procs.items()}
    from phoneprice_edge.export.manifest import cpu_model

    report = {"date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
              "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                          "python": platform.python_version(), "host": platform.node(),
                          "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
              "config": {"rounds": args.rounds, "duration_s": args.duration,
                         "batch_duration_s": args.batch_duration, "wrk": "-t1 -c8",
                         "memory_requests": args.memory_requests},
              "summary": summarise(single, batch), "memory": memory, "sink": sink,
              "exit_codes": exit_codes, "single_rounds": single, "batch_rounds": batch}
    write_report(report)
    shutil.rmtree(work, ignore_errors=True)
    print((HERE / "report.md").read_text())


def _fmt(sp: dict[str, float], f: str = ",.0f") -> str:
    return f"{sp['median']:{f}} ({sp['min']:{f}}-{sp['max']:{f}})"


def write_report(report: dict[str, Any]) -> None:
    (HERE / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    s, m, c = report["summary"], report["machine"], report["config"]
    la = ", ".join(f"{v:.2f}" for v in m["loadavg_start"])
    lines = [f"# Load test: pe-serve vs the ten-minute baseline ({report['date']})", "",
             f"Machine: {m['cpu']}, {m['cores']} vCPU (shared with wrk and with other work; load "
             f"average {la} at the start), Python {m['python']}. Load generator: wrk -t1 -c8 "
             "(apt package). The baseline and both pe-serve servers up for the whole run and measured "
             "in turn, "
             f"{c['rounds']} alternating rounds (single record: A B B A, {c['duration_s'] / 2:g} s "
             "each, the ratio from the sums; "
             f"{c['batch_duration_s']:g} s per batch point); median (min-max) quoted. pe-serve "
             "against the baseline: validation, metrics, JSON access log and JSONL prediction log "
             "(to /dev/null) on.", "",
             "## Single record (JSON, one record per request)", "",
             "| server | req/s | p50 ms | p99 ms | errors |", "|---|---:|---:|---:|---:|"]
    for kind in ("baseline", "full"):
        v = s[kind]
        lines.append(f"| {'pe-serve' if kind == 'full' else 'baseline'} | {_fmt(v['req_s'])} | "
                     f"{_fmt(v['p50_ms'], '.2f')} | {_fmt(v['p99_ms'], '.2f')} | {v['errors']} |")
    lines += ["", f"pe-serve / baseline req/s, per round: **{_fmt(s['ratio'], '.3f')}** "
              f"(rounds: {[round(r['ratio'], 3) for r in report['single_rounds']]}); goal >= 0.95 "
              "median, p99 <= 5 ms.", "", "## Batches on pe-serve (4,096 rows per request unless "
              "named; wrk -t1 -c8)", "",
              "| pe-serve / payload | rows/s | p50 ms | p99 ms | errors |",
              "|---|---:|---:|---:|---:|"]
    for name, v in s["batch"].items():
        lines.append(f"| {name} | {_fmt(v['rows_s'])} | {_fmt(v['p50_ms'], '.2f')} | "
                     f"{_fmt(v['p99_ms'], '.2f')} | {v['errors']} |")
    bt = s["batch"]
    lines.append("")
    for server in SERVERS:
        base = bt[f"{server}/json-columnar-4096"]["rows_s"]["median"]
        ratios = [f"{bt[f'{server}/{n}']['rows_s']['median'] / base:.2f}x ({n})"
                  for n, *_ in BATCH[2:]]
        lines.append(f"- {server}: binary vs JSON columnar at 4,096 rows: {', '.join(ratios)}")
    lines += ["", "Server `default`: pe-serve as started by default (JSON access log on, no "
              "prediction log); `full`: with `--log-predictions` (the single-record server). "
              "Goal: >= 1 M rows/s at 4,096-row binary batches.", "",
              f"Prediction log of `full` at the end: {report['sink']}."]
    if report["memory"]:
        lines += ["", "| server | requests | errors | RSS before MiB | RSS after MiB |",
                  "|---|---:|---:|---:|---:|"]
        for k, v in report["memory"].items():
            lines.append(f"| {k} | {v['requests']:,} | {v['errors']} | "
                         f"{v['rss_before_mib']:.1f} | {v['rss_after_mib']:.1f} |")
    lines += ["", f"Exit codes after SIGTERM: {report['exit_codes']}.", ""]
    old = (HERE / "report.md").read_text() if (HERE / "report.md").is_file() else ""
    notes = old[old.index(NOTES):] if NOTES in old else ""  # hand-written notes are kept
    (HERE / "report.md").write_text("\n".join(lines) + notes)


if __name__ == "__main__":
    main()
