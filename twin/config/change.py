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
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from twin.config.render import RouterConfig, base_configs, render_all
from twin.errors import SafetyError
from twin.physics.configs import EDITS, apply_edit

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


def _prefix(value: Any, kind: str) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=False))
    except ValueError:
        raise SafetyError(f"{kind}: {value!r} is not an IPv4 prefix (e.g. 172.16.1.0/24)") from None


def parse_change(twin: Twin | World, value: ConfigChange | str | Mapping[str, Any],
                 configs: Mapping[str, RouterConfig] | None = None) -> ConfigChange:
    """Validate a config change (object, ``"acl_block b2-us-east 172.16.1.0/24"`` or mapping)
    against a twin or a world; ``configs`` (default: the twin's) for the policy terms."""
    if isinstance(value, ConfigChange):
        kind, args = value.kind, dict(value.args)
    elif isinstance(value, str):
        parts = value.split()
        kind = parts[0] if parts else ""
        args = dict(zip(ConfigChange.KINDS.get(kind, ()), parts[1:]))
    else:
        kind, args = str(value.get("tool", value.get("kind", ""))), dict(value.get("args") or {})
    if kind not in ConfigChange.KINDS:
        raise SafetyError(f"unknown config change {kind!r} (allowed: {', '.join(ConfigChange.KINDS)})")
    need = ConfigChange.KINDS[kind]
    for name in need:
        if name not in args:
            raise SafetyError(f"{kind}: missing argument {name!r} (arguments: {', '.join(need)})")
    world = getattr(twin, "world", twin)
    topo = world.topology
    routers = [n for i, n in enumerate(topo.nodes) if topo.node_kind[i] == "router" and topo.node_plane[i] in topo.planes]
    if configs is None and hasattr(twin, "state"):
        configs = twin.state.network.configs
    for name in ("device", "neighbor"):
        if name in args and args[name] not in routers:
            raise SafetyError(f"{kind}: unknown {name} {args[name]!r} (WAN routers: {', '.join(routers)})")
    if "neighbor" in args:
        plane = lambda r: topo.node_plane[topo.node_index[r]]
        if plane(args["neighbor"]) != plane(args["device"]) or args["neighbor"] == args["device"]:
            raise SafetyError(f"{kind}: {args['neighbor']} is not a BGP neighbor of {args['device']}")
    if "link" in args:
        wan = [n for i, n in enumerate(topo.links) if topo.link_plane[i] in topo.planes]
        if args["link"] not in wan:
            raise SafetyError(f"{kind}: unknown link {args['link']!r} (WAN links: {', '.join(wan)})")
    if "cost" in args:
        try:
            cost = int(args["cost"])
        except (TypeError, ValueError):
            cost = -1
        if not 1 <= cost <= 65535:
            raise SafetyError(f"{kind}: cost must be an integer 1-65535, got {args['cost']!r}")
        args["cost"] = cost
    if "prefix" in args:
        args["prefix"] = _prefix(args["prefix"], kind)
    if "next_hop" in args:
        plane = topo.node_plane[topo.node_index[args["device"]]]
        peers = [r for r in routers if topo.node_plane[topo.node_index[r]] == plane and r != args["device"]]
        if args["next_hop"] not in peers:
            raise SafetyError(f"{kind}: unknown next hop {args['next_hop']!r} (routers of {plane}: {', '.join(peers)})")
    if "match" in args and args["match"] not in ("site-local", "any"):
        raise SafetyError(f"{kind}: match must be site-local or any, got {args['match']!r}")
    if "term" in args and configs is not None:
        terms = [t.name for t in configs[args["device"]].policy]
        if args["term"] not in terms:
            raise SafetyError(f"{kind}: {args['device']} has no policy term {args['term']!r} "
                              f"(terms: {', '.join(terms) or 'none'})")
    if "address" in args:
        try:
            args["address"] = str(ipaddress.IPv4Address(str(args["address"])))
        except ValueError:
            raise SafetyError(f"{kind}: {args['address']!r} is not an IPv4 address") from None
    return ConfigChange(kind, {k: args[k] for k in need})


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
