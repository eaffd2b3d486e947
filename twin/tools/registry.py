"""Tool registries: the built-in tools, plus tools other teams ship as ``twin.tools`` entry points.

A plugin package declares, in its ``pyproject.toml``::

    [project.entry-points."twin.tools"]
    my_tools = "my_pkg.tools:tools"

where ``tools`` is a :class:`Tool`, a list of Tools, or a callable returning either. A broken
plugin is reported as a warning and skipped; it never stops the twin.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

from twin.tools.base import KINDS, Tool

__all__ = ["BUILTIN", "ENTRY_POINT_GROUP", "ToolRegistry", "default_registry", "load_entry_points", "tool"]

ENTRY_POINT_GROUP = "twin.tools"
_BUILTIN_MODULES = ("twin.tools.observe", "twin.tools.tests_tools", "twin.tools.mitigate")


class ToolRegistry:
    """Tools by name; registering a second tool with a taken name is an error."""

    def __init__(self, tools: list[Tool] | None = None) -> None:
        self._tools: dict[str, Tool] = {}
        for t in tools or []:
            self.register(t)

    def register(self, tool: Tool) -> Tool:
        if not isinstance(tool, Tool):
            raise TypeError(f"expected a twin.tools.Tool, got {type(tool).__name__}")
        if tool.name in self._tools and self._tools[tool.name] is not tool:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool
        return tool

    def get(self, name: str) -> Tool:
        try:
            return self._tools[name]
        except KeyError:
            raise KeyError(f"unknown tool {name!r} (known: {', '.join(self.names())})") from None

    def names(self) -> list[str]:
        return [t.name for t in self]

    def copy(self) -> ToolRegistry:
        return ToolRegistry(list(self._tools.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __len__(self) -> int:
        return len(self._tools)

    def __iter__(self) -> Iterator[Tool]:
        """Tools ordered by kind (observe, test, mitigate), then by name."""
        return iter(sorted(self._tools.values(), key=lambda t: (KINDS.index(t.kind), t.name)))


#: The built-in tools; filled by the ``@tool`` decorators in observe, tests_tools and mitigate.
BUILTIN = ToolRegistry()


def tool(name: str, kind: str, description: str, parameters: dict[str, Any], duration_s: float,
         target: str | None = None, target_kind: str | None = None) -> Callable[[Callable], Callable]:
    """Register the decorated ``func(twin, args) -> (data, summary)`` as a built-in tool."""

    def wrap(func: Callable) -> Callable:
        BUILTIN.register(Tool(name, kind, description, parameters, float(duration_s), func, target, target_kind))
        return func

    return wrap


def _builtins() -> ToolRegistry:
    import importlib

    for module in _BUILTIN_MODULES:
        importlib.import_module(module)
    return BUILTIN


def load_entry_points(registry: ToolRegistry | None = None, group: str = ENTRY_POINT_GROUP) -> ToolRegistry:
    """Add every tool that installed packages declare under ``group``; warn about broken ones."""
    registry = registry if registry is not None else ToolRegistry()
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            obj = ep.load()
            if callable(obj) and not isinstance(obj, Tool):
                obj = obj()
            tools = [obj] if isinstance(obj, Tool) else list(obj)
            for t in tools:
                registry.register(t)
        except Exception as exc:  # noqa: BLE001 - a plugin's bug must not take the twin down
            warnings.warn(f"twin.tools entry point {ep.name!r} ({ep.value}) skipped: {exc}", RuntimeWarning,
                          stacklevel=2)
    return registry


@functools.lru_cache(maxsize=1)
def _default() -> ToolRegistry:
    return load_entry_points(_builtins().copy())


def default_registry(refresh: bool = False) -> ToolRegistry:
    """Built-in tools plus entry-point tools (cached; ``refresh=True`` rescans installed plugins)."""
    if refresh:
        _default.cache_clear()
    return _default()
