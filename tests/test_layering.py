"""The package layering: data flows one way (ISSUE 12).

Every module of ``eigencalc/`` is parsed with :mod:`ast`; every import counts,
including imports inside functions.  Two rules:

1. no import cycle among the modules of ``eigencalc``;
2. a module imports only its own package and packages of a strictly lower
   layer: core -> special -> (harmonic | duals) -> kernel -> spectral ->
   (checks | learn) -> io -> the public facades -> the package ``__init__``.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1] / "eigencalc"

#: Rank of each layer; siblings share a rank and may not import each other.
LAYERS = {
    "core": 0,
    "special": 1,
    "harmonic": 2,
    "duals": 2,
    "kernel": 3,
    "finite": 3,
    "spectral": 4,
    "checks": 5,
    "learn": 5,
    "io": 6,
    "facade": 7,  # the public module names kept as re-export facades (activations.py, ...)
    "api": 8,  # eigencalc/__init__.py and __main__.py
}


def module_name(path: Path) -> str:
    rel = path.relative_to(ROOT.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":
        return "api"
    if len(parts) == 2 and parts[1] not in LAYERS:
        return "facade"
    return parts[1]


def package_of(module: str, is_package: bool) -> str:
    return module if is_package else module.rpartition(".")[0]


def imported_modules(path: Path, modules: set) -> set:
    """Every eigencalc module that ``path`` imports (any depth in the file, relative or absolute)."""
    me = module_name(path)
    package = package_of(me, path.name == "__init__.py")
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            targets = [stem] + [f"{stem}.{a.name}" for a in node.names]
        else:
            continue
        for target in targets:
            if target in modules and target != me:
                found.add(target)
    return found


def import_graph() -> dict:
    paths = sorted(ROOT.rglob("*.py"))
    modules = {module_name(p) for p in paths}
    return {module_name(p): imported_modules(p, modules) for p in paths}


GRAPH = import_graph()


def test_every_module_has_a_layer():
    unknown = {m for m in GRAPH if layer_of(m) not in LAYERS}
    assert not unknown


def test_no_import_cycle():
    """Depth-first search over the whole import graph (function-level imports included)."""
    state: dict = {}
    cycles = []

    def visit(u, stack):
        state[u] = "open"
        stack.append(u)
        for v in sorted(GRAPH[u]):
            if state.get(v) == "open":
                cycles.append(stack[stack.index(v):] + [v])
            elif v not in state:
                visit(v, stack)
        stack.pop()
        state[u] = "done"

    for u in sorted(GRAPH):
        if u not in state:
            visit(u, [])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_imports_go_down_the_layers(module):
    mine = layer_of(module)
    bad = []
    for target in sorted(GRAPH[module]):
        theirs = layer_of(target)
        if theirs == mine and mine not in ("facade", "api"):
            continue  # within one package: only the no-cycle rule applies
        if theirs == "api" and target == "eigencalc" and mine != "api":
            bad.append(f"{target} (the package __init__)")
        elif LAYERS[theirs] >= LAYERS[mine] and not (mine == theirs == "api"):
            bad.append(f"{target} (layer {theirs}, rank {LAYERS[theirs]})")
    assert not bad, f"{module} (layer {mine}, rank {LAYERS[mine]}) imports a higher or sibling layer: {bad}"


def test_the_checker_sees_function_level_and_relative_imports(tmp_path):
    """The parser must count an import inside a function, or the tests above could not fail."""
    pkg = tmp_path / "eigencalc" / "kernel"
    pkg.mkdir(parents=True)
    src = pkg / "x.py"
    src.write_text("def f():\n    from ..spectral import front\n    from .y import z\n")
    global ROOT
    saved, ROOT = ROOT, tmp_path / "eigencalc"
    try:
        found = imported_modules(src, {"eigencalc.spectral.front", "eigencalc.kernel.y", "eigencalc.spectral"})
    finally:
        ROOT = saved
    assert found == {"eigencalc.spectral", "eigencalc.spectral.front", "eigencalc.kernel.y"}
    assert layer_of("eigencalc.spectral.front") == "spectral" and layer_of("eigencalc.numerics") == "facade"
