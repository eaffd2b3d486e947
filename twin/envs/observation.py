"""Fixed-shape observations of a twin from its monitors: alerts, per-entity summaries, the last result.

Everything is float32 and finite: a monitoring gap (NaN) reads -1, padding rows read 0 with a 0 in
the matching ``*_mask``. Entities beyond ``max_*`` are left out in a fixed order (WAN first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

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
    """A twin's latest sample as the observation dict.

    The layout is fixed per encoder (:attr:`layout`), so a step's observation is one fresh
    float32 buffer whose slices are the dict's arrays, computed with a few array operations on
    index arrays made once: per entity kind, one gather of the metric columns and one division
    by per-row divisors (1 for plain features, the baseline or the SLO for ratios).
    """

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
        self._entity_index = twin.telemetry.entity_index
        #: key -> (start, end, shape) of its array in the flat observation, in the dict's order
        self.layout: dict[str, tuple[int, int, tuple[int, ...]]] = {}
        end = 0
        for key, (shape, _, _) in self._boxes().items():
            self.layout[key] = (end, end + int(np.prod(shape)), shape)
            end = self.layout[key][1]
        self.size = end
        # alerts, entity blocks and masks (everything before ``elapsed``) are worked out in float64
        self._blank = np.zeros(self.layout["elapsed"][0], dtype=float)
        self._pick: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for kind, key in _KEYS:
            n = len(self.rows[kind])
            start = self.layout[f"{key}_mask"][0]
            self._blank[start: start + n] = 1.0
            src = np.array([_COLUMN[kind][m] for m in _SOURCE[kind]], dtype=np.intp)
            self._pick[kind] = (np.asarray(self.rows[kind], dtype=np.intp)[:, None], src[None, :])
        # (alert name, entity, kind) -> the cells an open alert sets: its alerts cell, its row's "alerting"
        self._alert_cells: dict[tuple[str, str, str], tuple[int, ...]] = {}
        self._divisors()

    def space(self) -> spaces.Dict:
        return spaces.Dict({key: spaces.Box(low, high, shape, np.float32)
                            for key, (shape, low, high) in self._boxes().items()})

    def _boxes(self) -> dict[str, tuple[tuple[int, ...], float, float]]:
        """Each observation key's shape and bounds, in the order of the observation dict."""
        d = {"alerts": ((len(ALERT_NAMES) * len(ENTITY_KINDS),), 0.0, 1.0)}
        for kind, key in _KEYS:
            d[key] = ((self.max[kind], len(FEATURES[kind])), -1.0, HIGH)
            d[f"{key}_mask"] = ((self.max[kind],), 0.0, 1.0)
        d["elapsed"] = ((1,), 0.0, 1.0)
        d["last_result"] = ((len(self.tools) + len(RESULT_VALUES),), -HIGH, HIGH)
        return d

    def reset(self, twin: Twin) -> None:
        """Take per-entity baselines from the first sample (before any fault in a scenario)."""
        first = next(iter(twin.telemetry.samples), None)
        self.baseline = {}
        if first is not None:
            for kind, col in _BASELINE.items():
                vals = getattr(first, kind)[self.rows[kind], METRICS[kind].index(col)].astype(float)
                self.baseline[kind] = np.where(np.isfinite(vals) & (vals > 0), vals, np.nan)
        self._divisors()

    def _divisors(self) -> None:
        """Per kind, what each feature column is divided by (1 for a plain reading; a ratio over
        the baseline or the SLO otherwise), and the ratio columns with no baseline (they read 0)."""
        self._den: dict[str, np.ndarray] = {}
        self._unbased: dict[str, list[int]] = {}
        for kind in ENTITY_KINDS:
            den = np.ones((len(self.rows[kind]), len(_SOURCE[kind])))
            base = (self.baseline or {}).get(kind)
            unbased = []
            for col, over in _RATIO[kind].items():
                if over == "slo":
                    den[:, col] = self.slo_p99
                elif base is None:
                    unbased.append(col)
                else:
                    den[:, col] = base
            self._den[kind], self._unbased[kind] = den, unbased

    def encode(self, twin: Twin, elapsed: float, last: ToolResult | None, last_slot: int,
               impact: float, impact_change: float) -> dict[str, np.ndarray]:
        flat = self.encode_flat(twin, elapsed, last, last_slot, impact, impact_change)
        return self.split(flat)

    def split(self, flat: np.ndarray) -> dict[str, np.ndarray]:
        """The observation dict over a flat buffer (views: stacking flats of many members and
        splitting the stack gives the vector env's batched dict)."""
        lead = flat.shape[:-1]
        return {key: flat[..., a:b].reshape(*lead, *shape) for key, (a, b, shape) in self.layout.items()}

    def encode_flat(self, twin: Twin, elapsed: float, last: ToolResult | None, last_slot: int,
                    impact: float, impact_change: float) -> np.ndarray:
        """The observation as one fresh float32 vector in :attr:`layout`'s order."""
        sample = twin.telemetry.latest()
        work = self._blank.copy()
        cells: list[int] = []
        critical = 0
        for (name, entity), alert in twin.state.alerts.open.items():
            critical += alert["severity"] == "critical"
            kind = alert["entity_kind"]
            found = self._alert_cells.get((name, entity, kind))
            if found is None:
                found = self._alert_cells[(name, entity, kind)] = self._cells(name, entity, kind)
            cells.extend(found)
        if cells:
            work[cells] = 1.0
        gaps = []
        if sample is not None:
            with np.errstate(divide="ignore", invalid="ignore"):
                for kind, key in _KEYS:
                    rows, src = self._pick[kind]
                    n, f = len(rows), len(FEATURES[kind])
                    if not n:
                        continue
                    readings = getattr(sample, kind)
                    start = self.layout[key][0]
                    block = work[start: start + n * f].reshape(n, f)
                    features = np.divide(readings[rows, src], self._den[kind], out=block[:, :-1])
                    if kind == "service":
                        unavailable = features[:, _SHARE]
                        reps = readings[rows[:, 0], _COLUMN[kind]["replicas"]] + unavailable
                        features[:, _SHARE] = np.where(reps > 0, unavailable / reps, 0.0)
                    if self._unbased[kind]:
                        features[:, self._unbased[kind]] = 0.0
                    if np.isnan(readings.min()):  # a monitoring outage somewhere: which rows?
                        gaps.append((block, np.isnan(readings[rows[:, 0]]).any(axis=1)))
        np.copyto(work, 0.0, where=np.isnan(work))
        np.clip(work, 0.0, HIGH, out=work)  # infinities to the bounds
        for block, gap in gaps:
            block[gap, :-1] = -1.0  # the whole row of an entity its monitors did not see reads -1
        flat = np.empty(self.size, dtype=np.float32)
        flat[: len(work)] = work
        e = self.layout["elapsed"][0]
        flat[e] = min(max(elapsed, 0.0), 1.0)
        res = flat[self.layout["last_result"][0]:]
        res[:] = 0.0
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
            np.clip(res, -HIGH, HIGH, out=res)  # infinities to the bounds
        return flat

    def _cells(self, name: str, entity: str, kind: str) -> tuple[int, ...]:
        """The work cells an open alert sets to 1: its (rule, kind) cell and its entity's
        "alerting" feature (if the entity has a row)."""
        if kind not in ENTITY_KINDS:
            return ()
        k = ENTITY_KINDS.index(kind)
        out = [self.layout["alerts"][0] + self.alert_index.get(name, len(ALERT_NAMES) - 1) * len(ENTITY_KINDS) + k]
        row = self.row_of[kind].get(self._entity_index(kind, entity))
        if row is not None:
            f = len(FEATURES[kind])
            out.append(self.layout[_KEYS[k][1]][0] + row * f + f - 1)
        return tuple(out)


_KEYS: tuple[tuple[str, str], ...] = (("link", "links"), ("service", "services"), ("device", "devices"))
#: The reading each feature but "alerting" comes from (``unavailable`` for the unavailable share,
#: which is worked out from it and ``replicas``).
_SOURCE: dict[str, tuple[str, ...]] = {
    "link": ("utilisation", "loss", "latency_ms", "up"),
    "service": ("p99_ms", "error_rate", "cpu", "memory", "unavailable", "rps"),
    "device": ("up", "cpu", "throughput_gbps"),
}
_SHARE = FEATURES["service"].index("unavailable_share")
#: Feature columns that are ratios: over the SLO, or over the entity's baseline reading.
_RATIO: dict[str, dict[int, str]] = {"link": {2: "baseline"}, "service": {0: "slo", 5: "baseline"},
                                     "device": {2: "baseline"}}
#: The reading each kind's baseline is taken of (in the first sample).
_BASELINE: dict[str, str] = {"link": "latency_ms", "service": "rps", "device": "throughput_gbps"}

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
