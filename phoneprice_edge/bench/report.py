"""Report writers: bench/report.json, report.md (one table with percentiles) and latency.png."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from phoneprice_edge.io_utils import atomic_write, atomic_write_json, atomic_write_text

Group = tuple[str, int, str]  # artifact, threads, device


def _groups(results: list[dict[str, Any]]) -> dict[Group, dict[int, dict[str, Any]]]:
    out: dict[Group, dict[int, dict[str, Any]]] = defaultdict(dict)
    for r in results:
        out[(r["artifact"], int(r["threads"]), r["device"])][int(r["batch_size"])] = r
    return out


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    return f"{n / 1024:.1f} KiB" if n < 1024 * 1024 else f"{n / 1024 / 1024:.2f} MiB"


def _num(v: float | None, fmt: str = "{:.1f}") -> str:
    return "-" if v is None else fmt.format(v)


def _parity(v: bool | None) -> str:
    return {True: "pass", False: "FAIL", None: "not run"}[v]


def results_table(results: list[dict[str, Any]]) -> str:
    """The main Markdown table: one row per artifact (and thread count), p50/p99/rows/s per batch."""
    groups = _groups(results)
    batches = sorted({int(r["batch_size"]) for r in results})
    head = ["Artifact", "Format", "Precision", "int8 MACs", "Device", "Threads", "Parity", "Size",
            "Accuracy", "Load ms"]
    for b in batches:
        head += [f"p50 µs (b={b})", f"p99 µs (b={b})", f"rows/s @p50 (b={b})"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (artifact, threads, device), by_batch in groups.items():
        first = next(iter(by_batch.values()))
        acc = first.get("accuracy")
        share = first.get("int8_mac_share")
        cells = [artifact, str(first.get("format", first["target"])), first["precision"],
                 "-" if share is None else f"{100 * share:.0f}%", device,
                 str(threads), "n/a" if first.get("inputs") == "golden" else
                 _parity(first.get("parity_passed")), _size(first.get("size_bytes")),
                 _num(acc * 100 if isinstance(acc, float | int) else None, "{:.2f}%"),
                 _num(first.get("load_ms"))]
        for b in batches:
            r = by_batch.get(b)
            cells += ["-", "-", "-"] if r is None else [
                _num(r["p50_us"]), _num(r["p99_us"]),
                _num(r.get("throughput_p50_rows_s", r["throughput_rows_s"]), "{:,.0f}")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def overhead_table(overhead: dict[str, Any]) -> str:
    points = overhead.get("points") or []
    if not points:
        return "No ONNX artifact was timed, so the harness overhead was not measured."
    lines = [f"{overhead['what']}; limit {overhead['limit']}x.", "",
             "| Artifact | Threads | backend p50 µs | bare ORT p50 µs | ratio (median) | "
             "ratio range | within limit |", "|---|---|---|---|---|---|---|"]
    for p in points:
        lines.append(f"| {p['artifact']} | {p['threads']} | {p['backend_p50_us']:.2f} | "
                     f"{p['bare_p50_us']:.2f} | {p['ratio']:.3f} | {p['ratio_min']:.2f}–"
                     f"{p['ratio_max']:.2f} | {'yes' if p['within_limit'] else 'NO'} |")
    return "\n".join(lines)


def env_lines(env: dict[str, Any]) -> str:
    gpu = env.get("gpu") or {}
    versions = ", ".join(f"{k} {v}" for k, v in (env.get("versions") or {}).items())
    rows = [
        ("Date (UTC)", env.get("date")), ("Host", env.get("hostname")), ("OS", env.get("os")),
        ("CPU", f"{env.get('cpu')} ({env.get('physical_cores')} cores, "
                f"{env.get('logical_cpus')} logical, {env.get('cpus_available')} available)"),
        ("CPU flags", ", ".join(env.get("cpu_flags") or []) or "-"),
        ("Load average", env.get("load_average")),
        ("GPU", f"{gpu.get('name')} (driver {gpu.get('driver')})" if gpu else "none"),
        ("Python / libraries", f"{env.get('python')}; {versions}"),
        ("Threads", f"{env.get('threads')}; {env.get('thread_settings')}"),
    ]
    return "\n".join(f"- **{k}**: {v}" for k, v in rows)


def render_markdown(report: dict[str, Any]) -> str:
    """report.md: the results table, the overhead check, skipped artifacts, compare, environment."""
    s = report.get("settings") or {}
    parts = ["# Benchmark report", "",
             f"Latency per `backend.run` call in µs (p50, p99), single stream, real validation rows; "
             f"rows/s @p50 = batch / p50 latency (report.json also has throughput_rows_s = batch / "
             f"mean, which carries every preemption of a busy machine). At least {s.get('min_iters')} calls and "
             f"{s.get('min_time_s')} s per point after warm-up.", "",
             results_table(report["results"]), "", "## Harness overhead (batch 1)", "",
             overhead_table(report["overhead"])]
    if report.get("int8_flags"):
        parts += ["", "## int8 checks (int8 no smaller or no faster than fp32)", ""] + [f"- {f}" for f in report["int8_flags"]]
    if report.get("skipped"):
        parts += ["", "## Not timed", ""]
        parts += [f"- {s['artifact']}: {s['reason']}" for s in report["skipped"]]
    if report.get("compare"):
        c = report["compare"]
        parts += ["", "## Comparison with baseline", "",
                  f"max regression {c['max_regression']:.0%}: "
                  f"{'passed' if c['passed'] else 'FAILED'}"]
    parts += ["", "## Environment", "", env_lines(report["env"]), ""]
    return "\n".join(parts)


def plot_latency(results: list[dict[str, Any]], dest: Path) -> Path:
    """latency.png: p50 (line) and p99 (dashed) latency, and rows/s, against batch size (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_lat, ax_thr) = plt.subplots(1, 2, figsize=(12, 5))
    multi_threads = len({int(r["threads"]) for r in results}) > 1
    colors = plt.get_cmap("tab20").colors
    for i, ((artifact, threads, device), by_batch) in enumerate(_groups(results).items()):
        bs = sorted(by_batch)
        label = f"{artifact} ({device}{f', {threads} thr' if multi_threads else ''})"
        style = {"color": colors[i % len(colors)], "marker": "osD^v"[i // len(colors) % 5]}
        ax_lat.plot(bs, [by_batch[b]["p50_us"] for b in bs], label=label, **style)
        ax_lat.plot(bs, [by_batch[b]["p99_us"] for b in bs], ls="--", alpha=0.5,
                    color=style["color"])
        ax_thr.plot(bs, [by_batch[b].get("throughput_p50_rows_s", by_batch[b]["throughput_rows_s"])
                         for b in bs], label=label, **style)
    for ax, title, ylabel in ((ax_lat, "Latency per call (p50 solid, p99 dashed)", "µs"),
                              (ax_thr, "Throughput at p50 latency", "rows/s")):
        ax.set(xscale="log", yscale="log", xlabel="batch size", ylabel=ylabel, title=title)
        ax.grid(True, which="both", alpha=0.3)
    ax_lat.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(dest, lambda fh: fig.savefig(fh, format="png", dpi=110))
    plt.close(fig)
    return dest


def write_report(report: dict[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write report.json, report.md and latency.png into out_dir, each atomically."""
    out_dir = Path(out_dir)
    paths = {"json": atomic_write_json(out_dir / "report.json", report),
             "md": atomic_write_text(out_dir / "report.md", render_markdown(report))}
    if report["results"] and _has_matplotlib():  # a device install has no matplotlib: no plot
        paths["png"] = plot_latency(report["results"], out_dir / "latency.png")
    return paths


def _has_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True
