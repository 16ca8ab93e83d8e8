"""pe-parity: compare exported artifacts with the PyTorch reference; exit 1 when any check fails."""

from __future__ import annotations

import json
from pathlib import Path

import click

from phoneprice_edge.cli.common import CONTEXT, device_option
from phoneprice_edge.errors import PEError, UsageError


@click.command(context_settings=CONTEXT)
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path),
              help="Training run folder (reference checkpoint and data/val.npz).")
@click.option("--artifact", "artifacts", multiple=True, type=click.Path(path_type=Path),
              help="Export folder(s) to check (repeatable).")
@click.option("--all", "all_", is_flag=True, help="Check every folder in RUN_DIR/export/.")
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print the reports as JSON.")
def cmd(run_dir: Path, artifacts: tuple[Path, ...], all_: bool, device: str, as_json: bool) -> int:
    """Check numerical parity of exported artifacts on the run's validation split.

    Writes RUN_DIR/parity/<profile>.json, the manifest's parity field and RUN_DIR/parity/report.md.
    fp32: max abs <= 1e-4, max rel <= 1e-3, 100% top-1; fp16: max abs <= 2e-2; int8: top-1
    agreement >= 99% and accuracy drop <= 1 point (profiles may override); batch invariance
    over batches of 1, 7, 64 and 1024.
    """
    from phoneprice_edge.export.manifest import MANIFEST
    from phoneprice_edge.parity import check_parity, save_report, share_text

    if bool(artifacts) == all_:
        raise UsageError("give --artifact EXPORT_DIR (repeatable) or --all")
    if all_:
        artifacts = tuple(sorted(p.parent for p in (run_dir / "export").glob(f"*/{MANIFEST}")))
        if not artifacts:
            raise UsageError(f"no export folders under {run_dir / 'export'} (run pe-export first)")
        artifacts = _skip_deferred(artifacts)
    reports, errors = [], []
    for art in artifacts:
        try:
            rep = check_parity(run_dir, art, device=device)
        except PEError as exc:
            errors.append(str(exc) if str(art) in str(exc) else f"{art}: {exc}")
            continue
        save_report(run_dir, art, rep)
        reports.append(rep)
    if as_json:
        click.echo(json.dumps([r.to_dict() for r in reports], indent=2))
    else:
        for r in reports:
            status = "PASS" if r.passed else "FAIL"
            lo, hi = r.top1_agreement_ci95 or (0.0, 1.0)
            share = share_text(r.int8_share)
            click.echo(f"{status} {r.profile}: max abs {r.max_abs_diff:.3g}, max rel "
                       f"{r.max_rel_diff:.3g}, top-1 {r.top1_agreement:.4f} "
                       f"({r.disagreeing_rows} of {r.n_rows_all} rows differ, 95% {lo:.4f}-{hi:.4f}), "
                       f"accuracy {r.accuracy_reference:.4f} -> {r.accuracy_candidate:.4f}"
                       + (f", {share}" if share else "")
                       + ("" if r.passed else f" [{'; '.join(r.failures)}]"))
    for e in errors:
        click.echo(f"error: {e}", err=True)
    return 1 if errors or any(not r.passed for r in reports) else 0


def _skip_deferred(artifacts: tuple[Path, ...]) -> tuple[Path, ...]:
    """Leave out TensorRT folders whose engine is still to be built on the device (said so)."""
    from phoneprice_edge.export.manifest import read_manifest

    keep = []
    for art in artifacts:
        if read_manifest(art).deferred_build:
            click.echo(f"skip {art.name}: engine not built yet (run its build_engine.sh on the device)")
        else:
            keep.append(art)
    return tuple(keep)
