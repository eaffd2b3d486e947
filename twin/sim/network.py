"""Network routing tables and the per-tick network physics of a twin."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from twin.physics.clients import RetryPolicy
from twin.physics.flows import ARC_COLUMNS, FLOW_COLUMNS, Flows, solve_packed
from twin.physics.paths import all_shortest, link_adjacency, penalised_tunnels
from twin.physics.jit import kernel
from twin.physics.configs import acl_drops, best_announcer, igp_weight, pinned_path, plane_key, site_prefix
from twin.physics.routing import connection_draws, fat_tree_ecmp, hashed_shares, path_arcs, te_splits
from twin.sim.state import TwinState
from twin.model.world import CLASSES, World

if TYPE_CHECKING:
    from twin.scenario import Scenario

__all__ = ["Routing", "build_routing", "NetworkParams", "NetworkResult", "network_params", "network_step", "network_steps", "NetworkJob", "usable_links", "blend_results",
           "RoutingPool", "routing_key",
           "arc_capacity"]


@dataclass(frozen=True)
class Routing:
    """The installed forwarding state, flattened into a flow table for the physics."""

    flow_group: np.ndarray  # WAN flows: pair * 2 + class; fabric flows: -1
    flow_ratio: np.ndarray  # WAN: share of the group; fabric: 1
    flow_fabric: np.ndarray  # index into the concatenated fabric flows, -1 for WAN
    routable: np.ndarray
    flow_of: np.ndarray
    arc_of: np.ndarray
    class_plane: dict[str, str]
    call_flow: np.ndarray  # per call edge inside a fabric: its probe flow, else -1
    n_fabric: int
    route_share: np.ndarray | None = None  # per node: share of its plane's site pairs routed via its re-announcements
    cache: dict = field(default_factory=dict, compare=False, repr=False)  # derived arrays, see _prepared

    @property
    def n_flows(self) -> int:
        return self.flow_group.shape[0]


def usable_links(world: World, state: TwinState) -> np.ndarray:
    """Links routing may use: up, not drained, both ends up and not drained."""
    topo = world.topology
    node_ok = (state.network.node_down == 0) & ~state.network.node_drained
    return (state.network.link_down == 0) & ~state.network.link_drained & node_ok[topo.link_a] & node_ok[topo.link_b]


def arc_capacity(world: World, state: TwinState) -> np.ndarray:
    """What each arc can carry now: zero when down or when an end blackholes traffic."""
    topo = world.topology
    node_live = (state.network.node_down == 0) & ~state.network.node_blackhole
    live = (state.network.link_down == 0) & node_live[topo.link_a] & node_live[topo.link_b]
    cap = topo.capacity_gbps * live
    if state.network.site_capacity:
        for site, left in state.network.site_capacity.items():
            for plane in topo.planes:
                router = topo.find_router(plane, site)
                if router is not None:
                    cap = cap.copy() if cap is topo.capacity_gbps else cap
                    attached = (topo.link_a == router) | (topo.link_b == router)
                    cap[attached] *= left
    return np.repeat(cap, 2)


#: Metric multiplier on links already used by a pair's tunnels when looking for the next one.
TUNNEL_PENALTY = 4.0


class PlaneTunnels(NamedTuple):
    """A plane's tunnels per site pair, padded: pair ``p`` has ``count[p]``; its tunnel ``i``
    runs along ``arcs[p, i, :n_arcs[p, i]]``, and ``delivered[p, i]`` is False where an ACL
    along it drops the traffic."""

    count: np.ndarray
    n_arcs: np.ndarray
    arcs: np.ndarray
    delivered: np.ndarray


def _padded(per_pair: list[list[tuple[list[int], bool]]], k: int) -> PlaneTunnels:
    longest = max([len(arcs) for tunnels in per_pair for arcs, _ in tunnels] or [1])
    n = len(per_pair)
    count, n_arcs = np.zeros(n, dtype=np.int64), np.zeros((n, k), dtype=np.int64)
    arcs, delivered = np.full((n, k, longest), -1, dtype=np.int64), np.zeros((n, k), dtype=bool)
    for p, tunnels in enumerate(per_pair):
        count[p] = len(tunnels)
        for i, (t, ok) in enumerate(tunnels):
            n_arcs[p, i], delivered[p, i] = len(t), ok
            arcs[p, i, :len(t)] = t
    return PlaneTunnels(count, n_arcs, arcs, delivered)


def _wan_tunnels(world: World, state: TwinState, plane: str, usable: np.ndarray, k: int,
                 reannounced: np.ndarray | None = None) -> PlaneTunnels:
    """Each site pair's tunnels in ``plane``, chosen by route selection over the routers'
    configurations (:mod:`twin.physics.configs`) on the links the FIBs know; ``reannounced``
    counts, per router, the pairs that route via its re-announcement of another site's prefix."""
    topo = world.topology
    configs = state.network.configs
    custom = any(not c.is_default for c in configs.values() if c.plane == plane)
    keep = world.plane_masks[plane] & usable
    weight = topo.metric.astype(float)
    if custom:
        weight = weight.copy()
        for i in np.flatnonzero(keep).tolist():
            weight[i] = igp_weight(configs, topo, i)
    adj = link_adjacency(topo.link_a, topo.link_b, weight, keep)
    local = np.full(len(topo.nodes), -1, dtype=np.int64)
    local[adj.nodes] = np.arange(adj.nodes.shape[0])
    src = local[[topo.router(plane, a) for a, _ in world.pairs]] if world.pairs else np.zeros(0, dtype=np.int64)
    dst = local[[topo.router(plane, b) for _, b in world.pairs]] if world.pairs else np.zeros(0, dtype=np.int64)
    if not custom:
        t = penalised_tunnels(adj, src, dst, k, TUNNEL_PENALTY)
        n_arcs = np.where(np.arange(k) < t.count[:, None], t.length - 1, 0)
        return PlaneTunnels(t.count, n_arcs, np.ascontiguousarray(t.arcs[:, :, :max(t.arcs.shape[2] - 1, 1)]),
                            np.arange(k) < t.count[:, None])
    # route selection over the configs, on every router's shortest paths
    g = topo.plane_graph(plane, usable)
    nodes = adj.nodes.tolist()
    dist_all, pred, order, settled = all_shortest(adj)
    paths_cache: dict[int, dict[int, list[int]]] = {}
    dist: dict[int, dict[int, float]] = {}
    for s in range(len(nodes)):
        paths, lengths = paths_cache[nodes[s]], dist[nodes[s]] = {}, {}
        for v in order[s, :settled[s]].tolist():
            paths[nodes[v]] = paths[nodes[pred[s, v]]] + [nodes[v]] if v != s else [nodes[v]]
            lengths[nodes[v]] = float(dist_all[s, v])
    prefixes = site_prefix(topo)
    announcers = [topo.node_index[n] for n, c in configs.items()
                  if c.plane == plane and any(t.active and t.match == "any" for t in c.policy)]
    out: list[list[tuple[list[int], bool]]] = []
    for p, (src_site, dst_site) in enumerate(world.pairs):
        s, d = topo.router(plane, src_site), topo.router(plane, dst_site)
        if d not in paths_cache.get(s, {}):
            out.append([])
            continue
        prefix = prefixes[dst_site]
        via = best_announcer(topo, configs, s, d, prefix, dist[s], announcers)
        if via is None:
            out.append([])  # no route to the prefix: the source drops the traffic
            continue
        if via != d:
            if reannounced is not None:
                reannounced[via] += 1
            path = paths_cache[s][via] + paths_cache[via][d][1:]
            candidates = [path] if len(set(path)) == len(path) else [paths_cache[s][d]]
        else:
            t = penalised_tunnels(adj, src[p:p + 1], dst[p:p + 1], k, TUNNEL_PENALTY)
            candidates = [adj.nodes[t.nodes[0, i, :t.length[0, i]]].tolist() for i in range(t.count[0])]
        tunnels = []
        for path in candidates:
            pinned = pinned_path(topo, configs, g, path, prefix, paths_cache)
            if pinned is None:
                tunnels.append((path_arcs(topo, path), False))
            else:
                tunnels.append((path_arcs(topo, pinned), not acl_drops(configs, topo, pinned, prefix)))
        out.append(tunnels)
    return _padded(out, k)


