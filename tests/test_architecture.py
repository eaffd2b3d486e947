"""The shape of the code: dependencies point one way and packages say what they export.

The import graph is read from the source with ``ast`` (every ``import`` anywhere in a file,
deferred imports inside functions and ``TYPE_CHECKING`` blocks included), not from
``sys.modules``, so an import that only runs on some code path still counts.
"""

from __future__ import annotations

import ast
import importlib
import types
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("twin", "agents")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _sources() -> dict[str, Path]:
    return {_module_name(p): p for pkg in PACKAGES for p in sorted((ROOT / pkg).rglob("*.py"))}


def _imported(module: str, path: Path, known: set[str]) -> set[str]:
    """Modules of ``known`` that ``module`` imports, anywhere in its file."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out: set[str] = set()

    def add(name: str) -> None:
        while name and name not in known:  # ``import a.b.c`` of an attribute: its nearest module
            name = name.rpartition(".")[0]
        if name and name != module:
            out.add(name)

    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                sub = f"{source}.{alias.name}"
                add(sub if sub in known else source)  # ``from pkg import mod`` names the submodule
    return out


def import_graph() -> nx.DiGraph:
    sources = _sources()
    known = set(sources)
    g = nx.DiGraph()
    g.add_nodes_from(known)
    for module, path in sources.items():
        g.add_edges_from((module, target) for target in _imported(module, path, known))
    return g


def test_the_graph_sees_deferred_and_relative_imports(tmp_path):
    mod = tmp_path / "mod.py"
    mod.write_text("import numpy\n\ndef f():\n    from ..other import thing\n    import pkg.sub.leaf.attr\n"
                   "    from . import leaf\n    from .leaf import name\n")
    known = {"pkg", "pkg.other", "pkg.sub", "pkg.sub.leaf", "pkg.sub.mod"}
    assert _imported("pkg.sub.mod", mod, known) == {"pkg.other", "pkg.sub.leaf"}


#: Edges that close cycles today, each left for the change that removes it (see issue 11).
#: The list may only shrink: a test fails once an edge is gone, so it is struck off here.
PENDING = {
    # type-only: the model is annotated with scenario specs while scenario builds the model
    ("twin.model.world", "twin.scenario"): "split the scenario schema from loading",
    ("twin.model.wan", "twin.scenario"): "split the scenario schema from loading",
}


def test_pending_edges_still_exist():
    gone = sorted(set(PENDING) - set(import_graph().edges))
    assert not gone, f"these imports are gone: strike them off PENDING: {gone}"


def test_no_import_cycles():
    g = import_graph()
    g.remove_edges_from(PENDING)
    cycles = [sorted(c) for c in nx.strongly_connected_components(g) if len(c) > 1]
    if cycles:
        cycle = nx.find_cycle(g.subgraph(cycles[0]))
        pytest.fail("import cycle: " + " -> ".join([a for a, _ in cycle] + [cycle[0][0]]))


def test_twin_imports_nothing_from_agents():
    g = import_graph()
    bad = sorted((a, b) for a, b in g.edges if a.split(".")[0] == "twin" and b.split(".")[0] == "agents")
    assert not bad, f"twin must not import agents (found {bad}); resolve agents through twin.agent_registry"


# -- what packages export ----------------------------------------------------------------------
def _packages() -> list[str]:
    return sorted(_module_name(p.parent / "__init__.py") for pkg in PACKAGES for p in (ROOT / pkg).rglob("__init__.py"))


def _bound_names(path: Path) -> set[str]:
    """Names an ``__init__`` binds at top level: definitions, assignments and imports."""
    names: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            names.update(a.asname or a.name for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.asname or a.name.split(".")[0] for a in node.names)
    return names


@pytest.mark.parametrize("package", _packages())
def test_all_lists_exactly_the_public_names(package):
    module = importlib.import_module(package)
    public = {n for n in _bound_names(ROOT / Path(*package.split(".")) / "__init__.py")
              if not n.startswith("_") and not isinstance(getattr(module, n, None), types.ModuleType)}
    declared = getattr(module, "__all__", None)
    if declared is None:
        assert not public, f"{package} exports {sorted(public)} but has no __all__"
        return
    assert len(declared) == len(set(declared)), f"{package}.__all__ repeats names"
    missing = [n for n in declared if not hasattr(module, n)]
    assert not missing, f"{package}.__all__ names what it does not define: {missing}"
    assert set(declared) == public, (f"{package}.__all__ lacks {sorted(public - set(declared))}, "
                                     f"lists {sorted(set(declared) - public)} it does not bind")
