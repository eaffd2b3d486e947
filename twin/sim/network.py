"""Network routing tables and the per-tick network physics of a twin."""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

from twin.physics.links import link_latency_ms, link_loss
from twin.physics.maxmin import max_min_rates
from twin.physics.routing import fat_tree_ecmp, path_arcs, quantised_split
from twin.sim.state import TwinState
from twin.model.world import CLASSES, World

__all__ = ["Routing", "build_routing", "te_split", "NetworkResult", "network_step", "usable_links", "arc_capacity"]


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


def _penalised_tunnels(topo, g: nx.Graph, s: int, d: int, k: int, first: list[int] | None) -> list[list[int]]:
    """Up to ``k`` distinct tunnels: the shortest path, then shortest paths with the links of
    earlier tunnels penalised (the diverse-path heuristic TE controllers use, far cheaper than
    enumerating k shortest simple paths)."""
    first = first or nx.dijkstra_path(g, s, d, weight="weight")
    tunnels = [first]
    used: set[tuple[int, int]] = {tuple(sorted(e)) for e in zip(first[:-1], first[1:])}
    for _ in range(k - 1):
        def weight(u, v, data, used=used):
            return data["weight"] * (TUNNEL_PENALTY if (min(u, v), max(u, v)) in used else 1.0)

        path = nx.dijkstra_path(g, s, d, weight=weight)
        if path in tunnels:
            break
        tunnels.append(path)
        used |= {tuple(sorted(e)) for e in zip(path[:-1], path[1:])}
    return [path_arcs(topo, p) for p in tunnels]


def _wan_tunnels(world: World, state: TwinState, plane: str, usable: np.ndarray, k: int) -> dict[int, list[list[int]]]:
    topo = world.topology
    g = topo.plane_graph(plane, usable)
    via = state.control.attraction.get(plane)
    if via is not None and (state.network.node_drained[via] or state.network.node_down[via] or via not in g):
        via = None
    out: dict[int, list[list[int]]] = {}
    paths_cache = dict(nx.all_pairs_dijkstra_path(g, weight="weight"))
    for p, (src, dst) in enumerate(world.pairs):
        s, d = topo.router(plane, src), topo.router(plane, dst)
        if d not in paths_cache.get(s, {}):
            out[p] = []
            continue
        if via is not None and via not in (s, d) and via in paths_cache.get(s, {}):
            path = paths_cache[s][via] + paths_cache[via][d][1:]
            out[p] = [path_arcs(topo, path)] if len(set(path)) == len(path) else [path_arcs(topo, paths_cache[s][d])]
        else:
            out[p] = _penalised_tunnels(topo, g, s, d, k, paths_cache[s][d] if paths_cache else None)
    return out


def te_split(tunnels: list[list[int]], residual: np.ndarray, volume: float, quantum: float) -> np.ndarray:
    """Fill a flow group onto its tunnels shortest first, up to each tunnel's residual capacity.

    Whatever does not fit spills onto the tunnels in proportion to their capacity, as a TE
    controller does when demand exceeds what it can place; ratios are then quantised.
    Updates ``residual`` in place with the placed volume.
    """
    amounts = np.zeros(len(tunnels))
    left = volume
    for i, t in enumerate(tunnels):
        room = max(0.0, float(residual[t].min()))
        take = min(left, room)
        amounts[i] = take
        left -= take
        if left <= 1e-9:
            break
    if left > 1e-9:
        room = np.array([max(float(residual[t].min()), 0.0) for t in tunnels]) + 1e-6
        amounts += left * room / room.sum()
    split = quantised_split(amounts if volume > 0 else np.eye(len(tunnels))[0], quantum)
    for t, r in zip(tunnels, split):
        residual[t] -= volume * r
    return split


