"""Referential checks of a scenario: every fault, change and ground-truth entry names something real.

Run after the schema has passed, on the world the scenario builds; each fault kind checks its own
parameters against that world (``FaultKind.check``).
"""

from __future__ import annotations

from typing import Any

from twin.errors import ScenarioError, known_list
from twin.faults.registry import fault_kind
from twin.model.world import build_world

__all__ = ["check_references"]


def _fail(scenario: Any, field_path: str, message: str) -> None:
    raise ScenarioError(scenario.path or scenario.name, field_path, message)


def check_references(sc: Any) -> None:
    """Build the world and check that faults, changes and ground truth name real things.

    ``sc`` is a :class:`twin.scenario.Scenario` (not imported: scenario imports this module).
    """
    world = build_world(sc)

    ids: set[str] = set()
    for i, fault in enumerate(sc.faults):
        if fault.id in ids:
            _fail(sc, f"faults[{i}].id", f"duplicate fault id {fault.id!r}")
        ids.add(fault.id)
        for param, message in fault_kind(fault.kind).check(world, fault.params)[:1]:
            _fail(sc, f"faults[{i}].params.{param}", message)
    _check_configs(sc, world)
    fault_ids = [f.id for f in sc.faults]
    for i, fault in enumerate(sc.faults):
        if fault.when and fault.when.fault_active and fault.when.fault_active not in fault_ids:
            _fail(sc, f"faults[{i}].when.fault_active", f"unknown fault {fault.when.fault_active!r} (known: {known_list(fault_ids)})")
    planes = list(world.topology.planes)
    for group in ("link", "service", "device"):
        plane = getattr(sc.monitoring, group).export_via
        if plane is None:
            continue
        if plane not in planes:
            _fail(sc, f"monitoring.{group}.export_via", f"unknown plane {plane!r} (known: {known_list(planes)})")
    dns = sc.control.dns
    if dns is not None:
        sites = list(world.topology.sites)
        for part in ("servers", "data_centers"):
            for j, site in enumerate(getattr(dns, part)):
                if site not in sites:
                    _fail(sc, f"control.dns.{part}[{j}]", f"unknown site {site!r} (known: {known_list(sites)})")
        if dns.min_reachable > len(dns.data_centers):
            _fail(sc, "control.dns.min_reachable",
                  f"{dns.min_reachable} is more than the {len(dns.data_centers)} data centers checked (allowed: 1..{len(dns.data_centers)})")
    change_ids = [c.id for c in sc.changes]
    if len(set(change_ids)) != len(change_ids):
        _fail(sc, "changes", "change ids must be unique")
    if sc.ground_truth and sc.ground_truth.root_cause.fault not in fault_ids:
        _fail(sc, "ground_truth.root_cause.fault",
              f"unknown fault {sc.ground_truth.root_cause.fault!r} (known: {known_list(fault_ids)})")


def _check_configs(sc: Any, world: Any) -> None:
    """``network.configs`` names WAN routers, their links and neighbors."""
    topo = world.topology
    routers = [n for i, n in enumerate(topo.nodes) if topo.node_kind[i] == "router" and topo.node_plane[i] in topo.planes]
    for name, cfg in sc.network.configs.items():
        where = f"network.configs.{name}"
        if name not in routers:
            _fail(sc, where, f"unknown router {name!r} (known: {known_list(routers)})")
        plane = topo.node_plane[topo.node_index[name]]
        mine = [topo.links[int(i)] for i in topo.links_of_node(topo.node_index[name])]
        for link in cfg.ospf_cost:
            if link not in mine:
                _fail(sc, f"{where}.ospf_cost", f"{link!r} is not a link of {name} (its links: {known_list(mine)})")
        peers = [r for r in routers if topo.node_plane[topo.node_index[r]] == plane and r != name]
        for peer in cfg.bgp_shutdown:
            if peer not in peers:
                _fail(sc, f"{where}.bgp_shutdown", f"{peer!r} is not a BGP neighbor of {name} (known: {known_list(peers)})")
        for prefix, hop in cfg.static_routes.items():
            if hop not in peers:
                _fail(sc, f"{where}.static_routes.{prefix}", f"unknown next hop {hop!r} (known: {known_list(peers)})")
