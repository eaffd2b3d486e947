"""An example twin tool plugin: how many alerts are open, by kind of entity."""

from __future__ import annotations

from typing import Any

from twin.tools import Tool


def _count(twin: Any, args: dict[str, Any]) -> tuple[dict, str]:
    kinds: dict[str, int] = {}
    for alert in twin.open_alerts():
        kinds[alert.entity_kind] = kinds.get(alert.entity_kind, 0) + 1
    return {"by_kind": kinds}, f"open alerts by entity kind: {kinds or 'none'}"


def tools() -> list[Tool]:
    return [Tool("example_alert_census", "observe", "Count open alerts by entity kind (example plugin)",
                 {"type": "object", "properties": {}, "required": [], "additionalProperties": False}, 5.0, _count)]
