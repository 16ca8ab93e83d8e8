"""`pe pipeline`: the main job as a list of stages (data -> train -> evaluate -> export -> parity -> bench)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from phoneprice_edge.cli.common import CONTEXT
from phoneprice_edge.export.stages import ARTIFACT_STAGES, StagePlan, run_stages

__all__ = ["STAGES", "PipelineContext", "run_stages"]


@dataclass
class PipelineContext:
    """What the stages share: options, the run folder, the plan of the stages after training
    (every built-in profile this host can run), and results earlier stages leave for later ones."""

    run_dir: Path
    data: str | None
    epochs: int | None
    config: str | None
    quiet: bool
    results: dict[str, Any] = field(default_factory=dict)
    plan: StagePlan = field(default_factory=StagePlan.every_builtin)

    def say(self, text: str) -> None:
        click.echo(text)


Stage = Callable[[PipelineContext], None]


def stage_data(ctx: PipelineContext) -> None:
    """Use --data, or write the built-in synthetic data (2000 rows, seed 42) into the run folder;
    check it and print its summary."""
    from phoneprice_edge.data import synth_phone, write_table
    from phoneprice_edge.data.summary import check_file, raise_if_unusable, render

    if ctx.data is None:
        path = ctx.run_dir / "input" / "phone_synth.csv"
        write_table(synth_phone(rows=2000, seed=42), path)
        ctx.data = str(path)
        ctx.say(f"no --data: wrote the built-in synthetic phone data to {path}")
    summary = check_file(ctx.data)
    ctx.say(render(summary))
    raise_if_unusable(summary)


def stage_train(ctx: PipelineContext) -> None:
    """Train with the default recipe (or --config), --epochs overriding."""
    from phoneprice_edge.cli.train import print_summary, resolve_config
    from phoneprice_edge.train import train

    cfg = resolve_config(ctx.config, (), epochs=ctx.epochs)
    result = train(cfg, ctx.data, ctx.run_dir, quiet=ctx.quiet)
    print_summary(result)
    ctx.results["train"] = result


def stage_evaluate(ctx: PipelineContext) -> None:
    """Metrics, report.md and plots of the best model on the validation rows."""
    from phoneprice_edge.evaluate import evaluate_run

    res = evaluate_run(ctx.run_dir)
    ctx.results["evaluate"] = res
    ctx.say(f"evaluation: accuracy {100 * res.metrics['accuracy']:.2f}%, "
            f"macro F1 {res.metrics['macro_f1']:.4f}")
    ctx.say(f"report: {res.out_dir / 'report.md'}")
    ctx.say(f"plots:  {res.out_dir / 'plots'}/")


# data, train, evaluate, then the stage sequence retraining runs too (export/stages.py).
STAGES: list[tuple[str, Stage]] = [
    ("data", stage_data),
    ("train", stage_train),
    ("evaluate", stage_evaluate),
    *ARTIFACT_STAGES,
]


@click.command(context_settings=CONTEXT)
@click.option("--data", help="Training table (file or SQL URL). Default: built-in synthetic phone data, written into the run folder.")
@click.option("--out", "out", type=click.Path(file_okay=False), help="Run folder (default runs/pipeline-<time>).")
@click.option("--config", type=click.Path(dir_okay=False), help="Training config TOML (default recipe otherwise).")
@click.option("--epochs", type=click.IntRange(min=1), help="Override the number of training epochs.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
def cmd(data: str | None, out: str | None, config: str | None, epochs: int | None, quiet: bool) -> None:
    """The main job: check the data, train, evaluate, export every profile this host can run,
    check parity of each artifact against the PyTorch model, and benchmark them.

    Every stage reads the files of the stage before it, so each can be re-run alone
    (pe-train, pe-eval, pe-export, pe-parity, pe-bench). Exit 1 when a parity check fails
    (after the benchmark has still run). About 1-2 minutes on 2 cores.
    """
    from phoneprice_edge.cli.train import default_out

    ctx = PipelineContext(Path(out or default_out("pipeline")), data, epochs, config, quiet)
    run_stages(ctx, STAGES)
    ctx.say(f"done: {ctx.run_dir}")
