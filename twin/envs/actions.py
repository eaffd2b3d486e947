"""The gym action space over the toolbox: one flat index per (tool, target slot).

``Discrete(n_tools * max_targets)`` rather than ``MultiDiscrete([n_tools, max_targets])``: whether
a target slot is valid depends on the tool (a link slot means nothing to ``freeze_te``), and only a
flat index lets one mask say exactly which *pairs* are valid (``Discrete.sample(mask=...)``,
sb3-contrib's MaskablePPO). A MultiDiscrete mask is per dimension and cannot express it.

Slot ``i`` of a tool is the ``i``-th of its targets in a fixed order (WAN links and routers before
fabric ones, otherwise the toolbox's order), truncated to ``max_targets``; a tool with no target
uses slot 0 only. Arguments other than the target get defaults derived from telemetry
(:func:`default_args`).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from twin.model.world import World
    from twin.sim.twin import Twin
    from twin.tools.base import Tool

__all__ = ["DEFAULTS", "ActionTable", "default_args"]

#: Defaults for arguments the action index does not choose (documented in the env's docstring).
DEFAULTS: dict[str, Any] = {
    "fraction": 0.2,  # shed 20% of the class
    "window": "10m",  # look back ten minutes
    "rps_factor": 0.8,  # rate-limit to 80% of the requests/s the monitors last saw
    "replica_factor": 2.0,  # scale out to twice the replicas the monitors report
    "n": 5,  # top-N tools list five
}
#: Preferred metric per entity kind when a tool asks for one.
METRIC_FOR = {"link": "loss", "service": "p99_ms", "device": "cpu"}


class ActionTable:
    """Maps flat action indices to tool calls for one tool list; computes masks per twin state."""

    def __init__(self, tools: list[Tool], max_targets: int) -> None:
        self.tools = list(tools)
        self.max_targets = int(max_targets)
        self.n = len(self.tools) * self.max_targets
        self.index = {t.name: i for i, t in enumerate(self.tools)}
        self._cache_twin: Any = None
        self._cache: dict[tuple, list[str]] = {}
        # the last answer: (toolbox, change count, targets, mask); a step that adds no change
        # record (most) gets the same targets, so both are kept rather than rebuilt per tool
        self._last: tuple[Any, int, list[list[str]], np.ndarray] | None = None
        self._priority: dict[str, int] = {}

    @property
    def priority(self) -> dict[str, int]:
        """Target name -> rank; ranked targets take the first slots (the env's ``order="alerts"``).
        Assign a new dict to change it (assigning drops the targets worked out so far)."""
        return self._priority

    @priority.setter
    def priority(self, value: dict[str, int]) -> None:
        self._priority = value
        self._last = None

    def targets(self, toolbox: Any) -> list[list[str]]:
        """Per tool, the names its target slots stand for right now (empty for no-target tools).

        Entity lists are fixed for a twin's lifetime except the change log, so they are cached per
        twin and target kind; ``change`` targets are re-read when the log grows. The lists
        returned are shared between calls: read them, do not change them.
        """
        n_changes = toolbox.change_count()
        last = self._last
        if last is not None and last[0] is toolbox and last[1] == n_changes:
            return last[2]
        if self._cache_twin is not toolbox:
            self._cache_twin, self._cache = toolbox, {}
        out: list[list[str]] = []
        for t in self.tools:
            if t.target is None:
                out.append([])
                continue
            key = (t.target_kind, n_changes) if t.target_kind == "change" else (t.target_kind or t.name,)
            names = self._cache.get(key)
            if names is None:
                try:
                    names = [str(n) for n in toolbox.targets(t.name)]
                except Exception:  # a plugin tool whose targets cannot be listed gets no slots
                    names = []
                names = self._cache[key] = _wan_first(toolbox.world, names)
            if self._priority:
                rank = len(self._priority)
                names = sorted(names, key=lambda n: self._priority.get(n, rank))
            out.append(names[: self.max_targets])
        self._last = (toolbox, n_changes, out, self._mask(out))
        return out

    def mask(self, targets: list[list[str]]) -> np.ndarray:
        """Valid (tool, slot) pairs for ``targets``, int8 (a fresh array)."""
        last = self._last
        if last is not None and last[2] is targets:
            return last[3].copy()
        return self._mask(targets)

    def _mask(self, targets: list[list[str]]) -> np.ndarray:
        m = np.zeros((len(self.tools), self.max_targets), dtype=np.int8)
        for i, t in enumerate(self.tools):
            if t.target is None:
                m[i, 0] = 1
            else:
                m[i, : len(targets[i])] = 1
        return m.reshape(-1)

    def decode(self, action: int, targets: list[list[str]]) -> tuple[Tool | None, str | None, str | None]:
        """``(tool, target, error)``: error names why the pair is not valid now."""
        a = int(action)
        if not 0 <= a < self.n:
            return None, None, f"action {a} out of range [0, {self.n})"
        ti, slot = divmod(a, self.max_targets)
        tool = self.tools[ti]
        if tool.target is None:
            if slot != 0:
                return tool, None, f"{tool.name} takes no target; use slot 0, got slot {slot}"
            return tool, None, None
        names = targets[ti]
        if slot >= len(names):
            return tool, None, f"{tool.name}: target slot {slot} is empty ({len(names)} targets now)"
        return tool, names[slot], None

    def encode(self, tool: str, target: str | None, targets: list[list[str]]) -> int | None:
        """The flat index of a (tool, target) pair, or None if it has no slot."""
        ti = self.index.get(tool)
        if ti is None:
            return None
        if self.tools[ti].target is None:
            return ti * self.max_targets
        names = targets[ti]
        return ti * self.max_targets + names.index(target) if target in names else None


def _wan_first(world: World, names: list[str]) -> list[str]:
    topo = world.topology
    planes = set(topo.planes)
    link_index, node_index = topo.link_index, topo.node_index

    def wan(name: str) -> int:
        if name in link_index:
            return 0 if topo.link_plane[link_index[name]] in planes else 1
        if name in node_index:
            return 0 if "/" not in name else 1  # fabric switches are named site/role
        return 0

    return sorted(names, key=wan)  # stable: keeps the toolbox's order within each group


def _latest(twin: Twin, kind: str, entity: str, metric: str) -> float | None:
    from twin.telemetry.recorder import METRICS

    tel = twin.telemetry
    try:
        i = tel.entity_index(kind, entity)
        col = METRICS[kind].index(metric)
    except (KeyError, ValueError):
        return None
    for sample in reversed(tel.samples.tail(6)):  # newest reading that is not a monitoring gap
        v = float(getattr(sample, kind)[i, col])
        if math.isfinite(v):
            return v
    return None


def _entity_kind(twin: Twin, name: str | None) -> str | None:
    if name is None:
        return None
    for kind in twin.telemetry.entities:
        try:
            twin.telemetry.entity_index(kind, name)
        except KeyError:
            continue
        return kind
    return None


def default_args(tool: Tool, target: str | None, twin: Twin, toolbox: Any) -> dict[str, Any]:
    """The call's arguments: the target plus a telemetry-derived default for every other required one.

    - ``replicas``: twice the replicas the monitors report for the service (at least one more);
    - ``rps``: 80% of the requests/s last seen at the service (100 if unseen);
    - ``fraction``: 0.2; ``window``/``since``: the last ten minutes; ``n``/``top``/``limit``: 5;
    - ``metric``: loss for links, p99_ms for services, cpu for devices (if the schema allows it);
    - another entity argument (e.g. a probe's destination): the first known entity that is not the target;
    - otherwise the schema's ``default``, its first ``enum`` value, or its ``minimum``.
    """
    props: dict[str, Any] = tool.parameters.get("properties", {})
    required = list(tool.parameters.get("required", []))
    args: dict[str, Any] = {}
    if tool.target is not None and target is not None:
        args[tool.target] = target
    kind = _entity_kind(twin, target)
    for name in required:
        if name in args:
            continue
        prop = props.get(name, {})
        value = _default_for(name, prop, target, kind, twin, toolbox)
        if value is not None:
            args[name] = value
    return args


def _default_for(name: str, prop: dict[str, Any], target: str | None, kind: str | None, twin: Twin,
                 toolbox: Any) -> Any:
    typ = prop.get("type")
    if "default" in prop:
        return prop["default"]
    if name == "replicas" and target is not None:
        up = _latest(twin, "service", target, "replicas") or 1.0
        down = _latest(twin, "service", target, "unavailable") or 0.0
        return int(max(up + down + 1, math.ceil(DEFAULTS["replica_factor"] * (up + down))))
    if name == "rps":
        seen = _latest(twin, "service", target, "rps") if target else None
        return float(round(DEFAULTS["rps_factor"] * seen, 1)) if seen else 100.0
    if name == "fraction":
        return DEFAULTS["fraction"]
    if name == "metric":
        enum = prop.get("enum")
        want = METRIC_FOR.get(kind or "", "loss")
        if enum:
            return want if want in enum else enum[0]
        return want
    if name in ("window", "since", "duration"):
        if typ in ("number", "integer"):
            return 600
        return DEFAULTS["window"]
    if name in ("n", "top", "limit", "k"):
        return DEFAULTS["n"]
    if prop.get("enum"):
        others = [v for v in prop["enum"] if v != target]
        return (others or prop["enum"])[0]
    entity = prop.get("x-entity")
    if entity:
        try:
            names = [n for n in toolbox.entities(entity) if n != target]
        except Exception:
            names = []
        return names[0] if names else None
    if typ in ("number", "integer"):
        lo = prop.get("minimum", prop.get("exclusiveMinimum", 1))
        return int(lo) if typ == "integer" else float(lo)
    if typ == "boolean":
        return False
    if typ == "string":
        return ""
    return None
