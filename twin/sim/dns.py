"""DNS servers at the edge that health-check the data centers and announce an anycast prefix.

The servers at each edge POP probe the data centers over the network every ``period``. A
check passes when the POP reaches at least ``min_reachable`` data centers over links that are
up and forwarding (any WAN plane; a site joins its planes). After ``failures`` failed checks
in a row the POP withdraws its anycast announcement, by design: a DNS server that cannot reach
the back ends should not answer for them. After ``recoveries`` passed checks in a row it
announces again. Anycast sends every query to a POP that still announces, so names stop
resolving only when every POP has withdrawn; then the traffic of the classes that need names
(``classes``, usually ``user``) never arrives: users get errors instead of connections.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import numpy as np

from twin.model.world import CLASSES, World
from twin.sim.effects import Effects
from twin.sim.network import usable_links
from twin.sim.state import TwinState

if TYPE_CHECKING:
    from twin.scenario import DnsSpec

__all__ = ["site_components", "dns_checks_pass", "dns_step"]


def site_components(world: World, state: TwinState) -> dict[str, int]:
    """Each site's connected component over WAN links that are up, not drained and forwarding
    (two sites reach each other iff they are in the same one)."""
    topo = world.topology
    ok = usable_links(world, state) & ~state.network.node_blackhole[topo.link_a] & ~state.network.node_blackhole[topo.link_b]
    # derived data of the installed routing's link state: kept with it while the same links are up
    cache = state.network.routing.cache if state.network.routing is not None else {}
    key = ("dns-components", ok.tobytes())
    if key not in cache:
        cache[key] = _components(topo, ok)
    return cache[key]


def _components(topo, ok: np.ndarray) -> dict[str, int]:
    g = nx.Graph()
    g.add_nodes_from(topo.sites)
    for i in np.flatnonzero(ok):
        if topo.link_plane[i] in topo.planes:
            g.add_edge(topo.node_site[topo.link_a[i]], topo.node_site[topo.link_b[i]])
    return {site: c for c, sites in enumerate(nx.connected_components(g)) for site in sites}


def dns_checks_pass(world: World, state: TwinState, spec: DnsSpec) -> dict[str, bool]:
    """Each POP's health check now: does it reach at least ``min_reachable`` data centers?"""
    component = site_components(world, state)
    return {pop: sum(component[dc] == component[pop] for dc in spec.data_centers) >= spec.min_reachable
            for pop in spec.servers}


def dns_step(world: World, state: TwinState, now: float, spec: DnsSpec) -> tuple[float | None, Effects]:
    """One round of health checks: count failures and passes, withdraw or re-announce."""
    ctl, fx = state.control, Effects()
    for pop, ok in dns_checks_pass(world, state, spec).items():
        announced = ctl.dns_announced.get(pop, True)
        ctl.dns_failed[pop] = 0 if ok else ctl.dns_failed.get(pop, 0) + 1
        ctl.dns_passed[pop] = ctl.dns_passed.get(pop, 0) + 1 if ok else 0
        if announced and ctl.dns_failed[pop] >= spec.failures:
            ctl.dns_announced[pop] = False
            fx.log("health", pop, f"DNS servers at {pop} cannot reach the data centers "
                   f"({ctl.dns_failed[pop]} health checks failed) and withdraw their anycast announcement", pop=pop)
        elif not announced and ctl.dns_passed[pop] >= spec.recoveries:
            ctl.dns_announced[pop] = True
            fx.log("health", pop, f"DNS servers at {pop} reach the data centers again and re-announce their anycast prefix",
                   pop=pop)
    resolves = any(ctl.dns_announced.get(pop, True) for pop in spec.servers)
    for cls in spec.classes:
        state.network.class_resolvable[CLASSES.index(cls)] = 1.0 if resolves else 0.0
    return now + spec.period, fx
