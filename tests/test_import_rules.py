"""The layer rules of docs/ARCHITECTURE.md, read from its table: no module reaches a layer it may
not import (static: every import statement, function-level ones included, followed transitively
through the package), and every top-level module is in exactly one layer."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PKG = REPO / "phoneprice_edge"
DOC = REPO / "docs" / "ARCHITECTURE.md"
HEADING = "## Layers and what each may import"


def layer_table(text: str) -> dict[str, tuple[tuple[str, ...], frozenset[str]]]:
    """layer -> (its modules as phoneprice_edge.X names, the layers it may import), from the
    markdown table under HEADING."""
    section = text.split(HEADING, 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("|")][2:]  # no header, rule
    out = {}
    for row in rows:
        layer, modules, may = (c.strip() for c in row.strip("|").split("|"))
        names = tuple(f"phoneprice_edge.{m}" for m in re.findall(r"`([\w.]+)`", modules))
        out[layer] = (names, frozenset(x.strip() for x in may.split(",")))
    return out


LAYERS = layer_table(DOC.read_text(encoding="utf-8"))
RUNTIME_ROOTS = LAYERS["runtime"][0]
BUILD_SIDE = LAYERS["build"][0]


def module_file(name: str) -> Path | None:
    rel = Path(*name.split(".")[1:])
    for cand in (PKG / rel.with_suffix(".py"), PKG / rel / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def imports_of(name: str) -> set[str]:
    """Package modules that `name` imports anywhere in its source (and the packages above them)."""
    path = module_file(name)
    assert path is not None, name
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            mods = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for mod in mods:
            parts = mod.split(".")
            for i in range(2, len(parts) + 1):
                sub = ".".join(parts[:i])
                if parts[0] == "phoneprice_edge" and module_file(sub) is not None:
                    out.add(sub)
    return out


def layer_modules(roots: tuple[str, ...]) -> list[str]:
    mods = []
    for root in roots:
        path = module_file(root)
        assert path is not None, root
        if path.name == "__init__.py":
            mods += [f"{root}.{p.stem}" if p.stem != "__init__" else root
                     for p in sorted(path.parent.glob("*.py"))]
        else:
            mods.append(root)
    return mods


def closure(start: str) -> dict[str, str]:
    """Every package module reachable from start -> the module that imports it."""
    seen, todo = {start: ""}, [start]
    while todo:
        cur = todo.pop()
        for dep in imports_of(cur):
            if dep not in seen:
                seen[dep] = cur
                todo.append(dep)
    return seen


def layer_of(mod: str) -> str:
    """The layer of a package module: the row naming it or the longest name above it."""
    best = max(((name, layer) for layer, (names, _) in LAYERS.items() for name in names
                if mod == name or mod.startswith(name + ".")), key=lambda t: len(t[0]))
    return best[1]


def test_the_doc_table_has_the_layers() -> None:
    assert {"runtime", "shared", "build", "entry"} <= set(LAYERS)
    for layer, (names, may) in LAYERS.items():
        assert names, layer
        assert may <= set(LAYERS), (layer, may - set(LAYERS))


def test_every_top_level_module_is_in_one_layer() -> None:
    top = sorted(f"phoneprice_edge.{p.stem}" for p in PKG.iterdir()
                 if (p.suffix == ".py" and p.stem != "__init__")
                 or (p.is_dir() and (p / "__init__.py").is_file()))
    rows = [n for names, _ in LAYERS.values() for n in names if n.count(".") == 1]
    assert sorted(rows) == sorted(set(rows)), "a module is in two layers"
    assert not set(top) - set(rows), f"in no layer of {DOC.name}: {sorted(set(top) - set(rows))}"
    assert not set(rows) - set(top), f"not in the package: {sorted(set(rows) - set(top))}"
    for names, _ in LAYERS.values():
        for n in names:
            assert module_file(n) is not None, n


def neutral(mod: str) -> bool:
    """A package's __init__.py: judged by what it imports (the closure follows it), not its row."""
    path = module_file(mod)
    return path is not None and path.name == "__init__.py"


def test_each_layer_imports_only_what_the_doc_allows() -> None:
    bad = []
    for layer, (names, may) in LAYERS.items():
        if may >= set(LAYERS):
            continue
        for mod in layer_modules(tuple(n for n in names if layer_of(n) == layer)):
            for dep, via in closure(mod).items():
                if layer_of(dep) not in may and not neutral(dep):
                    bad.append(f"{layer}: {mod} -> ... {via} -> {dep} ({layer_of(dep)})")
    assert not bad, "modules reach layers they may not import:\n" + "\n".join(sorted(set(bad)))


def test_runtime_layer_imports_no_build_module() -> None:
    bad = []
    for mod in layer_modules(RUNTIME_ROOTS):
        for dep, via in closure(mod).items():
            if layer_of(dep) == "build" and not neutral(dep):
                bad.append(f"{mod} -> ... {via} -> {dep}")
    assert not bad, "runtime modules reach build-side code:\n" + "\n".join(sorted(set(bad)))


def test_layer_table_parser_reads_a_table() -> None:
    text = (f"{HEADING}\n\n| layer | modules | may import |\n|---|---|---|\n"
            "| runtime | `a`, `b.c` | runtime |\n| build | `d` | runtime, build |\n\n## Next\n| x |")
    assert layer_table(text) == {
        "runtime": (("phoneprice_edge.a", "phoneprice_edge.b.c"), frozenset({"runtime"})),
        "build": (("phoneprice_edge.d",), frozenset({"runtime", "build"}))}


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    """A function-level import of build code in a runtime module is found (the check can fail)."""
    assert "phoneprice_edge.export.runner" in closure("phoneprice_edge.cli.export")
    assert any(d.startswith(BUILD_SIDE) for d in closure("phoneprice_edge.cli.bench"))
