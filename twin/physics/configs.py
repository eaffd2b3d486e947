"""Router configuration as state, and the routes it selects.

Every WAN router holds a :class:`RouterConfig`: OSPF cost per interface, an inbound ACL, an
export prefix filter, iBGP sessions (full mesh over loopbacks), an export route policy with
local preference, static routes and its loopback address. Forwarding is a function of those
configurations and of the links the IGP knows: nothing about a fault is read here.

Route selection for a destination site's prefix at a source router, as BGP + OSPF do it:

* a router *announces* the prefix when it originates it (its own site, not filtered by its
  prefix list) or when an active policy term matching every route (``match: any``)
  re-announces what it learned, with that term's local preference (default 100);
* the source learns an announcement only over an established iBGP session (neither end shut,
  both loopbacks where the peers' neighbor statements point);
* best route: highest local preference, then the lowest IGP distance to the announcer
  (hot potato), then the originator;
* a static route for the prefix wins over both at the router that holds it (a pinned next
  hop); an inbound ACL denying the prefix drops the traffic at the router it enters.

>>> cfg = RouterConfig("b2-a", "b2", "a")
>>> exports(cfg, "172.16.0.0/24", origin=True)
100
>>> cfg.policy.append(PolicyTerm("LEAK", match="any", local_pref=200))
>>> exports(cfg, "172.16.9.0/24", origin=False)
200
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import networkx as nx

from twin.model.topology import Topology

__all__ = ["PolicyTerm", "RouterConfig", "DEFAULT_LOCAL_PREF", "site_prefix", "plane_key", "exports", "session_up",
           "igp_weight", "best_announcer", "acl_drops", "static_next_hop", "covers", "pinned_path",
           "EDITS", "apply_edit", "edited_routers", "record_edit",
           "parse_edit", "split_edit"]

#: Local preference of an announcement no policy term sets (BGP's default).
DEFAULT_LOCAL_PREF = 100


@dataclass
class PolicyTerm:
    """One term of a router's export policy: which routes it matches and the preference it sets.

    ``match``: ``site-local`` (the prefixes the router originates) or ``any`` (every route it
    has, so it re-announces other sites' prefixes as its own); ``active: False`` is a
    deactivated term (``deactivate`` in Junos).
    """

    name: str
    match: str = "site-local"
    local_pref: int = DEFAULT_LOCAL_PREF
    active: bool = True


@dataclass
class RouterConfig:
    """The editable parts of one router's configuration (rendered by :mod:`twin.config.render`)."""

    name: str
    plane: str
    site: str
    ospf_cost: dict[int, int] = field(default_factory=dict)  # link -> cost (default: the link's metric)
    acl_deny: list[str] = field(default_factory=list)  # prefixes denied inbound on WAN interfaces
    prefix_deny: list[str] = field(default_factory=list)  # own prefixes no longer exported
    bgp_shutdown: list[str] = field(default_factory=list)  # iBGP neighbors administratively shut
    static_routes: dict[str, str] = field(default_factory=dict)  # prefix -> next-hop router
    policy: list[PolicyTerm] = field(default_factory=list)  # export policy terms, in order
    address: str | None = None  # loopback (router id) other than the addressing plan's, if changed

    @property
    def is_default(self) -> bool:
        return not (self.ospf_cost or self.acl_deny or self.prefix_deny or self.bgp_shutdown or self.static_routes
                    or self.policy or self.address)


def plane_key(configs: dict[str, RouterConfig], plane: str) -> tuple[tuple[str, str], ...]:
    """What routing in ``plane`` reads of ``configs``, as a comparable value: every router's
    config there that is not the default, by name (equal keys, equal routes, in any twin).

    >>> plane_key({"b2-x": RouterConfig("b2-x", "b2", "x")}, "b2")
    ()
    """
    return tuple(sorted((name, repr(c)) for name, c in configs.items() if c.plane == plane and not c.is_default))


def site_prefix(topology: Topology) -> dict[str, str]:
    """Each site's customer prefix: ``172.(16 + s // 256).(s % 256).0/24`` (the addressing plan)."""
    return {s: f"172.{16 + i // 256}.{i % 256}.0/24" for i, s in enumerate(topology.sites)}


@lru_cache(maxsize=4096)
def _net(prefix: str) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network(prefix, strict=False)


def covers(rule: str, prefix: str) -> bool:
    """Whether a filter/ACL entry ``rule`` matches traffic or routes for ``prefix``."""
    return _net(prefix).overlaps(_net(rule))


def exports(cfg: RouterConfig, prefix: str, origin: bool) -> int | None:
    """The local preference ``cfg``'s router announces ``prefix`` with, or None if it does not.

    ``origin``: the prefix is the router's own site's. The first active term that matches
    decides; an originated prefix no term matches goes out with the default preference.
    """
    if origin and any(_net(prefix).subnet_of(_net(p)) for p in cfg.prefix_deny):
        return None
    for term in cfg.policy:
        if term.active and (term.match == "any" or (term.match == "site-local" and origin)):
            return int(term.local_pref)
    return DEFAULT_LOCAL_PREF if origin else None


def session_up(configs: dict[str, RouterConfig], a: str, b: str) -> bool:
    """Whether the iBGP session between routers ``a`` and ``b`` is established.

    Neighbor statements point at the planned loopbacks, so a router whose address changed
    has no session with anyone until the change is undone (or every peer is reconfigured).
    """
    ca, cb = configs[a], configs[b]
    return (a != b and b not in ca.bgp_shutdown and a not in cb.bgp_shutdown
            and ca.address is None and cb.address is None)


def igp_weight(configs: dict[str, RouterConfig], topology: Topology, link: int) -> float:
    """The OSPF cost routing uses for ``link``: the larger of its two ends' configured costs."""
    default = float(topology.metric[link])
    a, b = topology.nodes[int(topology.link_a[link])], topology.nodes[int(topology.link_b[link])]
    ca, cb = configs.get(a), configs.get(b)
    return max(float(ca.ospf_cost.get(link, default)) if ca else default,
               float(cb.ospf_cost.get(link, default)) if cb else default)


def best_announcer(topology: Topology, configs: dict[str, RouterConfig], src: int, dst: int, prefix: str,
                   dist: dict[int, float], announcers: list[int]) -> int | None:
    """The router ``src`` sends traffic for ``dst``'s ``prefix`` towards (BGP best path).

    ``dist``: IGP distances from ``src`` (unreachable routers absent); ``announcers``: routers
    with a policy term that re-announces every route. None: ``src`` has no route.
    """
    nodes = topology.nodes
    s_name = nodes[src]
    best: tuple[int, float, int] | None = None
    choice = None
    for r in [dst, *announcers]:
        if r == src or r not in dist or dst not in dist:
            continue
        origin = r == dst
        if not origin and (not session_up(configs, nodes[r], nodes[dst])
                           or exports(configs[nodes[dst]], prefix, True) is None):
            continue  # a re-announcer must have learned the route itself
        pref = exports(configs[nodes[r]], prefix, origin)
        if pref is None or not session_up(configs, s_name, nodes[r]):
            continue
        key = (-pref, dist[r], 0 if origin else 1)
        if best is None or key < best:
            best, choice = key, r
    return choice


def acl_drops(configs: dict[str, RouterConfig], topology: Topology, path: list[int], prefix: str) -> bool:
    """Whether an inbound ACL on a router along ``path`` (after the first) denies ``prefix``."""
    for node in path[1:]:
        cfg = configs.get(topology.nodes[node])
        if cfg is not None and any(covers(rule, prefix) for rule in cfg.acl_deny):
            return True
    return False


def static_next_hop(cfg: RouterConfig | None, prefix: str) -> str | None:
    """The next hop a static route at ``cfg``'s router pins for ``prefix`` (longest match)."""
    if cfg is None or not cfg.static_routes:
        return None
    net = _net(prefix)
    hits = [(_net(p).prefixlen, hop) for p, hop in cfg.static_routes.items() if net.subnet_of(_net(p))]
    return max(hits)[1] if hits else None


def pinned_path(topology: Topology, configs: dict[str, RouterConfig], g: nx.Graph, path: list[int],
                prefix: str, paths: dict[int, dict[int, list[int]]]) -> list[int] | None:
    """``path`` with every static route along it applied (a router forwards to its pinned next
    hop, which routes on from there); None where a static route points at a dead or
    non-adjacent next hop, or forwarding loops."""
    dst = path[-1]
    out = [path[0]]
    seen = {path[0]}
    rest = path[1:]
    while out[-1] != dst:
        here = out[-1]
        hop = static_next_hop(configs.get(topology.nodes[here]), prefix)
        if hop is not None:
            nxt = topology.node_index.get(hop)
            if nxt is None or not g.has_edge(here, nxt):
                return None  # the static route points into nothing: traffic is dropped
            rest = paths.get(nxt, {}).get(dst)
            if rest is None:
                return None
            rest = rest[1:]
            out.append(nxt)
        else:
            out.append(rest[0])
            rest = rest[1:]
        if out[-1] in seen:
            return None  # a forwarding loop: TTL expires
        seen.add(out[-1])
    return out


#: Config edits: kind -> its arguments, in order (the one syntax of config pushes, operator
#: changes and the pre-check: ``"igp_cost b2:us-east-us-central 500"``).
EDITS: dict[str, tuple[str, ...]] = {
    "acl_block": ("device", "prefix"),
    "igp_cost": ("link", "cost"),
    "bgp_shutdown": ("device", "neighbor"),
    "prefix_list": ("device", "prefix"),
    "static_route": ("device", "prefix", "next_hop"),
    "policy_match": ("device", "term", "match"),
    "router_address": ("device", "address"),
}


def edited_routers(topology: Topology, kind: str, args: dict) -> list[str]:
    """The routers whose configuration an edit changes."""
    if kind == "igp_cost":
        i = topology.link_index[args["link"]]
        return [topology.nodes[int(topology.link_a[i])], topology.nodes[int(topology.link_b[i])]]
    if kind == "bgp_shutdown":
        return [args["device"], args["neighbor"]]
    return [args["device"]]


def apply_edit(configs: dict[str, RouterConfig], topology: Topology, kind: str, args: dict) -> list[str]:
    """Make one config edit in ``configs`` (in place); returns the routers it touched.

    ``policy_match`` with ``match: any`` is what deactivating a term's ``from prefix-list``
    clause does: the term then matches every route.
    """
    touched = edited_routers(topology, kind, args)
    if kind == "acl_block":
        configs[args["device"]].acl_deny.append(args["prefix"])
    elif kind == "prefix_list":
        configs[args["device"]].prefix_deny.append(args["prefix"])
    elif kind == "bgp_shutdown":
        configs[args["device"]].bgp_shutdown.append(args["neighbor"])
        configs[args["neighbor"]].bgp_shutdown.append(args["device"])
    elif kind == "igp_cost":
        i = topology.link_index[args["link"]]
        for name in touched:
            configs[name].ospf_cost[i] = int(args["cost"])
    elif kind == "static_route":
        configs[args["device"]].static_routes[args["prefix"]] = args["next_hop"]
    elif kind == "policy_match":
        cfg = configs[args["device"]]
        term = next((t for t in cfg.policy if t.name == args["term"]), None)
        if term is None:
            raise ValueError(f"{args['device']} has no policy term {args['term']!r} "
                             f"(terms: {', '.join(t.name for t in cfg.policy) or 'none'})")
        term.match = args["match"]
    elif kind == "router_address":
        configs[args["device"]].address = str(args["address"])
    else:
        raise ValueError(f"unknown config edit {kind!r} (allowed: {', '.join(EDITS)})")
    return touched


def record_edit(configs: dict[str, RouterConfig], before: dict[str, RouterConfig], topology: Topology, kind: str,
                args: dict) -> list[str]:
    """:func:`apply_edit`, first saving in ``before`` each touched router's configuration as it
    was before the change's first edit (what a rollback of the change restores)."""
    for name in edited_routers(topology, kind, args):
        before.setdefault(name, copy.deepcopy(configs[name]))
    return apply_edit(configs, topology, kind, args)


def split_edit(text: str) -> tuple[str, dict]:
    """``"igp_cost LINK 500"`` -> ``("igp_cost", {"link": "LINK", "cost": "500"})`` (unchecked)."""
    parts = str(text).split()
    kind = parts[0] if parts else ""
    return kind, dict(zip(EDITS.get(kind, ()), parts[1:]))


def _edit_prefix(value: Any, kind: str) -> str:
    try:
        return str(ipaddress.IPv4Network(str(value), strict=False))
    except ValueError:
        raise ValueError(f"{kind}: {value!r} is not an IPv4 prefix (e.g. 172.16.1.0/24)") from None


def parse_edit(topology: Topology, kind: str, args: dict, configs: dict | None = None) -> dict:
    """Check a config edit's kind and arguments against ``topology`` (and ``configs`` for policy
    terms); returns the arguments normalised, in order. Raises ValueError naming what is wrong."""
    args = dict(args)
    if kind not in EDITS:
        raise ValueError(f"unknown config change {kind!r} (allowed: {', '.join(EDITS)})")
    need = EDITS[kind]
    for name in need:
        if name not in args:
            raise ValueError(f"{kind}: missing argument {name!r} (arguments: {', '.join(need)})")
    topo = topology
    routers = [n for i, n in enumerate(topo.nodes) if topo.node_kind[i] == "router" and topo.node_plane[i] in topo.planes]
    for name in ("device", "neighbor"):
        if name in args and args[name] not in routers:
            raise ValueError(f"{kind}: unknown {name} {args[name]!r} (WAN routers: {', '.join(routers)})")
    if "neighbor" in args:
        plane = lambda r: topo.node_plane[topo.node_index[r]]
        if plane(args["neighbor"]) != plane(args["device"]) or args["neighbor"] == args["device"]:
            raise ValueError(f"{kind}: {args['neighbor']} is not a BGP neighbor of {args['device']}")
    if "link" in args:
        wan = [n for i, n in enumerate(topo.links) if topo.link_plane[i] in topo.planes]
        if args["link"] not in wan:
            raise ValueError(f"{kind}: unknown link {args['link']!r} (WAN links: {', '.join(wan)})")
    if "cost" in args:
        try:
            cost = int(args["cost"])
        except (TypeError, ValueError):
            cost = -1
        if not 1 <= cost <= 65535:
            raise ValueError(f"{kind}: cost must be an integer 1-65535, got {args['cost']!r}")
        args["cost"] = cost
    if "prefix" in args:
        args["prefix"] = _edit_prefix(args["prefix"], kind)
    if "next_hop" in args:
        plane = topo.node_plane[topo.node_index[args["device"]]]
        peers = [r for r in routers if topo.node_plane[topo.node_index[r]] == plane and r != args["device"]]
        if args["next_hop"] not in peers:
            raise ValueError(f"{kind}: unknown next hop {args['next_hop']!r} (routers of {plane}: {', '.join(peers)})")
    if "match" in args and args["match"] not in ("site-local", "any"):
        raise ValueError(f"{kind}: match must be site-local or any, got {args['match']!r}")
    if "term" in args and configs is not None:
        terms = [t.name for t in configs[args["device"]].policy]
        if args["term"] not in terms:
            raise ValueError(f"{kind}: {args['device']} has no policy term {args['term']!r} "
                              f"(terms: {', '.join(terms) or 'none'})")
    if "address" in args:
        try:
            args["address"] = str(ipaddress.IPv4Address(str(args["address"])))
        except ValueError:
            raise ValueError(f"{kind}: {args['address']!r} is not an IPv4 address") from None
    return {k: args[k] for k in need}
