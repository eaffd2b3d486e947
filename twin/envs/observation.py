"""Fixed-shape observations of a twin from its monitors: alerts, per-entity summaries, the last result.

Everything is float32 and finite: a monitoring gap (NaN) reads -1, padding rows read 0 with a 0 in
the matching ``*_mask``. Entities beyond ``max_*`` are left out in a fixed order (WAN first).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from gymnasium import spaces

from twin.physics.jit import kernel

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
        # per kind, :func:`_features`' arguments after the readings: rows, columns, divisors, start, unbased columns
        self._args = {}
        for kind, key in _KEYS:
            rows, src = self._pick[kind]
            self._args[kind] = (rows[:, 0].astype(np.int64), src[0].astype(np.int64), self._den[kind],
                                self.layout[key][0], np.array(self._unbased[kind], dtype=np.int64))

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
        if sample is None:
            none = _NO_READINGS
            _features(work, none, *self._args["link"], none, *self._args["service"], none, *self._args["device"],
                      _SHARE, _COLUMN["service"]["replicas"])
        else:
            _features(work, sample.link, *self._args["link"], sample.service, *self._args["service"], sample.device,
                      *self._args["device"], _SHARE, _COLUMN["service"]["replicas"])
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


#: No sample yet: readings of no entity (the kernel then only bounds the alerts and masks).
_NO_READINGS = np.zeros((0, 1), dtype=np.float32)


@kernel
def _entity_block(work, readings, rows, src, den, start, unbased, share, replicas):  # pragma: no cover - compiled
    """One kind's entity rows into ``work`` from ``start``: each feature its reading over its
    divisor (``share`` >= 0: that column is the unavailable share, unavailable over replicas
    plus unavailable), columns with no baseline 0. Returns which rows had a reading missing
    (a monitoring gap: any NaN in the entity's readings, when any reading at all is NaN)."""
    n, c = (rows.shape[0] if readings.shape[0] else 0), src.shape[0]  # no readings: no sample yet
    f = c + 1
    for i in range(n):
        for j in range(c):
            work[start + i * f + j] = readings[rows[i], src[j]] / den[i, j]
        if share >= 0:
            unavailable = work[start + i * f + share]
            reps = readings[rows[i], replicas] + unavailable
            work[start + i * f + share] = unavailable / reps if reps > 0 else 0.0
        for j in unbased:
            work[start + i * f + j] = 0.0
    gap = np.zeros(n, dtype=np.bool_)
    if readings.size and np.isnan(readings.min()):
        for i in range(n):
            for j in range(readings.shape[1]):
                if np.isnan(readings[rows[i], j]):
                    gap[i] = True
                    break
    return gap


@kernel
def _features(work, link, l_rows, l_src, l_den, l_start, l_unbased, service, s_rows, s_src, s_den, s_start,
              s_unbased, device, d_rows, d_src, d_den, d_start, d_unbased, share, replicas):  # pragma: no cover
    """The entity blocks of ``work`` (its alerts cells already set) from a sample's readings,
    then every cell bounded as the observation space says: NaN 0, clipped to [0, HIGH] (as
    ``np.clip``: -0.0 reads 0.0), and a row whose entity its monitors did not see -1 but for
    its "alerting" cell."""
    gl = _entity_block(work, link, l_rows, l_src, l_den, l_start, l_unbased, -1, 0)
    gs = _entity_block(work, service, s_rows, s_src, s_den, s_start, s_unbased, share, replicas)
    gd = _entity_block(work, device, d_rows, d_src, d_den, d_start, d_unbased, -1, 0)
    for i in range(work.shape[0]):
        x = work[i]
        x = 0.0 if np.isnan(x) else x
        x = x if x > 0.0 else 0.0
        work[i] = x if x < HIGH else HIGH
    for gap, start, f in ((gl, l_start, l_src.shape[0] + 1), (gs, s_start, s_src.shape[0] + 1),
                          (gd, d_start, d_src.shape[0] + 1)):
        for i in range(gap.shape[0]):
            if gap[i]:
                for j in range(f - 1):
                    work[start + i * f + j] = -1.0