def _plane_tunnels(world: World, state: TwinState, plane: str, usable: np.ndarray, k: int,
                   reuse: tuple[Routing, ...], cache: dict) -> tuple[PlaneTunnels, np.ndarray]:
    """A plane's tunnels and the re-announcement counts they add, taken from an earlier
    routing built over the same links of that plane and the same configs there when there is one."""
    key = (usable[world.plane_masks[plane]].tobytes(), plane_key(state.network.configs, plane), k)
    name = f"tunnels:{plane}"
    for r in reuse:
        hit = r.cache.get(name)
        if hit is not None and hit[0] == key:
            cache[name] = hit
            return hit[1], hit[2]
    reannounced = np.zeros(len(world.topology.nodes))
    tunnels = _wan_tunnels(world, state, plane, usable, k, reannounced)
    cache[name] = (key, tunnels, reannounced)
    return tunnels, reannounced


def _connection_draws(n_groups: int, n_connections: int, units: int, need: np.ndarray, reuse: tuple[Routing, ...],
                      cache: dict) -> tuple[np.ndarray, np.ndarray]:
    """Per flow group, the connections hashed onto its buckets (:func:`connection_draws`, salted
    by the group): drawn for the groups ``need`` marks (split over two tunnels or more; the
    others carry their split whole), each once, and kept for later builds (they depend on the
    group alone)."""
    if n_connections <= 0:
        return np.zeros((n_groups, 0)), np.zeros((n_groups, 0), dtype=np.int64)
    key = (n_groups, n_connections, units)
    kept = next((r.cache["connection_draws"] for r in reuse if r.cache.get("connection_draws", (None,))[0] == key),
                None)
    if kept is None:
        kept = (key, np.zeros((n_groups, n_connections)), np.zeros((n_groups, n_connections), dtype=np.int64),
                np.zeros(n_groups, dtype=bool))
    _, sizes, bucket, drawn = kept
    for g in np.flatnonzero(need & ~drawn).tolist():
        sizes[g], bucket[g] = connection_draws(g, n_connections, units)
        drawn[g] = True
    cache["connection_draws"] = kept
    return sizes, bucket


def _fabric_paths(world: World, site: str, link_ok: np.ndarray, reuse: tuple[Routing, ...],
                  cache: dict) -> tuple[np.ndarray, ...]:
    """One fabric's flows (background, then call probes) as ECMP routes them: per flow its
    routability, per path entry its site-local flow and its arc; the call edges probed. Taken
    from an earlier routing when the fabric's links are in the same state."""
    ft = world.fabrics[site]
    key = link_ok[np.concatenate([ft.tor_agg.ravel(), ft.agg_core.ravel()])].tobytes()
    name = f"fabric:{site}"
    for r in reuse:
        hit = r.cache.get(name)
        if hit is not None and hit[0] == key:
            cache[name] = hit
            return hit[1]
    src, dst, _gbps, hashes = world.fabric_flows.get(site, (np.zeros(0, int),) * 4)
    in_site = np.flatnonzero((world.call_pair < 0) & (world.service_tor[world.call_src] >= 0)
                             & (world.service_site[world.call_src] == world.site_index[site]))
    all_src = np.concatenate([src, world.service_tor[world.call_src[in_site]]]).astype(np.int64)
    all_dst = np.concatenate([dst, world.service_tor[world.call_dst[in_site]]]).astype(np.int64)
    all_hash = np.concatenate([hashes, np.arange(in_site.size) * 2654435761 % (2**31)]).astype(np.int64)
    links, ok = fat_tree_ecmp(ft, all_src, all_dst, all_hash, link_ok)
    arcs = np.where(links >= 0, 2 * links + np.array([0, 0, 1, 1]), -1)
    valid = arcs >= 0
    m = all_src.shape[0]
    out = (np.repeat(np.arange(m), valid.sum(axis=1)), arcs[valid], ok, in_site, src.shape[0])
    cache[name] = (key, out)
    return out


def routing_key(state: TwinState, class_plane: dict[str, str], k: int, quantum: float, demand_scale: float,
                hash_connections: int, links: np.ndarray) -> tuple:
    """What :func:`build_routing` builds from, as a comparable value: the FIB view, the TE
    placement, the planes' configs (content, not version: twins number their edits apart),
    the tunnel count, quantum, demand scale and connections hashed. Equal keys, equal routings
    (of one world)."""
    planes = sorted(set(class_plane.values()))
    return (links.tobytes(), tuple(sorted(class_plane.items())),
            tuple(plane_key(state.network.configs, p) for p in planes), int(k), float(quantum), float(demand_scale),
            int(hash_connections))


