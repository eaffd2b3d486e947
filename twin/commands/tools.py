"""``twin tools`` (the registered tools, plugins included) and ``twin agents`` (the installed agents)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from twin.units import format_duration

__all__ = ["agents_cmd", "describe_args", "tools_cmd"]

console = Console()


def describe_args(parameters: dict) -> str:
    """``link: link, window?: string`` — optional arguments carry a question mark."""
    required = set(parameters.get("required", []))
    parts = []
    for key, prop in parameters.get("properties", {}).items():
        kind = prop.get("x-entity") or ("|".join(map(str, prop["enum"])) if "enum" in prop else prop.get("type", "any"))
        parts.append(f"{key}{'' if key in required else '?'}: {kind}")
    return ", ".join(parts) or "-"


def tools_cmd(kind: str = typer.Option(None, "--kind", help="only tools of this kind: observe, test or mitigate")) -> None:
    """List the agent-facing tools (built-in and from installed plugins) with their arguments."""
    from twin.tools import default_registry

    table = Table("name", "kind", "arguments", "duration", "description", box=None)
    for t in default_registry():
        if kind and t.kind != kind:
            continue
        table.add_row(t.name, t.kind, describe_args(t.parameters), format_duration(t.duration_s), t.description)
    console.print(table)


def agents_cmd() -> None:
    """List the agents `twin run --agent` accepts."""
    from twin.agent_registry import default_registry

    for name in default_registry().names():
        console.print(name)
