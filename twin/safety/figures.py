"""Risk figures of one simulated future, read from a fork's telemetry.

Connection-level figures follow SWARM's idea, kept deliberately simple: flows of a traffic
class see the class's loss ``p`` (kpi ``user_loss`` / ``interdc_loss``) and an RTT of
``2 * H * L(t)``, where ``H`` is the class's demand-weighted hop count on its home plane and
``L(t)`` the throughput-weighted one-way latency of WAN links. A flow's rate is the Mathis
formula ``MSS / RTT * 1.22 / sqrt(p)`` capped by its fair share (``FAIR_SHARE_MBPS * (1 - p)``).
Flow sizes are lognormal with a Pareto tail; a flow's completion time is ``size / rate`` plus
``RTT * log2(1 + size / (IW * MSS))`` for slow start.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from twin.model.world import CLASSES, World

if TYPE_CHECKING:
    from twin.sim.twin import Twin
    from twin.telemetry.recorder import Sample

__all__ = ["FAIR_SHARE_MBPS", "MSS_BYTES", "RunFigures", "class_hops", "flow_percentiles", "read_figures", "wan_links"]

MSS_BYTES = 1460
INITIAL_WINDOW = 10
FAIR_SHARE_MBPS = 10.0  # per-flow share of an uncongested class (about 100 flows per Gbps)
FLOWS_PER_CLASS = 400
_L = {"utilisation": 0, "loss": 1, "latency_ms": 2, "throughput_gbps": 3, "up": 4}


@dataclass
class RunFigures:
    """What one future (a candidate or doing nothing, under one draw) looked like."""

    values: dict[str, float]
    plane_loss: dict[str, float]  # throughput-weighted loss per WAN plane after landing
    alerts: dict[tuple[str, str], str] = field(default_factory=dict)  # (rule, entity) -> severity, opened in the window
    services: tuple[str, ...] = ()
    active: dict[tuple[str, str], str] = field(default_factory=dict)  # every alert firing in the window -> severity


def wan_links(twin: Twin) -> np.ndarray:
    """Which of ``twin``'s links are WAN links (those of a plane), as a read-only mask."""
    return _wan(twin.world)[0]


def wan_rows(w: World) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The WAN links as indices in link order, and each plane's links as positions among them."""
    _, rows, planes = _wan(w)
    return rows, planes


def _wan(w: World) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """The WAN links of ``w`` as a mask, as indices, and per plane as positions among them (kept per world)."""
    hit = _WAN.get(w)
    if hit is None:
        topo = w.topology
        mask = np.array([p in topo.planes for p in topo.link_plane], dtype=bool)
        mask.setflags(write=False)
        rows = np.flatnonzero(mask)
        plane_of = np.asarray(topo.link_plane)[rows]
        hit = _WAN[w] = (mask, rows, {p: np.flatnonzero(plane_of == p) for p in topo.planes})
    return hit


# keyed by the World object itself (weakly): an id() key could be recycled by another world
_HOPS: weakref.WeakKeyDictionary[World, dict[str, float]] = weakref.WeakKeyDictionary()
#: per world: its WAN links as a mask, as indices, and per plane as positions among them
_WAN: weakref.WeakKeyDictionary[World, tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]] = (
    weakref.WeakKeyDictionary())


def class_hops(w: World) -> dict[str, float]:
    """Demand-weighted hop count of each class on its home plane (2.0 where unknown); cached per world."""
    hops = _HOPS.get(w)
    if hops is None:
        hops = _HOPS[w] = _count_class_hops(w)
    return hops


def _count_class_hops(w: World) -> dict[str, float]:
    topo = w.topology
    out = {}
    for c, cls in enumerate(CLASSES):
        plane = w.class_plane.get(cls)
        if plane not in topo.planes:
            out[cls] = 2.0
            continue
        g = topo.plane_graph(plane)
        lengths = dict(nx.all_pairs_shortest_path_length(g))
        hops, weight = 0.0, 0.0
        for p, gbps in zip(w.demand_pair[w.demand_class == c], w.demand_gbps[w.demand_class == c]):
            src, dst = w.pairs[int(p)]
            s, d = topo.find_router(plane, src), topo.find_router(plane, dst)
            h = lengths.get(s, {}).get(d)
            if h is not None:
                hops += h * gbps
                weight += gbps
        out[cls] = hops / weight if weight else 2.0
    return out


def flow_percentiles(loss: np.ndarray, rtt_ms: np.ndarray, rng: np.random.Generator, n: int = FLOWS_PER_CLASS
                     ) -> dict[str, float]:
    """Throughput (Mbps) and completion time (ms) percentiles of ``n`` flows over the samples given."""
    if loss.size == 0:
        return {}
    at = rng.integers(0, loss.size, n)
    body = rng.lognormal(np.log(50e3), 1.5, n)
    tail = (rng.pareto(1.2, n) + 1.0) * 1e6
    size = np.where(rng.random(n) < 0.1, tail, body)  # bytes
    p = np.clip(loss[at], 0.0, 0.999)
    rtt = np.maximum(rtt_ms[at], 0.1) / 1e3
    with np.errstate(divide="ignore"):
        mathis = np.where(p > 0, MSS_BYTES * 8 / rtt * 1.22 / np.sqrt(p), np.inf) / 1e6
    rate = np.maximum(np.minimum(mathis, FAIR_SHARE_MBPS * (1 - p)), 1e-3)
    fct = size * 8 / (rate * 1e6) + rtt * np.log2(1 + size / (INITIAL_WINDOW * MSS_BYTES))
    out = {}
    for q in (10, 50, 90):
        out[f"throughput_p{q}_mbps"] = float(np.percentile(rate, q))
    for q in (50, 90, 99):
        out[f"fct_p{q}_ms"] = float(np.percentile(fct, q) * 1e3)
    return out


