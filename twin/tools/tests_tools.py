"""Test tools: probes and comparisons an engineer runs to confirm or reject a hypothesis.

Probes report symptoms along the path traffic takes now (from link telemetry), never causes.
"""

from __future__ import annotations

from itertools import pairwise
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np

from twin.model.world import CLASSES
from twin.telemetry.recorder import METRICS
from twin.tools._common import WINDOW, entity_arg, kind_of, r, samples_until, schema, series
from twin.tools.registry import tool

if TYPE_CHECKING:
    from twin.sim.network import Routing
    from twin.sim.twin import Twin

__all__ = ["BASELINE_S", "check_link_counters", "compare_baseline", "ping", "similar_alerts", "traceroute"]

#: The baseline is what the monitors saw in the run's first five minutes.
BASELINE_S = 300.0

_PROBE = schema({"src_site": entity_arg("site", "where the probe starts"),
                 "dst_site": entity_arg("site", "where it goes"),
                 "traffic_class": {"type": "string", "enum": list(CLASSES)}}, ["src_site", "dst_site"])


def _routing(twin: Twin) -> Routing:
    """The installed routing, without caching a rebuild (a probe must not change the twin's future)."""
    saved = twin.state.network.routing
    routing = twin.routing()
    twin.state.network.routing = saved
    return routing


def _paths(twin: Twin, src: str, dst: str, cls: str) -> list[tuple[float, list[int]]]:
    """(share, arcs in order) for each tunnel carrying ``cls`` from ``src`` to ``dst`` now."""
    w, topo = twin.world, twin.world.topology
    routing = _routing(twin)
    pairs = {pair: i for i, pair in enumerate(w.pairs)}
    if (src, dst) in pairs:
        group = pairs[(src, dst)] * 2 + CLASSES.index(cls)
        flows = np.flatnonzero((routing.flow_group == group) & routing.routable)
        return [(float(routing.flow_ratio[f]), routing.arc_of[routing.flow_of == f].tolist()) for f in flows]
    from twin.sim.network import usable_links

    plane = routing.class_plane[cls]
    usable = usable_links(w, twin.state)
    g = topo.plane_graph(plane, usable)
    s, d = topo.find_router(plane, src), topo.find_router(plane, dst)
    if s not in g or d not in g or not nx.has_path(g, s, d):
        return []
    path = nx.dijkstra_path(g, s, d, weight="weight")
    return [(1.0, [topo.arc(u, v) for u, v in pairwise(path)])]


def _link_now(twin: Twin) -> np.ndarray:
    latest = twin.telemetry.latest()
    if latest is None:
        return np.zeros((twin.world.topology.n_links, len(METRICS["link"])))
    return latest.link.astype(float)


def _probe(twin: Twin, args: dict[str, Any]) -> tuple[dict, list[dict]]:
    src, dst, cls = args["src_site"], args["dst_site"], args.get("traffic_class", "user")
    topo = twin.world.topology
    links = _link_now(twin)
    loss_col, lat_col = METRICS["link"].index("loss"), METRICS["link"].index("latency_ms")
    tunnels, total_loss, total_rtt = [], 0.0, 0.0
    for share, arcs in _paths(twin, src, dst, cls):
        hops, ok, lat = [], 1.0, 0.0
        for arc in arcs:
            link = arc // 2
            a, b = (topo.link_a[link], topo.link_b[link]) if arc % 2 == 0 else (topo.link_b[link], topo.link_a[link])
            loss, latency = float(links[link, loss_col]), float(links[link, lat_col])
            ok *= 1.0 - (0.0 if np.isnan(loss) else loss)
            lat += 0.0 if np.isnan(latency) else latency
            hops.append({"from": topo.nodes[a], "to": topo.nodes[b], "link": topo.links[link], "loss": r(loss),
                         "latency_ms": r(latency, 2), "cumulative_loss": r(1.0 - ok)})
        tunnels.append({"share": r(share, 3), "loss": r(1.0 - ok), "rtt_ms": r(2 * lat, 2), "hops": hops})
        total_loss += share * (1.0 - ok)
        total_rtt += share * 2 * lat
    shares = sum(t["share"] for t in tunnels)
    data = {"src_site": src, "dst_site": dst, "traffic_class": cls, "reachable": bool(tunnels),
            "loss": r(total_loss / shares) if tunnels else 1.0, "rtt_ms": r(total_rtt / shares, 2) if tunnels else None}
    return data, tunnels


@tool("ping", "test", "Probe loss and round-trip time between two sites for a traffic class, along today's routes",
      _PROBE, 20.0, target="src_site", target_kind="site")
