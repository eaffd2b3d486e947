"""Shortest paths over a WAN plane, as the IGP and a TE controller compute them.

Dijkstra's algorithm on compressed adjacency arrays (:class:`Adjacency`), compiled
(:mod:`twin.physics.jit`), with networkx's tie-breaks: the fringe is ordered by ``(distance,
insertion count)``, neighbours are relaxed in the graph's adjacency order and a node's
predecessor is replaced only by a strictly shorter path, so each path is the one
``networkx.dijkstra_path`` returns on the same graph. A plane has a few dozen routers and a route
build asks for hundreds of paths: in the interpreter the heap and the per-edge work cost more
than the rest of the build.

A TE controller's tunnels for a site pair (:func:`penalised_tunnels`) are the shortest path,
then shortest paths with the links of earlier tunnels costing ``penalty`` times their metric
(the diverse-path heuristic, far cheaper than enumerating k shortest simple paths); one kernel
call computes them for every pair of a plane.

>>> import networkx as nx
>>> g = nx.Graph()
>>> g.add_edge(0, 1, weight=1.0); g.add_edge(1, 2, weight=1.0); g.add_edge(0, 2, weight=3.0)
>>> adj = adjacency(g)
>>> shortest_paths(adj, 0)[0][2]
[0, 1, 2]
>>> dijkstra_path(adj, 0, 2, penalised={(0, 1)}, penalty=4.0)
[0, 2]
"""

from __future__ import annotations

from typing import NamedTuple

import networkx as nx
import numpy as np

from twin.physics.jit import kernel

__all__ = ["Adjacency", "adjacency", "link_adjacency", "shortest_paths", "dijkstra_path", "all_shortest",
           "penalised_tunnels"]


class Adjacency(NamedTuple):
    """A graph as compressed adjacency arrays, neighbours in the graph's adjacency order.

    Local index ``i`` is node ``nodes[i]``; its neighbours are ``nbr[ptr[i]:ptr[i + 1]]``, each
    entry with its edge's ``weight``, its undirected ``edge`` index (``keys[edge]`` is
    ``(min, max)`` of the two node ids) and ``arc``, the directed arc id it travels (-1 where
    the graph has none)."""

    nodes: np.ndarray
    ptr: np.ndarray
    nbr: np.ndarray
    weight: np.ndarray
    edge: np.ndarray
    arc: np.ndarray
    keys: list[tuple[int, int]]

    def local(self, node: int) -> int:
        """``node``'s local index (-1 where the graph lacks it)."""
        hit = np.flatnonzero(self.nodes == node)
        return int(hit[0]) if hit.size else -1


def _csr(order: list[int], rows: dict[int, list[tuple[int, float, int, int]]], keys: list[tuple[int, int]]
         ) -> Adjacency:
    local = {v: i for i, v in enumerate(order)}
    counts = [len(rows[v]) for v in order]
    entries = [e for v in order for e in rows[v]]
    return Adjacency(
        nodes=np.array(order, dtype=np.int64),
        ptr=np.concatenate([[0], np.cumsum(counts)]).astype(np.int64),
        nbr=np.array([local[u] for u, _, _, _ in entries], dtype=np.int64),
        weight=np.array([w for _, w, _, _ in entries], dtype=np.float64),
        edge=np.array([e for _, _, e, _ in entries], dtype=np.int64),
        arc=np.array([a for _, _, _, a in entries], dtype=np.int64),
        keys=keys,
    )


def adjacency(g: nx.Graph, weight: str = "weight") -> Adjacency:
    """``g``'s edges as adjacency arrays, in networkx's iteration order (its tie-breaks); no arcs
    (a plane's links with their arcs: :func:`link_adjacency`)."""
    keys: list[tuple[int, int]] = []
    key_index: dict[tuple[int, int], int] = {}
    rows: dict[int, list[tuple[int, float, int, int]]] = {}
    for v, nbrs in g.adj.items():
        row = rows[v] = []
        for u, e in nbrs.items():
            key = (min(u, v), max(u, v))
            if key not in key_index:
                key_index[key] = len(keys)
                keys.append(key)
            row.append((u, float(e.get(weight, 1)), key_index[key], -1))
    return _csr(list(g.adj), rows, keys)


