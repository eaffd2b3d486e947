"""Routing as functions of topology and link state.

* WAN: a B4-style split of each flow group over its tunnels in quantised ratios (the
  tunnels, k shortest per site pair, are computed in twin.sim.network on topology events).
* Fabric: ECMP over a fat-tree by index arithmetic: a flow's hash picks one of the alive
  (aggregation, core) choices; a dead link only removes the choices that use it.
"""

from __future__ import annotations

import numpy as np

from twin.model.fabric import FatTree
from twin.physics.jit import kernel
from twin.model.topology import Topology

__all__ = ["quantised_split", "hashed_split", "connection_draws", "te_splits", "hashed_shares", "fat_tree_ecmp", "path_arcs"]


def path_arcs(topology: Topology, nodes: list[int]) -> list[int]:
    """The directed arcs along a node path."""
    return [topology.arc(u, v) for u, v in zip(nodes[:-1], nodes[1:])]


@kernel
def _sum(x, n):
    """``x[:n].sum()`` as numpy adds (pairwise: eight running sums from 8 terms on)."""
    if n < 8:
        total = x[0] if n > 0 else 0.0
        for i in range(1, n):
            total += x[i]
        return total
    if n > 128:
        half = n // 2
        half -= half % 8
        return _sum(x, half) + _sum(x[half:], n - half)
    r = x[:8].copy()
    i = 8
    while i < n - n % 8:
        for j in range(8):
            r[j] += x[i + j]
        i += 8
    total = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
    while i < n:
        total += x[i]
        i += 1
    return total


@kernel
def _quantise(weights, n, units, out):
    """:func:`quantised_split` of ``weights[:n]`` into ``out[:n]``."""
    w = np.empty(n)
    for i in range(n):
        w[i] = 0.0 if weights[i] < 0.0 else weights[i]  # np.maximum(w, 0): NaN stays NaN
    total = _sum(w, n)
    if total <= 0:
        w[:] = 1.0
        total = _sum(w, n)
    base = np.empty(n, dtype=np.int64)
    left = np.empty(n)  # the remainders' negatives: numpy's sort key
    short = units
    for i in range(n):
        exact = w[i] / total * units
        base[i] = np.int64(np.floor(exact))
        left[i] = -(exact - base[i])
        short -= base[i]
    # the ``short`` smallest keys, ties to the lower index (a stable argsort's first ``short``)
    taken = np.zeros(n, dtype=np.bool_)
    for _ in range(min(short, n)):
        pick = -1
        for i in range(n):
            if not taken[i] and (pick < 0 or left[i] < left[pick]):
                pick = i
        taken[pick] = True
        base[pick] += 1
    for i in range(n):
        out[i] = base[i] / units


def quantised_split(weights: np.ndarray, quantum: float) -> np.ndarray:
    """Split ratios proportional to ``weights`` in multiples of ``quantum``, summing to 1.

    Rounds by largest remainder, as a TE controller installing weighted ECMP groups does.
    Negative weights count as 0; all-zero weights split evenly.

    >>> quantised_split(np.array([2.0, 1.0, 1.0]), 0.25).tolist()
    [0.5, 0.25, 0.25]
    """
    w = np.ascontiguousarray(weights, dtype=float)
    out = np.empty(w.size)
    if w.size:
        _quantise(w, w.size, int(round(1.0 / quantum)), out)
    return out


def connection_draws(salt: int, n_connections: int, n_buckets: int) -> tuple[np.ndarray, np.ndarray]:
    """The connections :func:`hashed_split` hashes: their sizes (Pareto 1.5, heavy-tailed) and
    the bucket each lands on, drawn from ``salt`` alone. They do not depend on the split, so a
    routing rebuild may reuse them.

    >>> sizes, bucket = connection_draws(3, 4, 8)
    >>> sizes.shape, bool((sizes >= 1).all()), bool(((0 <= bucket) & (bucket < 8)).all())
    ((4,), True, True)
    """
    rng = np.random.default_rng([int(salt), 0x5EED])  # its own stream: the tick's draws are untouched
    sizes = rng.pareto(1.5, n_connections) + 1.0
    return sizes, rng.integers(0, n_buckets, n_connections)


@kernel
def _whole(split, n):
    """Whether ``split[:n]`` puts everything on one tunnel (one 1, the rest 0)."""
    whole = False
    for i in range(n):
        if split[i] == 1.0 and not whole:
            whole = True
        elif split[i] != 0.0:
            return False
    return whole


