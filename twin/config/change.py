"""Configuration changes: parsed against a world, applied to the routers' config state, and
the diff they make to the rendered configurations.

Kinds: ``acl_block DEVICE PREFIX`` (deny inbound traffic to PREFIX), ``igp_cost LINK COST``
(OSPF cost on both ends), ``bgp_shutdown DEVICE NEIGHBOR`` (shut an iBGP session),
``prefix_list DEVICE PREFIX`` (stop exporting PREFIX), ``static_route DEVICE PREFIX NEXT_HOP``
(pin a next hop), ``policy_match DEVICE TERM MATCH`` (what an export policy term matches:
``site-local`` or ``any``), ``router_address DEVICE ADDRESS`` (change the router's loopback).
A change is made to the twin's config state (``push_config``) and forwarding follows from it;
``rollback_change`` restores what it replaced.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from twin.config.render import RouterConfig, base_configs, render_all
from twin.errors import SafetyError
from twin.physics.configs import EDITS, apply_edit, parse_edit, split_edit

if TYPE_CHECKING:
    from twin.model.world import World
    from twin.safety.mitigation import Mitigation
    from twin.sim.twin import Twin

__all__ = ["ConfigChange", "apply_change", "config_diff", "parse_change", "render_change"]


@dataclass(frozen=True)
class ConfigChange:
    kind: str
    args: Mapping[str, Any] = field(default_factory=dict)

    KINDS: ClassVar[dict[str, tuple[str, ...]]] = EDITS

    @property
    def label(self) -> str:
        return " ".join([self.kind, *(str(v) for v in self.args.values())])

    @property
    def phrase(self) -> str:
        a = self.args
        return {
            "acl_block": f"blocking {a.get('prefix')} at {a.get('device')}",
            "igp_cost": f"setting the IGP cost of {a.get('link')} to {a.get('cost')}",
            "bgp_shutdown": f"shutting BGP from {a.get('device')} to {a.get('neighbor')}",
            "prefix_list": f"filtering {a.get('prefix')} out of {a.get('device')}'s announcements",
            "static_route": f"pinning {a.get('prefix')} at {a.get('device')} to next hop {a.get('next_hop')}",
            "policy_match": f"making policy term {a.get('term')} on {a.get('device')} match {a.get('match')} routes",
            "router_address": f"changing the address of {a.get('device')} to {a.get('address')}",
        }[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return {"tool": self.kind, "args": dict(self.args)}

    def equivalent(self, twin: Twin) -> Mitigation:
        """The twin action that makes this change: a push to the routers' config state."""
        from twin.safety.mitigation import Mitigation

        return Mitigation("push_config", {"change": self.label})


def parse_change(twin: Twin | World, value: ConfigChange | str | Mapping[str, Any],
                 configs: Mapping[str, RouterConfig] | None = None) -> ConfigChange:
    """Validate a config change (object, ``"acl_block b2-us-east 172.16.1.0/24"`` or mapping)
    against a twin or a world; ``configs`` (default: the twin's) for the policy terms."""
    if isinstance(value, ConfigChange):
        kind, args = value.kind, dict(value.args)
    elif isinstance(value, str):
        kind, args = split_edit(value)
    else:
        kind, args = str(value.get("tool", value.get("kind", ""))), dict(value.get("args") or {})
    world = getattr(twin, "world", twin)
    if configs is None and hasattr(twin, "state"):
        configs = twin.state.network.configs
    try:
        return ConfigChange(kind, parse_edit(world.topology, kind, args, configs))
    except ValueError as exc:
        raise SafetyError(str(exc)) from None


def apply_change(twin: Twin, change: ConfigChange, configs: dict[str, RouterConfig] | None = None
                 ) -> dict[str, RouterConfig]:
    """The router configurations after ``change`` (a copy; the input is untouched)."""
    out = copy.deepcopy(configs or base_configs(twin))
    apply_edit(out, twin.world.topology, change.kind, dict(change.args))
    return out


def config_diff(before: dict[str, str], after: dict[str, str]) -> str:
    """Unified diff of every router whose configuration changed."""
    chunks = []
    for name in sorted(before):
        if before[name] != after.get(name):
            chunks.extend(difflib.unified_diff(before[name].splitlines(keepends=True),
                                               after.get(name, "").splitlines(keepends=True),
                                               fromfile=f"before/{name}.cfg", tofile=f"after/{name}.cfg"))
    return "".join(chunks)


def render_change(twin: Twin, change: ConfigChange) -> tuple[dict[str, str], dict[str, str], str]:
    """``(before, after, diff)`` rendered configurations for ``change``."""
    base = base_configs(twin)
    before = render_all(twin, base)
    after = render_all(twin, apply_change(twin, change, base))
    return before, after, config_diff(before, after)
