"""The fault catalogue: parameter checks, and what each fault does to a twin's state.

A fault only changes state (what is true); telemetry then shows its symptoms. Faults that
an operator would see as a change (a config push, a deploy) also write to the change log,
because that is what a change-management system records, not because they are faults.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from twin.errors import ScenarioError
from twin.sim.state import ChangeRecord
from twin.model.world import CLASSES, World
from twin.units import parse_duration

if TYPE_CHECKING:
    from twin.scenario import FaultSpec
    from twin.sim.twin import Twin

__all__ = ["check_fault", "apply_fault", "revert_fault", "PARAMS"]

# kind -> {param: (type, entity kind or None, required)}
PARAMS: dict[str, dict[str, tuple[str, str | None, bool]]] = {
    "link_down": {"link": ("str", "link", False), "links": ("list", "link", False), "plane": ("str", "plane", False),
                  "site": ("str", "site", False), "change": ("str", None, False), "description": ("str", None, False)},
    "link_degraded": {"link": ("str", "link", True), "loss": ("fraction", None, True)},
    "link_flap": {"link": ("str", "link", True), "period": ("duration", None, False)},
    "device_failure": {"device": ("str", "device", True)},
    "traffic_surge": {"class": ("str", "class", True), "factor": ("positive", None, True),
                      "automation": ("bool", None, False)},
    "config_push": {"change": ("str", None, False), "target": ("str", None, True), "description": ("str", None, False),
                    "plane": ("str", "plane", False), "inconsistency": ("str", None, False),
                    "clusters": ("int", None, False)},
    "control_plane_bug": {"bug": ("str", None, True), "plane": ("str", "plane", False), "threshold": ("int", None, False)},
    "latent_protocol_defect": {"feature": ("str", "feature", True), "pattern": ("str", "pattern", True),
                               "threshold_gbps": ("positive", None, True)},
    "control_plane_jobs_down": {"sites": ("list", "site", True), "capacity_left": ("fraction", None, True),
                                "change": ("str", None, False), "description": ("str", None, False)},
    "route_attraction": {"device": ("str", "device", True), "change": ("str", None, False),
                         "description": ("str", None, False)},
    "replica_crash": {"service": ("str", "service", True), "count": ("positive", None, True),
                      "crashloop": ("bool", None, False)},
    "cpu_hog": {"service": ("str", "service", True), "share": ("fraction", None, True)},
    "memory_leak": {"service": ("str", "service", True), "mb_per_min": ("positive", None, True),
                    "deploy": ("bool", None, False)},
    "bad_deploy": {"service": ("str", "service", True), "error_rate": ("fraction", None, True),
                   "version": ("str", None, False)},
    "retry_storm": {"service": ("str", "service", True), "factor": ("positive", None, True),
                    "spike": ("fraction", None, False)},
    "load_surge": {"service": ("str", "service", True), "factor": ("positive", None, True)},
    "monitoring_outage": {"scope": ("str", "scope", True)},
}

BUGS = ("multi_prefix_as_failure", "dns_withdraw")
SCOPES = ("links", "services", "devices")


def _entities(world: World, kind: str) -> list[str]:
    topo = world.topology
    if kind == "link":
        return list(topo.links)
    if kind == "plane":
        return list(topo.planes)
    if kind == "site":
        return list(topo.sites)
    if kind == "device":
        return [topo.nodes[i] for i in world.devices]
    if kind == "service":
        return list(world.services)
    if kind == "class":
        return list(CLASSES)
    if kind == "feature":
        return list(world.features)
    if kind == "pattern":
        return sorted({p for p in world.demand_pattern if p})
    if kind == "scope":
        return list(SCOPES) + list(topo.sites)
    return []


def check_fault(world: World, fault: "FaultSpec", where: str) -> None:
    """Raise ScenarioError if a fault's params are missing, mistyped or name unknown entities."""
    src = world.scenario.path or world.scenario.name
    spec = PARAMS[fault.kind]
    for name in fault.params:
        if name not in spec:
            raise ScenarioError(src, f"{where}.params.{name}",
                                f"unknown parameter for {fault.kind} (allowed: {', '.join(spec)})")
    for name, (typ, entity, required) in spec.items():
        field = f"{where}.params.{name}"
        if name not in fault.params:
            if required:
                raise ScenarioError(src, field, f"required by {fault.kind}")
            continue
        value = fault.params[name]
        values = value if typ == "list" else [value]
        if typ == "list" and not isinstance(value, list):
            raise ScenarioError(src, field, f"expected a list, got {value!r}")
        if typ in ("positive", "fraction", "int") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ScenarioError(src, field, f"expected a number, got {value!r}")
        if typ == "positive" and value <= 0:
            raise ScenarioError(src, field, f"must be > 0, got {value!r}")
        if typ == "fraction" and not 0 <= value <= 1:
            raise ScenarioError(src, field, f"must be between 0 and 1, got {value!r}")
        if typ == "duration":
            try:
                parse_duration(value)
            except ValueError as exc:
                raise ScenarioError(src, field, str(exc)) from None
        if entity:
            known = _entities(world, entity)
            for v in values:
                if v not in known:
                    shown = ", ".join(known[:12]) + (f", ... ({len(known)} in all)" if len(known) > 12 else "")
                    raise ScenarioError(src, field, f"unknown {entity} {v!r} (known: {shown or 'none'})")
    if fault.kind == "control_plane_bug" and fault.params["bug"] not in BUGS:
        raise ScenarioError(src, f"{where}.params.bug", f"unknown bug {fault.params['bug']!r} (allowed: {', '.join(BUGS)})")
    if fault.kind == "link_down" and not any(k in fault.params for k in ("link", "links", "plane", "site")):
        raise ScenarioError(src, f"{where}.params", "link_down needs one of: link, links, plane, site")


