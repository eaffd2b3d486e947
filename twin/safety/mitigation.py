"""What a pre-check trials: a mitigation, as an action of the twin, parsed from what people write.

Accepted forms: a :class:`Mitigation`, a mapping ``{"tool": ..., "args": {...}}``, or a string
``"drain_link b2:us-east-us-central"`` / ``"freeze_te"`` / ``"shift_traffic interdc b4"`` /
``"scale_service frontend replicas=6"`` (positional values follow the action's parameters).
Every mitigation is checked against the twin with :func:`twin.sim.actions.check_action`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from twin.errors import SafetyError, SimulationError
from twin.physics.configs import EDITS
from twin.sim.actions import ACTIONS, check_action

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["Mitigation", "describe", "parse_mitigation"]

_CONFIG_KINDS = tuple(EDITS)  # the router config edits (twin.physics.configs)


@dataclass(frozen=True)
class Mitigation:
    """One operator action: ``tool`` is an action kind of the twin, ``args`` its arguments."""

    tool: str
    args: Mapping[str, Any] = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash((self.tool, tuple(sorted((k, str(v)) for k, v in self.args.items()))))

    @property
    def label(self) -> str:
        """``drain_link b2:us-east-us-central`` as an operator would write it."""
        return " ".join([self.tool, *(str(v) for v in self.args.values())])

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.tool, "args": dict(self.args)}


def _number(text: str) -> Any:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _from_string(text: str) -> tuple[str, dict[str, Any]]:
    parts = text.split()
    if not parts:
        raise SafetyError(f"empty mitigation (allowed kinds: {', '.join(ACTIONS)})")
    kind, rest = parts[0], parts[1:]
    if kind not in ACTIONS:
        raise SafetyError(f"unknown mitigation kind {kind!r} (allowed: {', '.join(ACTIONS)}; "
                          f"config changes: {', '.join(_CONFIG_KINDS)})")
    params = list(ACTIONS[kind].params)
    args: dict[str, Any] = {}
    positional = [p for p in rest if "=" not in p]
    if len(positional) > len(params):
        raise SafetyError(f"{kind}: too many values {positional!r} (parameters: {', '.join(params) or 'none'})")
    for name, value in zip(params, positional):
        args[name] = value
    for item in rest:
        if "=" in item:
            name, _, value = item.partition("=")
            args[name] = value
    for name, ekind in ACTIONS[kind].params.items():
        if name in args and ekind in ("number", "count", "fraction") and isinstance(args[name], str):
            args[name] = _number(args[name])
    return kind, args


def parse_mitigation(twin: Twin, value: Mitigation | Mapping[str, Any] | str) -> Mitigation:
    """Turn any accepted form into a validated :class:`Mitigation`.

    Raises :class:`SafetyError` naming the unknown kind, argument or entity and the allowed values.
    """
    if isinstance(value, Mitigation):
        kind, args = value.tool, dict(value.args)
    elif isinstance(value, str):
        kind, args = _from_string(value)
    elif isinstance(value, Mapping):
        if "tool" not in value:
            raise SafetyError(f"mitigation {dict(value)!r} has no 'tool' (allowed kinds: {', '.join(ACTIONS)})")
        kind, args = str(value["tool"]), dict(value.get("args") or {})
    else:
        raise SafetyError(f"cannot read a mitigation from {value!r} (give 'kind target', a mapping or a Mitigation)")
    try:
        clean = check_action(twin.world, twin.state, kind, args)
    except SimulationError as exc:
        raise SafetyError(f"mitigation {kind!r}: {exc}") from None
    return Mitigation(kind, clean)


_VERBS = {
    "drain_link": "draining {link}",
    "undrain_link": "undraining {link}",
    "drain_device": "draining {device}",
    "undrain_device": "undraining {device}",
    "rollback_change": "rolling back {change}",
    "disable_feature": "disabling {feature}",
    "freeze_te": "freezing TE",
    "unfreeze_te": "unfreezing TE",
    "override_te": "telling TE that {plane} is up",
    "shift_traffic": "shifting {traffic_class} traffic to {plane}",
    "restart_control_jobs": "restarting control jobs at {site}",
    "halt_automation": "halting automation",
    "scale_service": "scaling {service} to {replicas} replicas",
    "restart_service": "restarting {service}",
    "rollback_deploy": "rolling back the deploy of {service}",
    "rate_limit": "rate-limiting {service} to {rps} rps",
    "set_retry_budget": "setting the retry budget of {service}'s clients to {budget}",
    "shed_traffic": "shedding {fraction} of {traffic_class} traffic",
}


def describe(m: Mitigation) -> str:
    """The mitigation as a gerund phrase for explanations: ``draining b2:us-east-us-central``."""
    try:
        return _VERBS[m.tool].format(**m.args)
    except (KeyError, IndexError):
        return m.label
