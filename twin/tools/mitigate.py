"""Mitigation tools: one per operator action in :data:`twin.sim.actions.ACTIONS`, same names.

Calling one starts the action; it lands after the action's own duration, which may be longer
than the tool call (the agent gets control back once the command is accepted).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from twin.sim.actions import ACTIONS, ActionSpec
from twin.model.world import CLASSES
from twin.tools._common import schema
from twin.tools.base import Tool
from twin.tools.registry import BUILTIN
from twin.units import format_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["MITIGATION_CALL_S", "mitigation_tool", "param_schema"]

#: Simulated seconds to issue a mitigation command (the action itself lands later).
MITIGATION_CALL_S = 30.0


def param_schema(kind: str) -> dict[str, Any]:
    """JSON schema of one action parameter, from its ActionSpec kind."""
    if kind == "count":
        return {"type": "integer", "minimum": 1, "maximum": 1000}
    if kind == "number":
        return {"type": "number", "minimum": 0}
    if kind == "fraction":
        return {"type": "number", "minimum": 0, "maximum": 1}
    if kind == "class":
        return {"type": "string", "enum": list(CLASSES)}
    if kind == "config":
        return {"type": "string", "description": "a config change, e.g. 'igp_cost LINK 500'"}
    return {"type": "string", "description": f"a {kind} name", "x-entity": kind}


def mitigation_tool(spec: ActionSpec) -> Tool:
    """Wrap one ActionSpec as a mitigate-kind Tool."""

    def start(twin: Twin, args: dict[str, Any]) -> tuple[dict, str]:
        action_id = twin.act(spec.name, **args)
        lands = twin.state.actions[action_id]["lands"]
        data = {"action_id": action_id, "action": spec.name, "args": dict(args), "started": twin.now, "lands_at": lands}
        what = f"{spec.name}({', '.join(f'{k}={v}' for k, v in args.items())})"
        return data, f"started {what}; lands in {format_duration(lands - twin.now)}"

    required = [p for p in spec.params if p not in spec.optional]
    params = schema({p: param_schema(k) for p, k in spec.params.items()}, required)
    target = next(iter(spec.params), None)
    target_kind = spec.params.get(target) if target else None
    if target_kind in ("count", "number", "fraction", "config"):  # free values, not entity names
        target, target_kind = None, None
    return Tool(spec.name, "mitigate", f"{spec.description} (lands after {format_duration(spec.duration)})", params,
                MITIGATION_CALL_S, start, target, target_kind)


for _spec in ACTIONS.values():
    BUILTIN.register(mitigation_tool(_spec))
