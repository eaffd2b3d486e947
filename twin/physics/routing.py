"""Routing as functions of topology and link state.

* WAN: a B4-style split of each flow group over its tunnels in quantised ratios (the
  tunnels, k shortest per site pair, are computed in twin.sim.network on topology events).
* Fabric: ECMP over a fat-tree by index arithmetic: a flow's hash picks one of the alive
  (aggregation, core) choices; a dead link only removes the choices that use it.
"""

from __future__ import annotations

import numpy as np

from twin.model.fabric import FatTree
from twin.model.topology import Topology

__all__ = ["quantised_split", "hashed_split", "connection_draws", "fat_tree_ecmp", "path_arcs"]


def path_arcs(topology: Topology, nodes: list[int]) -> list[int]:
    """The directed arcs along a node path."""
    return [topology.arc(u, v) for u, v in zip(nodes[:-1], nodes[1:])]


def quantised_split(weights: np.ndarray, quantum: float) -> np.ndarray:
    """Split ratios proportional to ``weights`` in multiples of ``quantum``, summing to 1.

    Rounds by largest remainder, as a TE controller installing weighted ECMP groups does.

    >>> quantised_split(np.array([2.0, 1.0, 1.0]), 0.25).tolist()
    [0.5, 0.25, 0.25]
    """
    # np.maximum, not np.clip's slower wrapper: they differ only in the sign of a zero, which no
    # step below can see (a zero weight floors to 0 units and sorts with the other zeros either way)
    w = np.maximum(np.asarray(weights, dtype=float), 0.0)
    if w.size == 0:
        return w
    if w.sum() <= 0:
        w = np.ones_like(w)
    units = int(round(1.0 / quantum))
    exact = w / w.sum() * units
    base = np.floor(exact).astype(int)
    short = units - base.sum()
    order = np.argsort(-(exact - base), kind="stable")
    base[order[:short]] += 1
    return base / units


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


def hashed_split(split: np.ndarray, quantum: float, n_connections: int, salt: int,
                 draws: dict[tuple[int, int, int], tuple[np.ndarray, np.ndarray]] | None = None) -> np.ndarray:
    """The shares tunnels really carry when connections are hashed onto WCMP buckets.

    A TE controller installs ``split`` as ``1 / quantum`` hash buckets, each pointing at one
    tunnel. ``n_connections`` connections of unequal (heavy-tailed, Pareto 1.5) size hash onto
    the buckets, so a tunnel carries the bytes of the connections that landed on its buckets,
    not exactly its ratio. Sizes and hashes are drawn from ``salt`` alone (deterministic,
    :func:`connection_draws`; ``draws``, keyed by ``(salt, n_connections, buckets)``, keeps them
    for the next call); ``n_connections`` = 0 returns ``split`` unchanged (an ideal, infinitely
    fine split).

    >>> s = hashed_split(np.array([0.5, 0.5]), 0.125, 64, salt=3)
    >>> bool(abs(s.sum() - 1) < 1e-12), bool(abs(s[0] - 0.5) > 0.01)
    (True, True)
    """
    split = np.asarray(split, dtype=float)
    if n_connections <= 0 or split.size <= 1:
        return split
    units = int(round(1.0 / quantum))
    buckets = np.repeat(np.arange(split.size), np.round(split * units).astype(int))
    if buckets.size == 0:
        return split
    key = (int(salt), n_connections, buckets.size)
    drawn = draws.get(key) if draws is not None else None
    if drawn is None:
        drawn = connection_draws(*key)
        if draws is not None:
            draws[key] = drawn
    sizes, bucket = drawn
    carried = np.bincount(buckets[bucket], weights=sizes, minlength=split.size)
    return carried / carried.sum()


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
    a pod), and ``routable`` is False for flows with no alive path. A flow's hash picks the
    ``hash mod n_alive``-th alive choice, so a failure moves only the flows that used it.
    """
    half = ft.half
    sp, st = np.divmod(src_tor, half)
    dp, dt = np.divmod(dst_tor, half)
    n = src_tor.shape[0]
    links = np.full((n, 4), -1, dtype=np.int64)
    # choices: (agg a, core i) flattened as a*half + i; aliveness from per-pod tables, so only
    # the chosen column's link ids are ever gathered
    ok_up = link_ok[ft.tor_agg]  # [pod, tor, agg]
    ok_core = link_ok[ft.agg_core]  # [pod, agg, i]
    same_pod = sp == dp
    ends = ok_up[sp, st] & ok_up[dp, dt]  # [flow, agg]
    alive = ends[:, :, None] & (same_pod[:, None, None] | (ok_core[sp] & ok_core[dp]))
    # inside a pod only the aggregation choice matters: keep one core column per agg
    alive[same_pod, :, 1:] = False
    alive = alive.reshape(n, half * half)
    n_alive = alive.sum(axis=1)
    routable = n_alive > 0
    pick = np.where(routable, flow_hash % np.maximum(n_alive, 1), 0)
    # the pick-th alive choice: with every choice alive it is the pick-th column (one per agg
    # inside a pod); otherwise count along the row
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