class RoutingPool:
    """The last routings built in a twin's lineage (it, its forks, a batch's members), found by
    :func:`routing_key`: a routing is a pure function of its key, so twins that ask for the same
    one (a pre-check's forks draining the same link at the same instant) build it once and
    share it; it is never changed after its build (its cache only gains arrays derived from it,
    keyed by their own inputs). A cache, so a pickled pool arrives empty.

    >>> pool = RoutingPool(size=1)
    >>> pool.put("a", "routing a"); pool.put("b", "routing b")
    >>> pool.get("a") is None, pool.get("b")
    (True, 'routing b')
    """

    __slots__ = ("size", "_kept")

    def __init__(self, size: int = 8) -> None:
        self.size = size
        self._kept: dict = {}

    def __reduce__(self) -> tuple:
        return RoutingPool, (self.size,)

    def get(self, key: tuple) -> Routing | None:
        return self._kept.get(key)

    def put(self, key: tuple, routing: Routing) -> None:
        self._kept.pop(key, None)
        self._kept[key] = routing
        while len(self._kept) > self.size:
            del self._kept[next(iter(self._kept))]  # the oldest

    def routings(self) -> tuple[Routing, ...]:
        """The routings kept, newest first."""
        return tuple(reversed(self._kept.values()))


def build_routing(world: World, state: TwinState, class_plane: dict[str, str], k: int, quantum: float,
                  demand_scale: float = 1.0, hash_connections: int = 0, links: np.ndarray | None = None,
                  reuse: tuple[Routing, ...] = ()) -> Routing:
    """Compute tunnels, TE splits and fabric ECMP for the current topology.

    ``links``: the links the forwarding tables route over (the IGP's installed view,
    ``state.network.link_routed``); default: the links usable right now (instant convergence).
    ``reuse``: routings built earlier (of this world): a plane's tunnels and a fabric's ECMP
    paths are taken from them where their links (and the plane's configs) match.
    """
    topo = world.topology
    usable = usable_links(world, state) if links is None else links
    residual = np.repeat(topo.capacity_gbps * usable, 2) * 0.95
    reannounced = np.zeros(len(topo.nodes))
    cache: dict = {}
    by_plane = {}
    for plane in sorted(set(class_plane.values())):
        by_plane[plane], added = _plane_tunnels(world, state, plane, usable, k, reuse, cache)
        reannounced += added  # whole counts: the sum is exact in any order
    # flow group g = pair * 2 + class: its class's plane's tunnels
    per_class = [by_plane[class_plane[cls]] for cls in CLASSES]
    n_groups = 2 * len(world.pairs)
    width, longest = max(t.arcs.shape[1] for t in per_class), max(t.arcs.shape[2] for t in per_class)
    count = np.zeros(n_groups, dtype=np.int64)
    n_arcs = np.zeros((n_groups, width), dtype=np.int64)
    arcs = np.full((n_groups, width, longest), -1, dtype=np.int64)
    delivered = np.zeros((n_groups, width), dtype=bool)
    for c, t in enumerate(per_class):
        w, a = t.arcs.shape[1], t.arcs.shape[2]
        count[c::2], n_arcs[c::2, :w], arcs[c::2, :w, :a], delivered[c::2, :w] = t.count, t.n_arcs, t.arcs, t.delivered
    volume = np.bincount(world.demand_pair * 2 + world.demand_class, weights=world.demand_gbps * demand_scale,
                         minlength=n_groups)
    # the controller installs quantised splits; hashing real connections onto their buckets
    # decides what each tunnel actually carries
    installed = te_splits(volume, count, n_arcs, arcs, residual, quantum)
    sizes, bucket = _connection_draws(n_groups, hash_connections, int(round(1.0 / quantum)),
                                      (installed != 0).sum(axis=1) >= 2, reuse, cache)
    carried = hashed_shares(installed, count, quantum, sizes, bucket)
    # the WAN flows, group by group: a group without tunnels is one unroutable flow, else a
    # flow per tunnel that carries a share
    slots = np.concatenate([(count == 0)[:, None], (np.arange(width) < count[:, None]) & ~(carried <= 0)], axis=1)
    g_of, col = np.divmod(np.flatnonzero(slots), width + 1)
    tunnel = np.maximum(col - 1, 0)
    on_tunnel = np.flatnonzero(col > 0)
    taken = n_arcs[g_of[on_tunnel], tunnel[on_tunnel]]
    n = g_of.shape[0]
    parts = {"group": [g_of.astype(np.int64)], "ratio": [np.where(col > 0, carried[g_of, tunnel], 1.0)],
             "fabric": [np.full(n, -1, dtype=np.int64)], "routable": [(col > 0) & delivered[g_of, tunnel]],
             "flow_of": [np.repeat(on_tunnel, taken).astype(np.int64)],
             "arc_of": [arcs[g_of[on_tunnel], tunnel[on_tunnel]][np.arange(longest) < taken[:, None]]]}
    call_flow = np.full(world.call_src.shape[0], -1, dtype=np.int64)
    offset = 0
    for site in world.fabrics:
        local_flow, arcs, ok, in_site, n_bg = _fabric_paths(world, site, usable, reuse, cache)
        m = ok.shape[0]
        parts["flow_of"].append(n + local_flow)
        parts["arc_of"].append(arcs)
        parts["group"].append(np.full(m, -1, dtype=np.int64))
        parts["ratio"].append(np.ones(m))
        parts["routable"].append(ok)
        parts["fabric"].append(np.concatenate([offset + np.arange(n_bg), np.full(m - n_bg, -1)]).astype(np.int64))
        call_flow[in_site] = n + np.arange(n_bg, m)
        n += m
        offset += n_bg
    joined = {name: np.concatenate(arrays) for name, arrays in parts.items()}
    return Routing(
        flow_group=joined["group"],
        flow_ratio=joined["ratio"],
        flow_fabric=joined["fabric"],
        routable=joined["routable"],
        flow_of=joined["flow_of"],
        arc_of=joined["arc_of"],
        class_plane=dict(class_plane),
        call_flow=call_flow,
        n_fabric=offset,
        route_share=reannounced / max(len(world.pairs), 1),
        cache=cache,
    )


@dataclass(frozen=True)
class NetworkParams:
    """How links queue and what the traffic is, as the flow model needs it (scenario ``network``)."""

    buffer_ms: float = 40.0  # buffer at line rate
    fair: bool = False  # per-flow fair queueing instead of drop-tail FIFOs
    aqm_ms: float = 0.0  # fair-queueing AQM target (0: tail drop only)
    header_overhead: float = 0.0  # share of a packet that is headers: payload capacity is the rest
    packet_bytes: float = 1500.0
    class_elastic: tuple[bool, ...] = (False, False)  # per traffic class: TCP-like (elastic) or not
    class_connections: tuple[float, ...] = (1000.0, 1000.0)  # connections in one (pair, class) aggregate
    class_burstiness: tuple[float, ...] = (1.0, 1.0)  # arrivals' squared coefficient of variation
    fabric_elastic: bool = False
    rto_min_ms: float = 200.0
    class_retries: tuple[RetryPolicy | None, ...] = (None, None)  # per traffic class: how its clients retry


