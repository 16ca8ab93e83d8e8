"""The runtime layer imports nothing of the build side (static: every import statement of the
runtime modules, function-level ones included, followed transitively through the package)."""

from __future__ import annotations

import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "phoneprice_edge"
BUILD_SIDE = ("phoneprice_edge.export", "phoneprice_edge.training", "phoneprice_edge.train",
              "phoneprice_edge.checkpoint", "phoneprice_edge.parity", "phoneprice_edge.evaluate")
RUNTIME_ROOTS = ("phoneprice_edge.artifact", "phoneprice_edge.backends", "phoneprice_edge.serve",
                 "phoneprice_edge.predict", "phoneprice_edge.verify", "phoneprice_edge.bench",
                 "phoneprice_edge.golden", "phoneprice_edge.host", "phoneprice_edge.cli.verify",
                 "phoneprice_edge.cli.sign")


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


def runtime_modules() -> list[str]:
    mods = []
    for root in RUNTIME_ROOTS:
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


def test_runtime_layer_imports_no_build_module() -> None:
    bad = []
    for mod in runtime_modules():
        for dep, via in closure(mod).items():
            if dep.startswith(BUILD_SIDE):
                bad.append(f"{mod} -> ... {via} -> {dep}")
    assert not bad, "runtime modules reach build-side code:\n" + "\n".join(sorted(set(bad)))


def test_the_checker_sees_function_level_imports(tmp_path: Path) -> None:
    """A function-level import of build code in a runtime module is found (the check can fail)."""
    assert "phoneprice_edge.export.runner" in closure("phoneprice_edge.cli.export")
    assert any(d.startswith(BUILD_SIDE) for d in closure("phoneprice_edge.cli.bench"))
