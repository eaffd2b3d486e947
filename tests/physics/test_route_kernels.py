"""The compiled route-build kernels against the numpy and networkx code they replaced (kept
here as the oracles): TE placement, quantised and hashed splits, penalised tunnels, fat-tree ECMP. No
transcendental is involved, so they must agree bit for bit."""

import networkx as nx
import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.physics.paths import adjacency, link_adjacency, penalised_tunnels
from twin.physics.routing import connection_draws, fat_tree_ecmp, hashed_shares, te_splits
from twin.model.world import CLASSES
from twin.sim.network import TUNNEL_PENALTY, _wan_tunnels


def _quantised_oracle(weights, quantum):
    w = np.maximum(np.asarray(weights, dtype=float), 0.0)
    if w.sum() <= 0:
        w = np.ones_like(w)
    units = int(round(1.0 / quantum))
    exact = w / w.sum() * units
    base = np.floor(exact).astype(int)
    short = units - base.sum()
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base / units


def _hashed_oracle(split, quantum, n_connections, salt):
    if n_connections <= 0 or split.size <= 1:
        return split
    units = int(round(1.0 / quantum))
    buckets = np.repeat(np.arange(split.size), np.round(split * units).astype(int))
    sizes, bucket = connection_draws(salt, n_connections, buckets.size)
    carried = np.bincount(buckets[bucket], weights=sizes, minlength=split.size)
    return carried / carried.sum()


def _te_split_oracle(tunnels, residual, volume, quantum):
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
    split = _quantised_oracle(amounts if volume > 0 else np.eye(len(tunnels))[0], quantum)
    for t, r in zip(tunnels, split):
        residual[t] -= volume * r
    return split


def _placement_oracle(volume, count, n_arcs, arcs, residual, quantum, n_connections):
    residual = residual.copy()
    out = {}
    for g in np.argsort(-volume, kind="stable"):
        tunnels = [arcs[g, i, :n_arcs[g, i]] for i in range(count[g])]
        if tunnels:
            split = _te_split_oracle(tunnels, residual, float(volume[g]), quantum)
            out[int(g)] = _hashed_oracle(split, quantum, n_connections, int(g))
    return out


def _draws(count, n_connections, units):
    sizes, bucket = np.zeros((count.size, n_connections)), np.zeros((count.size, n_connections), dtype=np.int64)
    for g in range(count.size):
        sizes[g], bucket[g] = connection_draws(g, n_connections, units)
    return sizes, bucket


def _check(volume, count, n_arcs, arcs, residual, quantum, n_connections):
    sizes, bucket = _draws(count, n_connections, int(round(1.0 / quantum)))
    carried = hashed_shares(te_splits(volume, count, n_arcs, arcs, residual, quantum), count, quantum, sizes, bucket)
    expected = _placement_oracle(volume, count, n_arcs, arcs, residual, quantum, n_connections)
    for g in range(count.size):
        if count[g]:
            assert carried[g, :count[g]].tobytes() == np.asarray(expected[g], dtype=float).tobytes(), g
        assert not carried[g, count[g]:].any()


@pytest.mark.parametrize("seed", range(30))
def test_te_splits_match_numpy_on_random_groups(seed):
    rng = np.random.default_rng(seed)
    n_groups, k, n_arcs_max, n_arc = int(rng.integers(1, 30)), int(rng.integers(1, 10)), 6, 40
    count = rng.integers(0, k + 1, n_groups)
    n_arcs = np.where(np.arange(k) < count[:, None], rng.integers(1, n_arcs_max + 1, (n_groups, k)), 0)
    arcs = np.full((n_groups, k, n_arcs_max), -1, dtype=np.int64)
    for g in range(n_groups):
        for i in range(count[g]):  # repeated arcs included: numpy subtracts once per tunnel
            arcs[g, i, :n_arcs[g, i]] = rng.integers(0, n_arc, n_arcs[g, i])
    volume = rng.choice([0.0, 0.5, 3.0, 40.0], n_groups) * rng.random(n_groups)
    residual = rng.choice([-1.0, 0.0, 2.0, 20.0], n_arc) * rng.random(n_arc)
    for quantum in (0.125, 1 / 3, 1 / 16):
        _check(volume, count, n_arcs, arcs, residual, quantum, int(rng.choice([0, 8, 64])))


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_te_splits_match_numpy_on_scenario_tunnels(name):
    sc = load_scenario(name)
    t = Twin(sc, seed=1)
    t.run(until=60.0)
    w, st = t.world, t.state
    usable = st.network.link_routed
    per_class = [_wan_tunnels(w, st, st.control.te_class_plane[c], usable, sc.control.te.tunnels)
                 for c in CLASSES]
    n_groups = 2 * len(w.pairs)
    width, longest = max(p.arcs.shape[1] for p in per_class), max(p.arcs.shape[2] for p in per_class)
    count, n_arcs = np.zeros(n_groups, np.int64), np.zeros((n_groups, width), np.int64)
    arcs = np.full((n_groups, width, longest), -1, np.int64)
    for c, p in enumerate(per_class):
        count[c::2], n_arcs[c::2, :p.arcs.shape[1]] = p.count, p.n_arcs
        arcs[c::2, :p.arcs.shape[1], :p.arcs.shape[2]] = p.arcs
    volume = np.bincount(w.demand_pair * 2 + w.demand_class, weights=w.demand_gbps, minlength=n_groups)
    residual = np.repeat(w.topology.capacity_gbps * usable, 2) * 0.95
    for scale in (1.0, 3.0):  # 3x: groups spill past their tunnels' room
        _check(volume * scale, count, n_arcs, arcs, residual, sc.control.te.quantum, sc.network.hash_connections)


