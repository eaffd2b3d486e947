"""Nothing outside ``twin/sim/twin.py`` reaches into the Twin's private members (issue 11).

Steps, actions, monitors, tools, agents and the pre-check get the world, the state and the
time, and hand back :class:`~twin.sim.effects.Effects`; a private attribute of Twin used
elsewhere would tie them to its internals again.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TWIN_PY = ROOT / "twin" / "sim" / "twin.py"


def _twin_private_names() -> set[str]:
    tree = ast.parse(TWIN_PY.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "Twin")
    names = set()
    for node in ast.walk(cls):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_") \
                and not node.name.startswith("__"):
            names.add(node.name)
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            names.add(node.attr)
    return names


def _violations(private: set[str]) -> list[str]:
    found = []
    for folder in ("twin", "agents", "bench", "tests"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == TWIN_PY or ".venv" in path.parts:
                continue
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.Attribute) and node.attr in private:
                    base = node.value
                    if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                        continue  # the object's own member, not the Twin's
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .{node.attr}")
                # getattr(twin, "_faults") and twin.__dict__ reach the same members by name
                if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                        and node.func.id in ("getattr", "setattr", "hasattr", "delattr") and len(node.args) >= 2 \
                        and isinstance(node.args[1], ast.Constant) and node.args[1].value in private:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.func.id}(..., {node.args[1].value!r})")
                if isinstance(node, ast.Attribute) and node.attr == "__dict__" \
                        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls")):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: .__dict__")
    return found


def test_the_check_knows_the_twins_private_members():
    private = _twin_private_names()
    assert {"_faults", "_wake_at", "_procs"} <= private


def test_no_module_outside_twin_py_touches_a_private_member_of_twin():
    assert _violations(_twin_private_names()) == []