def network_params(scenario: "Scenario") -> NetworkParams:
    """The flow model's parameters from a scenario's ``network`` and ``traffic.kinds``."""
    net, kinds = scenario.network, scenario.traffic.kinds
    per_class = [kinds.get(c) for c in CLASSES]
    return NetworkParams(
        buffer_ms=net.buffer_ms, fair=net.queue == "fq", aqm_ms=net.aqm_ms, header_overhead=net.header_overhead,
        packet_bytes=net.packet_bytes,
        class_elastic=tuple(bool(k and k.elastic) for k in per_class),
        class_connections=tuple(float(k.connections) if k else 1000.0 for k in per_class),
        class_burstiness=tuple(float(k.burstiness) if k else 1.0 for k in per_class),
        fabric_elastic=scenario.traffic.fabric.elastic,
        class_retries=tuple(_retry_policy(k) for k in per_class),
    )


def _retry_policy(kind) -> RetryPolicy | None:
    r = kind.retries if kind else None
    if r is None:
        return None
    return RetryPolicy(r.max, float("inf") if r.budget is None else r.budget, r.backoff)


@dataclass(frozen=True)
class NetworkResult:
    arc_offered: np.ndarray
    arc_carried: np.ndarray
    arc_loss: np.ndarray
    arc_latency: np.ndarray
    arc_capacity: np.ndarray
    flow_loss: np.ndarray
    flow_latency: np.ndarray
    group_gbps: np.ndarray  # offered per (pair, class)
    group_wanted: np.ndarray  # what customers wanted to send, before shedding
    group_loss: np.ndarray
    group_latency: np.ndarray
    node_gbps: np.ndarray  # traffic each node forwards
    pattern_node_gbps: dict[str, np.ndarray]


def _prepared(world: World, routing: Routing) -> dict[str, np.ndarray]:
    """Arrays derived from a routing once, reused every tick until the routing changes."""
    cache = routing.cache
    if "wan" in cache:
        return cache
    flow_of, arc_of = routing.flow_of, routing.arc_of
    wan = routing.flow_group >= 0
    fab = routing.flow_fabric >= 0
    probes = np.zeros(routing.n_flows, dtype=bool)
    probes[routing.call_flow[routing.call_flow >= 0]] = True
    nnz_wan = wan[flow_of]
    nnz_fab = fab[flow_of]
    fab_demand = np.zeros(routing.n_flows)
    fab_demand[fab] = world.fabric_base[routing.flow_fabric[fab]]
    fab_demand *= routing.routable
    live = np.flatnonzero(wan & routing.routable)
    g, w = routing.flow_group[wan], routing.flow_ratio[wan]
    # WAN flows by position among the WAN flows: a tick's WAN demand is a short array of its own
    wan_idx = np.flatnonzero(wan)
    wan_local = np.full(routing.n_flows, -1, dtype=np.int64)
    wan_local[wan_idx] = np.arange(wan_idx.size)
    cache.update(
        demand_key=world.demand_pair * 2 + world.demand_class,
        wan=wan,
        wan_group=np.maximum(routing.flow_group, 0),
        wan_live_group=routing.flow_group[live],
        wan_live_ratio=routing.flow_ratio[live],
        wan_idx=wan_idx,
        wan_live_w=wan_local[live],
        wan_flow_w=wan_local[flow_of[nnz_wan]],
        unroutable_loss=np.where(routing.routable, 0.0, 1.0),
        wan_g=g,
        wan_w=w,
        wan_routable=routing.routable[wan],
        wan_safe=np.maximum(np.bincount(g, weights=w, minlength=2 * len(world.pairs)), 1e-12),
        wan_flow_of=flow_of[nnz_wan],
        wan_arc_of=arc_of[nnz_wan],
        fab_demand=fab_demand,
        fab_arc_base=np.bincount(arc_of[nnz_fab], weights=fab_demand[flow_of[nnz_fab]], minlength=world.topology.n_arcs),
        needed_flow_of=flow_of[(wan | probes)[flow_of]],
        needed_arc_of=arc_of[(wan | probes)[flow_of]],
    )
    return cache


def _arc_limits(world: World, state: TwinState, routing: Routing,
                params: NetworkParams) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Payload capacity, one packet's transmission time (ms), the load above which an arc is
    overloaded and whether it has capacity at all, per arc; kept on the routing's
    cache while the link and node state they derive from holds (keyed by content: faults edit
    those arrays in place). The arrays are read-only: results share them."""
    net = state.network
    key = (net.link_down.tobytes(), net.node_down.tobytes(), net.node_blackhole.tobytes(),
           tuple(sorted(net.site_capacity.items())), params.header_overhead, params.packet_bytes)
    hit = routing.cache.get("arc_limits")
    if hit is not None and hit[0] == key:
        return hit[1]
    cap = arc_capacity(world, state) * (1.0 - params.header_overhead)
    packet_ms = params.packet_bytes * 8 / np.maximum(cap, 1e-9) / 1e6
    out = (cap, packet_ms, cap * (1 + 1e-12), cap > 0)
    for a in out:
        a.setflags(write=False)
    routing.cache["arc_limits"] = (key, out)
    return out


def _arc_params(routing: Routing, params: NetworkParams, world: World) -> np.ndarray:
    """Per arc, the flow model's parameters (``ARC_COLUMNS``) that hold every tick (delay,
    buffer, fair queueing, AQM target), built once and kept on the routing (read-only); the
    capacity, packet time and own loss columns are each tick's."""
    out = routing.cache.get("arc_params")
    if out is None:
        n_arcs = world.topology.n_arcs
        out = np.zeros((n_arcs, len(ARC_COLUMNS)))
        out[:, ARC_COLUMNS.index("delay_ms")] = world.arc_delay
        out[:, ARC_COLUMNS.index("buffer_ms")] = params.buffer_ms
        out[:, ARC_COLUMNS.index("fair")] = params.fair
        out[:, ARC_COLUMNS.index("aqm_ms")] = params.aqm_ms
        out.setflags(write=False)
        routing.cache["arc_params"] = out
    return out


def _elastic(routing: Routing, params: NetworkParams) -> np.ndarray:
    wan = routing.flow_group >= 0
    by_class = np.asarray(params.class_elastic, dtype=bool)
    return np.where(wan, by_class[np.maximum(routing.flow_group, 0) % 2], params.fabric_elastic & (routing.flow_fabric >= 0))


def _connections(routing: Routing, params: NetworkParams) -> np.ndarray:
    wan = routing.flow_group >= 0
    by_class = np.asarray(params.class_connections, dtype=float)
    return np.where(wan, by_class[np.maximum(routing.flow_group, 0) % 2] * routing.flow_ratio, 100.0).clip(1.0)


