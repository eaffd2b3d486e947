"""JSON schemas for model answers, built from the toolbox so decoding can only name what exists.

Tool names and entity names become ``enum``/``const`` values, so llama.cpp's schema-constrained
decoding cannot emit an unknown tool or target; the guard still re-checks every answer.
"""

from __future__ import annotations

import copy
from typing import Any

__all__ = ["tool_call_schema", "tool_args_schema", "tools_of_kind", "RISKS"]

RISKS = ("low", "medium", "high")


def tools_of_kind(toolbox: Any, *kinds: str) -> list[str]:
    return [t.name for t in toolbox.tools if t.kind in kinds]


def tool_args_schema(toolbox: Any, name: str) -> dict[str, Any]:
    """A tool's argument schema with every ``x-entity`` property turned into an enum of existing names."""
    params = copy.deepcopy(toolbox.registry.get(name).parameters)
    for prop in params.get("properties", {}).values():
        kind = prop.pop("x-entity", None)
        if kind is not None:
            names = toolbox.entities(kind)
            if names:
                prop["enum"] = list(names)
        _grammar_safe(prop)
    params.setdefault("properties", {})
    params["additionalProperties"] = False
    return params


#: Windows offered for duration arguments (regex patterns do not compile to llama.cpp grammars).
WINDOWS = ["5m", "15m", "30m", "1h"]


def _grammar_safe(prop: dict[str, Any]) -> None:
    """Drop what llama.cpp's schema-to-grammar converter cannot compile; the guard re-validates anyway."""
    pattern = prop.pop("pattern", None)
    prop.pop("format", None)
    if pattern is not None and "enum" not in prop:
        if "m" in pattern and "h" in pattern:
            prop["enum"] = list(WINDOWS)


def tool_call_schema(toolbox: Any, names: list[str], extra: dict[str, Any] | None = None,
                     required_extra: tuple[str, ...] = ()) -> dict[str, Any]:
    """``{"tool": <one of names>, "args": {...}, **extra}``, one ``anyOf`` branch per tool."""
    branches = []
    for name in names:
        props = {"tool": {"type": "string", "const": name}, "args": tool_args_schema(toolbox, name), **(extra or {})}
        branches.append({"type": "object", "properties": props, "required": ["tool", "args", *required_extra]})
    return {"anyOf": branches} if len(branches) != 1 else branches[0]

