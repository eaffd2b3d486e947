"""The immutable part of a twin, built once from a scenario and shared by every fork."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np

from twin.errors import ScenarioError, known_list
from twin.model.callgraph import (
    BUILTIN_CALLGRAPHS,
    CallGraph,
    builtin_callgraph,
    callgraph_from_dict,
    generate_callgraph,
    with_client_policies,
)
from twin.model.fabric import FatTree, add_fat_tree
from twin.model.topology import Topology, TopologyBuilder, router_name
from twin.model.wan import generate_wan, gravity_demands

if TYPE_CHECKING:
    from twin.scenario import Scenario

__all__ = ["World", "build_world", "CLASSES"]

CLASSES = ("user", "interdc")

#: Hash buckets each ToR-to-ToR aggregate is spread over by ECMP.
SUBFLOWS = 8


@dataclass(frozen=True, eq=False)
class World:
    """Topology, services, placement and demand definitions: everything a run does not change."""

    scenario: "Scenario"
    topology: Topology
    fabrics: dict[str, FatTree]
    class_plane: dict[str, str]
    pairs: tuple[tuple[str, str], ...]
    demand_pair: np.ndarray  # index into pairs
    demand_class: np.ndarray  # index into CLASSES
    demand_gbps: np.ndarray
    demand_pattern: tuple[str, ...]
    callgraph: CallGraph | None
    service_site: np.ndarray
    service_tor: np.ndarray  # flat ToR index in its site's fabric, -1 without a fabric
    call_src: np.ndarray
    call_dst: np.ndarray
    call_pair: np.ndarray  # index into pairs for cross-site calls, -1 inside a site
    devices: np.ndarray  # node ids that are routers or switches
    features: dict[str, np.ndarray]
    fabric_flows: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]
    site_index: dict[str, int] = field(repr=False)

    @cached_property
    def fabric_base(self) -> np.ndarray:
        """Base Gbps of every fabric flow, in routing order."""
        return np.concatenate([self.fabric_flows[s][2] for s in self.fabrics]) if self.fabrics else np.zeros(0)

    @cached_property
    def pattern_masks(self) -> dict[str, np.ndarray]:
        return {p: np.array([q == p for q in self.demand_pattern]) for p in sorted({q for q in self.demand_pattern if q})}

    @cached_property
    def plane_masks(self) -> dict[str, np.ndarray]:
        planes = (*self.topology.planes, "fabric", "access")
        return {p: np.array([q == p for q in self.topology.link_plane], dtype=bool) for p in planes}

    @cached_property
    def arc_delay(self) -> np.ndarray:
        return self.topology.arc_delay()

    @cached_property
    def arc_dst(self) -> np.ndarray:
        """The node each directed arc leads to."""
        topo = self.topology
        out = np.empty(topo.n_arcs, dtype=np.int64)
        out[0::2], out[1::2] = topo.link_b, topo.link_a
        return out

    @cached_property
    def attached_capacity(self) -> np.ndarray:
        topo = self.topology
        return np.bincount(np.concatenate([topo.link_a, topo.link_b]),
                           weights=np.concatenate([topo.capacity_gbps, topo.capacity_gbps]), minlength=len(topo.nodes))

    @cached_property
    def service_arrays(self) -> dict[str, np.ndarray]:
        """Per-service and per-call parameters as arrays, for the per-tick physics."""
        cg = self.callgraph
        idx = cg.index()
        entry = np.zeros(len(cg.services))
        for name, rps in cg.entries:
            entry[idx[name]] = self.scenario.services.entry_rps.get(name, rps)
        return {
            "capacity_rps": np.array([s.capacity_rps for s in cg.services], dtype=float),
            "service_time_ms": np.array([s.service_time_ms for s in cg.services], dtype=float),
            "memory_limit_mb": np.array([s.memory_limit_mb for s in cg.services], dtype=float),
            "entry_rps": entry,
            "fanout": np.array([c.fanout for c in cg.calls], dtype=float),
            "timeout_ms": np.array([c.timeout_ms for c in cg.calls], dtype=float),
            "retries": np.array([c.retries for c in cg.calls], dtype=float),
            "queue_limit": np.array([s.queue_limit for s in cg.services], dtype=float),
            **{f: np.array([getattr(c, f) for c in cg.calls], dtype=float)
               for f in ("backoff_ms", "retry_budget", "breaker_threshold", "breaker_window_s", "breaker_cooldown_s",
                         "max_inflight")},
        }

    @cached_property
    def call_depth(self) -> int:
        import networkx as nx

        return int(nx.dag_longest_path_length(self.callgraph.graph())) if self.callgraph and self.callgraph.calls else 0

    @cached_property
    def services(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.callgraph.services) if self.callgraph else ()

    @cached_property
    def device_names(self) -> tuple[str, ...]:
        return tuple(self.topology.nodes[i] for i in self.devices)


def _fail(scenario: "Scenario", field_path: str, message: str) -> None:
    raise ScenarioError(scenario.path or scenario.name, field_path, message)


def _build_topology(sc: "Scenario", rng: np.random.Generator) -> tuple[Topology, dict[str, FatTree]]:
    spec = sc.topology
    builder = TopologyBuilder()
    if spec.generator is not None and spec.planes:
        _fail(sc, "topology.generator", "give either a generator or explicit planes, not both")
    if spec.generator is not None:
        generate_wan(builder, spec.generator, rng)
        site_names = list(builder._sites)
    else:
        site_names = [s.name for s in spec.sites]
        if not site_names:
            _fail(sc, "topology.sites", "at least one site is required (or a topology.generator)")
        seen: set[str] = set()
        for i, name in enumerate(site_names):
            if name in seen:
                _fail(sc, f"topology.sites[{i}].name", f"duplicate site {name!r}")
            seen.add(name)
            builder.site(name)
        for p, plane in enumerate(spec.planes):
            builder.plane(plane.name)
            for name in site_names:
                builder.node(router_name(plane.name, name), "router", name, plane.name)
            for j, link in enumerate(plane.links):
                for end in ("a", "b"):
                    site = getattr(link, end)
                    if site not in seen:
                        _fail(sc, f"topology.planes[{p}].links[{j}].{end}",
                              f"unknown site {site!r} (known: {known_list(site_names)})")
                if link.a == link.b:
                    _fail(sc, f"topology.planes[{p}].links[{j}]", f"a link needs two different sites, got {link.a!r} twice")
                metric = link.metric if link.metric is not None else max(link.delay_ms, 1.0)
                builder.link(f"{plane.name}:{link.a}-{link.b}", router_name(plane.name, link.a), router_name(plane.name, link.b),
                             link.capacity_gbps, link.delay_ms, metric, plane.name)
    fabrics: dict[str, FatTree] = {}
    for i, fab in enumerate(spec.fabrics):
        if fab.site not in builder._sites:
            _fail(sc, f"topology.fabrics[{i}].site", f"unknown site {fab.site!r} (known: {known_list(builder._sites)})")
        if fab.site in fabrics:
            _fail(sc, f"topology.fabrics[{i}].site", f"site {fab.site!r} already has a fabric")
        fabrics[fab.site] = add_fat_tree(builder, fab.site, fab.k, oversubscription=fab.oversubscription,
                                         link_gbps=fab.link_gbps)
    return builder.build(), fabrics


def _build_callgraph(sc: "Scenario", rng: np.random.Generator) -> CallGraph | None:
    spec = sc.services
    try:
        if isinstance(spec.callgraph, str):
            if spec.callgraph not in BUILTIN_CALLGRAPHS:
                _fail(sc, "services.callgraph",
                      f"unknown call graph {spec.callgraph!r} (built-in: {', '.join(BUILTIN_CALLGRAPHS)})")
            return builtin_callgraph(spec.callgraph)
        if isinstance(spec.callgraph, dict):
            return callgraph_from_dict(spec.callgraph)
        if spec.generate:
            return generate_callgraph(spec.generate, rng)
    except (ValueError, KeyError, TypeError) as exc:
        _fail(sc, "services.callgraph", str(exc))
    return None


def _with_policies(sc: "Scenario", cg: CallGraph) -> CallGraph:
    spec = sc.services
    if not (spec.clients or spec.queue_limit):
        return cg
    try:
        return with_client_policies(cg, [(c.caller, c.callee, c.overrides()) for c in spec.clients], spec.queue_limit)
    except ValueError as exc:
        msg = str(exc)
        where, _, what = msg.partition(": ")
        _fail(sc, "services." + where.replace("policies", "clients"), what)
    return cg


def build_world(sc: "Scenario") -> World:
    """Build (once per scenario object) the immutable world a twin runs on."""
    if sc._world is not None:
        return sc._world
    rng = np.random.default_rng(sc.seed)
    topo, fabrics = _build_topology(sc, rng)
    sites = list(topo.sites)
    site_index = {s: i for i, s in enumerate(sites)}
    class_plane = dict(sc.traffic.planes)
    for cls, plane in class_plane.items():
        if cls not in CLASSES:
            _fail(sc, f"traffic.planes.{cls}", f"unknown traffic class (allowed: {', '.join(CLASSES)})")
        if plane not in topo.planes:
            _fail(sc, f"traffic.planes.{cls}", f"unknown plane {plane!r} (known: {known_list(topo.planes)})")

    demands: list[tuple[str, str, int, float, str]] = []
    for i, d in enumerate(sc.traffic.demands):
        for end in ("src", "dst"):
            if getattr(d, end) not in site_index:
                _fail(sc, f"traffic.demands[{i}].{end}", f"unknown site {getattr(d, end)!r} (known: {known_list(sites)})")
        if d.src == d.dst:
            _fail(sc, f"traffic.demands[{i}]", f"src and dst are both {d.src!r}")
        demands.append((d.src, d.dst, CLASSES.index(d.traffic_class), d.gbps, d.pattern or ""))
    if sc.traffic.gravity is not None:
        demands += gravity_demands(sites, sc.traffic.gravity, rng)

    cg = _build_callgraph(sc, rng)
    cg = _with_policies(sc, cg) if cg else cg
    n_svc = len(cg.services) if cg else 0
    default_site = sc.services.default_site or sites[0]
    if default_site not in site_index:
        _fail(sc, "services.default_site", f"unknown site {default_site!r} (known: {known_list(sites)})")
    service_site = np.full(n_svc, site_index[default_site], dtype=np.int64)
    service_tor = np.full(n_svc, -1, dtype=np.int64)
    names = [s.name for s in cg.services] if cg else []
    for svc, where in sc.services.placement.items():
        if svc not in names:
            _fail(sc, f"services.placement.{svc}", f"unknown service (known: {known_list(names)})")
        site = where.split("/")[0]
        if site not in site_index:
            _fail(sc, f"services.placement.{svc}", f"unknown site {site!r} (known: {known_list(sites)})")
        service_site[names.index(svc)] = site_index[site]
    for i in range(n_svc):
        fab = fabrics.get(sites[service_site[i]])
        if fab is not None:
            # spread services over ToRs by index so intra-site calls cross the fabric
            service_tor[i] = (i * 7 + 3) % fab.n_tors
    for svc in sc.services.entry_rps:
        if svc not in names:
            _fail(sc, f"services.entry_rps.{svc}", f"unknown service (known: {known_list(names)})")

    pairs: list[tuple[str, str]] = []
    pair_index: dict[tuple[str, str], int] = {}

    def pair(a: str, b: str) -> int:
        if (a, b) not in pair_index:
            pair_index[(a, b)] = len(pairs)
            pairs.append((a, b))
        return pair_index[(a, b)]

    demand_pair = np.array([pair(d[0], d[1]) for d in demands], dtype=np.int64)
    call_src = call_dst = call_pair = np.zeros(0, dtype=np.int64)
    if cg:
        idx = cg.index()
        call_src = np.array([idx[c.caller] for c in cg.calls], dtype=np.int64)
        call_dst = np.array([idx[c.callee] for c in cg.calls], dtype=np.int64)
        call_pair = np.array(
            [pair(sites[service_site[s]], sites[service_site[d]]) if service_site[s] != service_site[d] else -1
             for s, d in zip(call_src, call_dst)], dtype=np.int64)

    features: dict[str, np.ndarray] = {}
    for feat, devices in sc.control.features.items():
        ids = []
        for j, dev in enumerate(devices):
            if dev not in topo.node_index or topo.node_kind[topo.node_index[dev]] == "host":
                devs = [n for n, k in zip(topo.nodes, topo.node_kind) if k != "host"]
                _fail(sc, f"control.features.{feat}[{j}]", f"unknown device {dev!r} (known: {known_list(devs)})")
            ids.append(topo.node_index[dev])
        features[feat] = np.array(ids, dtype=np.int64)

    fabric_flows = {}
    for fab_spec in sc.topology.fabrics:
        ft = fabrics[fab_spec.site]
        n = ft.n_tors * fab_spec.flows_per_tor
        src = np.repeat(np.arange(ft.n_tors), fab_spec.flows_per_tor)  # every ToR sources the same count
        dst = (src + rng.integers(1, ft.n_tors, n)) % ft.n_tors
        size = rng.lognormal(0.0, 0.4, n)
        # ECMP hashes 5-tuples, not aggregates: each ToR pair is spread over SUBFLOWS hashes
        src, dst, size = np.repeat(src, SUBFLOWS), np.repeat(dst, SUBFLOWS), np.repeat(size / SUBFLOWS, SUBFLOWS)
        n *= SUBFLOWS
        # scale so the mean ToR uplink runs at the requested utilisation under even ECMP
        uplink = ft.half * fab_spec.link_gbps * ft.n_tors
        gbps = size / size.sum() * uplink * fab_spec.utilisation
        fabric_flows[fab_spec.site] = (src, dst, gbps, rng.integers(0, 2**31 - 1, n))

    world = World(
        scenario=sc,
        topology=topo,
        fabrics=fabrics,
        class_plane=class_plane,
        pairs=tuple(pairs),
        demand_pair=demand_pair,
        demand_class=np.array([d[2] for d in demands], dtype=np.int64),
        demand_gbps=np.array([d[3] for d in demands], dtype=float),
        demand_pattern=tuple(d[4] for d in demands),
        callgraph=cg,
        service_site=service_site,
        service_tor=service_tor,
        call_src=call_src,
        call_dst=call_dst,
        call_pair=call_pair,
        devices=np.array([i for i, k in enumerate(topo.node_kind) if k != "host"], dtype=np.int64),
        features=features,
        fabric_flows=fabric_flows,
        site_index=site_index,
    )
    sc._world = world
    return world