def build_routing(world: World, state: TwinState, class_plane: dict[str, str], k: int, quantum: float,
                  demand_scale: float = 1.0) -> Routing:
    """Compute tunnels, TE splits and fabric ECMP for the current topology."""
    topo = world.topology
    usable = usable_links(world, state)
    residual = np.repeat(topo.capacity_gbps * usable, 2) * 0.95
    groups, ratios, fabric_idx, routable, flow_of, arc_of = [], [], [], [], [], []
    tunnels_by_plane = {plane: _wan_tunnels(world, state, plane, usable, k) for plane in set(class_plane.values())}
    n_groups = 2 * len(world.pairs)
    volume = np.bincount(world.demand_pair * 2 + world.demand_class, weights=world.demand_gbps * demand_scale,
                         minlength=n_groups)
    splits: dict[int, np.ndarray] = {}
    for g in np.argsort(-volume, kind="stable"):
        p, c = divmod(int(g), 2)
        tunnels = tunnels_by_plane[class_plane[CLASSES[c]]][p]
        if tunnels:
            splits[int(g)] = te_split(tunnels, residual, float(volume[g]), quantum)
    n = 0
    for p in range(len(world.pairs)):
        for c, cls in enumerate(CLASSES):
            tunnels = tunnels_by_plane[class_plane[cls]][p]
            if not tunnels:
                groups.append(p * 2 + c), ratios.append(1.0), fabric_idx.append(-1), routable.append(False)
                n += 1
                continue
            for t, r in zip(tunnels, splits[p * 2 + c]):
                if r <= 0:
                    continue
                groups.append(p * 2 + c), ratios.append(float(r)), fabric_idx.append(-1), routable.append(True)
                flow_of.extend([n] * len(t)), arc_of.extend(t)
                n += 1
    link_ok = usable
    call_flow = np.full(world.call_src.shape[0], -1, dtype=np.int64)
    offset = 0
    for site, ft in world.fabrics.items():
        src, dst, _gbps, hashes = world.fabric_flows.get(site, (np.zeros(0, int),) * 4)
        in_site = np.flatnonzero((world.call_pair < 0) & (world.service_tor[world.call_src] >= 0)
                                 & (world.service_site[world.call_src] == world.site_index[site]))
        all_src = np.concatenate([src, world.service_tor[world.call_src[in_site]]]).astype(np.int64)
        all_dst = np.concatenate([dst, world.service_tor[world.call_dst[in_site]]]).astype(np.int64)
        all_hash = np.concatenate([hashes, np.arange(in_site.size) * 2654435761 % (2**31)]).astype(np.int64)
        links, ok = fat_tree_ecmp(ft, all_src, all_dst, all_hash, link_ok)
        arcs = np.where(links >= 0, 2 * links + np.array([0, 0, 1, 1]), -1)
        m = all_src.shape[0]
        ids = n + np.arange(m)
        valid = arcs >= 0
        flow_of.extend(np.repeat(ids, valid.sum(axis=1)).tolist())
        arc_of.extend(arcs[valid].tolist())
        groups.extend([-1] * m), ratios.extend([1.0] * m), routable.extend(ok.tolist())
        n_bg = src.shape[0]
        fabric_idx.extend((offset + np.arange(n_bg)).tolist() + [-1] * (m - n_bg))
        call_flow[in_site] = ids[n_bg:]
        n += m
        offset += src.shape[0]
    return Routing(
        flow_group=np.array(groups, dtype=np.int64),
        flow_ratio=np.array(ratios, dtype=float),
        flow_fabric=np.array(fabric_idx, dtype=np.int64),
        routable=np.array(routable, dtype=bool),
        flow_of=np.array(flow_of, dtype=np.int64),
        arc_of=np.array(arc_of, dtype=np.int64),
        class_plane=dict(class_plane),
        call_flow=call_flow,
        n_fabric=offset,
    )


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
    if cache:
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
    cache.update(
        wan=wan,
        wan_group=np.maximum(routing.flow_group, 0),
        wan_flow_of=flow_of[nnz_wan],
        wan_arc_of=arc_of[nnz_wan],
        fab_demand=fab_demand,
        fab_arc_base=np.bincount(arc_of[nnz_fab], weights=fab_demand[flow_of[nnz_fab]], minlength=world.topology.n_arcs),
        needed_flow_of=flow_of[(wan | probes)[flow_of]],
        needed_arc_of=arc_of[(wan | probes)[flow_of]],
    )
    return cache


