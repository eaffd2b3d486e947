"""What the monitors saw: metric samples, alerts and the event log, readable as DataFrames.

Samples are stored as small numpy blocks in a :class:`History`, so forking a twin shares
its past telemetry instead of copying it.

Two worlds in one record: a :class:`Sample`'s ``link``/``service``/``device`` blocks (and every
reader here) are what operators saw at that tick — sampled, delayed, noisy, with gaps (see
:mod:`twin.sim.monitors`). ``Sample.truth`` (the physics' exact values) and ``Sample.kpi`` (the
sandbox's truth of user impact: SLO violations, impact, loss per class) are for scoring, fault
triggers and the sandbox pre-check only; no agent-facing tool or observation reads them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from twin.telemetry.alerts import Alert
from twin.telemetry.history import History

__all__ = ["Sample", "Readings", "Event", "Telemetry", "METRICS", "TRAFFIC_METRIC"]

METRICS: dict[str, tuple[str, ...]] = {
    "link": ("utilisation", "loss", "latency_ms", "throughput_gbps", "up"),
    "service": ("rps", "p50_ms", "p99_ms", "error_rate", "replicas", "cpu", "memory", "unavailable"),
    "device": ("up", "cpu", "throughput_gbps"),
}


#: Per-class traffic volume as monitors count it (flow export), one column per class in exports.
TRAFFIC_METRIC = "traffic_gbps"


class Readings(NamedTuple):
    """Exact values of one tick per entity kind (rows: entities, columns: :data:`METRICS`).
    The sandbox's ground truth: never shown to agents."""

    link: np.ndarray
    service: np.ndarray
    device: np.ndarray


@dataclass(frozen=True)
class Sample:
    """One tick. ``link``/``service``/``device``: the latest samples visible to operators
    (NaN where monitors were silent); ``measured_at``: when those were measured, per kind
    (and ``traffic``, the observed per-class volume); ``truth`` and ``kpi``: the sandbox's."""

    t: float
    link: np.ndarray
    service: np.ndarray
    device: np.ndarray
    kpi: dict[str, float]  # sandbox truth of user impact (scoring), not what operators saw
    truth: Readings | None = None
    measured_at: dict[str, float] = field(default_factory=dict)
    traffic: np.ndarray | None = None


@dataclass(frozen=True)
class Event:
    t: float
    kind: str  # change | deploy | rollback | te | health | autoscaler | action
    entity: str
    message: str
    data: dict[str, Any] = field(default_factory=dict)


