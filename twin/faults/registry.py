"""Fault kinds by name: the built-in ones, plus kinds other teams ship as ``twin.faults`` entry
points.

A plug-in package declares, in its ``pyproject.toml``::

    [project.entry-points."twin.faults"]
    my_faults = "my_pkg.faults:LinkCorruption"

where the object named is a :class:`~twin.faults.base.FaultKind` subclass or instance, a list
of them, or a callable returning either. Once installed, scenarios may use its ``kind:``; the
scenario schema checks its ``params`` against the kind's ``Params`` and the world check
calls its ``check``. A broken plug-in is reported as a warning and skipped; it never stops
the twin.

>>> sorted(fault_kinds())[:3]
['bad_deploy', 'config_push', 'control_plane_jobs_down']
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
import warnings
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path
from typing import Any

from twin.faults.base import LAYERS, FaultKind, FaultParams

__all__ = [
    "BUILTIN",
    "ENTRY_POINT_GROUP",
    "FaultRegistry",
    "default_registry",
    "fault_kind",
    "fault_kinds",
    "load_entry_points",
    "register_fault",
]

ENTRY_POINT_GROUP = "twin.faults"
#: Modules of this package that hold no kinds; every other module is a module of built-in kinds,
#: so a new built-in kind is one new file.
_NOT_KINDS = frozenset({"base", "registry", "trigger"})


def _instance(kind: FaultKind | type[FaultKind]) -> FaultKind:
    """Check a kind against the plug-in contract; a class is instantiated (kinds are stateless)."""
    if isinstance(kind, type) and issubclass(kind, FaultKind):
        kind = kind()
    if not isinstance(kind, FaultKind):
        raise TypeError(f"expected a twin.faults.FaultKind, got {type(kind).__name__}")
    label = f"fault kind {kind.name!r}"
    if not kind.name or not isinstance(kind.name, str):
        raise ValueError(f"{type(kind).__name__}: a fault kind needs a name")
    if kind.layer not in LAYERS:
        raise ValueError(f"{label}: layer must be one of {', '.join(LAYERS)}, got {kind.layer!r}")
    if not (isinstance(kind.Params, type) and issubclass(kind.Params, FaultParams)):
        raise TypeError(f"{label}: Params must subclass twin.faults.FaultParams")
    if kind.Params.model_config.get("extra") != "forbid":
        raise ValueError(
            f"{label}: Params must forbid extra fields (a misspelt param would pass silently)"
        )
    if not dataclasses.is_dataclass(kind.Undo):
        raise TypeError(f"{label}: Undo must be a dataclass")
    kind.Undo()  # the trigger creates it empty before apply fills it
    return kind


class FaultRegistry:
    """Fault kinds by name; registering a second kind with a taken name is an error."""

    def __init__(self, kinds: list[FaultKind] | None = None) -> None:
        self._kinds: dict[str, FaultKind] = {}
        for k in kinds or []:
            self.register(k)

    def register(self, kind: FaultKind | type[FaultKind]) -> FaultKind:
        kind = _instance(kind)
        taken = self._kinds.get(kind.name)
        if taken is not None and type(taken) is not type(kind):
            raise ValueError(
                f"a fault kind named {kind.name!r} is already registered ({type(taken).__name__})"
            )
        self._kinds[kind.name] = kind
        return kind

    def get(self, name: str) -> FaultKind:
        try:
            return self._kinds[name]
        except KeyError:
            raise KeyError(
                f"unknown fault kind {name!r} (allowed: {', '.join(self.names())})"
            ) from None

    def names(self) -> list[str]:
        return sorted(self._kinds)

    def copy(self) -> FaultRegistry:
        return FaultRegistry(list(self._kinds.values()))

    def __contains__(self, name: object) -> bool:
        return name in self._kinds

    def __len__(self) -> int:
        return len(self._kinds)

    def __iter__(self) -> Iterator[FaultKind]:
        """Kinds ordered by layer (wan, fabric, services, control, monitoring), then by name."""
        return iter(sorted(self._kinds.values(), key=lambda k: (LAYERS.index(k.layer), k.name)))


#: The built-in kinds, filled by ``@register_fault`` in wan, control, services, monitoring.
BUILTIN = FaultRegistry()


def register_fault(kind: type[FaultKind]) -> type[FaultKind]:
    """Class decorator: register a built-in fault kind (third parties use the entry point)."""
    BUILTIN.register(kind)
    return kind


def _builtins() -> FaultRegistry:
    # the modules beside this one, listed from the folder (importing the package would loop)
    package = __name__.rpartition(".")[0]
    for info in pkgutil.iter_modules([str(Path(__file__).parent)]):
        if info.name not in _NOT_KINDS:
            importlib.import_module(f"{package}.{info.name}")
    return BUILTIN


def _kinds_in(obj: Any) -> list[Any]:
    if isinstance(obj, FaultKind) or (isinstance(obj, type) and issubclass(obj, FaultKind)):
        return [obj]
    if callable(obj):
        return _kinds_in(obj())
    return list(obj)


def load_entry_points(
    registry: FaultRegistry | None = None, group: str = ENTRY_POINT_GROUP
) -> FaultRegistry:
    """Add every fault kind installed packages declare under ``group``; warn about broken ones."""
    registry = registry if registry is not None else FaultRegistry()
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        try:
            for kind in _kinds_in(ep.load()):
                registry.register(kind)
        except Exception as exc:  # noqa: BLE001 - a plug-in's bug must not take the twin down
            warnings.warn(
                f"twin.faults entry point {ep.name!r} ({ep.value}) skipped: {exc}",
                RuntimeWarning,
                stacklevel=2,
            )
    return registry


@functools.lru_cache(maxsize=1)
def _default() -> FaultRegistry:
    return load_entry_points(_builtins().copy())


def default_registry(refresh: bool = False) -> FaultRegistry:
    """Built-in plus entry-point kinds (cached; ``refresh=True`` rescans installed plug-ins)."""
    if refresh:
        _default.cache_clear()
    return _default()


def fault_kinds(refresh: bool = False) -> dict[str, FaultKind]:
    """Every known fault kind by name (built-in and installed plug-ins)."""
    return {k.name: k for k in default_registry(refresh)}


def fault_kind(name: str) -> FaultKind:
    """The kind called ``name``; ``KeyError`` naming the allowed kinds if there is none."""
    return default_registry().get(name)