def slim_sample(sample: Sample, rows: np.ndarray) -> Sample:
    """What the figures read of a future's sample (its KPIs, its WAN links' truth), as a sample
    whose ``link`` and ``truth.link`` hold the WAN links' rows only (``rows``: :func:`wan_rows`).
    A large fabric's sample holds ~250 kB, nearly all of it fabric links; a ranking keeps
    thousands of samples, and faulting in that memory cost more than simulating it."""
    truth = sample.truth
    if truth is None or truth.link.shape[0] == rows.size:
        return sample
    return replace(sample, link=sample.link[rows], truth=truth._replace(link=truth.link[rows]))


def _wan_truth(sample: Sample, rows: np.ndarray) -> np.ndarray:
    """A sample's WAN links' truth, from a full sample or a slim one (:func:`slim_sample`)."""
    link = sample.truth.link
    return link if link.shape[0] == rows.size else link[rows]


def _plane_loss(links: np.ndarray, twin: Twin) -> dict[str, float]:
    """Each plane's share of its offered traffic lost, over ``links``: the samples' WAN links'
    truth as (samples, WAN links, metrics)."""
    topo = twin.world.topology
    out = {}
    if not links.size:
        return {p: 0.0 for p in topo.planes}
    _, planes = wan_rows(twin.world)
    for plane in topo.planes:
        at = planes[plane]
        loss = np.nan_to_num(np.clip(links[:, at, _L["loss"]], 0, 0.999))
        carried = np.nan_to_num(links[:, at, _L["throughput_gbps"]])
        offered = carried / (1 - loss)
        out[plane] = float((offered * loss).sum() / offered.sum()) if offered.sum() > 0 else 0.0
    return out


def read_figures(fork: Twin, n_before: int, t0: float, landing: float, settle: float,
                 flow_seed: int, closed_before: int) -> RunFigures:
    """Figures of ``fork`` from ``t0`` on; ``n_before``/``closed_before``: sample/alert counts at t0."""
    tick = fork.scenario.tick
    samples = fork.telemetry.samples.tail(len(fork.telemetry.samples) - n_before)
    after = [s for s in samples if s.t >= landing + settle] or samples[-1:]
    rows, _ = wan_rows(fork.world)
    k = {name: np.array([s.kpi.get(name, 0.0) for s in samples]) for name in ("slo_violations", "impact", "user_loss",
                                                                             "interdc_loss")}
    ka = {name: np.array([s.kpi.get(name, 0.0) for s in after]) for name in ("slo_violations", "user_loss", "interdc_loss")}
    # the WAN links' rows only (a fabric's thousands of links are never read here)
    links = np.stack([_wan_truth(s, rows) for s in after]).astype(float) if after else np.zeros((0, rows.size, 5))
    wan = np.arange(rows.size)  # indexed, not sliced: the arrays reduced below keep their layout and bits
    util = np.nan_to_num(links[:, wan, _L["utilisation"]]) if links.size else np.zeros((1, 1))
    lloss = np.nan_to_num(links[:, wan, _L["loss"]]) if links.size else np.zeros((1, 1))
    class_loss = np.maximum(ka["user_loss"], ka["interdc_loss"])
    values = {
        "slo_minutes": float((k["slo_violations"] > 0).sum() * tick / 60.0),
        "slo_minutes_after": float((ka["slo_violations"] > 0).sum() * tick / 60.0),
        "impact_minutes": float(k["impact"].sum() * tick / 60.0),
        "peak_utilisation": float(util.max()) if util.size else 0.0,
        "peak_loss": float(class_loss.max()) if class_loss.size else 0.0,
        "mean_loss": float(class_loss.mean()) if class_loss.size else 0.0,
        "peak_link_loss": float(lloss.max()) if lloss.size else 0.0,
        "user_loss": float(ka["user_loss"].mean()) if after else 0.0,
        "interdc_loss": float(ka["interdc_loss"].mean()) if after else 0.0,
    }
    # connection-level figures per class, over the samples after landing
    if links.size:
        lat = np.nan_to_num(links[:, wan, _L["latency_ms"]])
        thr = np.nan_to_num(links[:, wan, _L["throughput_gbps"]])
        one_way = (lat * thr).sum(axis=1) / np.maximum(thr.sum(axis=1), 1e-9)
        one_way = np.where(thr.sum(axis=1) > 0, one_way, lat.mean(axis=1))
        hops = class_hops(fork.world)
        for c, cls in enumerate(CLASSES):
            rng = np.random.default_rng([flow_seed, c])
            rtt = 2 * hops[cls] * one_way
            for name, v in flow_percentiles(np.nan_to_num(ka[f"{cls}_loss"]), rtt, rng).items():
                values[f"{cls}_{name}"] = v
    alerts: dict[tuple[str, str], str] = {}
    services = set()
    closed = fork.telemetry.closed_alerts
    active: dict[tuple[str, str], str] = {}
    for a in closed.tail(len(closed) - closed_before):
        active[(a.name, a.entity)] = a.severity
        if a.start >= t0:
            alerts[(a.name, a.entity)] = a.severity
            if a.entity_kind == "service":
                services.add(a.entity)
    for a in fork.state.alerts.open.values():
        active[(a["name"], a["entity"])] = a["severity"]
        if a["start"] >= t0:
            alerts[(a["name"], a["entity"])] = a["severity"]
            if a["entity_kind"] == "service":
                services.add(a["entity"])
    values["services_affected"] = float(len(services))
    return RunFigures(values, _plane_loss(links, fork), alerts, tuple(sorted(services)), active)
