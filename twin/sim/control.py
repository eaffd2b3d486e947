"""Control-plane processes of a twin: the TE controller, health checks, autoscaler.

Each is a step function called by the twin's named SimPy timer; it changes state and
returns when it next wants to run (``None``: never again).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from twin.model.world import CLASSES

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = [
    "te_believes_up",
    "te_step",
    "health_step",
    "autoscaler_step",
]


def te_believes_up(twin: "Twin", plane: str) -> bool:
    st = twin.state
    if st.te_override.get(plane):
        return True
    threshold = st.te_bug.get(plane)
    return not (threshold is not None and st.prefix_views.get(plane, 0) >= threshold)


def te_step(twin: "Twin") -> float | None:
    st, w = twin.state, twin.world
    te = twin.scenario.control.te
    pending, st.te_pending = st.te_pending, False
    if st.te_mode == "frozen":
        return twin.now + te.period
    view = {p: te_believes_up(twin, p) for p in w.topology.planes}
    for plane in w.topology.planes:
        if view[plane] != st.te_plane_up.get(plane, True):
            reason = (
                f"{st.prefix_views.get(plane, 0)} clusters report {plane} with several prefixes"
                if not view[plane]
                else "plane healthy again"
            )
            twin.log(
                "te",
                plane,
                f"TE controller marks {plane} {'up' if view[plane] else 'FAILED'} ({reason})",
                plane=plane,
                up=view[plane],
            )
    st.te_plane_up = view
    placement = {}
    for cls, plane in w.class_plane.items():
        target = st.te_shift.get(cls, plane)
        if not view.get(target, True):
            alternatives = [p for p in w.topology.planes if view[p] and p != target]
            target = alternatives[0] if alternatives else target
        placement[cls] = target
    if placement != st.te_class_plane:
        for cls in CLASSES:
            if cls in placement and placement[cls] != st.te_class_plane.get(cls):
                twin.log(
                    "te",
                    placement[cls],
                    f"TE controller moves {cls} traffic from {st.te_class_plane.get(cls)} to {placement[cls]}",
                    traffic_class=cls,
                    to=placement[cls],
                )
        st.te_class_plane = placement
        st.routing = None
    if all(view.values()):
        st.known_good = dict(placement)
    if pending and st.routing is not None:
        st.routing = None
    return twin.now + te.period


def health_step(twin: "Twin") -> float | None:
    st, w = twin.state, twin.world
    health = twin.scenario.control.health
    down = st.node_down[w.devices] > 0
    st.health_fail = np.where(down, st.health_fail + 1, 0)
    alarm = st.health_fail >= health.failures
    for i in np.flatnonzero(alarm != st.health_alarm):
        name = w.device_names[i]
        twin.log("health", name, f"health check {'FAILED' if alarm[i] else 'recovered'}: {name}")
    st.health_alarm = alarm
    return twin.now + health.period


def autoscaler_step(twin: "Twin") -> float | None:
    st, w = twin.state, twin.world
    spec = twin.scenario.control.autoscaler
    cpu = st.last.get("svc_cpu")
    if cpu is not None and not st.automation_halted:
        for i, svc in enumerate(w.callgraph.services):
            if not svc.autoscale:
                continue
            if cpu[i] > spec.target_cpu and st.replicas[i] < svc.max_replicas:
                if any(r[1] == i and r[3] for r in st.replicas_ready_at):
                    continue  # a scale-out is already provisioning
                add = min(
                    svc.max_replicas - st.replicas[i],
                    max(1.0, math.ceil(st.replicas[i] * (cpu[i] / spec.target_cpu - 1))),
                )
                st.replicas_ready_at.append((twin.now + spec.provision, i, add, True))
                twin.log(
                    "autoscaler",
                    svc.name,
                    f"autoscaler scales {svc.name} to {int(st.replicas[i] + add)} replicas (cpu {cpu[i]:.0%})",
                )
            elif (
                cpu[i] < spec.target_cpu / 3
                and st.replicas[i] > svc.min_replicas
                and st.replicas_up[i] >= st.replicas[i]
            ):
                st.replicas[i] -= 1
                st.replicas_up[i] -= 1
                twin.log(
                    "autoscaler",
                    svc.name,
                    f"autoscaler scales {svc.name} in to {int(st.replicas[i])} replicas",
                )
    return twin.now + spec.period


# -- the tick: physics and monitors -------------------------------------------------------
