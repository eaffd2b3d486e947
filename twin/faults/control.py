"""Faults in the control plane: config pushes, latent defects, routing jobs, route leaks.

These break the network through what controls it: the data plane is healthy until a
controller, a protocol feature or a routing job acts on a bad view. Several ride in on a
change, so rolling that change back (an operator action) mitigates them.
"""

from __future__ import annotations

import copy
from typing import Literal

from pydantic import Field

from twin.faults.base import FaultKind, FaultParams
from twin.faults.registry import register_fault
from twin.physics.configs import PolicyTerm, parse_edit, record_edit, split_edit
from twin.sim.effects import Effects
from twin.sim.igp import config_changed, initial_configs
from twin.sim.state import ChangeRecord

__all__ = [
    "ConfigPush",
    "LatentProtocolDefect",
    "ControlPlaneJobsDown",
    "RouteAttraction",
]

@register_fault
class ConfigPush(FaultKind):
    """A change is pushed; ``inconsistency`` on a plane leaves ``clusters`` prefix views."""

    name, layer, description = (
        "config_push",
        "control",
        "a change is pushed; params.inconsistency leaves several prefix views",
    )
    references = {"plane": "plane"}

    class Params(FaultParams):
        change: str | None = None  # the change id (default: the fault's id)
        target: str
        description: str = ""
        plane: str | None = None
        inconsistency: str | None = None
        clusters: int = 2
        # router config edits the change makes, e.g. "policy_match bb-atl 6-SITE-LOCAL any"
        config: list[str] = Field(default_factory=list)
        command: Literal["config_push", "maintenance"] = "config_push"  # how the change log files it

    @staticmethod
    def _change(fault_id: str, params: ConfigPush.Params) -> str:
        return params.change if params.change is not None else fault_id

    def check(self, world, params) -> list[tuple[str, str]]:
        problems = super().check(world, params)
        configs = initial_configs(world, world.scenario)
        for i, edit in enumerate(params.config):
            try:
                parse_edit(world.topology, *split_edit(edit), configs)
            except ValueError as exc:
                problems.append((f"config[{i}]", str(exc)))
        return problems

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:

        fx = Effects()
        change_id = self._change(fault_id, params)
        fx.change(
            ChangeRecord(change_id, now, params.command, params.target, params.description, config=tuple(params.config)),
            fault_id=fault_id,
        )
        if params.config:  # the routers' config state changes; forwarding is recomputed from it
            before = state.network.config_before.setdefault(change_id, {})
            for edit in params.config:
                kind, args = split_edit(edit)
                args = parse_edit(world.topology, kind, args, state.network.configs)
                record_edit(state.network.configs, before, world.topology, kind, args)
            state.network.routing, state.network.config_version = None, state.network.config_version + 1
            fx.topology_changed()
            fx.extend(config_changed(world, state, now, before))
        if params.inconsistency and params.plane:
            state.control.prefix_views[params.plane] = (
                state.control.prefix_views.get(params.plane, 0) + params.clusters
            )
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        if params.inconsistency and params.plane:
            state.control.prefix_views[params.plane] = max(
                0, state.control.prefix_views.get(params.plane, 0) - params.clusters
            )
            fx.kick_te()
        return fx

    def change_ids(self, fault_id, params) -> list[str]:
        return [self._change(fault_id, params)]


@register_fault
class LatentProtocolDefect(FaultKind):
    """Devices running ``feature`` stop forwarding once traffic of ``pattern`` through them
    exceeds ``threshold_gbps`` (the tick's physics turns them into black holes)."""

    name, layer, description = (
        "latent_protocol_defect",
        "control",
        "devices running params.feature stop forwarding when a traffic pattern crosses them",
    )
    references = {"feature": "feature", "pattern": "pattern"}

    class Params(FaultParams):
        feature: str
        pattern: str
        threshold_gbps: float = Field(gt=0)

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        state.control.defects[params.feature] = (params.pattern, float(params.threshold_gbps))
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        state.control.defects.pop(params.feature, None)
        for node in world.features.get(params.feature, []):
            state.network.node_blackhole[node] = False
        return Effects()


@register_fault
class ControlPlaneJobsDown(FaultKind):
    """Routing control jobs at some sites stop; those keep ``capacity_left`` of WAN capacity."""

    name, layer, description = (
        "control_plane_jobs_down",
        "control",
        "routing control jobs at sites stop; those sites keep params.capacity_left of WAN capacity",
    )
    references = {"sites": "site"}

    class Params(FaultParams):
        sites: list[str]
        capacity_left: float = Field(ge=0, le=1)
        change: str | None = None
        description: str = ""

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        if params.change:
            fx.change(
                ChangeRecord(
                    params.change, now, "config_push", ",".join(params.sites), params.description
                ),
                fault_id=fault_id,
            )
        for site in params.sites:
            state.network.site_capacity[site] = float(params.capacity_left)
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        for site in params.sites:
            state.network.site_capacity.pop(site, None)
        return Effects()

    def change_ids(self, fault_id, params) -> list[str]:
        return [params.change] if params.change else []


@register_fault
class RouteAttraction(FaultKind):
    """A router starts announcing every route with high preference (an export policy term
    that matches any route, local preference ``local_pref``): route selection then sends its
    plane's traffic through it. The term is config state: rolling the change back removes it."""

    name, layer, description = (
        "route_attraction",
        "control",
        "a router announces routes with high preference and attracts traffic",
    )
    references = {"device": "device"}

    class Params(FaultParams):
        device: str
        change: str | None = None
        description: str = ""
        local_pref: int = Field(default=200, ge=0)

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        change_id = params.change or fault_id
        if params.change:
            fx.change(
                ChangeRecord(params.change, now, "config_push", params.device, params.description),
                fault_id=fault_id,
            )
        configs = state.network.configs
        before = state.network.config_before.setdefault(change_id, {})
        before.setdefault(params.device, copy.deepcopy(configs[params.device]))
        configs[params.device].policy.insert(0, PolicyTerm("ANNOUNCE-ALL", "any", params.local_pref))
        state.network.routing, state.network.config_version = None, state.network.config_version + 1
        fx.topology_changed()
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        return Effects()  # the policy term stays in the router's config until the change is rolled back

    def change_ids(self, fault_id, params) -> list[str]:
        return [params.change] if params.change else []