def link_adjacency(link_a: np.ndarray, link_b: np.ndarray, weight: np.ndarray, keep: np.ndarray) -> Adjacency:
    """The graph of the links ``keep`` selects, as networkx builds it edge by edge in link order
    (``Topology.plane_graph``: a node's neighbours in the order their first link appears; a
    second link between the same two nodes replaces the first's weight and arcs). Link ``i``
    carries arc ``2 i`` from ``link_a[i]`` to ``link_b[i]`` and ``2 i + 1`` back."""
    order: list[int] = []
    rows: dict[int, dict[int, list]] = {}
    for i in np.flatnonzero(keep).tolist():
        a, b, w = int(link_a[i]), int(link_b[i]), float(weight[i])
        for v, u, arc in ((a, b, 2 * i), (b, a, 2 * i + 1)):
            if v not in rows:
                rows[v] = {}
                order.append(v)
            rows[v][u] = [w, arc]
    keys: list[tuple[int, int]] = []
    key_index: dict[tuple[int, int], int] = {}
    out: dict[int, list[tuple[int, float, int, int]]] = {}
    for v in order:
        out[v] = []
        for u, (w, arc) in rows[v].items():
            key = (min(u, v), max(u, v))
            if key not in key_index:
                key_index[key] = len(keys)
                keys.append(key)
            out[v].append((u, w, key_index[key], arc))
    return _csr(order, out, keys)


@kernel
def _pop(hd, hc, hn, size):
    """Remove the fringe's least ``(distance, count)`` entry; returns it and the new size."""
    d, c, v = hd[0], hc[0], hn[0]
    size -= 1
    if size > 0:
        ld, lc, ln = hd[size], hc[size], hn[size]
        i = 0
        while True:
            j = 2 * i + 1
            if j >= size:
                break
            if j + 1 < size and (hd[j + 1] < hd[j] or (hd[j + 1] == hd[j] and hc[j + 1] < hc[j])):
                j += 1
            if hd[j] < ld or (hd[j] == ld and hc[j] < lc):
                hd[i], hc[i], hn[i] = hd[j], hc[j], hn[j]
                i = j
            else:
                break
        hd[i], hc[i], hn[i] = ld, lc, ln
    return d, c, v, size


@kernel
def _push(hd, hc, hn, size, d, c, v):
    i = size
    while i > 0:
        p = (i - 1) // 2
        if d < hd[p] or (d == hd[p] and c < hc[p]):
            hd[i], hc[i], hn[i] = hd[p], hc[p], hn[p]
            i = p
        else:
            break
    hd[i], hc[i], hn[i] = d, c, v
    return size + 1


@kernel
def _search(ptr, nbr, weight, edge, source, target, penalised, penalty, dist, pred, order, seen, heap_d, heap_c,
            heap_n):
    """Dijkstra from ``source`` (stopping once ``target`` is settled; -1: never): fills ``dist``
    (inf where not settled), ``pred`` (-1 at the source and where not reached) and ``order``
    (settled nodes, first to last); returns how many were settled. ``penalised`` (per edge)
    costs ``penalty`` times the weight. ``seen`` and the heap arrays are scratch space."""
    n = ptr.shape[0] - 1
    for i in range(n):
        dist[i] = np.inf
        pred[i] = -1
        seen[i] = np.inf
    seen[source] = 0.0
    size = _push(heap_d, heap_c, heap_n, 0, 0.0, 0, source)
    pushed = 1
    settled = 0
    while size > 0:
        d_v, _c, v, size = _pop(heap_d, heap_c, heap_n, size)
        if dist[v] < np.inf:
            continue
        dist[v] = d_v
        order[settled] = v
        settled += 1
        if v == target:
            break
        for j in range(ptr[v], ptr[v + 1]):
            u = nbr[j]
            if penalised[edge[j]]:
                vu = d_v + weight[j] * penalty
            else:
                vu = d_v + weight[j]
            if dist[u] < np.inf:
                continue
            if vu < seen[u]:
                seen[u] = vu
                size = _push(heap_d, heap_c, heap_n, size, vu, pushed, u)
                pushed += 1
                pred[u] = v
    return settled