def _burstiness(routing: Routing, params: NetworkParams) -> np.ndarray:
    wan = routing.flow_group >= 0
    by_class = np.asarray(params.class_burstiness, dtype=float)
    return np.where(wan, by_class[np.maximum(routing.flow_group, 0) % 2], 1.0)


def _flow_table(routing: Routing, elastic: np.ndarray, params: NetworkParams) -> np.ndarray:
    """Every flow of the routing as the flow model's packed row (``FLOW_COLUMNS``, demand 0),
    built once and kept on the routing: a hot subset's template is its rows."""
    table = routing.cache.get("flow_table")
    if table is None:
        n = routing.n_flows
        flows = Flows.make(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), demand=np.zeros(n), elastic=elastic,
                           connections=_connections(routing, params), packet=params.packet_bytes * 8 / 1e9,
                           burstiness=_burstiness(routing, params), rto_min_ms=params.rto_min_ms)
        table = np.empty((n, len(FLOW_COLUMNS)))
        for c, name in enumerate(FLOW_COLUMNS):
            table[:, c] = getattr(flows, name)
        table.setflags(write=False)
        routing.cache["flow_table"] = table
    return table


def _hot_subset(routing: Routing, hot: np.ndarray, elastic: np.ndarray, params: NetworkParams) -> dict:
    """The flows crossing a hot arc, renumbered, with their static flow-model data; cached on
    the routing for as long as the same arcs stay hot."""
    key = ("hot", hot.tobytes())
    sub = routing.cache.get(key)
    if sub is not None:
        return sub
    flow_of, arc_of = routing.flow_of, routing.arc_of
    touch = np.zeros(routing.n_flows, dtype=bool)
    touch[flow_of[hot[arc_of]]] = True
    sel = touch[flow_of]
    sub_flows = np.flatnonzero(touch)
    renum = np.full(routing.n_flows, -1, dtype=np.int64)
    renum[sub_flows] = np.arange(sub_flows.size)
    sub_f, sub_a = renum[flow_of[sel]], arc_of[sel]
    # the flow model's packed arguments (twin.physics.flows.solve_packed); the demand column is the tick's
    flow_p = _flow_table(routing, elastic, params)[sub_flows]
    flow_p.setflags(write=False)  # a template: each tick's problem is a copy
    sub = {"flows": sub_flows, "f": sub_f, "a": sub_a, "inc": np.stack([sub_f, sub_a]), "flow_p": flow_p,
           "take": np.stack([sub_flows, routing.routable[sub_flows].astype(np.int64)]),
           "sizes": (sub_f.size, sub_flows.size)}
    stale = [k for k in routing.cache if isinstance(k, tuple) and k[0] == "hot"]
    for k in stale[:-3]:  # keep a few hot sets: they alternate as load swings
        del routing.cache[k]
    routing.cache[key] = sub
    return sub


class NetworkJob(NamedTuple):
    """One network tick to compute: a twin's state and routing, and the tick's demand draws."""

    state: TwinState
    routing: Routing
    demand_scale: float
    noise: np.ndarray
    fabric_scale: float


def network_step(world: World, state: TwinState, routing: Routing, demand_scale: float, noise: np.ndarray,
                 fabric_scale: float, params: NetworkParams = NetworkParams()) -> NetworkResult:
    """One tick of flow-level network physics: the flow model of :mod:`twin.physics.flows`.

    Fabric background flows all scale by one factor per tick, so their per-arc load is the
    routing's base load times that factor. Only flows that cross a *hot* arc (overloaded at
    full demand, lossy, or carrying elastic traffic) go through the flow model; every other
    flow crosses only links with room, loses nothing and adds its demand as background.
    """
    return network_steps(world, [NetworkJob(state, routing, demand_scale, noise, fabric_scale)], params)[0]


def _elastic_cached(routing: Routing, params: NetworkParams, n_arcs: int) -> np.ndarray:
    elastic = routing.cache.get("elastic")
    if elastic is None:
        elastic = routing.cache["elastic"] = _elastic(routing, params)
        # arcs that carry elastic traffic: always through the flow model
        routing.cache["elastic_arcs"] = (np.bincount(routing.arc_of, weights=elastic[routing.flow_of],
                                                     minlength=n_arcs) > 0 if elastic.any() else None)
    return elastic


def _cat(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays)


def _cat_axis1(arrays: list[np.ndarray]) -> np.ndarray:
    return arrays[0] if len(arrays) == 1 else np.concatenate(arrays, axis=1)


def _stacked(world: World, routings: tuple[Routing, ...], params: NetworkParams) -> dict:
    """The routings' per-tick index arrays, concatenated member-major with each member's flows,
    arcs, groups and nodes offset past the members before it."""
    b = len(routings)
    n_arcs, n_groups, n_nodes = world.topology.n_arcs, 2 * len(world.pairs), len(world.topology.nodes)
    preps = [_prepared(world, r) for r in routings]
    for r in routings:
        _elastic_cached(r, params, n_arcs)
    sizes = np.array([r.n_flows for r in routings], dtype=np.int64)
    foff = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
    wan_sizes = np.array([p["wan_idx"].size for p in preps], dtype=np.int64)
    woff = np.concatenate([[0], np.cumsum(wan_sizes)[:-1]]).astype(np.int64)
    steps = {"flow": foff, "wan": woff, "arc": np.arange(b, dtype=np.int64) * n_arcs,
             "group": np.arange(b, dtype=np.int64) * n_groups}

    def cat(name: str, step: str | None = None) -> np.ndarray:
        """The members' ``name`` arrays as one; ``step``: each member's offset past the members
        before it (added to all of a member's entries at once: one ``repeat``, not one add each)."""
        arrays = [p[name] for p in preps]
        if b == 1:
            return arrays[0]  # read, never written: the routing's own arrays
        out = np.concatenate(arrays)
        if step is not None:
            out += np.repeat(steps[step], [a.shape[0] for a in arrays])
        return out

    elastic_arcs = [r.cache["elastic_arcs"] for r in routings]
    unroutable_loss = cat("unroutable_loss")
    unroutable_loss.setflags(write=False)  # results share it on ticks without the flow model
    return dict(
        b=b, sizes=sizes, foff=foff, n_flows=int(sizes.sum()), n_wan=int(wan_sizes.sum()), wan_idx=cat("wan_idx", "flow"),
        wan_live=np.stack([cat("wan_live_w", "wan"), cat("wan_live_group", "group")]),
        wan_arcs=np.stack([cat("wan_arc_of", "arc"), cat("wan_flow_w", "wan")]),
        key=cat("demand_key", "group"), wan_live_ratio=cat("wan_live_ratio"), wan_arc_of=cat("wan_arc_of", "arc"),
        wan_flow_of=cat("wan_flow_of", "flow"),
        fab_arc_base=cat("fab_arc_base"), fab_demand=cat("fab_demand"), unroutable_loss=unroutable_loss,
        wan=cat("wan"), wan_safe=cat("wan_safe"),
        wan_group=cat("wan_group", "group"), flow_ratio=_cat([r.flow_ratio for r in routings]),
        elastic_arcs=(None if all(e is None for e in elastic_arcs) else
                      _cat([np.zeros(n_arcs, dtype=bool) if e is None else e for e in elastic_arcs])),
        needed=np.stack([cat("needed_flow_of", "flow"), cat("needed_arc_of", "arc")]),
        wan_gi=np.stack([cat("wan_g", "group"), cat("wan_idx", "flow")]),
        wan_wr=np.stack([cat("wan_w"), cat("wan_routable").astype(float)]),
        arc_delay=np.tile(world.arc_delay, b),
        arc_dst=np.tile(world.arc_dst, b) + np.repeat(np.arange(b, dtype=np.int64) * n_nodes, world.arc_dst.shape[0]),
        demand_gbps=np.tile(world.demand_gbps, b),
        pattern_masks={p: np.tile(m, b) for p, m in world.pattern_masks.items()},
    )


