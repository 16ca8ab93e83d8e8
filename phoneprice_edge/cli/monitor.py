"""`pe-monitor`: drift checks of logged traffic, gated retraining, the model registry."""

from __future__ import annotations

import json
from pathlib import Path

import click

from phoneprice_edge.cli.common import CONTEXT
from phoneprice_edge.errors import UsageError

DRIFT_EXIT = 3
_RUN = click.Path(file_okay=False, exists=True, path_type=Path)


@click.group("monitor", context_settings=CONTEXT)
def cmd() -> None:
    """Watch served traffic for drift, retrain with gates, and manage the model registry."""


@cmd.command("drift", context_settings=CONTEXT, epilog=(
    "LOG is a SQLAlchemy URL (sqlite:///predictions.db, postgresql://...), a .db/.sqlite file, "
    "a JSONL prediction log, or a CSV/Parquet/JSONL table of raw features (predicted with the run's "
    "model). Exit status: 0 no drift, 3 drift above a threshold, 1 error, 2 usage."))
@click.option("--run", "run_dir", type=_RUN, required=True, help="Run folder whose training split is the reference.")
@click.option("--log", "log", required=True, metavar="URL_OR_FILE", help="Prediction log or feature table.")
@click.option("--window", type=int, help="Use the last N rows only.")
@click.option("--since", metavar="T", help="Use rows since T: unix seconds, ISO time, or an age such as 2h.")
@click.option("--thresholds", type=click.Path(dir_okay=False, path_type=Path),
              help="TOML of thresholds (see phoneprice_edge/defaults/monitor.toml for every key).")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path),
              help="Report folder (default RUN_DIR/monitor/).")
@click.option("--feedback", type=click.Path(dir_okay=False, exists=True, path_type=Path),
              help="Table of request_id[, row] and true labels: accuracy per time window.")
@click.option("--no-plot", is_flag=True, help="Skip the PNG.")
def drift(run_dir: Path, log: str, window: int | None, since: str | None, thresholds: Path | None,
          out: Path | None, feedback: Path | None, no_plot: bool) -> int:
    """Compare a live window with the run's training data: PSI + KS per feature, class mix, quality."""
    from phoneprice_edge.monitor.check import drift_check
    from phoneprice_edge.monitor.report import write_report
    from phoneprice_edge.monitor.thresholds import load_thresholds
    from phoneprice_edge.monitor.window import parse_since

    t = load_thresholds(thresholds)
    result = drift_check(run_dir, log, t, window=window,
                         since=parse_since(since) if since else None, feedback=feedback)
    paths = write_report(result, out or run_dir / "monitor", png=not no_plot)
    flagged = [f["name"] for f in result["features"] if f["alarm"]]
    click.echo(f"{result['n_rows']} rows: {'DRIFT' if result['alarm'] else 'no drift'}"
               + (f" (features: {', '.join(flagged)})" if flagged else ""))
    for r in result["reasons"]:
        click.echo(f"  - {r}")
    if "feedback" in result:
        click.echo(f"  feedback accuracy {result['feedback']['accuracy']:.4f} on {result['feedback']['n']} rows")
    click.echo(f"report: {paths['md']}")
    return DRIFT_EXIT if result["alarm"] else 0


@cmd.command("retrain", context_settings=CONTEXT, epilog=(
    "The candidate is promoted only if its accuracy on the held-out rows is not below the "
    "champion's (minus --tolerance), every parity check passes and its latency stays within "
    "--max-latency-ratio of the champion's. Exit 0 promoted (or passed without a registry), "
    "1 refused."))