class Telemetry:
    """Monitors' view of one twin. Entity names are fixed for the twin's lifetime."""

    def __init__(self, entities: dict[str, tuple[str, ...]]) -> None:
        self.entities = entities
        self.samples: History[Sample] = History()
        self.events: History[Event] = History()
        self.closed_alerts: History[Alert] = History()
        self._index = {kind: {name: i for i, name in enumerate(names)} for kind, names in entities.items()}

    def fork(self) -> "Telemetry":
        out = Telemetry.__new__(Telemetry)
        out.entities = self.entities
        out._index = self._index
        out.samples = self.samples.fork()
        out.events = self.events.fork()
        out.closed_alerts = self.closed_alerts.fork()
        return out

    # -- reading -------------------------------------------------------------------------
    def entity_index(self, kind: str, name: str) -> int:
        return self._index[kind][name]

    def latest(self) -> Sample | None:
        tail = self.samples.tail(1)
        return tail[0] if tail else None

    def window(self, since: float | None = None, until: float | None = None) -> list[Sample]:
        return [s for s in self.samples if (since is None or s.t >= since) and (until is None or s.t <= until)]

    def array(self, kind: str, metric: str, since: float | None = None, until: float | None = None,
              last: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(times, values[time, entity])`` for one metric of one entity kind."""
        col = METRICS[kind].index(metric)
        samples = self.samples.tail(last) if last else self.window(since, until)
        if not samples:
            return np.zeros(0), np.zeros((0, len(self.entities[kind])))
        return (np.array([s.t for s in samples]),
                np.stack([getattr(s, kind)[:, col] for s in samples]).astype(float))

    def frame(self, kind: str, since: float | None = None, until: float | None = None,
              entities: list[str] | None = None) -> pd.DataFrame:
        """Long form: one row per (time, entity) with a column per metric."""
        samples = self.window(since, until)
        names = self.entities[kind]
        if not samples or not names:
            return pd.DataFrame(columns=["time", "entity", *METRICS[kind]])
        block = np.stack([getattr(s, kind) for s in samples]).astype(float)
        times = np.repeat([s.t for s in samples], len(names))
        df = pd.DataFrame(block.reshape(-1, block.shape[2]), columns=list(METRICS[kind]))
        df.insert(0, "entity", np.tile(np.array(names, dtype=object), len(samples)))
        df.insert(0, "time", times)
        if entities is not None:
            df = df[df["entity"].isin(entities)]
        return df.reset_index(drop=True)

    def wide(self, kinds: tuple[str, ...] = ("link", "service", "device")) -> pd.DataFrame:
        """One column per entity and metric (``entity_metric``), indexed by simulated time."""
        samples = list(self.samples)
        cols: dict[str, np.ndarray] = {}
        for kind in kinds:
            names = self.entities[kind]
            if not names or not samples:
                continue
            block = np.stack([getattr(s, kind) for s in samples]).astype(float)
            for m, metric in enumerate(METRICS[kind]):
                for e, name in enumerate(names):
                    cols[f"{name}_{metric}"] = block[:, e, m]
        df = pd.DataFrame(cols, index=pd.Index([s.t for s in samples], name="time"))
        return df

    def measured_wide(self, classes: tuple[str, ...] = ()) -> pd.DataFrame:
        """What monitors saw, each value at the time it was *measured* (not when it became
        visible): one column per entity and metric (``entity_metric``) plus ``CLASS_traffic_gbps``
        for ``classes``, on the union of every group's sampling times. A group sampled less
        often holds its last sample between its own sampling times; a lost sample stays NaN."""
        samples = list(self.samples)
        groups: list[pd.DataFrame] = []
        for kind in ("link", "service", "device", "traffic"):
            names = classes if kind == "traffic" else self.entities[kind]
            metrics = (TRAFFIC_METRIC,) if kind == "traffic" else METRICS[kind]
            if not names:
                continue
            times, blocks, last = [], [], None
            for s in samples:
                at = s.measured_at.get(kind)
                block = s.traffic if kind == "traffic" else getattr(s, kind)
                if at is None or at == last or block is None:
                    continue
                last = at
                times.append(at)
                blocks.append(np.asarray(block, dtype=float).reshape(len(names), len(metrics)))
            if not times:
                continue
            block = np.stack(blocks)
            cols = {f"{name}_{metric}": block[:, e, m] for m, metric in enumerate(metrics) for e, name in enumerate(names)}
            groups.append(pd.DataFrame(cols, index=pd.Index(times, name="time")))
        if not groups:
            return pd.DataFrame(index=pd.Index([], name="time"))
        index = pd.Index(sorted(set().union(*(g.index for g in groups))), name="time")
        return pd.concat([g.reindex(index, method="ffill") for g in groups], axis=1)

    def kpis(self) -> pd.DataFrame:
        """The sandbox's truth of user impact per tick (scoring); not what operators saw."""
        samples = list(self.samples)
        return pd.DataFrame([s.kpi for s in samples], index=pd.Index([s.t for s in samples], name="time"))

    def event_frame(self) -> pd.DataFrame:
        rows = [{"time": e.t, "kind": e.kind, "entity": e.entity, "message": e.message} for e in self.events]
        return pd.DataFrame(rows, columns=["time", "kind", "entity", "message"])

    def alert_frame(self, open_alerts: list[Alert] | None = None) -> pd.DataFrame:
        alerts = list(self.closed_alerts) + list(open_alerts or [])
        alerts.sort(key=lambda a: (a.start, a.name, a.entity))
        rows = [{"name": a.name, "entity": a.entity, "entity_kind": a.entity_kind, "severity": a.severity,
                 "start": a.start, "end": a.end, "value": a.value, "message": a.message} for a in alerts]
        return pd.DataFrame(rows, columns=["name", "entity", "entity_kind", "severity", "start", "end", "value", "message"])
