"""When a scheduled fault starts, acts and ends: the fault's timer step, and its mitigation.

A fault's life is a phase in ``state.faults.phase``: ``pending`` until its time comes;
``waiting`` while its cascade condition (``when``) does not hold, checked every tick until
``when.within`` runs out (then ``ended`` without ever striking); ``active`` from the moment
its kind is applied until ``duration`` is over (``ended``) or an operator action removes its
cause (``mitigated``, which also mitigates the faults cascading from it by
``when.fault_active``). A periodic kind (a flapping link) steps again while active.

These are functions of the world, the state and the time: they change the state and return
an :class:`~twin.sim.effects.Effects` for the Twin to apply, never holding the Twin.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from twin.faults.registry import fault_kind
from twin.sim.effects import Effects
from twin.sim.state import FaultRecord, TwinState
from twin.telemetry.recorder import METRICS

if TYPE_CHECKING:
    from twin.model.world import World
    from twin.scenario import FaultSpec

__all__ = ["active_faults", "condition_holds", "fault_change", "fault_step", "mitigate"]

#: Phases in which a fault can still be mitigated: it struck, or it is scheduled to.
LIVE = ("active", "waiting", "pending")


def condition_holds(
    state: TwinState, spec: FaultSpec, latest: Any, entities: Mapping[str, tuple[str, ...]]
) -> bool:
    """Whether a fault's cascade condition holds now (no condition: it always does).

    ``latest`` is the newest telemetry sample (None before the first tick) and ``entities``
    the monitored names by entity kind, in the sample's row order.
    """
    cond = spec.when
    if cond is None:
        return True
    ok = True
    if cond.fault_active is not None:
        ok &= state.faults.phase.get(cond.fault_active) == "active"
    if cond.metric is not None and cond.entity is not None:
        kind = next((k for k, names in entities.items() if cond.entity in names), None)
        if latest is None or kind is None or cond.metric not in METRICS[kind]:
            return False
        value = getattr(latest, kind)[
            entities[kind].index(cond.entity), METRICS[kind].index(cond.metric)
        ]
        if cond.above is not None:
            ok &= bool(value > cond.above)
        if cond.below is not None:
            ok &= bool(value < cond.below)
    return bool(ok)


def fault_step(
    world: World,
    state: TwinState,
    now: float,
    spec: FaultSpec,
    latest: Any,
    entities: Mapping[str, tuple[str, ...]],
) -> tuple[float | None, Effects]:
    """Run a fault's timer once: start it, step it or end it.

    Returns when the timer should next wake (None: never again) and what the Twin must do.
    """
    kind = fault_kind(spec.kind)
    phase = state.faults.phase[spec.id]
    if phase in ("pending", "waiting"):
        if phase == "pending" and spec.when is not None:
            state.faults.phase[spec.id] = "waiting"
            within = spec.when.within
            state.faults.records.setdefault(spec.id, FaultRecord()).deadline = (
                now + within if within is not None else math.inf
            )
        if not condition_holds(state, spec, latest, entities):
            record = state.faults.records.get(spec.id)
            if now >= (record.deadline if record is not None else math.inf):
                state.faults.phase[spec.id] = "ended"
                return None, Effects()
            return now + world.scenario.tick, Effects()
        state.faults.phase[spec.id] = "active"
        state.faults.started[spec.id] = now
        record = state.faults.records.setdefault(spec.id, FaultRecord())
        record.undo = kind.Undo()
        fx = kind.apply(world, state, now, spec.id, spec.params, record.undo)
        if kind.periodic:
            return now + 0.0, fx  # its first step follows at once
        return (now + spec.duration if spec.duration is not None else None), fx
    if phase == "active" and kind.periodic:
        ends = state.faults.started[spec.id] + (
            spec.duration if spec.duration is not None else math.inf
        )
        undo = state.faults.records[spec.id].undo
        if now >= ends:
            fx = kind.revert(world, state, now, spec.id, spec.params, undo)
            state.faults.phase[spec.id] = "ended"
            return None, fx
        period, fx = kind.step(world, state, now, spec.id, spec.params, undo)
        return min(ends, now + period), fx
    if phase == "active":
        fx = kind.revert(world, state, now, spec.id, spec.params, state.faults.records[spec.id].undo)
        state.faults.phase[spec.id] = "ended"
        return None, fx
    return None, Effects()


def mitigate(
    world: World, state: TwinState, now: float, faults: Mapping[str, FaultSpec], fault_id: str
) -> tuple[list[str], Effects]:
    """End a fault whose cause an operator removed, and every fault cascading from it.

    Returns the ids whose timers must stop (they were live) and the effects of reverting.
    """
    stopped: list[str] = []
    fx = Effects()
    _mitigate(world, state, now, faults, fault_id, stopped, fx)
    return stopped, fx


def _mitigate(
    world: World,
    state: TwinState,
    now: float,
    faults: Mapping[str, FaultSpec],
    fault_id: str,
    stopped: list[str],
    fx: Effects,
) -> None:
    phase = state.faults.phase.get(fault_id)
    if phase == "active":
        spec = faults[fault_id]
        fx.extend(
            fault_kind(spec.kind).revert(
                world, state, now, fault_id, spec.params, state.faults.records[fault_id].undo
            )
        )
    if phase in LIVE:
        state.faults.phase[fault_id] = "mitigated"
        stopped.append(fault_id)
    # faults cascading from this one (``when.fault_active``) lose their cause with it
    for other in faults.values():
        if other.when is not None and other.when.fault_active == fault_id and other.id != fault_id:
            _mitigate(world, state, now, faults, other.id, stopped, fx)


def active_faults(
    specs: Iterable[FaultSpec],
    state: TwinState,
    pred: Callable[[FaultSpec], bool] = lambda spec: True,
) -> list[FaultSpec]:
    """Scheduled faults that are still live (active, waiting or pending) and satisfy ``pred``."""
    return [spec for spec in specs if state.faults.phase.get(spec.id) in LIVE and pred(spec)]


def fault_change(state: TwinState, fault_id: str) -> str | None:
    """The id of the change a fault rode in on (rolling it back mitigates the fault), if any."""
    record = state.faults.records.get(fault_id)
    return record.change if record is not None else None
