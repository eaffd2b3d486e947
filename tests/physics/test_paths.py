"""twin.physics.paths returns networkx's shortest paths, ties broken the same way."""

import networkx as nx
import numpy as np
import pytest

from twin.physics.paths import adjacency, dijkstra_path, shortest_paths


def _graph(seed: int) -> nx.Graph:
    rng = np.random.default_rng(seed)
    g = nx.Graph()
    n = int(rng.integers(4, 14))
    for _ in range(3 * n):
        a, b = (int(x) for x in rng.integers(0, n, 2))
        if a != b:  # small whole weights: many equal-length paths, so tie-breaks decide
            g.add_edge(a, b, weight=float(rng.integers(1, 4)))
    return g


@pytest.mark.parametrize("seed", range(40))
def test_paths_match_networkx_with_ties(seed):
    g = _graph(seed)
    adj = adjacency(g)
    expected = dict(nx.all_pairs_dijkstra_path(g, weight="weight"))
    lengths = dict(nx.all_pairs_dijkstra_path_length(g, weight="weight"))
    for s in g:
        paths, dist = shortest_paths(adj, s)
        assert paths == expected[s]
        assert list(dist.items()) == list(lengths[s].items())
        for d in paths:
            used = {(min(e), max(e)) for e in zip(paths[d][:-1], paths[d][1:])}

            def weight(u, v, data, used=used):
                return data["weight"] * (4.0 if (min(u, v), max(u, v)) in used else 1.0)

            assert dijkstra_path(adj, s, d) == nx.dijkstra_path(g, s, d, weight="weight")
            assert dijkstra_path(adj, s, d, used, 4.0) == nx.dijkstra_path(g, s, d, weight=weight)


def test_unreachable_target_raises_networkx_error():
    g = nx.Graph()
    g.add_edge(0, 1, weight=1.0)
    g.add_edge(2, 3, weight=1.0)
    with pytest.raises(nx.NetworkXNoPath, match="3 not reachable from 0"):
        dijkstra_path(adjacency(g), 0, 3)
