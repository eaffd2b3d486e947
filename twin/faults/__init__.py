"""Faults as typed plug-ins: each kind declares its params, its undo data, and what it does.

A kind (:class:`FaultKind`) lives in one module: ``Params`` (a pydantic model the scenario
schema validates ``faults[i].params`` against), ``Undo`` (a dataclass of what ``revert``
needs), ``apply``/``revert`` (change the state, return :class:`~twin.sim.effects.Effects`) and
``check`` (entity names against the built world). Built-in kinds are grouped by layer in
:mod:`twin.faults.wan`, :mod:`~twin.faults.control`, :mod:`~twin.faults.services` and
:mod:`~twin.faults.monitoring`; other packages add kinds through the ``twin.faults`` entry
point (:mod:`twin.faults.registry`). :mod:`twin.faults.trigger` decides when a fault starts,
steps and ends.
"""

from twin.faults.base import FaultKind, FaultParams
from twin.faults.registry import (
    ENTRY_POINT_GROUP,
    FaultRegistry,
    default_registry,
    fault_kind,
    fault_kinds,
    register_fault,
)
from twin.faults.trigger import active_faults, condition_holds, fault_change, fault_step, mitigate

__all__ = [
    # kinds
    "FaultKind",
    "FaultParams",
    # registry
    "ENTRY_POINT_GROUP",
    "FaultRegistry",
    "default_registry",
    "fault_kind",
    "fault_kinds",
    "register_fault",
    # running faults
    "active_faults",
    "condition_holds",
    "fault_change",
    "fault_step",
    "mitigate",
]
