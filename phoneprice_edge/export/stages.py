"""The export and parity stages of `pe pipeline`: every profile runnable here, then one table."""

from __future__ import annotations

from typing import Any

from phoneprice_edge.errors import ExportError, ParityFailure


def stage_export(ctx: Any) -> None:
    """Export every built-in profile this host can run; say which were skipped and why."""
    from phoneprice_edge.export.profile import builtin_profiles
    from phoneprice_edge.export.runner import export_all

    results, skipped, failed = export_all(ctx.run_dir, builtin_profiles())
    for name, reason in skipped:
        ctx.say(f"   {name}: skipped ({reason})")
    ctx.results["export"] = results
    ctx.say(f"   exported {len(results)} profile(s) into {ctx.run_dir / 'export'}")
    if failed:
        raise ExportError("export failed for " + " | ".join(f"{n}: {msg}" for n, msg in failed))


def stage_parity(ctx: Any) -> None:
    """Parity of every artifact just exported; print one table; fail if any check fails."""
    from phoneprice_edge.parity import check_parity, save_report

    rows, failed = [], []
    for res in ctx.results.get("export", []):
        rep = check_parity(ctx.run_dir, res.out_dir)
        save_report(ctx.run_dir, res.out_dir, rep)
        rows.append((res, rep))
        if not rep.passed:
            failed.append(f"{rep.profile}: {'; '.join(rep.failures)}")
    ctx.results["parity"] = [rep for _, rep in rows]
    ctx.say(render_table(rows))
    ctx.say(f"   parity reports: {ctx.run_dir / 'parity' / 'report.md'}")
    if failed:
        raise ParityFailure("parity failed for " + " | ".join(failed))


def render_table(rows: list[tuple[Any, Any]]) -> str:
    """profile, format, precision, size, parity result, accuracy (reference -> artifact)."""
    head = f"{'profile':<26} {'format':<16} {'prec':<5} {'size':>9}  {'parity':<6} accuracy"
    lines = [head, "-" * len(head)]
    from phoneprice_edge.targets import TARGETS

    for res, rep in rows:
        lines.append(f"{res.profile:<26} {TARGETS[res.target].fmt:<16} {res.precision:<5} "
                     f"{res.size_bytes / 1024:>7.1f}kB  {'pass' if rep.passed else 'FAIL':<6} "
                     f"{100 * rep.accuracy_reference:.2f}% -> {100 * rep.accuracy_candidate:.2f}%")
    return "\n".join(lines)
