"""The README's target table is the one rendered from TARGETS and the built-in profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from phoneprice_edge.errors import ConfigError
from phoneprice_edge.export.profile import builtin_profile_names
from phoneprice_edge.export.target_table import (
    BEGIN,
    END,
    README,
    REGENERATE,
    current_section,
    main,
    render_target_table,
    replace_section,
)
from phoneprice_edge.targets import TARGETS


def test_readme_target_table_matches_targets() -> None:
    text = README.read_text(encoding="utf-8")
    assert current_section(text), f"{README}: no target table between {BEGIN!r} and {END!r}"
    assert current_section(text) == render_target_table(), \
        f"README.md's target table differs from phoneprice_edge/targets.py; run `{REGENERATE}`"


def test_the_table_has_every_target_precision_and_profile() -> None:
    rows = render_target_table().splitlines()[2:]
    assert [r.split(" | ")[0] for r in rows] == [f"| `{n}`" for n in TARGETS]
    for row, t in zip(rows, TARGETS.values(), strict=True):
        assert f" | {', '.join(t.precisions)} | " in row and t.runtime in row and t.notes in row
    table = render_target_table()
    assert all(f"`{n}`" in table for n in builtin_profile_names())


def test_regenerating_rewrites_only_the_marked_section(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\nbefore\n{BEGIN}\n| stale |\n{END}\nafter\n", encoding="utf-8")
    assert main([str(readme), "--check"]) == 1
    assert "| stale |" in readme.read_text(encoding="utf-8")  # --check writes nothing
    assert main([str(readme)]) == 0
    text = readme.read_text(encoding="utf-8")
    assert text == f"# x\n\nbefore\n{BEGIN}\n{render_target_table()}\n{END}\nafter\n"
    assert main([str(readme), "--check"]) == 0
    with pytest.raises(ConfigError, match="no target table markers"):
        replace_section("no markers here", "| t |")
    readme.write_text("no markers\n", encoding="utf-8")
    assert main([str(readme)]) == 2
