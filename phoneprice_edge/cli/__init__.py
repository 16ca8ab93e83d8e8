"""The `pe` command group: each subcommand lives in its own module and is imported only when used."""

from __future__ import annotations

import importlib

import click

from phoneprice_edge.cli.common import entry

# name -> "module:attribute" of a click command; imported lazily so `pe --help` stays fast and
# works where optional vendor packages are missing.
SUBCOMMANDS: dict[str, str] = {
    "data": "phoneprice_edge.cli.data:cmd",
    "train": "phoneprice_edge.cli.train:cmd",
    "eval": "phoneprice_edge.cli.evaluate:cmd",
    "export": "phoneprice_edge.cli.export:cmd",
    "parity": "phoneprice_edge.cli.parity:cmd",
    "bench": "phoneprice_edge.cli.bench:cmd",
    "predict": "phoneprice_edge.cli.predict:cmd",
    "serve": "phoneprice_edge.cli.serve:cmd",
    "monitor": "phoneprice_edge.cli.monitor:cmd",
    "pipeline": "phoneprice_edge.cli.pipeline:cmd",
    "verify": "phoneprice_edge.cli.verify:cmd",
    "sign": "phoneprice_edge.cli.sign:cmd",
    "keygen": "phoneprice_edge.cli.sign:keygen",
}


def _load(name: str) -> click.Command:
    module, _, attr = SUBCOMMANDS[name].partition(":")
    return getattr(importlib.import_module(module), attr)


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in SUBCOMMANDS:
            return None
        try:
            return _load(cmd_name)
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith("phoneprice_edge"):
                return None  # command not built yet
            raise


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="phoneprice_edge")
def group() -> None:
    """phoneprice_edge: train a tabular classifier, export it to edge runtimes, prove parity,
    benchmark, serve and monitor it. Each stage reads the files of the stage before it.
    """


main = entry(group)


def _sub(name: str):  # noqa: ANN202 - returns an entry point
    def run() -> None:
        entry(_load(name))()
    return run


data_cli = _sub("data")
train_cli = _sub("train")
eval_cli = _sub("eval")
export_cli = _sub("export")
parity_cli = _sub("parity")
bench_cli = _sub("bench")
predict_cli = _sub("predict")
serve_cli = _sub("serve")
monitor_cli = _sub("monitor")
verify_cli = _sub("verify")
