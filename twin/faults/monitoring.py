"""Faults in what watches the network: monitors that stop reporting.

Nothing breaks in the network itself; what operators can see does. Samples of the entities
in scope go missing, so alerts on them cannot fire while the outage lasts.
"""

from __future__ import annotations

from twin.faults.base import FaultKind, FaultParams
from twin.faults.registry import register_fault
from twin.sim.effects import Effects

__all__ = ["MonitoringOutage"]


@register_fault
class MonitoringOutage(FaultKind):
    """Monitors of a scope stop: ``links``, ``services``, ``devices``, or a site's name."""

    name, layer, description = (
        "monitoring_outage",
        "monitoring",
        "monitors of params.scope stop reporting",
    )
    references = {"scope": "scope"}

    class Params(FaultParams):
        scope: str

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        state.alerts.monitoring_down.add(params.scope)
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        state.alerts.monitoring_down.discard(params.scope)
        return Effects()