@click.option("--run", "run_dir", type=_RUN, required=True, help="Current run (seeds an empty registry).")
@click.option("--data", required=True, metavar="FILE", help="New labelled rows (file or SQLAlchemy URL).")
@click.option("--full", is_flag=True, help="Train anew on old + new rows instead of fine-tuning.")
@click.option("--registry", type=click.Path(file_okay=False, path_type=Path),
              help="Registry folder; the champion there is the model to beat.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="New run folder.")
@click.option("--holdout", metavar="FILE", help="Held-out labelled rows (default: 30% of --data).")
@click.option("--profile", "profiles", multiple=True, default=("onnx-fp32",), show_default=True,
              help="Export profile(s) to build and check (repeatable).")
@click.option("--epochs", type=int, default=None,
              help="Training epochs (default: 30 when fine-tuning; the champion's recipe with --full).")
@click.option("--lr", type=float, default=None,
              help="Learning rate (default: 3e-3 when fine-tuning; the champion's with --full).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--tolerance", type=float, default=0.0, show_default=True,
              help="Accuracy the candidate may lose and still be promoted.")
@click.option("--max-latency-ratio", type=float, default=2.0, show_default=True)
@click.option("--no-bench", is_flag=True, help="Skip the latency gate.")
def retrain(run_dir: Path, data: str, full: bool, registry: Path | None, out: Path | None,
            holdout: str | None, profiles: tuple[str, ...], epochs: int | None, lr: float | None,
            seed: int,
            tolerance: float, max_latency_ratio: float, no_bench: bool) -> int:
    """Fine-tune (or --full retrain) on new labelled data; export, parity, bench; promote if better.

    Training goes through the project's trainer with the champion's config.toml (k-fold off):
    fine-tuning starts from the champion's checkpoint (--init-from) on the new rows plus a replay
    of old ones; --full fits anew on old + new rows. The candidate is a complete run folder.
    """
    from phoneprice_edge.monitor.retrain import RetrainOptions
    from phoneprice_edge.monitor.retrain import retrain as run_retrain

    if (epochs is not None and epochs < 1) or (lr is not None and lr <= 0):
        raise UsageError("--epochs must be >= 1 and --lr > 0")
    opts = RetrainOptions(run=run_dir, data=data, full=full, registry=registry, out=out,
                          holdout=holdout, profiles=profiles, accuracy_tolerance=tolerance,
                          max_latency_ratio=max_latency_ratio, bench=not no_bench,
                          train_overrides={k: v for k, v in (("epochs", epochs),
                                                             ("learning_rate", lr)) if v is not None},
                          seed=seed)
    res = run_retrain(opts, echo=click.echo)
    verdict = "PROMOTED" if res["promoted"] and registry else ("passed" if res["promoted"] else "REFUSED")
    click.echo(f"{verdict}: candidate {res['candidate_accuracy']:.4f} vs champion "
               f"{res['champion_accuracy']:.4f}" + (f" ({res['version']})" if "version" in res else ""))
    for r in res["reasons"]:
        click.echo(f"  - {r}")
    return 0 if res["promoted"] else 1


@cmd.command("promote", context_settings=CONTEXT)
@click.option("--registry", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True)
@click.option("--force", is_flag=True, help="Promote a version the gates rejected (its artifacts "
              "are still verified).")
@click.argument("version")
def promote(registry: Path, version: str, force: bool) -> None:
    """Make VERSION the champion (also a rollback): atomic pointer switch.

    Every export of VERSION is verified first (file hashes, exported from its own checkpoint);
    a version the gates rejected needs --force.
    """
    from phoneprice_edge.monitor.registry import Registry

    reg = Registry(registry)
    verified = reg.check_promotable(version, force=force)
    forced = force and reg.info(version).get("status") == "rejected"
    old = reg.promote(version, reason="manual, forced past the gates (pe-monitor promote --force)"
                      if forced else "manual (pe-monitor promote)")
    click.echo(f"verified: {', '.join(verified)}")
    click.echo(f"champion: {version} (was {old or 'none'})")


@cmd.command("status", context_settings=CONTEXT)
@click.option("--registry", type=click.Path(file_okay=False, exists=True, path_type=Path), required=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def status(registry: Path, as_json: bool) -> None:
    """Show the champion, candidates and rejected versions."""
    from phoneprice_edge.monitor.registry import Registry

    st = Registry(registry).status()
    if as_json:
        click.echo(json.dumps(st, indent=2))
        return
    click.echo(f"champion: {st['champion'] or 'none'}")
    for v in st["versions"]:
        click.echo(f"  {v['version']}  {v['status']:<9}  {v.get('note') or ''}")


@cmd.command("reference", context_settings=CONTEXT)
@click.option("--run", "run_dir", type=_RUN, required=True)
def reference(run_dir: Path) -> None:
    """(Re)build RUN_DIR/monitor/reference.json from the training split."""
    from phoneprice_edge.monitor.reference import build_reference

    ref = build_reference(run_dir)
    click.echo(f"{run_dir / 'monitor' / 'reference.json'}: {ref['n_rows']} rows, {len(ref['features'])} features")
