"""Fixed-shape observations of a twin from its monitors: alerts, per-entity summaries, the last result.

Everything is float32 and finite: a monitoring gap (NaN) reads -1, padding rows read 0 with a 0 in
the matching ``*_mask``. Entities beyond ``max_*`` are left out in a fixed order (WAN first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from gymnasium import spaces

from twin.telemetry.alerts import default_rules
from twin.telemetry.recorder import METRICS

if TYPE_CHECKING:
    from twin.sim.twin import Twin
    from twin.tools.base import Tool, ToolResult

__all__ = ["ALERT_NAMES", "ENTITY_KINDS", "FEATURES", "RESULT_VALUES", "ObservationEncoder"]

#: Alert rules every twin has, then one slot for scenario-specific rules.
ALERT_NAMES: tuple[str, ...] = (*[r.name for r in default_rules(np.zeros(0), np.zeros(0), 0.0)], "Other")
ENTITY_KINDS: tuple[str, ...] = ("link", "service", "device")
#: Per-entity features, in column order (the last is 1 while an alert on the entity is open).
FEATURES: dict[str, tuple[str, ...]] = {
    "link": ("utilisation", "loss", "latency_vs_baseline", "up", "alerting"),
    "service": ("p99_vs_slo", "error_rate", "cpu", "memory", "unavailable_share", "rps_vs_baseline", "alerting"),
    "device": ("up", "cpu", "throughput_vs_baseline", "alerting"),
}
#: Numeric values after the tool one-hot in ``last_result``.
RESULT_VALUES: tuple[str, ...] = ("ok", "error", "target_slot", "duration_10min", "impact", "impact_change",
                                  "slo_violations_10")
HIGH = 10.0  # ratios are clipped here


class ObservationEncoder:
    def __init__(self, twin: Twin, tools: list[Tool], max_entities: dict[str, int], max_targets: int,
                 priority: dict[str, int] | None = None) -> None:
        """``priority`` (entity name -> rank) puts ranked entities in the first rows."""
        self.tools = tools
        self.max_targets = max_targets
        self.max = {k: int(max_entities[k]) for k in ENTITY_KINDS}
        names = twin.telemetry.entities
        self.rows = {k: _ordered_rows(twin, k, names[k]) for k in ENTITY_KINDS}
        if priority:
            last = len(priority)
            self.rows = {k: sorted(r, key=lambda i, k=k: priority.get(names[k][i], last)) for k, r in self.rows.items()}
        self.rows = {k: r[: self.max[k]] for k, r in self.rows.items()}
        self.alert_index = {name: i for i, name in enumerate(ALERT_NAMES)}
        self.tool_index: dict[str, int] = {}
        for i, t in enumerate(tools):  # the first tool of a name, as a scan would find it
            self.tool_index.setdefault(t.name, i)
        self.row_of = {k: {r: i for i, r in enumerate(self.rows[k])} for k in ENTITY_KINDS}
        slo_p99 = np.array([twin.scenario.slo.services.get(s, {}).get("p99_ms", twin.scenario.slo.p99_ms)
                            for s in names["service"]], dtype=float)
        self.slo_p99 = slo_p99[self.rows["service"]] if len(slo_p99) else slo_p99
        self.baseline: dict[str, np.ndarray] | None = None

    def space(self) -> spaces.Dict:
        f32 = np.float32
        d: dict[str, spaces.Space[Any]] = {
            "alerts": spaces.Box(0.0, 1.0, (len(ALERT_NAMES) * len(ENTITY_KINDS),), f32),
        }
        for kind, key in (("link", "links"), ("service", "services"), ("device", "devices")):
            d[key] = spaces.Box(-1.0, HIGH, (self.max[kind], len(FEATURES[kind])), f32)
            d[f"{key}_mask"] = spaces.Box(0.0, 1.0, (self.max[kind],), f32)
        d["elapsed"] = spaces.Box(0.0, 1.0, (1,), f32)
        d["last_result"] = spaces.Box(-HIGH, HIGH, (len(self.tools) + len(RESULT_VALUES),), f32)
        return spaces.Dict(d)

    def reset(self, twin: Twin) -> None:
        """Take per-entity baselines from the first sample (before any fault in a scenario)."""
        first = next(iter(twin.telemetry.samples), None)
        self.baseline = {}
        if first is None:
            return
        for kind, col in (("link", "latency_ms"), ("service", "rps"), ("device", "throughput_gbps")):
            vals = getattr(first, kind)[self.rows[kind], METRICS[kind].index(col)].astype(float)
            self.baseline[kind] = np.where(np.isfinite(vals) & (vals > 0), vals, np.nan)

    def encode(self, twin: Twin, elapsed: float, last: ToolResult | None, last_slot: int,
               impact: float, impact_change: float) -> dict[str, np.ndarray]:
        sample = twin.telemetry.latest()
        alerting = {k: np.zeros(len(self.rows[k]), dtype=np.float32) for k in ENTITY_KINDS}
        alert_vec = np.zeros((len(ALERT_NAMES), len(ENTITY_KINDS)), dtype=np.float32)
        row_of = self.row_of
        critical = 0
        for (name, entity), alert in twin.state.alerts.open.items():
            critical += alert["severity"] == "critical"
            kind = alert["entity_kind"]
            if kind not in ENTITY_KINDS:
                continue
            alert_vec[self.alert_index.get(name, len(ALERT_NAMES) - 1), ENTITY_KINDS.index(kind)] = 1.0
            row = row_of[kind].get(twin.telemetry.entity_index(kind, entity))
            if row is not None:
                alerting[kind][row] = 1.0
        obs: dict[str, np.ndarray] = {"alerts": alert_vec.reshape(-1)}
        for kind, key in (("link", "links"), ("service", "services"), ("device", "devices")):
            block = np.zeros((self.max[kind], len(FEATURES[kind])), dtype=np.float32)
            n = len(self.rows[kind])
            if sample is not None and n:
                block[:n] = self._features(kind, getattr(sample, kind)[self.rows[kind]].astype(float), alerting[kind])
            mask = np.zeros(self.max[kind], dtype=np.float32)
            mask[:n] = 1.0
            obs[key], obs[f"{key}_mask"] = block, mask
        obs["elapsed"] = np.array([min(max(elapsed, 0.0), 1.0)], dtype=np.float32)
        res = np.zeros(len(self.tools) + len(RESULT_VALUES), dtype=np.float32)
        if last is not None:
            ti = self.tool_index.get(last.tool)
            if ti is not None:
                res[ti] = 1.0
            n_t = len(self.tools)
            res[n_t + 0] = float(last.ok)
            res[n_t + 1] = float(not last.ok)
            res[n_t + 2] = last_slot / max(self.max_targets - 1, 1) if last_slot >= 0 else -1.0
            res[n_t + 3] = (last.t_end - last.t_start) / 600.0
            res[n_t + 4] = impact
            res[n_t + 5] = impact_change
            # what operators see of SLO breaches: critical alerts open (the KPIs are the sandbox's truth)
            res[n_t + 6] = critical / 10.0
        np.copyto(res, -1.0, where=np.isnan(res))
        obs["last_result"] = np.clip(res, -HIGH, HIGH, out=res)  # infinities to the bounds
        return obs

    def _features(self, kind: str, v: np.ndarray, alerting: np.ndarray) -> np.ndarray:
        c = _COLUMN[kind]
        base = (self.baseline or {}).get(kind)
        block = np.empty((len(v), len(FEATURES[kind])))  # float64 columns, as np.stack of them gives
        with np.errstate(divide="ignore", invalid="ignore"):
            if kind == "link":
                block[:, 0], block[:, 1], block[:, 3] = v[:, c["utilisation"]], v[:, c["loss"]], v[:, c["up"]]
                block[:, 2] = v[:, c["latency_ms"]] / base if base is not None else 0.0
            elif kind == "service":
                reps = v[:, c["replicas"]] + v[:, c["unavailable"]]
                block[:, 0] = v[:, c["p99_ms"]] / self.slo_p99
                block[:, 1], block[:, 2], block[:, 3] = v[:, c["error_rate"]], v[:, c["cpu"]], v[:, c["memory"]]
                block[:, 4] = np.where(reps > 0, v[:, c["unavailable"]] / reps, 0.0)
                block[:, 5] = v[:, c["rps"]] / base if base is not None else 0.0
            else:
                block[:, 0], block[:, 1] = v[:, c["up"]], v[:, c["cpu"]]
                block[:, 2] = v[:, c["throughput_gbps"]] / base if base is not None else 0.0
        block[:, -1] = alerting
        gap = np.isnan(v).any(axis=1)  # monitoring outage: the whole row reads -1
        np.copyto(block, 0.0, where=np.isnan(block))
        np.clip(block, 0.0, HIGH, out=block)  # infinities to the bounds
        block[gap, :-1] = -1.0
        return block.astype(np.float32)


#: Column of each metric in a sample's readings, per entity kind.
_COLUMN: dict[str, dict[str, int]] = {kind: {name: i for i, name in enumerate(m)} for kind, m in METRICS.items()}


def _ordered_rows(twin: Twin, kind: str, names: tuple[str, ...]) -> list[int]:
    """Row indices in observation order: WAN links and routers first, then the rest as listed."""
    topo = twin.world.topology
    planes = set(topo.planes)

    def key(i: int) -> int:
        name = names[i]
        if kind == "link":
            return 0 if topo.link_plane[topo.link_index[name]] in planes else 1
        if kind == "device":
            return 0 if "/" not in name else 1
        return 0

    return sorted(range(len(names)), key=key)
