"""Control-plane processes of a twin: fault triggers, the TE controller, health checks, autoscaler.

Each is a step function called by the twin's named SimPy timer: a function of the world, the
state and the time that changes the state and returns when it next wants to run (``None``:
never again) with the :class:`~twin.sim.effects.Effects` it asks of the Twin.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from twin.model.world import CLASSES, World
from twin.sim import faults as fault_catalogue
from twin.sim.effects import Effects
from twin.sim.state import TwinState
from twin.telemetry.recorder import METRICS

if TYPE_CHECKING:
    from twin.scenario import AutoscalerSpec, FaultSpec, HealthSpec, TESpec
    from twin.sim.twin import Twin

__all__ = [
    "condition_holds",
    "fault_step",
    "te_believes_up",
    "te_step",
    "health_step",
    "autoscaler_step",
]


def condition_holds(twin: "Twin", fault: FaultSpec) -> bool:
    cond = fault.when
    st = twin.state
    if cond is None:
        return True
    ok = True
    if cond.fault_active is not None:
        ok &= st.fault_phase.get(cond.fault_active) == "active"
    if cond.prefix_views_at_least is not None:
        ok &= st.prefix_views.get(cond.plane or "b4", 0) >= cond.prefix_views_at_least
    if cond.metric is not None and cond.entity is not None:
        latest = twin.telemetry.latest()
        kind = next(
            (k for k, names in twin.telemetry.entities.items() if cond.entity in names), None
        )
        if latest is None or kind is None or cond.metric not in METRICS[kind]:
            return False
        value = getattr(latest, kind)[
            twin.telemetry.entity_index(kind, cond.entity), METRICS[kind].index(cond.metric)
        ]
        if cond.above is not None:
            ok &= bool(value > cond.above)
        if cond.below is not None:
            ok &= bool(value < cond.below)
    return bool(ok)


def fault_step(twin: "Twin", fault: FaultSpec) -> float | None:
    st = twin.state
    phase = st.fault_phase[fault.id]
    if phase in ("pending", "waiting"):
        if phase == "pending" and fault.when is not None:
            st.fault_phase[fault.id] = "waiting"
            st.fault_data.setdefault(fault.id, {})["deadline"] = (
                twin.now + fault.when.within if fault.when.within is not None else math.inf
            )
        if not condition_holds(twin, fault):
            if twin.now >= st.fault_data.get(fault.id, {}).get("deadline", math.inf):
                st.fault_phase[fault.id] = "ended"
                return None
            return twin.now + twin.scenario.tick
        st.fault_phase[fault.id] = "active"
        st.fault_started[fault.id] = twin.now
        fault_catalogue.apply_fault(twin, fault)
        if fault.kind == "link_flap":
            return twin.now + 0.0
        return twin.now + fault.duration if fault.duration is not None else None
    if phase == "active" and fault.kind == "link_flap":
        data = st.fault_data[fault.id]
        ends = st.fault_started[fault.id] + (
            fault.duration if fault.duration is not None else math.inf
        )
        link = twin.world.topology.link_index[fault.params["link"]]
        if twin.now >= ends:
            fault_catalogue.revert_fault(twin, fault)
            st.fault_phase[fault.id] = "ended"
            return None
        data["down"] = not data.get("down", False)
        st.link_down[link] += 1 if data["down"] else -1
        twin.topology_changed()
        from twin.units import parse_duration

        return min(ends, twin.now + parse_duration(fault.params.get("period", 30.0)))
    if phase == "active":
        fault_catalogue.revert_fault(twin, fault)
        st.fault_phase[fault.id] = "ended"
    return None


def te_believes_up(state: TwinState, plane: str) -> bool:
    """The TE controller's view of a plane: up unless its inputs say otherwise."""
    if state.te_override.get(plane):
        return True
    threshold = state.te_bug.get(plane)
    return not (threshold is not None and state.prefix_views.get(plane, 0) >= threshold)


def te_step(world: World, state: TwinState, now: float, te: TESpec) -> tuple[float | None, Effects]:
    """One run of the TE controller: refresh its view of the planes, place each class on a plane."""
    st, w, fx = state, world, Effects()
    pending, st.te_pending = st.te_pending, False
    if st.te_mode == "frozen":
        return now + te.period, fx
    view = {p: te_believes_up(st, p) for p in w.topology.planes}
    for plane in w.topology.planes:
        if view[plane] != st.te_plane_up.get(plane, True):
            reason = (
                f"{st.prefix_views.get(plane, 0)} clusters report {plane} with several prefixes"
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
                fx.log(
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
    return now + te.period, fx


def health_step(world: World, state: TwinState, now: float, health: HealthSpec) -> tuple[float | None, Effects]:
    """Health checks of every device: an alarm after ``health.failures`` failed checks in a row."""
    st, w, fx = state, world, Effects()
    down = st.node_down[w.devices] > 0
    st.health_fail = np.where(down, st.health_fail + 1, 0)
    alarm = st.health_fail >= health.failures
    for i in np.flatnonzero(alarm != st.health_alarm):
        name = w.device_names[i]
        fx.log("health", name, f"health check {'FAILED' if alarm[i] else 'recovered'}: {name}")
    st.health_alarm = alarm
    return now + health.period, fx


def autoscaler_step(world: World, state: TwinState, now: float, spec: AutoscalerSpec) -> tuple[float | None, Effects]:
    """Scale services out on CPU above target (replicas ready after provisioning), in when idle."""
    st, w, fx = state, world, Effects()
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
                st.replicas_ready_at.append((now + spec.provision, i, add, True))
                fx.log(
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
                fx.log(
                    "autoscaler",
                    svc.name,
                    f"autoscaler scales {svc.name} in to {int(st.replicas[i])} replicas",
                )
    return now + spec.period, fx


# -- the tick: physics and monitors -------------------------------------------------------
