"""A small WAN for routing tests: a square a-b-c-d with a diagonal-free detour.

``a-b`` is the short way from a to b (metric 10); ``a-c-b`` the detour (20 + 20); ``d`` hangs
off ``b`` and ``c``. One plane, one tunnel per pair, no noise: every number is exact.
"""

from __future__ import annotations

import copy
from typing import Any

from twin import Twin
from twin.scenario import parse_scenario

BASE: dict[str, Any] = {
    "name": "square",
    "description": "routing test WAN",
    "duration": "30m",
    "tick": "10s",
    "topology": {
        "sites": [{"name": s} for s in "abcd"],
        "planes": [{"name": "wan", "role": "both", "links": [
            {"a": "a", "b": "b", "capacity_gbps": 100, "delay_ms": 5, "metric": 10},
            {"a": "a", "b": "c", "capacity_gbps": 100, "delay_ms": 5, "metric": 20},
            {"a": "c", "b": "b", "capacity_gbps": 100, "delay_ms": 5, "metric": 20},
            {"a": "b", "b": "d", "capacity_gbps": 100, "delay_ms": 5, "metric": 10},
            {"a": "c", "b": "d", "capacity_gbps": 100, "delay_ms": 5, "metric": 10},
        ]}],
    },
    "traffic": {"planes": {"user": "wan", "interdc": "wan"}, "noise": 0.0,
                "diurnal": {"amplitude": 0.0},
                "demands": [{"src": "a", "dst": "b", "class": "user", "gbps": 40},
                            {"src": "d", "dst": "a", "class": "interdc", "gbps": 10}]},
    "network": {"hash_connections": 0, "header_overhead": 0.0},
    "control": {"te": {"tunnels": 1, "period": "60s"}},
}


def square(faults: list[dict] | None = None, **sections: Any) -> Twin:
    """A twin of the square WAN; ``sections`` deep-merge into the scenario (e.g. ``network=``)."""
    data = copy.deepcopy(BASE)
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    data["faults"] = faults or []
    return Twin(parse_scenario(data, "square.yaml"), seed=1)


def link_gbps(t: Twin, link: str) -> float:
    """Both directions' throughput on ``link`` in the latest sample (the physics', not a monitor's read)."""
    return float(t.telemetry.latest().truth.link[t.world.topology.link_index[link], 3])


def kpi_at(t: Twin, name: str, at: float) -> float:
    """A KPI of the sample taken at time ``at``."""
    return next(s.kpi[name] for s in t.telemetry.samples if s.t == at)
