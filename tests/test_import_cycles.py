"""No import cycle among the package's modules: any import, lazy ones and importlib.import_module
strings included (docs/ARCHITECTURE.md)."""

from __future__ import annotations

import ast
from pathlib import Path

import phoneprice_edge

PKG = Path(phoneprice_edge.__file__).parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(PKG.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PKG.rglob("*.py")}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Package modules that `name` imports anywhere in its file (top level, functions, TYPE_CHECKING)."""
    out: set[str] = set()
    is_pkg = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "import_module"
                and node.args and isinstance(node.args[0], ast.Constant)):
            out.add(str(node.args[0].value))
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".")[: len(name.split(".")) - node.level + (1 if is_pkg else 0)]
                base = ".".join([*anchor, *([base] if base else [])])
            for a in node.names:
                sub = f"{base}.{a.name}"
                out.add(sub if sub in known else base)
    return {m for m in out if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    return {n: _imports(n, p, set(mods)) for n, p in mods.items()}


def _cycle_through(graph: dict[str, set[str]], start: str) -> list[str] | None:
    """A path start -> ... -> start, if there is one (depth-first)."""
    stack, seen = [(start, [start])], set()
    while stack:
        node, path = stack.pop()
        for nxt in sorted(graph.get(node, ())):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def test_package_has_no_import_cycle() -> None:
    graph = _graph()
    assert "phoneprice_edge.training.kfold" in graph and "phoneprice_edge.serve.sinks" in graph
    cycles = {m: c for m in graph if (c := _cycle_through(graph, m))}
    assert not cycles, "\n".join(" -> ".join(c) for c in cycles.values())


def test_lazy_and_importlib_imports_are_seen(tmp_path: Path) -> None:
    src = tmp_path / "m.py"
    src.write_text("import importlib\ndef f():\n    from phoneprice_edge import errors\n"
                   "    importlib.import_module('phoneprice_edge.schema')\n")
    known = {"phoneprice_edge.errors", "phoneprice_edge.schema", "phoneprice_edge"}
    assert _imports("x.m", src, known) >= {"phoneprice_edge.errors", "phoneprice_edge.schema"}


def test_the_checker_sees_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycle_through(graph, "a") == ["a", "b", "c", "a"]
    assert _cycle_through(graph, "d") is None