def network_steps(world: World, jobs: list[NetworkJob], params: NetworkParams = NetworkParams(),
                  kept: dict | None = None) -> list[NetworkResult]:
    """:func:`network_step` for several jobs (twins of one world, or one twin's parts of a tick)
    at once: their flows, arcs, groups and nodes concatenated member-major, one numpy call or
    compiled kernel per step for all. Sums run per bin in input order (``bincount`` and the
    kernels' loops alike) and elementwise steps work per element, so each job's result is
    bit-identical to its own call. The flow model runs on each job's hot flows, all jobs'
    problems in one kernel call that solves each alone (``twin.physics.flows.solve_packed``).
    ``kept``: where to keep the stacked index arrays between ticks (a single job keeps them on
    its routing).
    """
    topo = world.topology
    n_arcs, n_groups, n_nodes = topo.n_arcs, 2 * len(world.pairs), len(topo.nodes)
    n_dem = world.demand_gbps.shape[0]
    b = len(jobs)
    routings = tuple(j.routing for j in jobs)
    if b == 1:  # one job: kept on its routing
        stk = routings[0].cache.get("stacked")
        if stk is None:
            stk = routings[0].cache["stacked"] = _stacked(world, routings, params)
    else:
        hit = kept.get("stacked") if kept is not None else None
        if hit is not None and len(hit[0]) == b and all(x is y for x, y in zip(hit[0], routings)):
            stk = hit[1]
        else:
            stk = _stacked(world, routings, params)
            if kept is not None:
                kept["stacked"] = (routings, stk)
    n_flows, foff, sizes = stk["n_flows"], stk["foff"], stk["sizes"]
    cls = world.demand_class
    amps, own_loss, arc_limits = [], [], []
    retrying = lossy = False
    nets = [j.state.network for j in jobs]
    if b == 1:
        net = nets[0]
        factor = net.class_factor
        if not jobs[0].state.control.automation_halted:  # load driven by running automation stops when it is halted
            factor = factor * net.automation_factor
        factors = factor[cls]
        # what edge rate limits let in, of what could resolve the service's name (twin.sim.dns)
        limits = (net.class_limit * net.class_resolvable)[cls]
    else:  # the same per class, for all jobs at once: (jobs, classes) arrays, then each demand's class
        factor = np.array([n.class_factor for n in nets])
        halted = np.array([j.state.control.automation_halted for j in jobs])
        factor = np.where(halted[:, None], factor, factor * np.array([n.automation_factor for n in nets]))
        factors = factor[:, cls].ravel()
        limits = (np.array([n.class_limit for n in nets]) * np.array([n.class_resolvable for n in nets]))[:, cls].ravel()
    for j, net in zip(jobs, nets):
        if net.retry_amp.size:  # clients retrying what the path lost (twin.physics.clients)
            amps.append(net.retry_amp[world.demand_pair * 2 + cls])
            retrying = True
        else:
            amps.append(None)
        if net.link_loss.any():
            own_loss.append(np.repeat(net.link_loss, 2))
            lossy = True
        else:
            own_loss.append(None)
        arc_limits.append(_arc_limits(world, j.state, j.routing, params))
    scales = np.repeat(np.array([j.demand_scale for j in jobs]), n_dem) if b > 1 else jobs[0].demand_scale
    wanted = stk["demand_gbps"] * scales * _cat([j.noise for j in jobs]) * factors
    key = stk["key"]
    if retrying:
        wanted = wanted * _cat([np.ones(n_dem) if a is None else a for a in amps])
    vol = wanted * limits
    limits_k = arc_limits
    if b == 1:
        cap, packet_ms, overloaded_above, has_cap = limits_k[0]
        fab_scales = np.array([jobs[0].fabric_scale], dtype=float)
    else:
        cap, packet_ms, overloaded_above, has_cap = (np.concatenate([lim[i] for lim in limits_k]) for i in range(4))
        fab_scales = np.array([j.fabric_scale for j in jobs], dtype=float)
    wan, wan_idx = stk["wan"], stk["wan_idx"]
    group_gbps, group_wanted, demand_w, offered, hot = _offered_load(
        key, vol, wanted, b * n_groups, stk["wan_live"], stk["wan_live_ratio"], stk["wan_arcs"], stk["n_wan"],
        stk["fab_arc_base"], fab_scales, overloaded_above)
    if lossy:
        hot |= _cat([np.zeros(n_arcs) if x is None else x for x in own_loss]) > 0
    if stk["elastic_arcs"] is not None:
        hot |= stk["elastic_arcs"]
    # every flow's demand, fabric ones included, only for the flow model; a WAN flow's is its
    # group share either way (its fabric part is 0.0, and adding 0.0 to a share changes no bit)
    demand = delivered = None
    if hot.any():
        demand_wan = np.zeros(n_flows)
        demand_wan[wan_idx] = demand_w
        if b > 1:
            demand = demand_wan + np.repeat(fab_scales, sizes) * stk["fab_demand"]
        else:
            demand = demand_wan + jobs[0].fabric_scale * stk["fab_demand"]
        delivered = demand.copy()
    # with no flow through the flow model, a flow loses all or nothing: the routing's own read-only array
    flow_loss = stk["unroutable_loss"] if demand is None else stk["unroutable_loss"].copy()
    queue = np.zeros(b * n_arcs) if demand is not None else None
    # the posed jobs' arcs are written in place (a job alone: offered is nobody else's)
    arrival, carried, arc_loss = offered.copy() if b > 1 else offered, offered.copy(), np.zeros(b * n_arcs)
    # the flow model, on the flows that cross each job's hot arcs: one kernel call for all
    incs, flow_ps, arc_ps, lo, posed, subs = [], [], [], [(0, 0, 0)], [], []
    for k in (np.flatnonzero(hot.reshape(b, n_arcs).any(axis=1)).tolist() if b > 1 else [0] if hot.any() else []):
        hot_k, routing = hot[k * n_arcs:(k + 1) * n_arcs], jobs[k].routing
        sub = _hot_subset(routing, hot_k, routing.cache["elastic"], params)
        incs.append(sub["inc"])
        flow_ps.append(sub["flow_p"])
        arc_ps.append(_arc_params(routing, params, world))
        subs.append(sub["take"])
        n_e, n_f = sub["sizes"]
        lo.append((lo[-1][0] + n_e, lo[-1][1] + n_f, lo[-1][2] + n_arcs))
        posed.append(k)
    any_hot = bool(posed)
    if posed:
        at = np.array(lo, dtype=np.int64)
        members = np.array(posed, dtype=np.int64)
        inc, take = _cat_axis1(incs), _cat_axis1(subs)
        flow_p, arc_p = np.concatenate(flow_ps), np.concatenate(arc_ps)  # copies: the tick's columns go in
        own = (_cat([np.zeros(n_arcs) if x is None else x for x in own_loss]) if lossy else _NO_FLOWS)
        background = _pose(at, members, inc, take, foff, demand, offered, cap, packet_ms, own, flow_p, arc_p, n_arcs)
        flow_out, arc_out = solve_packed(at, inc, flow_p, arc_p, np.full(len(posed), params.rto_min_ms))
        _take(at, members, take, foff, background, arc_p, arc_out, flow_out, arrival, carried, arc_loss, queue,
              flow_loss, delivered, n_arcs)
    n_g = b * n_groups
    latency, flow_latency, group_loss, group_latency = _path_metrics(
        arrival, cap, packet_ms, stk["arc_delay"], hot, queue if any_hot else arrival, float(params.buffer_ms),
        stk["needed"], n_flows, stk["wan_gi"], stk["wan_wr"], stk["wan_safe"], demand_w,
        _NO_FLOWS if delivered is None else delivered, flow_loss, n_g)
    offered = arrival
    loss = arc_loss
    # what stale tables send into a link that is down is dropped by the sending router (output
    # drops on a down interface): the groups lose it, the dead link shows no traffic
    if b == 1:
        net, dead = nets[0], None
        if net.link_down.any() or net.node_down.any():  # cheap first test; the next lines decide
            dead = np.repeat((net.link_down > 0) | (net.node_down[topo.link_a] > 0) | (net.node_down[topo.link_b] > 0), 2)
            if not (offered[dead] > 0).any():
                dead = None
    else:  # the same for all jobs at once, as (jobs, links) and (jobs, arcs) arrays
        link_down, node_down = np.array([n.link_down for n in nets]), np.array([n.node_down for n in nets])
        dead = np.repeat((link_down > 0) | (node_down[:, topo.link_a] > 0) | (node_down[:, topo.link_b] > 0), 2, axis=1)
        sending = (dead & (offered.reshape(b, n_arcs) > 0)).any(axis=1)
        dead = np.where(sending[:, None], dead, False).ravel() if sending.any() else None
    if dead is not None:
        offered, loss = np.where(dead, 0.0, offered), np.where(dead, 0.0, loss)
    arc_dst = stk["arc_dst"]
    node_gbps = np.bincount(arc_dst, weights=carried, minlength=b * n_nodes)
    patterns: dict[str, np.ndarray] = {}
    for pattern, mask in stk["pattern_masks"].items():
        pg = np.bincount(key, weights=np.where(mask, vol, 0.0), minlength=n_g)
        fd = np.where(wan, pg[stk["wan_group"]] * stk["flow_ratio"], 0.0)
        arc_load = np.bincount(stk["wan_arc_of"], weights=fd[stk["wan_flow_of"]], minlength=b * n_arcs)
        patterns[pattern] = np.bincount(arc_dst, weights=arc_load, minlength=b * n_nodes)
    if b == 1:
        return [NetworkResult(offered, carried, loss, latency, limits_k[0][0], flow_loss, flow_latency, group_gbps,
                              group_wanted, group_loss, group_latency, node_gbps, patterns)]
    # each job's rows of the (jobs, arcs | groups | nodes) views; its flows are a slice
    per_arc = [x.reshape(b, n_arcs) for x in (offered, carried, loss, latency)]
    per_group = [x.reshape(b, n_groups) for x in (group_gbps, group_wanted, group_loss, group_latency)]
    per_node = node_gbps.reshape(b, n_nodes)
    per_pattern = {p: v.reshape(b, n_nodes) for p, v in patterns.items()}
    ends = (foff + sizes).tolist()
    out = []
    for k, f0 in enumerate(foff.tolist()):
        f = slice(f0, ends[k])
        out.append(NetworkResult(
            *[x[k] for x in per_arc], limits_k[k][0], flow_loss[f], flow_latency[f], *[x[k] for x in per_group],
            per_node[k], {p: v[k] for p, v in per_pattern.items()}))
    return out

