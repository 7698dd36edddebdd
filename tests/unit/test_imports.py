"""The import structure: layers point one way, backends stay behind their boundary, no cycles.

Read from the source (ast), not by importing: every ``import`` counts, also the ones
inside functions (a lazy import is still a dependency) — except those under
``if TYPE_CHECKING:``, which only type checkers follow.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("lab", "deployer", "checks", "stacklab")
LAYER = {name: i for i, name in enumerate(PACKAGES)}  # a package imports only its own layer or lower ones


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}


def _type_checking(node: ast.If) -> bool:
    return isinstance(node.test, ast.Name) and node.test.id == "TYPE_CHECKING"


def imports(path: Path, known: set[str]) -> set[str]:
    """The project modules ``path`` imports (``from a import b`` counts as a.b when that is a module)."""
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.update(f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in known else node.module
                         for a in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(path.read_text()))
    return {m for m in found if m in known}


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(path, set(mods)) - {name} for name, path in mods.items()}


def test_layers_point_one_way() -> None:
    """stacklab -> checks -> deployer -> lab, never back."""
    wrong = [(m, d) for m, deps in graph().items() for d in deps
             if LAYER[d.split(".")[0]] > LAYER[m.split(".")[0]]]
    assert wrong == []


def test_no_module_outside_a_backend_imports_it() -> None:
    """Only ``lab/backends/<name>/`` imports ``lab.backends.<name>``; the rest asks ``lab.backends.get``."""
    shared = {"lab.backends", "lab.backends.base"}
    wrong = []
    for m, deps in graph().items():
        for d in deps:
            if d.startswith("lab.backends.") and d not in shared:
                backend = ".".join(d.split(".")[:3])
                if not (m == backend or m.startswith(backend + ".")):
                    wrong.append((m, d))
    assert wrong == []


def test_no_import_cycles() -> None:
    """No module reaches itself through imports (Tarjan's strongly connected components)."""
    g = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            scc = []
            while True:
                w = stack.pop()
                scc.append(w)
                if w == v:
                    break
            if len(scc) > 1:
                cycles.append(sorted(scc))

    for v in sorted(g):
        if v not in index:
            connect(v)
    assert cycles == []


def test_the_graph_sees_real_imports() -> None:
    """The checks above would pass on an empty graph: prove it is not one."""
    g = graph()
    assert "lab.backends" in g["lab.engine"] and "checks.registry" in g["checks.infra.controller"]
    assert "lab.backends.lxc.config" in g["lab.backends.lxc.backend"]
