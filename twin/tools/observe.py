"""Observation tools: what an on-call engineer reads from dashboards, alerting and the change log.

They see monitors only (telemetry, alerts, events, rendered config), never the fault schedule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.telemetry.recorder import METRICS
from twin.tools._common import WINDOW, entity_arg, kind_of, r, schema, series
from twin.tools.registry import tool
from twin.units import format_duration, parse_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = [
    "list_alerts",
    "query_metric",
    "recent_changes",
    "show_config",
    "show_neighbourhood",
    "top_links",
    "top_services",
    "wait",
]

_ALL_METRICS = sorted({m for ms in METRICS.values() for m in ms})
_LIMIT = 40  # rows a listing returns; more are counted, not shown


@tool("list_alerts", "observe", "List the open alerts (optionally of one severity), oldest first",
      schema({"severity": {"type": "string", "enum": ["critical", "warning"]}}), 5.0)
def list_alerts(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    alerts = sorted(twin.open_alerts(), key=lambda a: (a.start, a.name, a.entity))
    if "severity" in args:
        alerts = [a for a in alerts if a.severity == args["severity"]]
    rows = [{"name": a.name, "entity": a.entity, "entity_kind": a.entity_kind, "severity": a.severity,
             "start": a.start, "value": r(a.value), "message": a.message} for a in alerts]
    by_name: dict[str, int] = {}
    for a in alerts:
        by_name[a.name] = by_name.get(a.name, 0) + 1
    summary = f"{len(alerts)} open alerts" + (f": {', '.join(f'{n} x{c}' for n, c in by_name.items())}" if alerts else "")
    return {"count": len(alerts), "by_name": by_name, "alerts": rows[:_LIMIT]}, summary


@tool("query_metric", "observe", "One metric of a link, device or service over a window: min/mean/max/last and a series",
      schema({"entity": entity_arg("entity", "a link, device or service name"),
              "metric": {"type": "string", "enum": _ALL_METRICS},
              "window": WINDOW}, ["entity", "metric"]), 10.0, target="entity", target_kind="entity")
def query_metric(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    name, metric = args["entity"], args["metric"]
    kind = kind_of(twin, name)
    if metric not in METRICS[kind]:
        raise ValueError(f"a {kind} has no metric {metric!r} (allowed: {', '.join(METRICS[kind])})")
    times, values = series(twin, kind, name, metric, args.get("window", "10m"))
    if values.size == 0 or np.all(np.isnan(values)):
        return {"entity": name, "metric": metric, "samples": int(values.size)}, f"{name} {metric}: no data"
    step = max(1, values.size // 12)
    data = {"entity": name, "kind": kind, "metric": metric, "samples": int(values.size),
            "min": r(np.nanmin(values)), "mean": r(np.nanmean(values)), "max": r(np.nanmax(values)),
            "last": r(values[-1]), "series": [[float(t), r(v)] for t, v in zip(times[::-step][::-1], values[::-step][::-1])]}
    return data, f"{name} {metric}: last {data['last']}, mean {data['mean']}, max {data['max']}"


@tool("top_links", "observe", "The N links with the highest utilisation or loss right now",
      schema({"by": {"type": "string", "enum": ["utilisation", "loss"]},
              "n": {"type": "integer", "minimum": 1, "maximum": 50}}), 10.0)
def top_links(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    return _top(twin, "link", args.get("by", "utilisation"), int(args.get("n", 5)), ("utilisation", "loss", "up"))


@tool("top_services", "observe", "The N services with the highest error rate or p99 latency right now",
      schema({"by": {"type": "string", "enum": ["error_rate", "p99_ms"]},
              "n": {"type": "integer", "minimum": 1, "maximum": 50}}), 10.0)
def top_services(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    return _top(twin, "service", args.get("by", "error_rate"), int(args.get("n", 5)), ("error_rate", "p99_ms", "rps", "cpu"))


def _top(twin: Twin, kind: str, by: str, n: int, cols: tuple[str, ...]) -> tuple[dict, str]:
    latest = twin.telemetry.latest()
    names = twin.telemetry.entities[kind]
    if latest is None or not names:
        return {"by": by, "rows": []}, f"no {kind} data yet"
    block = getattr(latest, kind).astype(float)
    key = np.nan_to_num(block[:, METRICS[kind].index(by)], nan=-np.inf)
    order = np.argsort(-key, kind="stable")[:n]
    rows = [{"name": names[i], **{c: r(block[i, METRICS[kind].index(c)]) for c in cols}} for i in order]
    top = ", ".join(f"{row['name']} {row[by]}" for row in rows[:3])
    return {"by": by, "at": latest.t, "rows": rows}, f"top {kind}s by {by}: {top}"


@tool("show_neighbourhood", "observe",
      "What an entity connects to: a link's end devices and their other links, a device's links and neighbours, "
      "a service's callers and callees",
      schema({"entity": entity_arg("entity", "a link, device or service name")}, ["entity"]), 5.0,
      target="entity", target_kind="entity")
def show_neighbourhood(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    name = args["entity"]
    topo = twin.world.topology
    kind = kind_of(twin, name)
    if kind == "service":
        cg = twin.world.callgraph
        callers = sorted({c.caller for c in cg.calls if c.callee == name})
        callees = sorted({c.callee for c in cg.calls if c.caller == name})
        site = twin.world.topology.sites[twin.world.service_site[cg.index()[name]]] if len(topo.sites) else ""
        data = {"entity": name, "kind": kind, "site": site, "callers": callers, "callees": callees}
        return data, f"{name}: called by {', '.join(callers) or 'nobody (entry)'}; calls {', '.join(callees) or 'nothing'}"
    if kind == "link":
        i = topo.link_index[name]
        ends = [topo.nodes[topo.link_a[i]], topo.nodes[topo.link_b[i]]]
        others = sorted({topo.links[j] for e in (topo.link_a[i], topo.link_b[i]) for j in topo.links_of_node(e)} - {name})
        data = {"entity": name, "kind": kind, "plane": topo.link_plane[i], "devices": ends, "adjacent_links": others[:_LIMIT]}
        return data, f"{name} joins {ends[0]} and {ends[1]}; {len(others)} adjacent links"
    node = topo.node_index[name]
    links = [topo.links[j] for j in topo.links_of_node(node)]
    peers = sorted({topo.nodes[b if a == node else a] for a, b in
                    ((topo.link_a[j], topo.link_b[j]) for j in topo.links_of_node(node))})
    data = {"entity": name, "kind": kind, "site": topo.node_site[node], "links": links[:_LIMIT], "neighbours": peers[:_LIMIT]}
    return data, f"{name}: {len(links)} links to {', '.join(peers[:6])}{' ...' if len(peers) > 6 else ''}"


@tool("recent_changes", "observe",
      "The change log, TE controller decisions, deploys, health checks and operator actions within a window",
      schema({"window": WINDOW}), 10.0)
def recent_changes(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    since = twin.now - parse_duration(args.get("window", "30m"))
    ev = [e for e in twin.telemetry.events if e.t >= since]
    rows = [{"time": e.t, "kind": e.kind, "entity": e.entity, "message": e.message} for e in ev]
    kinds: dict[str, int] = {}
    for e in ev:
        kinds[e.kind] = kinds.get(e.kind, 0) + 1
    summary = (f"{len(ev)} events in the last {format_duration(twin.now - since)}"
               + (f" ({', '.join(f'{k} {c}' for k, c in kinds.items())})" if ev else ""))
    return {"count": len(ev), "events": rows[-_LIMIT:]}, summary


@tool("show_config", "observe", "A device's rendered configuration: role, plane, links, enabled features, drain state",
      schema({"device": entity_arg("device", "a router or switch")}, ["device"]), 15.0,
      target="device", target_kind="device")
def show_config(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    topo, st = twin.world.topology, twin.state
    node = topo.node_index[args["device"]]
    links = [{"link": topo.links[j], "peer": topo.nodes[topo.link_b[j] if topo.link_a[j] == node else topo.link_a[j]],
              "capacity_gbps": r(topo.capacity_gbps[j]), "metric": r(topo.metric[j]),
              "drained": bool(st.network.link_drained[j])} for j in topo.links_of_node(node)]
    features = sorted(f for f, nodes in twin.world.features.items()
                      if node in set(np.asarray(nodes).tolist()) and st.control.features_enabled.get(f, True))
    data = {"device": args["device"], "role": topo.node_kind[node], "site": topo.node_site[node],
            "plane": topo.node_plane[node], "drained": bool(st.network.node_drained[node]), "features": features,
            "links": links[:_LIMIT]}
    lines = [f"hostname {args['device']}", f" role {data['role']} site {data['site']} plane {data['plane'] or '-'}",
             *(f" feature {f} enable" for f in features), *(" drain" for _ in [0] if data["drained"]),
             *(f" interface to {ln['peer']} capacity {ln['capacity_gbps']}G metric {ln['metric']}"
               + (" shutdown" if ln["drained"] else "") for ln in links[:_LIMIT])]
    data["text"] = "\n".join(lines)
    return data, (f"{args['device']}: {data['role']} in {data['site']}, {len(links)} links, "
                  f"{'drained' if data['drained'] else 'in service'}, features: {', '.join(features) or 'none'}")


@tool("wait", "observe", "Do nothing for a minute and let the network evolve; returns open alert counts first",
      schema({}), 60.0)
def wait(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
    alerts = twin.open_alerts()
    critical = sum(a.severity == "critical" for a in alerts)
    return {"open_alerts": len(alerts), "critical": critical}, f"waited; {len(alerts)} open alerts ({critical} critical)"
