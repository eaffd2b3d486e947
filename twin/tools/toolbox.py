"""The toolbox: one twin, one registry, and calls that validate, run, cost simulated time, and never raise.

>>> from twin import Twin
>>> from twin.tools import Toolbox
>>> box = Toolbox(Twin("b2b4-casc1", seed=0))
>>> box.call("list_alerts", {}).ok
True
>>> box.call("drain_link", {"link": "nowhere"}).error.startswith("unknown link")
True
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.errors import known_list
from twin.tools.base import Tool, ToolResult
from twin.tools.registry import ToolRegistry, default_registry

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["BAD_CALL_S", "Toolbox", "entity_names"]

#: Simulated seconds a malformed call costs (an operator fumbling a command is not free).
BAD_CALL_S = 5.0
_SHOW_ENUM_UP_TO = 64  # entity lists longer than this are left out of prompt schemas


def entity_names(twin: Twin, kind: str) -> list[str]:
    """Names of one entity kind that exist in ``twin`` (monitor-visible names only)."""
    from twin.sim.actions import entity_names as action_entities
    from twin.telemetry.alerts import default_rules

    if kind == "entity":
        w = twin.world
        return [*w.topology.links, *w.device_names, *w.services]
    if kind == "alert":
        names = [r.name for r in default_rules(np.zeros(0), np.zeros(0), 0.0)]
        return names + [r.name for r in twin.scenario.alerts if r.name not in names]
    return action_entities(twin.world, twin.state, kind)


_VALIDATORS: dict[int, tuple[Any, Any]] = {}


class Toolbox:
    """The agent-facing interface to one twin: every call is checked, timed and recorded."""

    def __init__(self, twin: Twin, registry: ToolRegistry | None = None) -> None:
        self.twin = twin
        self.registry = registry if registry is not None else default_registry()
        self.history: list[ToolResult] = []
        self.mitigations_applied: list[ToolResult] = []
        self._validators: dict[str, Any] = {}

    # -- what there is -----------------------------------------------------------------------
    @property
    def tools(self) -> list[Tool]:
        return list(self.registry)

    def names(self) -> list[str]:
        return self.registry.names()

    def entities(self, kind: str) -> list[str]:
        return entity_names(self.twin, kind)

    def targets(self, name: str) -> list[str]:
        """Valid values for a tool's main argument ([] for a tool without one)."""
        t = self.registry.get(name)
        if t.target is None:
            return []
        if t.target_kind is not None:
            return self.entities(t.target_kind)
        return [str(v) for v in t.parameters["properties"][t.target].get("enum", [])]

    def schemas(self) -> list[dict[str, Any]]:
        """Function-calling descriptions for prompts; small entity lists become enums."""
        out = []
        for t in self.tools:
            params = copy.deepcopy(t.parameters)
            for prop in params.get("properties", {}).values():
                kind = prop.pop("x-entity", None)
                if kind is not None:
                    names = self.entities(kind)
                    if 0 < len(names) <= _SHOW_ENUM_UP_TO:
                        prop["enum"] = names
            out.append({"name": t.name, "description": t.description, "parameters": params})
        return out

    # -- calling -----------------------------------------------------------------------------
    def call(self, name: str, args: dict[str, Any] | None = None) -> ToolResult:
        """Validate and run one tool call, then advance the twin by its duration. Never raises."""
        t0 = self.twin.now
        args = {} if args is None else args
        try:
            problem = self._check(name, args)
        except Exception as exc:  # noqa: BLE001 - a validator choking on odd input is still a bad call
            problem = (f"malformed call: {type(exc).__name__}: {exc}", None)
        if problem is not None:
            return self._fail(name, args, problem[0], problem[1], t0)
        tool = self.registry.get(name)
        try:
            data, summary = tool.func(self.twin, dict(args))
        except Exception as exc:  # noqa: BLE001 - tools report failures; they never crash an agent loop
            return self._fail(name, args, f"{type(exc).__name__}: {exc}", None, t0)
        self._advance(tool.duration_s)
        result = ToolResult(True, name, dict(args), data, summary, t_start=t0, t_end=self.twin.now)
        self.history.append(result)
        if tool.kind == "mitigate":
            self.mitigations_applied.append(result)
        return result

    def _fail(self, name: Any, args: Any, error: str, allowed: list[str] | tuple[str, ...] | None,
              t0: float) -> ToolResult:
        self._advance(BAD_CALL_S)
        shown_args = dict(args) if isinstance(args, dict) else {"_": repr(args)}
        result = ToolResult(False, str(name), shown_args, {}, f"error: {error}", error=error,
                            allowed=tuple(map(str, allowed)) if allowed is not None else None,
                            t_start=t0, t_end=self.twin.now)
        self.history.append(result)
        return result

    def _advance(self, seconds: float) -> None:
        self.twin.run(until=self.twin.now + float(seconds))

    def _check(self, name: Any, args: Any) -> tuple[str, list[str] | None] | None:
        """``None`` when the call is well formed, else ``(error, allowed values)``."""
        if not isinstance(name, str) or name not in self.registry:
            return f"unknown tool {name!r}", self.names()
        if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
            return f"{name}: arguments must be an object with string keys, got {type(args).__name__}", None
        tool = self.registry.get(name)
        props = tool.parameters.get("properties", {})
        err = self._schema_error(tool, args)
        if err is not None:
            return err
        for key, value in args.items():
            kind = props.get(key, {}).get("x-entity")
            if kind is None:
                continue
            known = self.entities(kind)
            if value not in known:
                shown = known_list(known)
                return f"unknown {kind} {value!r} for {name}.{key} (known: {shown or 'none'})", known
        return None

    def _schema_error(self, tool: Tool, args: dict[str, Any]) -> tuple[str, list[str] | None] | None:
        import jsonschema

        # compiled once per tool object and shared by every toolbox (episodes build many)
        validator = _VALIDATORS.get(id(tool))
        if validator is None or validator[0] is not tool:
            validator = _VALIDATORS[id(tool)] = (tool, jsonschema.Draft202012Validator(tool.parameters))
        validator = validator[1]
        error = jsonschema.exceptions.best_match(validator.iter_errors(args))
        if error is None:
            return None
        props = tool.parameters.get("properties", {})
        where = ".".join(map(str, error.absolute_path)) or "arguments"
        if error.validator == "enum":
            return f"{tool.name}: {where}: {error.message}", [str(v) for v in error.validator_value]
        if error.validator in ("required", "additionalProperties"):
            return f"{tool.name}: {error.message}", list(props)
        return f"{tool.name}: {where}: {error.message}", None
