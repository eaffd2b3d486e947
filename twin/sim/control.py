"""Control-plane processes of a twin: the TE controller, health checks, autoscaler, DNS
health checks (:mod:`twin.sim.dns`).

Each is a step function called by the twin's named SimPy timer: a function of the world, the
state and the time that changes the state and returns when it next wants to run (``None``:
never again) with the :class:`~twin.sim.effects.Effects` it asks of the Twin.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from twin.model.world import CLASSES, World
from twin.sim.dns import dns_step
from twin.sim.effects import Effects
from twin.sim.network import usable_links
from twin.sim.state import TwinState

if TYPE_CHECKING:
    from twin.scenario import AutoscalerSpec, HealthSpec, TESpec

__all__ = [
    "te_view",
    "te_step",
    "health_step",
    "autoscaler_step",
    "dns_step",
]


def te_view(world: World, state: TwinState, te: TESpec, usable: np.ndarray | None = None) -> dict[str, bool]:
    """The TE controller's view of each plane: what routers and clusters report, read its way.

    A plane is down in the view when no link of it is usable (routers report every link down or
    drained), or when the controller's prefix heuristic is on and enough clusters announce the
    plane inconsistently. An operator's override (``override_te``) wins over both. ``usable``:
    the links routing may use, if the caller has them already.
    """
    usable = usable_links(world, state) if usable is None else usable
    view = {}
    for plane in world.topology.planes:
        if state.control.te_override.get(plane):
            view[plane] = True
            continue
        links_up = bool(usable[world.plane_masks[plane]].any())
        inconsistent = (te.inconsistent_prefixes == "plane_failed"
                        and state.control.prefix_views.get(plane, 0) >= te.inconsistent_clusters)
        view[plane] = links_up and not inconsistent
    return view


def _why_down(world: World, state: TwinState, plane: str, usable: np.ndarray) -> str:
    if not usable[world.plane_masks[plane]].any():
        return f"routers report every {plane} link down"
    return f"{state.control.prefix_views.get(plane, 0)} clusters report {plane} with several prefixes"


def te_step(world: World, state: TwinState, now: float, te: TESpec) -> tuple[float | None, Effects]:
    """One run of the TE controller: refresh its view of the planes, place each class on a plane."""
    st, w, fx = state, world, Effects()
    pending, st.control.te_pending = st.control.te_pending, False
    if st.control.te_mode == "frozen":
        return now + te.period, fx
    usable = usable_links(w, st)
    view = te_view(w, st, te, usable)
    for plane in w.topology.planes:
        if view[plane] != st.control.te_plane_up.get(plane, True):
            reason = (
                _why_down(w, st, plane, usable)
                if not view[plane]
                else "plane healthy again"
            )
            fx.log(
                "te",
                plane,
                f"TE controller marks {plane} {'up' if view[plane] else 'FAILED'} ({reason})",
                plane=plane,
                up=view[plane],
            )
    st.control.te_plane_up = view
    placement = {}
    room = {p: float((w.topology.capacity_gbps * usable)[w.plane_masks[p]].sum()) for p in w.topology.planes}
    for cls, plane in w.class_plane.items():
        target = st.control.te_shift.get(cls, plane)
        if not view.get(target, True):
            # fail over to the plane it believes up with the most usable capacity
            alternatives = sorted((p for p in w.topology.planes if view[p] and p != target), key=lambda p: -room[p])
            target = alternatives[0] if alternatives else target
        placement[cls] = target
    if placement != st.control.te_class_plane:
        for cls in CLASSES:
            if cls in placement and placement[cls] != st.control.te_class_plane.get(cls):
                fx.log(
                    "te",
                    placement[cls],
                    f"TE controller moves {cls} traffic from {st.control.te_class_plane.get(cls)} to {placement[cls]}",
                    traffic_class=cls,
                    to=placement[cls],
                )
        st.control.te_class_plane = placement
        st.network.routing = None
    if all(view.values()):
        st.control.known_good = dict(placement)
    if pending and st.network.routing is not None:
        st.network.routing = None
    return now + te.period, fx


def health_step(world: World, state: TwinState, now: float, health: HealthSpec) -> tuple[float | None, Effects]:
    """Health checks of every device: an alarm after ``health.failures`` failed checks in a row."""
    st, w, fx = state, world, Effects()
    if not (st.network.node_down.any() or st.control.health_fail.any() or st.control.health_alarm.any()):
        return now + health.period, fx  # every device up, no failure counted, no alarm: nothing changes
    down = st.network.node_down[w.devices] > 0
    st.control.health_fail = np.where(down, st.control.health_fail + 1, 0)
    alarm = st.control.health_fail >= health.failures
    for i in np.flatnonzero(alarm != st.control.health_alarm):
        name = w.device_names[i]
        fx.log("health", name, f"health check {'FAILED' if alarm[i] else 'recovered'}: {name}")
    st.control.health_alarm = alarm
    return now + health.period, fx


def autoscaler_step(world: World, state: TwinState, now: float, spec: AutoscalerSpec) -> tuple[float | None, Effects]:
    """Scale services out on CPU above target (replicas ready after provisioning), in when idle."""
    st, w, fx = state, world, Effects()
    cpu = st.last.get("svc_cpu")
    if cpu is not None and not st.control.automation_halted:
        for i, svc in enumerate(w.callgraph.services):
            if not svc.autoscale:
                continue
            if cpu[i] > spec.target_cpu and st.services.replicas[i] < svc.max_replicas:
                if any(r[1] == i and r[3] for r in st.services.replicas_ready_at):
                    continue  # a scale-out is already provisioning
                add = min(
                    svc.max_replicas - st.services.replicas[i],
                    max(1.0, math.ceil(st.services.replicas[i] * (cpu[i] / spec.target_cpu - 1))),
                )
                st.services.replicas_ready_at.append((now + spec.provision, i, add, True))
                fx.log(
                    "autoscaler",
                    svc.name,
                    f"autoscaler scales {svc.name} to {int(st.services.replicas[i] + add)} replicas (cpu {cpu[i]:.0%})",
                )
            elif (
                cpu[i] < spec.target_cpu / 3
                and st.services.replicas[i] > svc.min_replicas
                and st.services.replicas_up[i] >= st.services.replicas[i]
            ):
                st.services.replicas[i] -= 1
                st.services.replicas_up[i] -= 1
                fx.log(
                    "autoscaler",
                    svc.name,
                    f"autoscaler scales {svc.name} in to {int(st.services.replicas[i])} replicas",
                )
    return now + spec.period, fx


# -- the tick: physics and monitors -------------------------------------------------------