def ping(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    data, tunnels = _probe(twin, args)
    data["paths"] = len(tunnels)
    if not data["reachable"]:
        return data, f"ping {data['src_site']} -> {data['dst_site']} ({data['traffic_class']}): unreachable"
    return data, (f"ping {data['src_site']} -> {data['dst_site']} ({data['traffic_class']}): "
                  f"{data['loss']:.1%} loss, rtt {data['rtt_ms']:.0f} ms over {len(tunnels)} path(s)")


@tool("traceroute", "test", "List the hops traffic of a class takes between two sites now, with per-hop loss",
      _PROBE, 30.0, target="src_site", target_kind="site")
def traceroute(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    data, tunnels = _probe(twin, args)
    data["paths"] = tunnels
    if not tunnels:
        return data, f"traceroute {data['src_site']} -> {data['dst_site']}: no route"
    main = max(tunnels, key=lambda t: t["share"])
    worst = max(main["hops"], key=lambda h: h["loss"] or 0.0)
    route = " > ".join([main["hops"][0]["from"], *(h["to"] for h in main["hops"])])
    return data, f"traceroute {route} ({main['share']:.0%} of traffic); worst hop {worst['link']} {worst['loss']:.1%} loss"


@tool("check_link_counters", "test", "A link's interface counters over a window: utilisation, loss, throughput, up",
      schema({"link": entity_arg("link", "a link name"), "window": WINDOW}, ["link"]), 15.0,
      target="link", target_kind="link")
def check_link_counters(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    data: dict[str, Any] = {"link": args["link"]}
    for metric in ("utilisation", "loss", "throughput_gbps", "up"):
        _, v = series(twin, "link", args["link"], metric, args.get("window", "5m"))
        v = v[~np.isnan(v)] if v.size else v
        data[metric] = ({"min": r(v.min()), "mean": r(v.mean()), "max": r(v.max()), "last": r(v[-1])}
                        if v.size else None)
    if data["loss"] is None:
        return data, f"{args['link']}: no counters in the window"
    down = data["up"]["min"] is not None and data["up"]["min"] < 0.5
    return data, (f"{args['link']}: utilisation {data['utilisation']['last']:.0%} (max {data['utilisation']['max']:.0%}), "
                  f"loss {data['loss']['last']:.1%} (max {data['loss']['max']:.1%}){', went down' if down else ''}")


@tool("compare_baseline", "test", "Compare an entity's metrics now with the first five minutes of the run (ratio per metric)",
      schema({"entity": entity_arg("entity", "a link, device or service name")}, ["entity"]), 20.0,
      target="entity", target_kind="entity")
def compare_baseline(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    name = args["entity"]
    kind = kind_of(twin, name)
    col = twin.telemetry.entity_index(kind, name)
    base = [getattr(s, kind)[col] for s in samples_until(twin, BASELINE_S)]
    latest = twin.telemetry.latest()
    if not base or latest is None:
        return {"entity": name, "kind": kind, "metrics": {}}, f"{name}: no baseline yet"
    before = np.nanmean(np.stack(base).astype(float), axis=0) if not np.all(np.isnan(base)) else np.full(len(base[0]), np.nan)
    now = getattr(latest, kind)[col].astype(float)
    metrics = {}
    for m, metric in enumerate(METRICS[kind]):
        b, n = float(before[m]), float(now[m])
        ratio = n / b if abs(b) > 1e-9 else (1.0 if abs(n) <= 1e-9 else None)
        metrics[metric] = {"baseline": r(b), "now": r(n), "ratio": r(ratio, 3) if ratio is not None else None,
                           "delta": r(n - b)}
    moved = sorted(((k, v) for k, v in metrics.items() if v["ratio"] is not None and not np.isnan(v["ratio"])),
                   key=lambda kv: -abs(np.log(max(kv[1]["ratio"], 1e-6))))
    text = ", ".join(f"{k} x{v['ratio']:.2g}" for k, v in moved[:3]) or "no comparable metrics"
    return {"entity": name, "kind": kind, "metrics": metrics}, f"{name} vs baseline: {text}"


@tool("similar_alerts", "test", "Which other entities have the same alert open",
      schema({"alert": entity_arg("alert", "an alert name, e.g. PacketLoss")}, ["alert"]), 10.0,
      target="alert", target_kind="alert")
def similar_alerts(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    hits = sorted((a for a in twin.open_alerts() if a.name == args["alert"]), key=lambda a: (a.start, a.entity))
    rows = [{"entity": a.entity, "entity_kind": a.entity_kind, "start": a.start, "value": r(a.value)} for a in hits]
    shown = ", ".join(a.entity for a in hits[:6]) + (" ..." if len(hits) > 6 else "")
    return {"alert": args["alert"], "count": len(hits), "entities": rows[:40]}, (
        f"{args['alert']} open on {len(hits)} entities" + (f": {shown}" if hits else ""))