def network_step(world: World, state: TwinState, routing: Routing, demand_scale: float, noise: np.ndarray,
                 fabric_scale: float) -> NetworkResult:
    """One tick of flow-level network physics.

    Fabric background flows all scale by one factor per tick, so their per-arc load is the
    routing's base load times that factor; the sparse incidence is walked in full only when
    some arc is overloaded and max-min allocation is needed.
    """
    topo = world.topology
    n_arcs = topo.n_arcs
    n_groups = 2 * len(world.pairs)
    prep = _prepared(world, routing)
    wanted = world.demand_gbps * demand_scale * noise * state.network.class_factor[world.demand_class]
    vol = wanted * state.network.class_limit[world.demand_class]  # what edge rate limits let in
    key = world.demand_pair * 2 + world.demand_class
    group_gbps = np.bincount(key, weights=vol, minlength=n_groups)
    group_wanted = np.bincount(key, weights=wanted, minlength=n_groups)
    wan = prep["wan"]
    demand_wan = np.where(wan & routing.routable, group_gbps[prep["wan_group"]] * routing.flow_ratio, 0.0)
    cap = arc_capacity(world, state)
    # float even with no routable WAN flow (bincount of an empty array is int64)
    offered = np.bincount(prep["wan_arc_of"], weights=demand_wan[prep["wan_flow_of"]], minlength=n_arcs).astype(float)
    offered += fabric_scale * prep["fab_arc_base"]
    flow_of, arc_of = routing.flow_of, routing.arc_of
    if np.all(offered <= cap + 1e-9):
        carried = offered
    else:
        demand = demand_wan + fabric_scale * prep["fab_demand"]
        rate = max_min_rates(flow_of, arc_of, cap, demand)
        carried = np.bincount(arc_of, weights=rate[flow_of], minlength=n_arcs)
    loss = link_loss(offered, cap, np.repeat(state.network.link_loss, 2) if state.network.link_loss.any() else 0.0)
    util = np.divide(offered, cap, out=np.where(offered > 0, np.inf, 0.0), where=cap > 0)
    latency = link_latency_ms(world.arc_delay, np.minimum(util, 10.0))
    nf, na = prep["needed_flow_of"], prep["needed_arc_of"]
    log_ok = np.bincount(nf, weights=np.log1p(-np.minimum(loss[na], 1 - 1e-12)), minlength=routing.n_flows)
    flow_loss = np.where(routing.routable, 1.0 - np.exp(log_ok), 1.0)
    flow_latency = np.bincount(nf, weights=latency[na], minlength=routing.n_flows)
    g = routing.flow_group[wan]
    w = routing.flow_ratio[wan]
    safe = np.maximum(np.bincount(g, weights=w, minlength=n_groups), 1e-12)
    group_loss = np.bincount(g, weights=w * flow_loss[wan], minlength=n_groups) / safe
    group_latency = np.bincount(g, weights=w * flow_latency[wan], minlength=n_groups) / safe
    arc_dst = world.arc_dst
    node_gbps = np.bincount(arc_dst, weights=carried, minlength=len(topo.nodes))
    patterns: dict[str, np.ndarray] = {}
    for pattern, mask in world.pattern_masks.items():
        pg = np.bincount(key, weights=np.where(mask, vol, 0.0), minlength=n_groups)
        fd = np.where(wan, pg[prep["wan_group"]] * routing.flow_ratio, 0.0)
        arc_load = np.bincount(prep["wan_arc_of"], weights=fd[prep["wan_flow_of"]], minlength=n_arcs)
        patterns[pattern] = np.bincount(arc_dst, weights=arc_load, minlength=len(topo.nodes))
    return NetworkResult(
        arc_offered=offered,
        arc_carried=carried,
        arc_loss=loss,
        arc_latency=latency,
        arc_capacity=cap,
        flow_loss=flow_loss,
        flow_latency=flow_latency,
        group_gbps=group_gbps,
        group_wanted=group_wanted,
        group_loss=group_loss,
        group_latency=group_latency,
        node_gbps=node_gbps,
        pattern_node_gbps=patterns,
    )
