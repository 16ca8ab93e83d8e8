"""The README's target table, rendered from TARGETS and the built-in profiles (`python -m` rewrites it)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from phoneprice_edge.errors import ConfigError
from phoneprice_edge.export.profile import REPO_PROFILES, builtin_profiles
from phoneprice_edge.io_utils import atomic_write_text
from phoneprice_edge.targets import TARGETS

BEGIN = "<!-- target-table: begin (generated: python -m phoneprice_edge.export.target_table) -->"
END = "<!-- target-table: end -->"
README = REPO_PROFILES.parent / "README.md"
REGENERATE = "python -m phoneprice_edge.export.target_table"


def render_target_table() -> str:
    """The markdown table: one row per target in registry order, its precisions, the built-in
    profiles that use it (export_profiles/), its runtime and notes (targets.py)."""
    by_target: dict[str, list[str]] = {name: [] for name in TARGETS}
    for p in builtin_profiles():
        by_target[p.target].append(p.name)
    lines = ["| target | precisions | built-in profiles | runtime | notes |", "|---|---|---|---|---|"]
    for name, t in TARGETS.items():
        profiles = ", ".join(f"`{n}`" for n in sorted(by_target[name])) or "none"
        cells = [f"`{name}`", ", ".join(t.precisions), profiles, t.runtime, t.notes]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def replace_section(text: str, table: str, source: str = "README.md") -> str:
    """text with the part between the BEGIN and END markers replaced by table; ConfigError when
    the markers are missing or out of order."""
    head, sep, rest = text.partition(BEGIN)
    body, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ConfigError(f"{source}: no target table markers ({BEGIN!r} ... {END!r})")
    return f"{head}{BEGIN}\n{table}\n{END}{tail}"


def current_section(text: str) -> str:
    """The table text between the markers as it stands (empty when the markers are missing)."""
    if BEGIN not in text or END not in text.split(BEGIN, 1)[1]:
        return ""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].strip("\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Rewrite the README's target table (--check: exit 1 when it differs, writing nothing)."""
    ap = argparse.ArgumentParser(prog=REGENERATE, description=main.__doc__)
    ap.add_argument("readme", nargs="?", type=Path, default=README)
    ap.add_argument("--check", action="store_true", help="only compare; exit 1 when stale")
    args = ap.parse_args(argv)
    try:
        text = args.readme.read_text(encoding="utf-8")
        new = replace_section(text, render_target_table(), str(args.readme))
    except (OSError, ConfigError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if new == text:
        print(f"{args.readme}: target table up to date")
        return 0
    if args.check:
        print(f"{args.readme}: target table differs from TARGETS; run {REGENERATE}",
              file=sys.stderr)
        return 1
    atomic_write_text(args.readme, new)
    print(f"{args.readme}: target table rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