def _fault_links(world: World, params: dict[str, Any]) -> np.ndarray:
    topo = world.topology
    names = ([params["link"]] if "link" in params else []) + list(params.get("links", []))
    ids = [topo.link_index[n] for n in names]
    if "plane" in params:
        ids += [i for i, p in enumerate(topo.link_plane) if p == params["plane"]]
    if "site" in params:
        routers = {topo.node_index[f"{p}-{params['site']}"] for p in topo.planes}
        ids += [i for i in range(topo.n_links) if topo.link_a[i] in routers or topo.link_b[i] in routers]
    return np.array(sorted(set(ids)), dtype=np.int64)


def apply_fault(twin: "Twin", fault: "FaultSpec") -> None:
    """Make a fault true in the twin's state."""
    world, st, p = twin.world, twin.state, fault.params
    topo = world.topology
    data = st.fault_data.setdefault(fault.id, {})
    kind = fault.kind
    svc = world.callgraph.index()[p["service"]] if "service" in p and world.callgraph else None
    if kind == "link_down":
        if p.get("change"):  # a maintenance command that took links down is in the change log
            twin.record_change(ChangeRecord(p["change"], st.now, "maintenance", p.get("plane") or p.get("site") or "links",
                                            p.get("description", "")), fault_id=fault.id)
        ids = _fault_links(world, p)
        st.link_down[ids] += 1
        data["links"] = ids.tolist()
        twin.topology_changed()
    elif kind == "link_degraded":
        i = topo.link_index[p["link"]]
        data["before"] = float(st.link_loss[i])
        st.link_loss[i] = 1 - (1 - st.link_loss[i]) * (1 - p["loss"])
    elif kind == "link_flap":
        data["down"] = False
    elif kind == "device_failure":
        st.node_down[topo.node_index[p["device"]]] += 1
        twin.topology_changed()
    elif kind == "traffic_surge":
        st.class_factor[CLASSES.index(p["class"])] *= p["factor"]
    elif kind == "config_push":
        change = p.get("change", fault.id)
        twin.record_change(ChangeRecord(change, st.now, "config_push", p["target"], p.get("description", "")),
                           fault_id=fault.id)
        if p.get("inconsistency") and p.get("plane"):
            st.prefix_views[p["plane"]] = st.prefix_views.get(p["plane"], 0) + int(p.get("clusters", 2))
    elif kind == "control_plane_bug":
        if p["bug"] == "multi_prefix_as_failure":
            st.te_bug[p.get("plane", "b4")] = int(p.get("threshold", 2))
            twin.kick_te()
        elif p["bug"] == "dns_withdraw":
            st.class_limit[CLASSES.index("user")] = 0.0
            twin.log("health", "dns", "DNS servers cannot reach the data centers and withdraw their BGP announcements")
    elif kind == "latent_protocol_defect":
        st.defects[p["feature"]] = (p["pattern"], float(p["threshold_gbps"]))
    elif kind == "control_plane_jobs_down":
        if p.get("change"):
            twin.record_change(ChangeRecord(p["change"], st.now, "config_push", ",".join(p["sites"]),
                                            p.get("description", "")), fault_id=fault.id)
        for site in p["sites"]:
            st.site_capacity[site] = float(p["capacity_left"])
    elif kind == "route_attraction":
        node = topo.node_index[p["device"]]
        if p.get("change"):
            twin.record_change(ChangeRecord(p["change"], st.now, "config_push", p["device"], p.get("description", "")),
                               fault_id=fault.id)
        st.attraction[topo.node_plane[node]] = node
        st.node_cpu[node] += 0.85  # processing the flood of preferred routes
        twin.kick_te(now=True)
    elif kind == "replica_crash":
        count = min(float(p["count"]), float(st.replicas_up[svc]))
        if p.get("crashloop"):
            st.crashloop[svc] += count
        else:
            st.replicas_up[svc] -= count
            st.replicas_ready_at.append((st.now + 60.0, svc, count, False))
        twin.log("health", p["service"], f"{int(count)} replica(s) of {p['service']} restarted unexpectedly")
    elif kind == "cpu_hog":
        st.cpu_hog[svc] = min(0.95, st.cpu_hog[svc] + p["share"])
    elif kind == "memory_leak":
        st.leak_mb_per_s[svc] += p["mb_per_min"] / 60.0
        if p.get("deploy", True):
            twin.deploy(svc, fault_id=fault.id)
    elif kind == "bad_deploy":
        data["before"] = float(st.injected_error[svc])
        st.injected_error[svc] = 1 - (1 - st.injected_error[svc]) * (1 - p["error_rate"])
        twin.deploy(svc, fault_id=fault.id, version=p.get("version"))
    elif kind == "retry_storm":
        into = world.call_dst == svc
        st.retry_factor[into] *= p["factor"]
        data["budget"] = st.retry_budget[into].tolist()
        st.retry_budget[into] = np.inf
        st.attempt_fail[into] = np.maximum(st.attempt_fail[into], p.get("spike", 0.5))
    elif kind == "load_surge":
        st.entry_factor[svc] *= p["factor"]
    elif kind == "monitoring_outage":
        st.monitoring_down.add(p["scope"])


