"""What a simulation step asks of the Twin, in order: the only way a step reaches it.

Control-plane steps, fault kinds, operator actions and monitors are functions of the world,
the state and the time. They change the state they are given and return an :class:`Effects`:
the events to log, changes to record, a routing recomputation, a TE controller wake-up,
faults whose cause was removed, timers to set. The Twin applies them in the order they were
asked for, so that a step never holds the Twin or touches its timers.

>>> fx = Effects()
>>> fx.log("te", "b4", "TE controller marks b4 FAILED")
>>> fx.kick_te(now=True)
>>> [op[0] for op in fx.ops]
['log', 'kick_te']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.sim.state import ChangeRecord, TwinState

__all__ = ["Effects", "deploy_record"]


@dataclass
class Effects:
    """An ordered list of requests to the Twin; empty means the step changed only state."""

    ops: list[tuple[Any, ...]] = field(default_factory=list)

    def log(self, kind: str, entity: str, message: str, **data: Any) -> None:
        """An event for the event log (what an operator's tooling would show)."""
        self.ops.append(("log", kind, entity, message, data))

    def change(self, record: ChangeRecord, fault_id: str | None = None) -> None:
        """A change for the change log; ``fault_id``: the fault that rides on it, if any."""
        self.ops.append(("change", record, fault_id))

    def topology_changed(self) -> None:
        """Forwarding must be recomputed, and the TE controller told (after its reaction time)."""
        self.ops.append(("topology",))

    def kick_te(self, now: bool = False) -> None:
        """Wake the TE controller: at once, or after its reaction time."""
        self.ops.append(("kick_te", now))

    def mitigate(self, fault_id: str, reason: str) -> None:
        """An action removed this fault's cause: the Twin ends it (and what cascaded from it)."""
        self.ops.append(("mitigate", fault_id, reason))

    def wake(self, timer: str, at: float) -> None:
        """Bring the named timer forward to ``at``."""
        self.ops.append(("wake", timer, float(at)))

    def extend(self, other: "Effects") -> None:
        self.ops.extend(other.ops)

    def __bool__(self) -> bool:
        return bool(self.ops)


def deploy_record(services: tuple[str, ...], state: TwinState, svc: int, now: float,
                  version: str | None = None) -> ChangeRecord:
    """Bump a service's version in ``state`` and return the change record of that deploy."""
    state.services.version[svc] += 1
    name = services[svc]
    label = version or f"v{state.services.version[svc]}"
    return ChangeRecord(f"deploy-{name}-{label}", now, "deploy", name, f"deploy {name} {label}")