def _random_graph(seed):
    rng = np.random.default_rng(seed)
    g = nx.Graph()
    n = int(rng.integers(4, 16))
    for _ in range(3 * n):
        a, b = (int(x) for x in rng.integers(0, n, 2))
        if a != b:  # small whole weights: many ties, so tie-breaks decide
            g.add_edge(a, b, weight=float(rng.integers(1, 4)))
    return g


def _tunnels_oracle(g, s, d, k):
    """The diverse-path heuristic as it was, on networkx."""
    first = nx.dijkstra_path(g, s, d, weight="weight")
    tunnels, used = [first], {(min(e), max(e)) for e in zip(first[:-1], first[1:])}
    for _ in range(k - 1):
        def weight(u, v, data, used=frozenset(used)):
            return data["weight"] * (TUNNEL_PENALTY if (min(u, v), max(u, v)) in used else 1.0)
        path = nx.dijkstra_path(g, s, d, weight=weight)
        if path in tunnels:
            break
        tunnels.append(path)
        used |= {(min(e), max(e)) for e in zip(path[:-1], path[1:])}
    return tunnels


@pytest.mark.parametrize("seed", range(30))
def test_penalised_tunnels_match_networkx(seed):
    g = _random_graph(seed)
    adj = adjacency(g)
    pairs = [(s, d) for s in g for d in g if s != d]
    src = np.array([adj.local(s) for s, _ in pairs])
    dst = np.array([adj.local(d) for _, d in pairs])
    for k in (1, 3, 5):
        t = penalised_tunnels(adj, src, dst, k, TUNNEL_PENALTY)
        for p, (s, d) in enumerate(pairs):
            got = [adj.nodes[t.nodes[p, i, :t.length[p, i]]].tolist() for i in range(t.count[p])]
            assert got == (_tunnels_oracle(g, s, d, k) if nx.has_path(g, s, d) else [])


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_link_adjacency_is_the_plane_graph(name):
    """Built from the link arrays, the adjacency networkx's plane graph gives (its order, its
    weights), with each entry's arc as Topology.arc names it."""
    topo = Twin(load_scenario(name), seed=1).world.topology
    rng = np.random.default_rng(0)
    for plane in topo.planes:
        usable = rng.random(len(topo.links)) < 0.8
        g = topo.plane_graph(plane, usable)
        want = adjacency(g)
        got = link_adjacency(topo.link_a, topo.link_b, topo.metric.astype(float),
                             np.array([p == plane for p in topo.link_plane]) & usable)
        for f in ("nodes", "ptr", "nbr", "weight", "edge"):
            assert getattr(got, f).tobytes() == getattr(want, f).tobytes(), f
        assert got.keys == want.keys
        for v in range(got.nodes.size):
            for j in range(got.ptr[v], got.ptr[v + 1]):
                assert got.arc[j] == topo.arc(int(got.nodes[v]), int(got.nodes[got.nbr[j]]))


def _ecmp_oracle(ft, src_tor, dst_tor, flow_hash, link_ok):
    """fat_tree_ecmp as it was, in numpy."""
    half = ft.half
    sp, st = np.divmod(src_tor, half)
    dp, dt = np.divmod(dst_tor, half)
    n = src_tor.shape[0]
    links = np.full((n, 4), -1, dtype=np.int64)
    ok_up = link_ok[ft.tor_agg]
    ok_core = link_ok[ft.agg_core]
    same_pod = sp == dp
    ends = ok_up[sp, st] & ok_up[dp, dt]
    alive = ends[:, :, None] & (same_pod[:, None, None] | (ok_core[sp] & ok_core[dp]))
    alive[same_pod, :, 1:] = False
    alive = alive.reshape(n, half * half)
    n_alive = alive.sum(axis=1)
    routable = n_alive > 0
    pick = np.where(routable, flow_hash % np.maximum(n_alive, 1), 0)
    full = np.where(same_pod, n_alive == half, n_alive == half * half)
    choice = np.where(same_pod, pick * half, pick)
    part = np.flatnonzero(~full)
    if part.size:
        sub = alive[part]
        rank = np.cumsum(sub, axis=1) - 1
        choice[part] = np.argmax(sub & (rank == pick[part, None]), axis=1)
    a, i = np.divmod(choice, half)
    links[:, 0] = ft.tor_agg[sp, st, a]
    links[:, 3] = ft.tor_agg[dp, dt, a]
    inter = ~same_pod
    links[inter, 1] = ft.agg_core[sp[inter], a[inter], i[inter]]
    links[inter, 2] = ft.agg_core[dp[inter], a[inter], i[inter]]
    same_tor = src_tor == dst_tor
    links[same_tor] = -1
    routable |= same_tor
    links[~routable] = -1
    return links, routable


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_fat_tree_ecmp_matches_numpy_on_scenario_fabrics(name):
    w = Twin(load_scenario(name), seed=1).world
    rng = np.random.default_rng(5)
    for site, ft in w.fabrics.items():
        src, dst, _gbps, hashes = w.fabric_flows[site]
        src, dst, hashes = (np.asarray(x, dtype=np.int64) for x in (src, dst, hashes))
        for p_fail in (0.0, 0.02, 0.2, 0.7):
            ok = rng.random(len(w.topology.links)) >= p_fail
            got = fat_tree_ecmp(ft, src, dst, hashes, ok)
            want = _ecmp_oracle(ft, src, dst, hashes, ok)
            assert got[0].tobytes() == want[0].tobytes() and got[1].tobytes() == want[1].tobytes()