@kernel
def _hash_shares(split, n, units, sizes, bucket, out):
    """:func:`hashed_split` of ``split[:n]`` into ``out[:n]``, the connections given."""
    if _whole(split, n):  # every bucket on one tunnel: it carries everything, as the split says
        out[:n] = split[:n]
        return
    m = 0
    for i in range(n):
        m += np.int64(np.rint(split[i] * units))
    owner = np.empty(m, dtype=np.int64)  # bucket -> tunnel, as np.repeat lays them out
    m = 0
    for i in range(n):
        for _ in range(np.int64(np.rint(split[i] * units))):
            owner[m] = i
            m += 1
    if n <= 1 or sizes.shape[0] == 0 or m == 0:
        out[:n] = split[:n]
        return
    carried = np.zeros(n)
    for j in range(sizes.shape[0]):
        carried[owner[bucket[j]]] += sizes[j]
    total = _sum(carried, n)
    for i in range(n):
        out[i] = carried[i] / total


def hashed_split(split: np.ndarray, quantum: float, n_connections: int, salt: int) -> np.ndarray:
    """The shares tunnels really carry when connections are hashed onto WCMP buckets.

    A TE controller installs ``split`` (multiples of ``quantum``) as ``1 / quantum`` hash
    buckets, each pointing at one tunnel. ``n_connections`` connections of unequal
    (heavy-tailed, Pareto 1.5) size hash onto the buckets, so a tunnel carries the bytes of the
    connections that landed on its buckets, not exactly its ratio. Sizes and hashes are drawn
    from ``salt`` alone (deterministic, :func:`connection_draws`); ``n_connections`` = 0 returns
    ``split`` unchanged (an ideal, infinitely fine split).

    >>> s = hashed_split(np.array([0.5, 0.5]), 0.125, 64, salt=3)
    >>> bool(abs(s.sum() - 1) < 1e-12), bool(abs(s[0] - 0.5) > 0.01)
    (True, True)
    """
    split = np.ascontiguousarray(split, dtype=float)
    units = int(round(1.0 / quantum))
    if n_connections <= 0 or split.size <= 1:
        return split
    n_buckets = int(np.round(split * units).sum())
    if n_buckets == 0:
        return split
    sizes, bucket = connection_draws(salt, n_connections, n_buckets)
    out = np.empty(split.size)
    _hash_shares(split, split.size, units, sizes, bucket.astype(np.int64), out)
    return out


@kernel
def _te_splits(order, volume, count, n_arcs, arcs, residual, units, installed):
    n_max = count.max() if count.shape[0] else 0
    amounts, room, eye = np.empty(n_max), np.empty(n_max), np.zeros(n_max)
    if n_max:
        eye[0] = 1.0
    cut = np.empty(arcs.shape[2])
    for g in order:
        n = count[g]
        if n == 0:
            continue
        vol = volume[g]
        # shortest tunnel first, each up to its bottleneck's residual capacity
        amounts[:n] = 0.0
        left = vol
        for i in range(n):
            low = residual[arcs[g, i, 0]]
            for j in range(1, n_arcs[g, i]):
                low = min(low, residual[arcs[g, i, j]])
            room[i] = low if low > 0.0 else 0.0
            amounts[i] = left if left <= room[i] else room[i]
            left -= amounts[i]
            if left <= 1e-9:
                break
        if left > 1e-9:  # the rest spills in proportion to the tunnels' room
            for i in range(n):
                low = residual[arcs[g, i, 0]]
                for j in range(1, n_arcs[g, i]):
                    low = min(low, residual[arcs[g, i, j]])
                room[i] = (low if not 0.0 > low else 0.0) + 1e-6
            total = _sum(room, n)
            for i in range(n):
                amounts[i] += left * room[i] / total
        _quantise(amounts if vol > 0 else eye, n, units, installed[g])
        for i in range(n):
            placed = vol * installed[g, i]
            m = n_arcs[g, i]
            for j in range(m):  # as numpy's ``residual[t] -= placed``: a repeated arc loses it once
                cut[j] = residual[arcs[g, i, j]] - placed
            for j in range(m):
                residual[arcs[g, i, j]] = cut[j]


@kernel
def _hashed_rows(installed, count, units, sizes, bucket, carried):
    for g in range(count.shape[0]):
        _hash_shares(installed[g], count[g], units, sizes[g], bucket[g], carried[g])


def te_splits(volume: np.ndarray, count: np.ndarray, n_arcs: np.ndarray, arcs: np.ndarray, capacity: np.ndarray,
              quantum: float) -> np.ndarray:
    """Place every flow group on its tunnels, as a TE controller does, largest group first.

    Group ``g`` has ``count[g]`` tunnels, tunnel ``i`` along arcs ``arcs[g, i, :n_arcs[g, i]]``.
    Each group fills its tunnels shortest first, up to each one's residual capacity (of
    ``capacity`` per arc, less what earlier groups placed); what does not fit spills onto the
    tunnels in proportion to their room. Returns the ratios installed, quantised
    (:func:`quantised_split`), ``(groups, max tunnels)``, 0 past a group's tunnels.

    >>> arcs = np.array([[[0, 1], [2, -1]]])  # one group: a two-arc tunnel, then a one-arc one
    >>> te_splits(np.array([3.0]), np.array([2]), np.array([[2, 1]]), arcs, np.array([2.0, 2.0, 10.0]), 0.25).tolist()
    [[0.75, 0.25]]
    """
    installed = np.zeros(arcs.shape[:2])
    order = np.argsort(-volume, kind="stable")
    _te_splits(order, np.ascontiguousarray(volume, dtype=float), count, n_arcs, arcs, capacity.astype(float),
               int(round(1.0 / quantum)), installed)
    return installed


