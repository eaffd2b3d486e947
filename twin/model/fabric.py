"""Data-center fabrics: a k-ary fat-tree (three-tier Clos) generator.

A k-ary fat-tree has k pods, each with k/2 ToR and k/2 aggregation switches, and
(k/2)^2 core (spine) switches; aggregation switch ``a`` of every pod connects to cores
``a*k/2 .. a*k/2 + k/2 - 1``. Oversubscription puts ``oversubscription * k/2`` hosts under
each ToR. Index tables kept here let ECMP pick paths by arithmetic, never by search.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from twin.model.topology import TopologyBuilder

__all__ = ["FatTree", "add_fat_tree"]


@dataclass(frozen=True)
class FatTree:
    """Index tables of one fat-tree: link ids by position, node ids of ToRs and hosts."""

    site: str
    k: int
    tor_agg: np.ndarray  # [pod, tor, agg] -> link id
    agg_core: np.ndarray  # [pod, agg, i] -> link id (core = agg * k/2 + i)
    tor_node: np.ndarray  # [pod, tor] -> node id
    agg_node: np.ndarray  # [pod, agg] -> node id
    core_node: np.ndarray  # [core] -> node id
    hosts: tuple[str, ...]
    host_tor: np.ndarray  # [host] -> flat ToR index (pod * k/2 + tor)
    host_link: np.ndarray  # [host] -> link id of its access link

    @property
    def half(self) -> int:
        return self.k // 2

    @property
    def n_tors(self) -> int:
        return self.k * self.half


def add_fat_tree(
    builder: TopologyBuilder,
    site: str,
    k: int,
    *,
    oversubscription: float = 1.0,
    link_gbps: float = 100.0,
    host_gbps: float | None = None,
) -> FatTree:
    """Add a k-ary fat-tree at ``site`` to ``builder`` and return its index tables."""
    if k < 2 or k % 2:
        raise ValueError(f"fat-tree k must be an even number >= 2, got {k}")
    half = k // 2
    hosts_per_tor = max(1, int(round(half * oversubscription)))
    host_gbps = link_gbps if host_gbps is None else host_gbps
    core_node = np.array(
        [builder.node(f"{site}/core-{c}", "spine", site, "fabric") for c in range(half * half)]
    )
    agg_node = np.zeros((k, half), dtype=np.int64)
    tor_node = np.zeros((k, half), dtype=np.int64)
    tor_agg = np.zeros((k, half, half), dtype=np.int64)
    agg_core = np.zeros((k, half, half), dtype=np.int64)
    hosts: list[str] = []
    host_tor: list[int] = []
    host_link: list[int] = []
    for p in range(k):
        for a in range(half):
            agg_node[p, a] = builder.node(f"{site}/agg-{p}-{a}", "agg", site, "fabric")
        for t in range(half):
            tor_node[p, t] = builder.node(f"{site}/tor-{p}-{t}", "tor", site, "fabric")
    for p in range(k):
        for t in range(half):
            for a in range(half):
                tor_agg[p, t, a] = builder.link(
                    f"{site}/tor-{p}-{t}~agg-{p}-{a}", f"{site}/tor-{p}-{t}", f"{site}/agg-{p}-{a}",
                    link_gbps, 0.002, 1.0, "fabric",
                )
        for a in range(half):
            for i in range(half):
                agg_core[p, a, i] = builder.link(
                    f"{site}/agg-{p}-{a}~core-{a * half + i}", f"{site}/agg-{p}-{a}",
                    f"{site}/core-{a * half + i}", link_gbps, 0.002, 1.0, "fabric",
                )
    for p in range(k):
        for t in range(half):
            for h in range(hosts_per_tor):
                name = f"{site}/h-{p}-{t}-{h}"
                builder.node(name, "host", site, "")
                hosts.append(name)
                host_tor.append(p * half + t)
                host_link.append(
                    builder.link(f"{name}~tor", name, f"{site}/tor-{p}-{t}", host_gbps, 0.001, 1.0, "access")
                )
    return FatTree(
        site=site,
        k=k,
        tor_agg=tor_agg,
        agg_core=agg_core,
        tor_node=tor_node,
        agg_node=agg_node,
        core_node=core_node,
        hosts=tuple(hosts),
        host_tor=np.array(host_tor, dtype=np.int64),
        host_link=np.array(host_link, dtype=np.int64),
    )
