"""The random baseline: each step, a uniformly drawn (tool, target) pair with random valid arguments."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from twin.tools import Tool, Toolbox

__all__ = ["RandomAgent", "sample_args", "tool_target_pairs"]

_WINDOWS = ("5m", "10m", "30m")


def tool_target_pairs(toolbox: Toolbox) -> list[tuple[str, str | None]]:
    """Every (tool, target value) the toolbox accepts; tools without a target appear once with None."""
    pairs: list[tuple[str, str | None]] = []
    for t in toolbox.tools:
        targets = toolbox.targets(t.name) if t.target else []
        if t.target and not targets:
            continue  # nothing to aim it at in this twin (e.g. no features)
        pairs.extend((t.name, v) for v in targets) if targets else pairs.append((t.name, None))
    return pairs


def _value(toolbox: Toolbox, prop: dict[str, Any], rng: np.random.Generator) -> Any:
    if "x-entity" in prop:
        names = toolbox.entities(prop["x-entity"])
        return names[int(rng.integers(len(names)))] if names else None
    if "enum" in prop:
        return prop["enum"][int(rng.integers(len(prop["enum"])))]
    lo = prop.get("minimum", 0)
    if prop.get("type") == "integer":
        return int(rng.integers(lo, min(prop.get("maximum", lo + 9), lo + 9) + 1))
    if prop.get("type") == "number":
        return float(rng.uniform(lo, prop.get("maximum", lo + 1000.0)))
    if prop.get("type") == "string" and "pattern" in prop:
        return _WINDOWS[int(rng.integers(len(_WINDOWS)))]
    return None


def sample_args(toolbox: Toolbox, tool: Tool, rng: np.random.Generator, target: str | None = None) -> dict[str, Any]:
    """Random arguments that pass the tool's schema: required ones always, optional ones half the time."""
    args: dict[str, Any] = {}
    required = set(tool.parameters.get("required", []))
    for key, prop in tool.parameters.get("properties", {}).items():
        if key == tool.target and target is not None:
            args[key] = target
        elif key in required or rng.random() < 0.5:
            value = _value(toolbox, prop, rng)
            if value is not None:
                args[key] = value
    return args


class RandomAgent:
    """Uniform over valid (tool, target) pairs, mitigations included; it never stops by itself."""

    name = "random"

    def __init__(self, stop_after: int | None = None) -> None:
        self.stop_after = stop_after
        self._rng = np.random.default_rng(0)
        self._pairs: list[tuple[str, str | None]] = []
        self._n = 0

    def reset(self, toolbox: Toolbox, rng: np.random.Generator) -> None:
        self._rng, self._n = rng, 0
        self._pairs = tool_target_pairs(toolbox)

    def act(self, toolbox: Toolbox) -> tuple[str, dict[str, Any]] | None:
        if not self._pairs or (self.stop_after is not None and self._n >= self.stop_after):
            return None
        self._n += 1
        name, target = self._pairs[int(self._rng.integers(len(self._pairs)))]
        return name, sample_args(toolbox, toolbox.registry.get(name), self._rng, target)