def hashed_shares(installed: np.ndarray, count: np.ndarray, quantum: float, sizes: np.ndarray,
                  bucket: np.ndarray) -> np.ndarray:
    """What each group's tunnels carry (:func:`hashed_split` row by row): its connections
    ``sizes[g]`` hashed onto buckets ``bucket[g]`` (none: the installed ratios). A row that puts
    everything on one tunnel carries it whole, so its connections are never read."""
    carried = np.zeros(installed.shape)
    _hashed_rows(installed, count, int(round(1.0 / quantum)), sizes, bucket, carried)
    return carried


@kernel
def _ecmp(half, tor_agg, agg_core, src, dst, flow_hash, link_ok, links, routable):
    # a ToR with every uplink alive, a pod with every core link alive: there the hash picks
    # its choice directly
    pods = tor_agg.shape[0]
    tor_full = np.ones((pods, half), dtype=np.bool_)
    pod_full = np.ones(pods, dtype=np.bool_)
    for p in range(pods):
        for a in range(half):
            for t in range(half):
                tor_full[p, t] &= link_ok[tor_agg[p, t, a]]
            for i in range(half):
                pod_full[p] &= link_ok[agg_core[p, a, i]]
    for f in range(src.shape[0]):
        links[f, :] = -1
        if src[f] == dst[f]:
            routable[f] = True
            continue
        sp, st = src[f] // half, src[f] % half
        dp, dt = dst[f] // half, dst[f] % half
        same_pod = sp == dp
        cores = 1 if same_pod else half  # inside a pod only the aggregation choice matters
        if tor_full[sp, st] and tor_full[dp, dt] and (same_pod or (pod_full[sp] and pod_full[dp])):
            pick = flow_hash[f] % (half * cores)
            a, i = pick // cores, pick % cores
            routable[f] = True
            links[f, 0] = tor_agg[sp, st, a]
            links[f, 3] = tor_agg[dp, dt, a]
            if not same_pod:
                links[f, 1] = agg_core[sp, a, i]
                links[f, 2] = agg_core[dp, a, i]
            continue
        n_alive = 0
        for a in range(half):
            if link_ok[tor_agg[sp, st, a]] and link_ok[tor_agg[dp, dt, a]]:
                for i in range(cores):
                    if same_pod or (link_ok[agg_core[sp, a, i]] and link_ok[agg_core[dp, a, i]]):
                        n_alive += 1
        routable[f] = n_alive > 0
        if n_alive == 0:
            continue
        left = flow_hash[f] % n_alive  # the pick-th alive (aggregation, core) choice, in order
        for a in range(half):
            if link_ok[tor_agg[sp, st, a]] and link_ok[tor_agg[dp, dt, a]]:
                for i in range(cores):
                    if same_pod or (link_ok[agg_core[sp, a, i]] and link_ok[agg_core[dp, a, i]]):
                        if left == 0:
                            links[f, 0] = tor_agg[sp, st, a]
                            links[f, 3] = tor_agg[dp, dt, a]
                            if not same_pod:
                                links[f, 1] = agg_core[sp, a, i]
                                links[f, 2] = agg_core[dp, a, i]
                        left -= 1


def fat_tree_ecmp(
    ft: FatTree,
    src_tor: np.ndarray,
    dst_tor: np.ndarray,
    flow_hash: np.ndarray,
    link_ok: np.ndarray,
    arc_of_link: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """ECMP paths for ToR-to-ToR flows in one fat-tree, by index arithmetic.

    Returns ``(links, routable)``: ``links`` is an ``(n, 4)`` array of link ids along each
    flow's path in order (ToR-agg, agg-core, core-agg, agg-ToR; -1 where unused, e.g. inside
    a pod), and ``routable`` is False for flows with no alive path. A flow's choices are the
    (aggregation, core) pairs alive at both ends (one per aggregation switch inside a pod), in
    that order; its hash picks the ``hash mod n_alive``-th, so a failure moves only the flows
    that used it. ``arc_of_link`` is not used (kept for callers that pass it).
    """
    n = src_tor.shape[0]
    links = np.empty((n, 4), dtype=np.int64)
    routable = np.empty(n, dtype=bool)
    _ecmp(int(ft.half), np.ascontiguousarray(ft.tor_agg, dtype=np.int64), np.ascontiguousarray(ft.agg_core, dtype=np.int64),
          np.asarray(src_tor, dtype=np.int64), np.asarray(dst_tor, dtype=np.int64), np.asarray(flow_hash, dtype=np.int64),
          np.ascontiguousarray(link_ok, dtype=bool), links, routable)
    return links, routable
