"""`pe-train`: train a classifier into a run folder (holdout or k-fold), or resume an interrupted run."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click

from phoneprice_edge.cli.common import CONTEXT, resume_hint
from phoneprice_edge.errors import UsageError


def resolve_config(config: str | None, sets: tuple[str, ...], **flags: object):  # noqa: ANN201
    """Default file <- --config FILE <- --set KEY=VALUE <- explicit flags."""
    from phoneprice_edge.config import load_train_config, parse_override

    cfg = load_train_config(config)
    overrides = dict(parse_override(s) for s in sets)
    given = {k: v for k, v in flags.items() if v is not None}
    both = sorted(set(overrides) & set(given))
    if both:
        key = both[0]
        raise UsageError(f"--set {key}=... and --{key.replace('_', '-')} conflict: give the value "
                         "once")
    overrides.update(given)
    return cfg.with_overrides(source="command line", **overrides) if overrides else cfg


def load_data(data: str | None, *, label: str | None, table: str | None, query: str | None,
              seed: int, delimiter: str | None):  # noqa: ANN201 - a Dataset
    """The training Dataset: the table at data (with its CSV delimiter), else the built-in data."""
    from phoneprice_edge import train

    if data is None or delimiter is None:
        return train.load_data(data, label=label, table=table, query=query, seed=seed)
    from phoneprice_edge.data import load_dataset

    return load_dataset(data, label=label, table=table, query=query, delimiter=delimiter)


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off while torch, pandas and the data load; what they import is frozen.

    Those imports create several hundred thousand long-lived objects; the collector scanned them
    again and again while they were created (~0.6-0.8 s CPU of a 5-fold run's start-up on the
    benchmark machine, benchmarks/train_speed.md). When the block imported modules, everything is
    then moved to the permanent generation (gc.freeze: never scanned again; module objects live as
    long as the process anyway); a block that imports nothing new (a second command in the same
    process) freezes nothing. The collector runs as usual for what training allocates. Numerics
    are unaffected.
    """
    enabled, modules = gc.isenabled(), len(sys.modules)
    gc.disable()
    try:
        yield
    finally:
        if len(sys.modules) > modules:
            gc.freeze()
        if enabled:
            gc.enable()


def default_out(prefix: str = "train") -> str:
    return str(Path("runs") / f"{prefix}-{time.strftime('%Y%m%d-%H%M%S')}")


def print_summary(result: object) -> None:
    m = result.metrics  # type: ignore[attr-defined]
    if "cv" in m:
        cv = m["cv"]
        click.echo(f"cv: {cv['k']}-fold accuracy {100 * cv['accuracy_mean']:.2f}% ± "
                   f"{100 * cv['accuracy_std']:.2f}, macro F1 {cv['macro_f1_mean']:.4f}")
    held = "" if m.get("val_held_out", True) else " (not held out: refit trained on them)"
    click.echo(f"validation: accuracy {100 * m['accuracy']:.2f}%, macro F1 {m['macro_f1']:.4f}{held}")
    click.echo(f"run: {result.run_dir}  (best model: {result.best_checkpoint}; "  # type: ignore[attr-defined]
               f"{result.seconds:.1f} s)")  # type: ignore[attr-defined]


