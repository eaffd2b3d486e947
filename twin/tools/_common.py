"""Small helpers the built-in tools share: schema fragments and monitor lookups."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.telemetry.recorder import METRICS
from twin.units import parse_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["WINDOW", "entity_arg", "kind_of", "r", "schema", "samples_since", "samples_until", "series"]

#: A time window argument such as "10m" or "1h30m".
WINDOW: dict[str, Any] = {"type": "string", "pattern": "^([0-9]+([.][0-9]+)?(ms|s|m|h|d)?)+$",
                          "description": "time window, e.g. 10m or 1h"}


def entity_arg(kind: str, description: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "x-entity": kind}


def schema(properties: dict[str, Any], required: list[str] | None = None) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "required": required or [], "additionalProperties": False}


def kind_of(twin: Twin, name: str) -> str:
    """Which monitored kind (link, service, device) an entity name belongs to."""
    for kind, names in twin.telemetry.entities.items():
        if name in names:
            return kind
    raise KeyError(f"unknown entity {name!r}")


def series(twin: Twin, kind: str, name: str, metric: str, window: str | float) -> tuple[np.ndarray, np.ndarray]:
    """Times and values of one entity's metric over the last ``window``."""
    since = twin.now - parse_duration(window)
    samples = samples_since(twin, since)
    if not samples:
        return np.zeros(0), np.zeros(0)
    i, col = twin.telemetry.entity_index(kind, name), METRICS[kind].index(metric)
    return np.array([s.t for s in samples]), np.array([getattr(s, kind)[i, col] for s in samples], dtype=float)


def samples_since(twin: Twin, since: float) -> list[Any]:
    """The samples taken at or after ``since``, oldest first, read from the end of the history
    (samples are appended in time order), so a window costs its own length, not the run's."""
    samples = twin.telemetry.samples
    n, total = 16, len(samples)
    while True:
        tail = samples.tail(min(n, total))
        if len(tail) >= total or (tail and tail[0].t < since):
            return [s for s in tail if s.t >= since]
        n *= 4


def samples_until(twin: Twin, t: float) -> list[Any]:
    """The samples taken at or before ``t``, oldest first, read from the start of the history."""
    out = []
    for s in twin.telemetry.samples:
        if s.t > t:
            break
        out.append(s)
    return out


def r(x: Any, nd: int = 4) -> float | None:
    """A JSON-friendly float (None for NaN: a monitor that saw nothing)."""
    v = float(x)
    return None if np.isnan(v) else round(v, nd)


def metrics_of(kind: str) -> tuple[str, ...]:
    return METRICS[kind]
