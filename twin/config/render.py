"""Device configurations for the twin's WAN routers, in Cisco IOS syntax (which Batfish parses).

Addressing plan (deterministic, from plane, site and link order):

* loopback of the router of plane ``p`` at site ``s``: ``10.255.p.(s+1)/32``
* point-to-point link ``i``: ``10.(100+p).x.y/30`` with ``x.y`` = ``4*i`` (a-end .1, b-end .2)
* each site's customer prefix: ``172.(16 + s // 256).(s % 256).0/24`` on ``Loopback1``

Each plane runs OSPF area 0 (link metric as ``ip ospf cost``) and an iBGP full mesh over
loopbacks (AS ``65000 + p``) exporting the site prefix through prefix-list ``SITE-OUT`` and
route-map ``EXPORT``; WAN interfaces filter inbound with ACL ``EDGE-IN``.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass
from typing import TYPE_CHECKING

from twin.physics.configs import RouterConfig, site_prefix

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["Addressing", "RouterConfig", "addressing", "base_configs", "render_all", "render_router", "wan_routers"]


@dataclass(frozen=True)
class Addressing:
    loopback: dict[str, str]  # router -> address
    site_prefix: dict[str, str]  # site -> prefix
    link_ip: dict[tuple[int, str], str]  # (link index, router) -> interface address
    interface: dict[tuple[int, str], str]  # (link index, router) -> interface name
    asn: dict[str, int]  # plane -> AS number


def wan_routers(twin: Twin) -> list[str]:
    topo = twin.world.topology
    return [n for i, n in enumerate(topo.nodes) if topo.node_kind[i] == "router" and topo.node_plane[i] in topo.planes]


def addressing(twin: Twin) -> Addressing:
    topo = twin.world.topology
    loop, lip, ifname = {}, {}, {}
    sites = {s: i for i, s in enumerate(topo.sites)}
    prefix = site_prefix(topo)
    asn = {p: 65000 + i for i, p in enumerate(topo.planes)}
    for router in wan_routers(twin):
        n = topo.node_index[router]
        loop[router] = f"10.255.{topo.planes.index(topo.node_plane[n])}.{sites[topo.node_site[n]] + 1}"  # as planned
    ports: dict[str, int] = {}
    for i, plane in enumerate(topo.link_plane):
        if plane not in topo.planes:
            continue
        base = int(ipaddress.IPv4Address(f"10.{100 + topo.planes.index(plane)}.0.0")) + 4 * i
        for end, node in ((1, topo.link_a[i]), (2, topo.link_b[i])):
            name = topo.nodes[int(node)]
            lip[(i, name)] = str(ipaddress.IPv4Address(base + end))
            ifname[(i, name)] = f"GigabitEthernet0/{ports.get(name, 0)}"
            ports[name] = ports.get(name, 0) + 1
    return Addressing(loop, prefix, lip, ifname, asn)


def _wildcard(prefix: str) -> tuple[str, str]:
    net = ipaddress.IPv4Network(prefix, strict=False)
    return str(net.network_address), str(net.hostmask)


def render_router(twin: Twin, cfg: RouterConfig, plan: Addressing | None = None) -> str:
    """One router's configuration as IOS text."""
    plan = plan or addressing(twin)
    topo = twin.world.topology
    n = topo.node_index[cfg.name]
    peers = [r for r in wan_routers(twin) if topo.node_plane[topo.node_index[r]] == cfg.plane and r != cfg.name]
    site_net = ipaddress.IPv4Network(plan.site_prefix[cfg.site])
    own = cfg.address or plan.loopback[cfg.name]
    lines = ["!", f"hostname {cfg.name}", "!", "interface Loopback0",
             f" ip address {own} 255.255.255.255", "!", "interface Loopback1",
             f" description customer prefix of {cfg.site}",
             f" ip address {site_net.network_address + 1} {site_net.netmask}", "!"]
    links = [int(i) for i in topo.links_of_node(n) if topo.link_plane[int(i)] == cfg.plane]
    for i in links:
        other = topo.nodes[int(topo.link_b[i] if topo.link_a[i] == n else topo.link_a[i])]
        lines += [f"interface {plan.interface[(i, cfg.name)]}", f" description {topo.links[i]} to {other}",
                  f" ip address {plan.link_ip[(i, cfg.name)]} 255.255.255.252",
                  f" ip ospf cost {cfg.ospf_cost.get(i, int(topo.metric[i]))}", " ip access-group EDGE-IN in",
                  " no shutdown", "!"]
    lines += ["router ospf 1", f" router-id {own}", " passive-interface Loopback0",
              " passive-interface Loopback1", f" network {own} 0.0.0.0 area 0"]
    for i in links:
        addr = ipaddress.IPv4Interface(f"{plan.link_ip[(i, cfg.name)]}/30")
        lines.append(f" network {addr.network.network_address} 0.0.0.3 area 0")
    lines += ["!", f"router bgp {plan.asn[cfg.plane]}", f" bgp router-id {own}",
              " bgp log-neighbor-changes", f" network {site_net.network_address} mask {site_net.netmask}"]
    for peer in peers:
        addr = plan.loopback[peer]
        lines += [f" neighbor {addr} remote-as {plan.asn[cfg.plane]}", f" neighbor {addr} description {peer}",
                  f" neighbor {addr} update-source Loopback0", f" neighbor {addr} route-map EXPORT out"]
        if peer in cfg.bgp_shutdown:
            lines.append(f" neighbor {addr} shutdown")
    lines += ["!"]
    seq = 5
    for p in cfg.prefix_deny:
        lines.append(f"ip prefix-list SITE-OUT seq {seq} deny {p}")
        seq += 5
    lines += [f"ip prefix-list SITE-OUT seq {seq} permit {site_net}", "!"]
    for prefix, hop in sorted(cfg.static_routes.items()):
        net = ipaddress.IPv4Network(prefix)
        lines.append(f"ip route {net.network_address} {net.netmask} {plan.loopback[hop]}")
    if cfg.static_routes:
        lines.append("!")
    seq = 10
    for term in cfg.policy:  # export policy terms; a term matching any route has no match clause
        if not term.active:
            continue
        lines.append(f"route-map EXPORT permit {seq}")
        lines.append(f" description term {term.name}")
        if term.match == "site-local":
            lines.append(" match ip address prefix-list SITE-OUT")
        lines += [f" set local-preference {term.local_pref}", "!"]
        seq += 10
    lines += [f"route-map EXPORT permit {seq}", " match ip address prefix-list SITE-OUT", "!",
              "ip access-list extended EDGE-IN"]
    for p in cfg.acl_deny:
        net, wild = _wildcard(p)
        lines.append(f" deny ip any {net} {wild}")
    lines += [" permit ip any any", "!", "end", ""]
    return "\n".join(lines)


def base_configs(twin: Twin) -> dict[str, RouterConfig]:
    """A copy of every WAN router's configuration as the twin holds it now (config state)."""
    configs = getattr(twin.state.network, "configs", None)
    if configs:
        return copy.deepcopy(configs)
    topo = twin.world.topology
    return {r: RouterConfig(r, topo.node_plane[topo.node_index[r]], topo.node_site[topo.node_index[r]])
            for r in wan_routers(twin)}


def render_all(twin: Twin, configs: dict[str, RouterConfig] | None = None) -> dict[str, str]:
    """Every WAN router's configuration: router name -> IOS text."""
    plan = addressing(twin)
    configs = configs or base_configs(twin)
    return {name: render_router(twin, cfg, plan) for name, cfg in configs.items()}