@click.command(context_settings=CONTEXT)
@click.option("--config", type=click.Path(dir_okay=False), help="TOML config; its keys override the defaults (phoneprice_edge/defaults/train.toml).")
@click.option("--data", help="Training table: CSV/Parquet/JSON/JSONL file or SQLAlchemy URL. Default: built-in synthetic phone data (2000 rows).")
@click.option("--table", help="SQL table name (with a SQL URL).")
@click.option("--query", help="SQL query to read instead of --table (with a SQL URL).")
@click.option("--delimiter", help="CSV field separator of --data (default ',').")
@click.option("--label", help="Label column (default: from the schema, price_range for the phone table).")
@click.option("--kfold", type=int, help="Stratified K-fold cross-validation with K models (K >= 2).")
@click.option("--refit/--no-refit", default=None, help="After k-fold, train one final model on all rows.")
@click.option("--seed", type=int, help="Random seed (default 42).")
@click.option("--epochs", type=int, help="Number of epochs.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Training device.")
@click.option("--set", "sets", multiple=True, metavar="KEY=VALUE", help="Override any config key (TOML value syntax), e.g. --set hidden_dims=[64] --set optimizer=sgd.")
@click.option("--out", type=click.Path(file_okay=False), help="Run folder (default runs/train-<time>).")
@click.option("--resume", type=click.Path(file_okay=False), help="Continue the interrupted run in this folder (other options are taken from its config.toml).")
@click.option("--init-from", type=click.Path(dir_okay=False), help="Start from the weights of this checkpoint (same architecture).")
@click.option("--distributed", is_flag=True, help="DistributedDataParallel across the processes torchrun starts "
              "(`torchrun --nproc_per_node=N --no-python pe-train --distributed ...`); see docs/distributed.md.")
@click.option("--dist-timeout", type=click.FloatRange(min=1), default=60.0, show_default=True, metavar="SECONDS",
              help="With --distributed: how long the rendezvous and any collective may wait for a peer.")
@click.option("-q", "--quiet", is_flag=True, help="No progress bar.")
def cmd(config: str | None, data: str | None, table: str | None, query: str | None,
        delimiter: str | None, label: str | None,
        kfold: int | None, refit: bool | None, seed: int | None, epochs: int | None,
        device: str | None, sets: tuple[str, ...], out: str | None, resume: str | None,
        init_from: str | None, distributed: bool, dist_timeout: float, quiet: bool) -> None:
    """Train a tabular classifier into a run folder.

    Writes config.toml, schema.json, data/{train,val}.npz, checkpoints/{last,best_model}.pt,
    history.jsonl, tb/ and metrics.json (with `cv` for k-fold). Ctrl-C leaves a resumable run:
    continue it with `pe-train --resume RUN_DIR`.
    """
    with gc_paused():
        from phoneprice_edge.cli.train_guard import (
            check_out_folder,
            check_trainable,
            cleanup_on_failed_start,
        )
        from phoneprice_edge.train import resume_run, train_run

    if resume:
        if any(v is not None for v in (config, data, delimiter, kfold, refit, seed, epochs, device,
                                       out)) or sets:
            raise UsageError("--resume takes its settings from RUN_DIR/config.toml; drop the other options")
    if distributed:
        if delimiter is not None:
            raise UsageError("--delimiter is not supported with --distributed; save --data "
                             "comma-separated")
        from phoneprice_edge.training.ddp_run import run_cli

        run_cli(resume=resume, quiet=quiet, init_from=init_from, timeout_s=dist_timeout,
                summary=print_summary, make_config=lambda: resolve_config(
                    config, sets, kfold=kfold, refit=refit, seed=seed, epochs=epochs, device=device),
                data=data, table=table, query=query, label=label, out=out or default_out())
        return
    if resume:
        with resume_hint(resume):
            result = resume_run(resume, quiet=quiet, init_from=init_from)
        print_summary(result)
        return
    cfg = resolve_config(config, sets, kfold=kfold, refit=refit, seed=seed, epochs=epochs,
                         device=device)
    run_dir = out or default_out()
    before = check_out_folder(run_dir)
    with gc_paused():  # pandas and its extensions (the data load)
        ds = load_data(data, label=label, table=table, query=query, seed=cfg.seed,
                       delimiter=delimiter)
    check_trainable(cfg, ds.X, ds.y, ds.schema, ds.source or str(data))
    if init_from:
        from phoneprice_edge.checkpoint import read_checkpoint

        read_checkpoint(init_from)  # a missing or unreadable file: before the run folder exists
    with resume_hint(run_dir), cleanup_on_failed_start(run_dir, before):
        result = train_run(cfg, ds.X, ds.y, ds.schema, run_dir, init_from=init_from,
                           quiet=quiet)
    print_summary(result)
