"""Shortest paths over a WAN plane, as the IGP and a TE controller compute them.

Dijkstra's algorithm on plain adjacency lists, with networkx's tie-breaks (a heap of
``(distance, insertion count, node)``, neighbours in the graph's adjacency order, a node's
predecessor replaced only by a strictly shorter path), so each path is the one
``networkx.dijkstra_path`` returns on the same graph. A plane has a few dozen routers and a route
build asks for hundreds of paths: networkx's dispatch and per-edge weight callback cost ten times
the search itself.

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

from heapq import heappop, heappush
from itertools import count

import networkx as nx

__all__ = ["Adjacency", "adjacency", "shortest_paths", "dijkstra_path"]

#: Per node, its neighbours in the graph's adjacency order: (neighbour, edge weight, undirected edge key).
Adjacency = dict[int, list[tuple[int, float, tuple[int, int]]]]


def adjacency(g: nx.Graph, weight: str = "weight") -> Adjacency:
    """``g``'s edges as adjacency lists, in networkx's iteration order (its tie-breaks)."""
    return {v: [(u, e.get(weight, 1), (min(u, v), max(u, v))) for u, e in nbrs.items()] for v, nbrs in g.adj.items()}


def _search(adj: Adjacency, source: int, target: int | None, penalised: set | frozenset, penalty: float
            ) -> tuple[dict[int, float], dict[int, int]]:
    """Distances (in the order nodes were settled) and each settled node's predecessor."""
    dist: dict[int, float] = {}
    seen: dict[int, float] = {source: 0}
    pred: dict[int, int] = {}
    c = count()
    fringe = [(0, next(c), source)]
    while fringe:
        d_v, _, v = heappop(fringe)
        if v in dist:
            continue
        dist[v] = d_v
        if v == target:
            break
        for u, w, key in adj[v]:
            vu = d_v + (w * (penalty if key in penalised else 1.0) if penalised else w)
            if u in dist:
                continue
            if u not in seen or vu < seen[u]:
                seen[u] = vu
                heappush(fringe, (vu, next(c), u))
                pred[u] = v
    return dist, pred


def shortest_paths(adj: Adjacency, source: int) -> tuple[dict[int, list[int]], dict[int, float]]:
    """Paths from ``source`` to every node it reaches, and their lengths
    (``networkx.single_source_dijkstra``)."""
    dist, pred = _search(adj, source, None, frozenset(), 1.0)
    paths = {source: [source]}
    for v in dist:
        if v != source:
            paths[v] = paths[pred[v]] + [v]
    return paths, dist


def dijkstra_path(adj: Adjacency, source: int, target: int, penalised: set | frozenset = frozenset(),
                  penalty: float = 1.0) -> list[int]:
    """The shortest path from ``source`` to ``target``, edges in ``penalised`` (undirected keys
    ``(min, max)``) costing ``penalty`` times their weight (``networkx.dijkstra_path``).

    Raises:
        networkx.NetworkXNoPath: ``target`` is not reachable from ``source``.
    """
    if source == target:
        return [source]
    dist, pred = _search(adj, source, target, penalised, penalty)
    if target not in dist:
        raise nx.NetworkXNoPath(f"node {target} not reachable from {source}")
    path = [target]
    while path[-1] != source:
        path.append(pred[path[-1]])
    path.reverse()
    return path
