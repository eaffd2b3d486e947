"""The two types every tool shares: a :class:`Tool` (what it is) and a :class:`ToolResult` (what it saw).

A tool's ``func(twin, args) -> (data, summary)`` reads the twin through its monitors only and
returns plain, JSON-serialisable data plus a one-line summary for humans and prompts.
Arguments are described by a JSON schema; a property may carry ``"x-entity": KIND`` so the
toolbox can check the value names something that exists in the twin (and list what does).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["ENTITY_KINDS", "KINDS", "Tool", "ToolResult"]

#: Tool kinds, in the order toolboxes list them.
KINDS: tuple[str, ...] = ("observe", "test", "mitigate")

#: What an ``x-entity`` / ``target_kind`` may name. ``entity`` is any link, device or service;
#: ``alert`` is an alert rule's name.
ENTITY_KINDS: tuple[str, ...] = ("link", "device", "service", "change", "feature", "plane", "class", "site",
                                 "entity", "alert")


@dataclass(frozen=True)
class Tool:
    """One agent-facing capability: an observation, a test or a mitigation."""

    name: str
    kind: str  # observe | test | mitigate
    description: str
    parameters: dict[str, Any]  # JSON schema: {"type": "object", "properties": ..., "required": [...]}
    duration_s: float  # simulated seconds a call takes
    func: Callable[[Twin, dict[str, Any]], tuple[dict[str, Any], str]]
    target: str | None = None  # the main argument, e.g. "link"
    target_kind: str | None = None  # entity kind of the main argument

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"tool {self.name!r}: kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.parameters.get("type") != "object":
            raise ValueError(f"tool {self.name!r}: parameters must be a JSON schema of type 'object'")
        if self.target is not None and self.target not in self.parameters.get("properties", {}):
            raise ValueError(f"tool {self.name!r}: target {self.target!r} is not one of its parameters")
        if self.target_kind is not None and self.target_kind not in ENTITY_KINDS:
            raise ValueError(f"tool {self.name!r}: target_kind must be one of {', '.join(ENTITY_KINDS)}")

    def schema(self) -> dict[str, Any]:
        """Function-calling style description: ``{"name", "description", "parameters"}``."""
        return {"name": self.name, "description": self.description, "parameters": self.parameters}


@dataclass(frozen=True)
class ToolResult:
    """What one tool call returned; ``ok=False`` results carry ``error`` and, where known, ``allowed``."""

    ok: bool
    tool: str
    args: dict[str, Any]
    data: dict[str, Any]
    summary: str
    error: str | None = None
    allowed: tuple[str, ...] | None = None
    t_start: float = 0.0
    t_end: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["allowed"] = list(self.allowed) if self.allowed is not None else None
        return out

    def text(self, max_chars: int = 800) -> str:
        """A compact rendering for logs and prompts: the call, its summary, then its data (truncated)."""
        call = f"{self.tool}({', '.join(f'{k}={v!r}' for k, v in self.args.items())})"
        if not self.ok:
            shown = ""
            if self.allowed:
                names = ", ".join(map(str, self.allowed[:20]))
                shown = f" (allowed: {names}{', ...' if len(self.allowed) > 20 else ''})"
            return f"{call} -> error: {self.error}{shown}"
        body = json.dumps(self.data, default=str, separators=(",", ":"))
        if len(body) > max_chars:
            body = body[: max_chars - 3] + "..."
        return f"{call} -> {self.summary}\n{body}"
