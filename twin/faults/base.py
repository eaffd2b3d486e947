"""What a fault kind is: its params, its undo data, and what it does to a twin's state.

A fault only changes state (what is true); telemetry then shows its symptoms. A kind's
:meth:`FaultKind.apply` makes the fault true and :meth:`FaultKind.revert` undoes exactly that,
reading back what ``apply`` saved in the kind's ``Undo`` dataclass. Both change the
:class:`~twin.sim.state.TwinState` they are given and return an :class:`~twin.sim.effects.Effects`
for what only the Twin can do: log an event, record a change, recompute routing, wake the
TE controller. Faults that an operator would see as a change (a config push, a deploy) record
one, because that is what a change-management system shows, not because they are faults.

A kind's ``Params`` is a pydantic model: the scenario schema validates ``faults[i].params``
against it, so errors name the kind's own fields. Names of things in the network (links,
devices, services...) can only be checked against a built world; ``check`` does that.

>>> from dataclasses import dataclass
>>> class Nothing(FaultKind):
...     name, layer, description = "nothing", "services", "changes nothing"
...     class Params(FaultParams):
...         service: str
...     references = {"service": "service"}
...     def apply(self, world, state, now, fault_id, params, undo):
...         return Effects()
...     revert = apply
>>> Nothing.Params(service="cart").get("service")
'cart'
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from twin.errors import known_list
from twin.model.world import CLASSES
from twin.sim.effects import Effects
from twin.units import parse_duration

if TYPE_CHECKING:
    from twin.model.world import World
    from twin.sim.state import TwinState

__all__ = [
    "FaultKind",
    "FaultParams",
    "LAYERS",
    "ENTITY_KINDS",
    "SCOPES",
    "Period",
    "entity_names",
    "unknown",
]

#: Where in the stack a fault kind strikes (for listings and for scenario authors).
LAYERS = ("wan", "fabric", "services", "control", "monitoring")

#: Monitor scopes a monitoring outage can take down (besides a site's name).
SCOPES = ("links", "services", "devices")

#: Entity kinds a param may name; ``check`` looks each up in the built world.
ENTITY_KINDS = (
    "link",
    "plane",
    "site",
    "device",
    "service",
    "class",
    "feature",
    "pattern",
    "scope",
)

#: A duration param (``90``, ``"30s"``, ``"1m30s"``) as seconds; zero would never move on.
Period = Annotated[float, BeforeValidator(parse_duration), Field(gt=0)]


class FaultParams(BaseModel):
    """Base of every kind's ``Params``: unknown fields are errors, naming the allowed ones.

    Params also read like the YAML mapping they came from (``get``, ``in``, ``[]``), where a
    param counts as present only if the scenario gave it, so code that matches faults on their
    params (operator actions deciding which fault they end) need not know each kind's model.
    """

    model_config = ConfigDict(extra="forbid", populate_by_name=True, frozen=True)

    def _field(self, key: str) -> str | None:
        fields = type(self).model_fields
        if key in fields:
            return key
        return next((n for n, f in fields.items() if f.alias == key), None)

    def __contains__(self, key: object) -> bool:
        name = self._field(key) if isinstance(key, str) else None
        return name is not None and name in self.model_fields_set

    def get(self, key: str, default: Any = None) -> Any:
        """The param given under ``key`` (field name or YAML alias), else ``default``."""
        return getattr(self, self._field(key)) if key in self else default  # type: ignore[arg-type]

    def __getitem__(self, key: str) -> Any:
        if key not in self:
            raise KeyError(key)
        return self.get(key)


def entity_names(world: World, entity: str) -> list[str]:
    """Names a param of entity kind ``entity`` may take in ``world``."""
    topo = world.topology
    if entity == "link":
        return list(topo.links)
    if entity == "plane":
        return list(topo.planes)
    if entity == "site":
        return list(topo.sites)
    if entity == "device":
        return list(world.device_names)
    if entity == "service":
        return list(world.services)
    if entity == "class":
        return list(CLASSES)
    if entity == "feature":
        return list(world.features)
    if entity == "pattern":
        return sorted({p for p in world.demand_pattern if p})
    if entity == "scope":
        return list(SCOPES) + list(topo.sites)
    raise ValueError(f"unknown entity kind {entity!r} (allowed: {', '.join(ENTITY_KINDS)})")


def unknown(entity: str, value: Any, known: list[str], limit: int = 12) -> str:
    """The message for a name that is not in ``known``, listing (some of) the known ones."""
    return f"unknown {entity} {value!r} (known: {known_list(known, limit) or 'none'})"


@dataclass
class _NoUndo:
    """Undo data of a kind whose revert needs nothing saved."""


class FaultKind(ABC):
    """One kind of fault: a plug-in the scenario schema, the trigger and the Twin all read.

    Subclasses set the class attributes and implement :meth:`apply` and :meth:`revert`;
    register them with :func:`twin.faults.register_fault` (built-in) or a ``twin.faults``
    entry point (third party). Kinds are stateless: everything a running fault needs lives in
    the state (its ``Undo`` instance in ``state.faults.records[fault_id].undo``), so forks work.
    """

    #: The ``kind:`` a scenario writes.
    name: ClassVar[str] = ""
    #: One of :data:`LAYERS`.
    layer: ClassVar[str] = ""
    #: One line for listings: what goes wrong.
    description: ClassVar[str] = ""
    #: The kind's params (a :class:`FaultParams` subclass: pydantic, extra fields forbidden).
    Params: ClassVar[type[FaultParams]] = FaultParams
    #: What ``apply`` saves for ``revert``: a dataclass whose fields all have defaults.
    Undo: ClassVar[type] = _NoUndo
    #: Param (YAML name) -> entity kind it names (one of :data:`ENTITY_KINDS`); lists allowed.
    references: ClassVar[dict[str, str]] = {}
    #: Whether the fault acts again while active: then the trigger calls :meth:`step`.
    periodic: ClassVar[bool] = False

    @abstractmethod
    def apply(
        self, world: World, state: TwinState, now: float, fault_id: str, params: Any, undo: Any
    ) -> Effects:
        """Make the fault true in ``state``; save in ``undo`` what :meth:`revert` needs."""

    @abstractmethod
    def revert(
        self, world: World, state: TwinState, now: float, fault_id: str, params: Any, undo: Any
    ) -> Effects:
        """Undo what :meth:`apply` did (the fault ended, or a mitigation removed its cause)."""

    def step(
        self, world: World, state: TwinState, now: float, fault_id: str, params: Any, undo: Any
    ) -> tuple[float, Effects]:
        """For a periodic kind: act once more; return seconds until the next step, and effects."""
        raise NotImplementedError(f"fault kind {self.name!r} is not periodic")

    def check(self, world: World, params: Any) -> list[tuple[str, str]]:
        """``(param, message)`` for every param naming something ``world`` lacks (empty: fine).

        The default looks up each param in :attr:`references`; override to add checks that
        need the world, calling ``super().check`` first.
        """
        problems: list[tuple[str, str]] = []
        for param, entity in self.references.items():
            if param not in params:
                continue
            value = params[param]
            known = entity_names(world, entity)
            for v in value if isinstance(value, (list, tuple)) else [value]:
                if v not in known:
                    problems.append((param, unknown(entity, v, known)))
                    break
        return problems

    def change_ids(self, fault_id: str, params: Any) -> list[str]:
        """Ids of the changes this fault will write to the change log, known before it runs."""
        return []

    def __repr__(self) -> str:
        return f"<fault kind {self.name} ({self.layer})>"