@kernel
def _offered_load(key, vol, wanted, n_g, wan_live, wan_live_ratio, wan_arcs, n_wan, fab_arc_base, fab_scales,
                  overloaded_above):  # pragma: no cover - compiled
    """Per group what is offered and wanted, per WAN flow its share of its group, per arc the
    load offered at full demand (WAN flows, then the fabrics' base load times each member's
    scale; ``fab_scales`` one per member, members' arcs in order) and whether that overloads it."""
    group_gbps, group_wanted = np.zeros(n_g), np.zeros(n_g)
    for i in range(key.shape[0]):
        group_gbps[key[i]] += vol[i]
        group_wanted[key[i]] += wanted[i]
    demand_w = np.zeros(n_wan)  # per WAN flow (in flow order): its share of its group
    for i in range(wan_live.shape[1]):
        demand_w[wan_live[0, i]] = group_gbps[wan_live[1, i]] * wan_live_ratio[i]
    n_all = fab_arc_base.shape[0]
    offered = np.zeros(n_all)
    for i in range(wan_arcs.shape[1]):
        offered[wan_arcs[0, i]] += demand_w[wan_arcs[1, i]]
    per_member = n_all // fab_scales.shape[0]
    hot = np.empty(n_all, dtype=np.bool_)
    for a in range(n_all):
        offered[a] += fab_scales[a // per_member] * fab_arc_base[a]
        hot[a] = offered[a] > overloaded_above[a]
    return group_gbps, group_wanted, demand_w, offered, hot


@kernel
def _pose(at, members, inc, take, foff, demand, offered, cap, packet_ms, own_loss, flow_p, arc_p,
          n_arcs):  # pragma: no cover - compiled
    """Pose each job's hot-flow problem in place in ``flow_p``/``arc_p`` (problem ``i`` is
    member ``members[i]``'s, its entries, flows and arcs from ``at[i]`` to ``at[i + 1]``): a
    flow's demand (0 if unroutable), an arc's room left by the traffic outside the problem,
    its packet time and own loss (``own_loss`` empty: none). Returns that background load."""
    background = np.empty(arc_p.shape[0])
    for i in range(members.shape[0]):
        k = members[i]
        e0, f0, a0 = at[i, 0], at[i, 1], at[i, 2]
        for f in range(f0, at[i + 1, 1]):
            flow_p[f, 0] = demand[foff[k] + take[0, f]] if take[1, f] != 0 else 0.0
        sub = np.zeros(n_arcs)
        for e in range(e0, at[i + 1, 0]):
            sub[inc[1, e]] += flow_p[f0 + inc[0, e], 0]
        for a in range(n_arcs):
            g = k * n_arcs + a
            x = offered[g] - sub[a]
            x = x if (x > 0.0 or x != x) else 0.0
            background[a0 + a] = x
            room = cap[g] - x
            arc_p[a0 + a, 0] = room if (room > 0.0 or room != room) else 0.0
            arc_p[a0 + a, 3] = packet_ms[g]
            if own_loss.shape[0] > 0:
                arc_p[a0 + a, 6] = own_loss[g]
    return background


@kernel
def _take(at, members, take, foff, background, arc_p, arc_out, flow_out, arrival, carried, arc_loss, queue,
          flow_loss, delivered, n_arcs):  # pragma: no cover - compiled
    """Each posed job's flow-model solution into its arcs' and flows' places in the stacked arrays."""
    for i in range(members.shape[0]):
        k = members[i]
        f0, a0 = at[i, 1], at[i, 2]
        for a in range(n_arcs):
            g, x = k * n_arcs + a, a0 + a
            arr = background[x] + arc_out[0, x]
            car = background[x] * (1.0 - arc_p[x, 6]) + arc_out[1, x]
            arrival[g], carried[g] = arr, car
            arc_loss[g] = (arr - car) / arr if arr > 0 else 0.0
            queue[g] = arc_out[3, x]
        for f in range(f0, at[i + 1, 1]):
            gf = foff[k] + take[0, f]
            flow_loss[gf] = flow_out[3, f] if take[1, f] != 0 else 1.0
            delivered[gf] = flow_out[1, f]


#: ``_path_metrics``' delivered rates when the flow model did not run (the WAN flows' demands are).
_NO_FLOWS = np.zeros(0)


@kernel
def _path_metrics(arrival, cap, packet_ms, arc_delay, hot, hot_queue, buffer_ms, needed, n_flows, wan_gi, wan_wr, safe,
                  sent_w, delivered, flow_loss, n_g):  # pragma: no cover - compiled
    """Per arc its latency, per flow its path's, per WAN group its loss and latency.

    An arc the flow model did not see queues as arrivals at a constant packet size do (G/D/1,
    Kingman's wait; a full buffer at or above capacity); a hot arc has the flow model's queue
    (``hot_queue``). ``needed``: (flow, arc) of the path entries whose latency is read;
    ``wan_gi``/``wan_wr``: per WAN flow its group and flow index / its share of the group and
    whether it is routable; ``sent_w``: per WAN flow its demand; ``delivered``: per flow what
    the flow model delivered (empty: it did not run, a WAN flow delivers its demand).
    """
    n_a = arrival.shape[0]
    latency = np.empty(n_a)
    for a in range(n_a):
        rho = arrival[a] / cap[a] if cap[a] > 0 else (np.inf if arrival[a] > 0 else 0.0)
        wait = 1 - rho
        wait = wait if (wait >= 1e-9 or wait != wait) else 1e-9
        wait = rho / wait * 0.5 * packet_ms[a]
        kingman = (wait if (wait <= buffer_ms or wait != wait) else buffer_ms) if rho < 1 else buffer_ms
        latency[a] = arc_delay[a] + (hot_queue[a] if hot[a] else kingman)
    flow_latency = np.zeros(n_flows)
    for i in range(needed.shape[1]):
        flow_latency[needed[0, i]] += latency[needed[1, i]]
    sent_g, got_g, by_path, lat_g = np.zeros(n_g), np.zeros(n_g), np.zeros(n_g), np.zeros(n_g)
    modelled = delivered.shape[0] > 0
    for i in range(sent_w.shape[0]):
        g, f, w = wan_gi[0, i], wan_gi[1, i], wan_wr[0, i]
        sent_g[g] += sent_w[i]
        got_g[g] += (delivered[f] if modelled else sent_w[i]) if wan_wr[1, i] != 0.0 else 0.0
        by_path[g] += w * flow_loss[f]
        lat_g[g] += w * flow_latency[f]
    group_loss, group_latency = np.empty(n_g), np.empty(n_g)
    for g in range(n_g):
        # a group that sends nothing still has the loss its packets would see
        group_loss[g] = 1.0 - got_g[g] / sent_g[g] if sent_g[g] > 0 else by_path[g] / safe[g]
        group_latency[g] = lat_g[g] / safe[g]
    return latency, flow_latency, group_loss, group_latency


def blend_results(parts: list[tuple[float, NetworkResult]]) -> NetworkResult:
    """One tick's network result from the results of its parts, weighted by the share of the
    tick each lasted (forwarding tables that changed mid-tick). Per-flow arrays are the first
    part's (the routing in force when the tick began)."""
    if len(parts) == 1:
        return parts[0][1]
    first = parts[0][1]

    def mean(name: str) -> np.ndarray:
        return sum(w * getattr(r, name) for w, r in parts)

    offered, carried = mean("arc_offered"), mean("arc_carried")
    wanted = mean("group_gbps")
    lost = sum(w * r.group_gbps * r.group_loss for w, r in parts)
    return NetworkResult(
        arc_offered=offered, arc_carried=carried,
        arc_loss=np.divide(offered - carried, offered, out=np.zeros_like(offered), where=offered > 0),
        arc_latency=mean("arc_latency"), arc_capacity=first.arc_capacity,
        flow_loss=first.flow_loss, flow_latency=first.flow_latency,
        group_gbps=wanted, group_wanted=mean("group_wanted"),
        group_loss=np.divide(lost, wanted, out=mean("group_loss"), where=wanted > 0),
        group_latency=mean("group_latency"), node_gbps=mean("node_gbps"),
        pattern_node_gbps={k: sum(w * r.pattern_node_gbps[k] for w, r in parts) for k in first.pattern_node_gbps},
    )
