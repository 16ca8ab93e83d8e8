"""`pe-eval`: metrics, report and plots of a run's model, on its validation rows or another file."""

from __future__ import annotations

import click

from phoneprice_edge.cli.common import CONTEXT, warn_if_in_progress


@click.command(context_settings=CONTEXT)
@click.option("--run", "run_dir", required=True, type=click.Path(file_okay=False), help="Run folder written by pe-train.")
@click.option("--data", help="Evaluate on this labelled table instead of the run's validation rows (results under RUN_DIR/eval/<name>/).")
@click.option("--artifact", type=click.Path(file_okay=False), help="Evaluate this exported artifact folder through its backend instead of the PyTorch checkpoint.")
@click.option("--out", type=click.Path(file_okay=False), help="Write metrics.json, report.md and plots/ here.")
@click.option("--no-plots", is_flag=True, help="Skip the PNG plots.")
def cmd(run_dir: str, data: str | None, artifact: str | None, out: str | None, no_plots: bool) -> None:
    """Accuracy, macro/weighted precision/recall/F1, one-vs-rest AUC, confusion matrix and the
    per-class report, into metrics.json and report.md, with plots in plots/.
    """
    from phoneprice_edge.evaluate import evaluate_run

    warn_if_in_progress(run_dir)
    res = evaluate_run(run_dir, data=data, artifact=artifact, out_dir=out, plots=not no_plots)
    m = res.metrics
    auc = "n/a" if m["auc_ovr_macro"] is None else f"{m['auc_ovr_macro']:.4f}"
    click.echo(f"{m['data']}: {m['n']} rows, accuracy {100 * m['accuracy']:.2f}%, "
               f"macro F1 {m['macro_f1']:.4f}, AUC (ovr macro) {auc}")
    click.echo(f"report: {res.out_dir / 'report.md'}")
    if res.plots:
        click.echo(f"plots:  {res.out_dir / 'plots'}/")
