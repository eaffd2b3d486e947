"""Faults in the control plane: config pushes, latent defects, routing jobs, route leaks.

These break the network through what controls it: the data plane is healthy until a
controller, a protocol feature or a routing job acts on a bad view. Several ride in on a
change, so rolling that change back (an operator action) mitigates them.
"""

from __future__ import annotations

from pydantic import Field

from twin.faults.base import FaultKind, FaultParams
from twin.faults.registry import register_fault
from twin.sim.effects import Effects
from twin.sim.state import ChangeRecord

__all__ = [
    "ConfigPush",
    "LatentProtocolDefect",
    "ControlPlaneJobsDown",
    "RouteAttraction",
]

#: Share of a router's control-plane CPU spent processing a flood of preferred routes.
ATTRACTION_CPU = 0.85


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

    @staticmethod
    def _change(fault_id: str, params: ConfigPush.Params) -> str:
        return params.change if params.change is not None else fault_id

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        fx.change(
            ChangeRecord(
                self._change(fault_id, params),
                now,
                "config_push",
                params.target,
                params.description,
            ),
            fault_id=fault_id,
        )
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
    """A router announces routes with high preference: its plane's traffic heads for it, and
    processing the flood loads its control-plane CPU."""

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

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        node = world.topology.node_index[params.device]
        if params.change:
            fx.change(
                ChangeRecord(params.change, now, "config_push", params.device, params.description),
                fault_id=fault_id,
            )
        state.control.attraction[world.topology.node_plane[node]] = node
        state.network.node_cpu[node] += ATTRACTION_CPU
        fx.kick_te(now=True)
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        node = world.topology.node_index[params.device]
        state.control.attraction.pop(world.topology.node_plane[node], None)
        state.network.node_cpu[node] -= ATTRACTION_CPU
        fx.kick_te(now=True)
        return fx

    def change_ids(self, fault_id, params) -> list[str]:
        return [params.change] if params.change else []
