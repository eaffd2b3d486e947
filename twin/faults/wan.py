"""Faults in the network itself: links and devices that fail, degrade or flap, and demand surges.

Links and devices count the faults holding them down (``state.network.link_down`` is a count, not a
flag), so two overlapping faults on one link each undo only their own share.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field, model_validator

from twin.faults.base import FaultKind, FaultParams, Period
from twin.faults.registry import register_fault
from twin.model.world import CLASSES
from twin.sim.effects import Effects
from twin.sim.state import ChangeRecord

if TYPE_CHECKING:
    from twin.model.world import World

__all__ = ["LinkDown", "LinkDegraded", "LinkFlap", "DeviceFailure", "TrafficSurge"]


@register_fault
class LinkDown(FaultKind):
    """Links stop carrying traffic: one, a list, every link of a plane, or every link at a site."""

    name, layer, description = "link_down", "wan", "a link stops carrying traffic"
    references = {"link": "link", "links": "link", "plane": "plane", "site": "site"}

    class Params(FaultParams):
        link: str | None = None
        links: list[str] = Field(default_factory=list)
        plane: str | None = None
        site: str | None = None
        change: str | None = None  # a maintenance command that took the links down
        description: str = ""

        @model_validator(mode="after")
        def _some_links(self) -> LinkDown.Params:
            if not ({"link", "links", "plane", "site"} & self.model_fields_set):
                raise ValueError("link_down needs one of: link, links, plane, site")
            return self

    @dataclass
    class Undo:
        links: list[int] = field(default_factory=list)  # link ids this fault holds down

    @staticmethod
    def links(world: World, params: LinkDown.Params) -> np.ndarray:
        """Ids of the links the params name, each once, in order."""
        topo = world.topology
        names = ([params.link] if params.link is not None else []) + list(params.links)
        ids = [topo.link_index[n] for n in names]
        if params.plane is not None:
            ids += [i for i, p in enumerate(topo.link_plane) if p == params.plane]
        if params.site is not None:
            routers = {topo.node_index[f"{p}-{params.site}"] for p in topo.planes}
            ids += [
                i
                for i in range(topo.n_links)
                if topo.link_a[i] in routers or topo.link_b[i] in routers
            ]
        return np.array(sorted(set(ids)), dtype=np.int64)

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        if params.change:  # a maintenance command that took links down is in the change log
            fx.change(
                ChangeRecord(
                    params.change,
                    now,
                    "maintenance",
                    params.plane or params.site or "links",
                    params.description,
                ),
                fault_id=fault_id,
            )
        ids = self.links(world, params)
        state.network.link_down[ids] += 1
        undo.links = ids.tolist()
        fx.topology_changed()
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        state.network.link_down[np.array(undo.links, dtype=np.int64)] -= 1
        fx.topology_changed()
        return fx

    def change_ids(self, fault_id, params) -> list[str]:
        return [params.change] if params.change else []


@register_fault
class LinkDegraded(FaultKind):
    """A link drops a fraction of packets, on top of any loss it already had."""

    name, layer, description = (
        "link_degraded",
        "wan",
        "a link drops a fraction of packets (params.loss)",
    )
    references = {"link": "link"}

    class Params(FaultParams):
        link: str
        loss: float = Field(ge=0, le=1)

    @dataclass
    class Undo:
        before: float = 0.0  # the link's loss before the fault

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        i = world.topology.link_index[params.link]
        undo.before = float(state.network.link_loss[i])
        state.network.link_loss[i] = 1 - (1 - state.network.link_loss[i]) * (1 - params.loss)
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        state.network.link_loss[world.topology.link_index[params.link]] = undo.before
        return Effects()


@register_fault
class LinkFlap(FaultKind):
    """A link goes down and comes back every ``period`` while the fault lasts (down at once)."""

    name, layer, description = "link_flap", "wan", "a link goes down and up every params.period"
    references = {"link": "link"}
    periodic = True

    class Params(FaultParams):
        link: str
        period: Period = 30.0

    @dataclass
    class Undo:
        down: bool = False  # whether this fault holds the link down right now

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        undo.down = False
        return Effects()

    def step(self, world, state, now, fault_id, params, undo) -> tuple[float, Effects]:
        fx = Effects()
        undo.down = not undo.down
        state.network.link_down[world.topology.link_index[params.link]] += 1 if undo.down else -1
        fx.topology_changed()
        return params.period, fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        if undo.down:
            state.network.link_down[world.topology.link_index[params.link]] -= 1
            undo.down = False
            fx.topology_changed()
        return fx


@register_fault
class DeviceFailure(FaultKind):
    """A router or switch stops: every link attached to it is down while it is."""

    name, layer, description = (
        "device_failure",
        "wan",
        "a router or switch stops; all its links go down",
    )
    references = {"device": "device"}

    class Params(FaultParams):
        device: str

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        state.network.node_down[world.topology.node_index[params.device]] += 1
        fx.topology_changed()
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        state.network.node_down[world.topology.node_index[params.device]] -= 1
        fx.topology_changed()
        return fx


@register_fault
class TrafficSurge(FaultKind):
    """Demand of a traffic class multiplies; ``automation``: the surge is load that running
    automation drives (a scaling activity's connections), so it lasts only while automation runs."""

    name, layer, description = (
        "traffic_surge",
        "wan",
        "demand of a class multiplies by params.factor",
    )
    references = {"class": "class"}

    class Params(FaultParams):
        traffic_class: str = Field(alias="class")
        factor: float = Field(gt=0)
        automation: bool = False

    @staticmethod
    def _factors(state, params):  # noqa: ANN001, ANN205
        return state.network.automation_factor if params.automation else state.network.class_factor

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        self._factors(state, params)[CLASSES.index(params.traffic_class)] *= params.factor
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        self._factors(state, params)[CLASSES.index(params.traffic_class)] /= params.factor
        return Effects()