def _scratch(adj: Adjacency) -> tuple[np.ndarray, ...]:
    n, m = adj.nodes.shape[0], adj.nbr.shape[0] + 1
    return (np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64), np.empty(n), np.empty(m),
            np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64))


@kernel
def _all_shortest(ptr, nbr, weight, edge, dist, pred, order, settled):
    n = ptr.shape[0] - 1
    m = nbr.shape[0] + 1
    none = np.zeros(max(edge.shape[0], 1), dtype=np.bool_)
    seen, hd, hc, hn = np.empty(n), np.empty(m), np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    for s in range(n):
        settled[s] = _search(ptr, nbr, weight, edge, s, -1, none, 1.0, dist[s], pred[s], order[s], seen, hd, hc, hn)


def all_shortest(adj: Adjacency) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Dijkstra from every node (local indices): ``(dist, pred, order, settled)``, row ``s`` for
    source ``s``: distances (inf: unreachable), predecessors (-1), the nodes in the order they
    were settled (the first ``settled[s]`` entries)."""
    n = adj.nodes.shape[0]
    dist, pred, order = np.empty((n, n)), np.empty((n, n), dtype=np.int64), np.empty((n, n), dtype=np.int64)
    settled = np.empty(n, dtype=np.int64)
    _all_shortest(adj.ptr, adj.nbr, adj.weight, adj.edge, dist, pred, order, settled)
    return dist, pred, order, settled


def _walk(pred: np.ndarray, source: int, target: int) -> list[int]:
    path = [target]
    while path[-1] != source:
        path.append(int(pred[path[-1]]))
    path.reverse()
    return path


def shortest_paths(adj: Adjacency, source: int) -> tuple[dict[int, list[int]], dict[int, float]]:
    """Paths from ``source`` to every node it reaches, and their lengths, in the order networkx
    settles them (``networkx.single_source_dijkstra``)."""
    dist, pred, order, seen, hd, hc, hn = _scratch(adj)
    s = adj.local(source)
    settled = _search(adj.ptr, adj.nbr, adj.weight, adj.edge, s, -1, np.zeros(max(len(adj.keys), 1), dtype=bool),
                      1.0, dist, pred, order, seen, hd, hc, hn)
    nodes = adj.nodes.tolist()
    paths: dict[int, list[int]] = {}
    lengths: dict[int, float] = {}
    for v in order[:settled].tolist():
        paths[nodes[v]] = paths[nodes[pred[v]]] + [nodes[v]] if v != s else [nodes[v]]
        lengths[nodes[v]] = float(dist[v])
    return paths, lengths


def dijkstra_path(adj: Adjacency, source: int, target: int, penalised: set | frozenset = frozenset(),
                  penalty: float = 1.0) -> list[int]:
    """The shortest path from ``source`` to ``target``, edges in ``penalised`` (undirected keys
    ``(min, max)``) costing ``penalty`` times their weight (``networkx.dijkstra_path``).

    Raises:
        networkx.NetworkXNoPath: ``target`` is not reachable from ``source``.
    """
    if source == target:
        return [source]
    dist, pred, order, seen, hd, hc, hn = _scratch(adj)
    mask = np.array([k in penalised for k in adj.keys] or [False], dtype=bool)
    s, t = adj.local(source), adj.local(target)
    if s >= 0 and t >= 0:
        _search(adj.ptr, adj.nbr, adj.weight, adj.edge, s, t, mask, float(penalty), dist, pred, order, seen, hd, hc, hn)
    if s < 0 or t < 0 or dist[t] == np.inf:
        raise nx.NetworkXNoPath(f"node {target} not reachable from {source}")
    return adj.nodes[_walk(pred, s, t)].tolist()


@kernel
def _tunnels(ptr, nbr, weight, edge, arc, src, dst, k, penalty, count, length, nodes, arcs):
    """Per pair ``p``: ``count[p]`` tunnels; tunnel ``p * k + i`` has ``length`` nodes in
    ``nodes[p * k + i]`` and their arcs in ``arcs[p * k + i]``."""
    n = ptr.shape[0] - 1
    m = nbr.shape[0] + 1
    used = np.zeros(max(edge.shape[0], 1), dtype=np.bool_)
    dist, pred, order = np.empty(n), np.empty(n, dtype=np.int64), np.empty(n, dtype=np.int64)
    seen, hd, hc, hn = np.empty(n), np.empty(m), np.empty(m, dtype=np.int64), np.empty(m, dtype=np.int64)
    path = np.empty(n, dtype=np.int64)
    for p in range(src.shape[0]):
        s, d = src[p], dst[p]
        count[p] = 0
        if s < 0 or d < 0:
            continue
        used[:] = False
        for i in range(k):
            _search(ptr, nbr, weight, edge, s, d, used, penalty if i > 0 else 1.0, dist, pred, order, seen, hd, hc,
                    hn)
            if dist[d] == np.inf:
                break  # only on the first search: penalties never cut a path
            # the path, target to source, then reversed into place
            h, v = 0, d
            while True:
                path[h] = v
                h += 1
                if v == s:
                    break
                v = pred[v]
            row = p * k + i
            for j in range(h):
                nodes[row, j] = path[h - 1 - j]
            repeat = False
            for q in range(i):  # the same path as an earlier tunnel: no more diversity to find
                prev = p * k + q
                if length[prev] == h:
                    same = True
                    for j in range(h):
                        if nodes[prev, j] != nodes[row, j]:
                            same = False
                            break
                    if same:
                        repeat = True
                        break
            if repeat:
                nodes[row, :h] = -1
                break
            length[row] = h
            for j in range(h - 1):
                a, b = nodes[row, j], nodes[row, j + 1]
                for e in range(ptr[a], ptr[a + 1]):
                    if nbr[e] == b:
                        arcs[row, j] = arc[e]
                        used[edge[e]] = True
                        break
            count[p] = i + 1


class Tunnels(NamedTuple):
    """Tunnels per site pair, padded: pair ``p`` has ``count[p]``; tunnel ``(p, i)`` has
    ``length[p, i]`` nodes (local indices) ``nodes[p, i]`` and arcs ``arcs[p, i]``."""

    count: np.ndarray
    length: np.ndarray
    nodes: np.ndarray
    arcs: np.ndarray


def penalised_tunnels(adj: Adjacency, src: np.ndarray, dst: np.ndarray, k: int, penalty: float) -> Tunnels:
    """Up to ``k`` distinct tunnels per pair ``(src[p], dst[p])`` (local indices; -1 or
    unreachable: none): the shortest path, then shortest paths with the edges of earlier tunnels
    costing ``penalty`` times their weight, stopping at the first repeat.

    >>> g = nx.Graph()
    >>> for a, b in [(0, 1), (1, 3), (0, 2), (2, 3)]: g.add_edge(a, b, weight=1.0)
    >>> adj = adjacency(g)
    >>> t = penalised_tunnels(adj, np.array([adj.local(0)]), np.array([adj.local(3)]), 3, 4.0)
    >>> int(t.count[0]), [adj.nodes[t.nodes[0, i, :t.length[0, i]]].tolist() for i in range(2)]
    (2, [[0, 1, 3], [0, 2, 3]])
    """
    n_pairs, n = src.shape[0], max(adj.nodes.shape[0], 1)
    count = np.zeros(n_pairs, dtype=np.int64)
    length = np.zeros(n_pairs * k, dtype=np.int64)
    nodes = np.full((n_pairs * k, n), -1, dtype=np.int64)
    arcs = np.full((n_pairs * k, n), -1, dtype=np.int64)
    _tunnels(adj.ptr, adj.nbr, adj.weight, adj.edge, adj.arc, np.asarray(src, dtype=np.int64),
             np.asarray(dst, dtype=np.int64), int(k), float(penalty), count, length, nodes, arcs)
    return Tunnels(count, length.reshape(n_pairs, k), nodes.reshape(n_pairs, k, n), arcs.reshape(n_pairs, k, n))
