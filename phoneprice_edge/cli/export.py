"""pe-export: export a run's checkpoint to one profile, a target/precision pair, or every profile."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from pathlib import Path

import click

from phoneprice_edge.cli.common import CONTEXT
from phoneprice_edge.errors import UsageError
from phoneprice_edge.targets import PRECISIONS, TARGETS


@click.command(context_settings=CONTEXT)
@click.option("--run", "run_dir", required=True, type=click.Path(path_type=Path),
              help="Training run folder (reads checkpoints/best_model.pt and data/*.npz).")
@click.option("--target", type=click.Choice(list(TARGETS)), help="Export target.")
@click.option("--precision", type=click.Choice(PRECISIONS),
              help="With --target: picks the built-in profile TARGET-PRECISION.")
@click.option("--profile", "profile_ref", metavar="NAME_OR_FILE",
              help="A profile name from export_profiles/ or a path to a TOML file.")
@click.option("--all", "all_", is_flag=True,
              help="Export every built-in profile runnable on this host; report the skipped ones.")
@click.option("--defer-build", is_flag=True,
              help="TensorRT: write the ONNX and build_engine.sh (trtexec) instead of building here.")
@click.option("--golden-rows", type=click.IntRange(min=0), default=256, show_default=True,
              help="Golden rows written beside the model (golden.bin) for `pe verify`; 0: none.")
@click.option("--golden-source", type=click.Choice(["validation", "schema"]), default="validation",
              show_default=True,
              help="validation: the run's first validation rows; schema: rows drawn uniformly "
                   "inside the schema's ranges (seeded by --golden-seed), no data shipped.")
@click.option("--golden-seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of the schema-drawn golden rows.")
@click.option("--sign", "sign_key", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Ed25519 private key: sign each exported artifact (manifest.sig).")
def cmd(run_dir: Path, target: str | None, precision: str | None, profile_ref: str | None,
        all_: bool, defer_build: bool, golden_rows: int, golden_source: str, golden_seed: int,
        sign_key: Path | None) -> int:
    """Export RUN_DIR's model into RUN_DIR/export/<profile>/ (artifact + manifest.json).

    Every artifact takes raw float32 features [N, F] and returns float32 logits [N, C]. The
    export is written to a temp folder and moved into place only after the manifest and a
    reload check succeed.
    """
    from phoneprice_edge.export.golden_rows import GoldenOptions
    from phoneprice_edge.export.profile import builtin_profiles, load_profile, profile_for
    from phoneprice_edge.export.runner import check_runnable, export_profile

    if sum(bool(v) for v in (target, profile_ref, all_)) != 1:
        raise UsageError("give exactly one of --target, --profile or --all")
    if precision and not target:
        raise UsageError("--precision goes with --target")
    if not run_dir.is_dir():
        raise UsageError(f"--run {run_dir}: no such run folder")
    golden = GoldenOptions(rows=golden_rows, source=golden_source, seed=golden_seed)
    if sign_key is not None:
        from phoneprice_edge.artifact.signing import load_private_key

        load_private_key(sign_key)  # before any work
    if all_:
        return _export_all(run_dir, builtin_profiles(), defer_build, golden, sign_key)
    profile = load_profile(profile_ref) if profile_ref else profile_for(target or "", precision)
    check_runnable(profile, defer_build)  # before any work
    res = export_profile(run_dir, profile, defer_build=defer_build, golden=golden)
    _echo_result(res, sign_key)
    return 0


def _echo_result(res: object, sign_key: Path | None = None) -> None:
    note = " (deferred: run build_engine.sh on the device)" if res.deferred else ""
    if sign_key is not None:
        from phoneprice_edge.artifact import load_artifact
        from phoneprice_edge.artifact.signing import sign

        sign(res.out_dir, load_artifact(res.out_dir, ignore_env_key=True), sign_key)
        note += ", signed"
    click.echo(f"{res.profile}: {res.out_dir} ({res.size_bytes} bytes: {', '.join(res.files)}){note}")


def _export_all(run_dir: Path, profiles: list, defer_build: bool, golden: object,
                sign_key: Path | None) -> int:
    from phoneprice_edge.export.runner import export_all

    with contextlib.ExitStack() as stack:
        def bar(runnable: list) -> Iterable:
            return stack.enter_context(click.progressbar(
                runnable, label="exporting", file=None,
                item_show_func=lambda p: p.name if p else ""))
        results, skipped, failed = export_all(run_dir, profiles, defer_build, iterate=bar,
                                              golden=golden)
    for res in results:
        _echo_result(res, sign_key)
    for name, reason in skipped:
        click.echo(f"{name}: skipped ({reason})")
    for name, msg in failed:
        click.echo(f"{name}: FAILED: {msg}", err=True)
    click.echo(f"exported {len(results)}, skipped {len(skipped)}, failed {len(failed)}")
    return 1 if failed else 0