def revert_fault(twin: "Twin", fault: "FaultSpec") -> None:
    """Undo what :func:`apply_fault` did (the fault ended, or a mitigation removed its cause)."""
    world, st, p = twin.world, twin.state, fault.params
    topo = world.topology
    data = st.fault_data.get(fault.id, {})
    kind = fault.kind
    svc = world.callgraph.index()[p["service"]] if "service" in p and world.callgraph else None
    if kind == "link_down":
        st.link_down[np.array(data.get("links", []), dtype=np.int64)] -= 1
        twin.topology_changed()
    elif kind == "link_degraded":
        st.link_loss[topo.link_index[p["link"]]] = data.get("before", 0.0)
    elif kind == "link_flap":
        if data.get("down"):
            st.link_down[topo.link_index[p["link"]]] -= 1
            data["down"] = False
            twin.topology_changed()
    elif kind == "device_failure":
        st.node_down[topo.node_index[p["device"]]] -= 1
        twin.topology_changed()
    elif kind == "traffic_surge":
        st.class_factor[CLASSES.index(p["class"])] /= p["factor"]
    elif kind == "config_push":
        if p.get("inconsistency") and p.get("plane"):
            st.prefix_views[p["plane"]] = max(0, st.prefix_views.get(p["plane"], 0) - int(p.get("clusters", 2)))
            twin.kick_te()
    elif kind == "control_plane_bug":
        if p["bug"] == "multi_prefix_as_failure":
            st.te_bug.pop(p.get("plane", "b4"), None)
            twin.kick_te()
        elif p["bug"] == "dns_withdraw":
            st.class_limit[CLASSES.index("user")] = 1.0
            twin.log("health", "dns", "DNS servers reach the data centers again and re-announce their prefixes")
    elif kind == "latent_protocol_defect":
        st.defects.pop(p["feature"], None)
        for node in world.features.get(p["feature"], []):
            st.node_blackhole[node] = False
    elif kind == "control_plane_jobs_down":
        for site in p["sites"]:
            st.site_capacity.pop(site, None)
    elif kind == "route_attraction":
        st.attraction.pop(topo.node_plane[topo.node_index[p["device"]]], None)
        st.node_cpu[topo.node_index[p["device"]]] -= 0.85
        twin.kick_te(now=True)
    elif kind == "replica_crash":
        if p.get("crashloop"):
            st.crashloop[svc] = max(0.0, st.crashloop[svc] - float(p["count"]))
    elif kind == "cpu_hog":
        st.cpu_hog[svc] = max(0.0, st.cpu_hog[svc] - p["share"])
    elif kind == "memory_leak":
        st.leak_mb_per_s[svc] = max(0.0, st.leak_mb_per_s[svc] - p["mb_per_min"] / 60.0)
    elif kind == "bad_deploy":
        st.injected_error[svc] = data.get("before", 0.0)
    elif kind == "retry_storm":
        into = world.call_dst == svc
        st.retry_factor[into] /= p["factor"]
        st.retry_budget[into] = np.array(data.get("budget", [0.2] * int(into.sum())))
    elif kind == "load_surge":
        st.entry_factor[svc] /= p["factor"]
    elif kind == "monitoring_outage":
        st.monitoring_down.discard(p["scope"])
