"""The physical network as plain arrays: nodes (routers, switches, hosts) and links.

Every link is full duplex: link ``i`` is carried by two directed arcs, ``2*i`` (a->b) and
``2*i + 1`` (b->a), each with the link's capacity. Physics works on arcs; telemetry and
tools speak of links and devices by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import networkx as nx
import numpy as np

__all__ = ["Topology", "TopologyBuilder", "router_name"]


def router_name(plane: str, site: str) -> str:
    """The name of ``plane``'s router at ``site`` (each plane has one router per site).

    >>> router_name("b4", "dc1")
    'b4-dc1'
    """
    return f"{plane}-{site}"


@dataclass(frozen=True)
class Topology:
    """Immutable node and link tables, shared by every fork of a twin."""

    nodes: tuple[str, ...]
    node_kind: tuple[str, ...]  # router | spine | agg | tor | host
    node_site: tuple[str, ...]
    node_plane: tuple[str, ...]  # the WAN plane a router belongs to, "fabric" or "" for hosts
    links: tuple[str, ...]
    link_a: np.ndarray  # node index
    link_b: np.ndarray
    capacity_gbps: np.ndarray
    delay_ms: np.ndarray
    metric: np.ndarray
    link_plane: tuple[str, ...]  # b2 | b4 | ... | fabric | access
    sites: tuple[str, ...]
    planes: tuple[str, ...]
    node_index: dict[str, int] = field(repr=False, compare=False)
    link_index: dict[str, int] = field(repr=False, compare=False)

    @property
    def n_links(self) -> int:
        return len(self.links)

    @property
    def n_arcs(self) -> int:
        return 2 * len(self.links)

    def arc_capacity(self) -> np.ndarray:
        return np.repeat(self.capacity_gbps, 2)

    def arc_delay(self) -> np.ndarray:
        return np.repeat(self.delay_ms, 2)

    def arc(self, u: int, v: int) -> int:
        """The arc index carrying traffic from node ``u`` to adjacent node ``v``."""
        return self._arc_lookup[(u, v)]

    @property
    def _arc_lookup(self) -> dict[tuple[int, int], int]:
        cache = self.__dict__.get("_arcs")
        if cache is None:
            cache = {}
            for i, (a, b) in enumerate(zip(self.link_a.tolist(), self.link_b.tolist())):
                cache[(a, b)] = 2 * i
                cache[(b, a)] = 2 * i + 1
            object.__setattr__(self, "_arcs", cache)
        return cache

    def links_of_node(self, node: int) -> np.ndarray:
        """Indices of the links attached to ``node``."""
        return np.flatnonzero((self.link_a == node) | (self.link_b == node))

    def plane_graph(self, plane: str, usable: np.ndarray | None = None) -> nx.Graph:
        """The routers and links of one WAN plane as a networkx graph.

        Edges carry ``link`` (its index), ``metric`` and ``weight`` (both the IGP metric, so
        networkx's weighted algorithms route as the IGP does). ``usable`` masks the links to
        keep (up and not drained); edges are added in link order, so tie-breaks are stable.
        """
        g = nx.Graph()
        for i, p in enumerate(self.link_plane):
            if p == plane and (usable is None or usable[i]):
                metric = float(self.metric[i])
                g.add_edge(int(self.link_a[i]), int(self.link_b[i]), link=i, metric=metric, weight=metric)
        return g

    def router(self, plane: str, site: str) -> int:
        return self.node_index[router_name(plane, site)]

    def find_router(self, plane: str, site: str) -> int | None:
        """``plane``'s router at ``site``, or None where the plane has no router there."""
        return self.node_index.get(router_name(plane, site))


class TopologyBuilder:
    """Collects nodes and links, then freezes them into a :class:`Topology`."""

    def __init__(self) -> None:
        self._nodes: list[tuple[str, str, str, str]] = []
        self._index: dict[str, int] = {}
        self._links: list[tuple[str, int, int, float, float, float, str]] = []
        self._sites: list[str] = []
        self._planes: list[str] = []

    def site(self, name: str) -> None:
        if name not in self._sites:
            self._sites.append(name)

    def plane(self, name: str) -> None:
        if name not in self._planes:
            self._planes.append(name)

    def node(self, name: str, kind: str, site: str, plane: str = "") -> int:
        if name in self._index:
            return self._index[name]
        self._index[name] = len(self._nodes)
        self._nodes.append((name, kind, site, plane))
        return self._index[name]

    def link(self, name: str, a: str, b: str, capacity_gbps: float, delay_ms: float, metric: float, plane: str) -> int:
        self._links.append((name, self._index[a], self._index[b], capacity_gbps, delay_ms, metric, plane))
        return len(self._links) - 1

    def build(self) -> Topology:
        links = self._links
        return Topology(
            nodes=tuple(n[0] for n in self._nodes),
            node_kind=tuple(n[1] for n in self._nodes),
            node_site=tuple(n[2] for n in self._nodes),
            node_plane=tuple(n[3] for n in self._nodes),
            links=tuple(l[0] for l in links),
            link_a=np.array([l[1] for l in links], dtype=np.int64),
            link_b=np.array([l[2] for l in links], dtype=np.int64),
            capacity_gbps=np.array([l[3] for l in links], dtype=float),
            delay_ms=np.array([l[4] for l in links], dtype=float),
            metric=np.array([l[5] for l in links], dtype=float),
            link_plane=tuple(l[6] for l in links),
            sites=tuple(self._sites),
            planes=tuple(self._planes),
            node_index=dict(self._index),
            link_index={l[0]: i for i, l in enumerate(links)},
        )
