"""The IGP in simulated time: routers sense link changes, run SPF, program their FIBs.

A link that fails (or recovers) is *detected* after ``routing.detect`` (hello/dead timers or
BFD; a drain is an operator's metric change, flooded at once), an SPF runs ``routing.spf``
after the detection (the SPF throttle doubles that wait, up to ``routing.spf_max``, while
triggers keep coming), and the new table is in the FIB ``routing.fib`` later. Until the
install, forwarding uses the old table, so traffic sent into a dead link is lost
(``state.network.link_routed`` is what the FIB believes; ``link_down`` is the truth).

Why events and not a per-tick flag: the delays are seconds and the tick is typically 10 s.
Each install is an event at its exact time (the ``igp`` timer), and the workload tick splits
its interval at the installs it knows are coming (:func:`fib_epochs`), so a 6 s gap in a 10 s
tick costs 60 % of the tick's traffic on the dead link, not 0 % or 100 %.

Flap damping (RFC 2439 style): every failure of a link adds a penalty that decays
exponentially; above ``suppress`` the link is kept out of the tables until the penalty decays
to ``reuse``. Jitter, when configured, is drawn from a generator seeded by the twin's seed and
a draw counter kept in the state, so forks and reruns draw the same.
"""

from __future__ import annotations

import bisect
import math
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.model.world import World
from twin.physics.configs import PolicyTerm, RouterConfig
from twin.sim.effects import Effects
from twin.sim.network import usable_links
from twin.sim.state import TwinState

if TYPE_CHECKING:
    from twin.scenario import RoutingSpec, Scenario

__all__ = ["init_routing", "initial_configs", "physical_links", "sense_links", "igp_step", "fib_epochs",
           "flap_penalty", "recompute_load", "readdress", "config_changed", "route_load", "ROUTE_CPU"]


def initial_configs(world: World, scenario: Scenario) -> dict[str, RouterConfig]:
    """Every WAN router's configuration at the start: the defaults, with the scenario's
    ``network.configs`` on top."""
    topo = world.topology
    out: dict[str, RouterConfig] = {}
    for i, name in enumerate(topo.nodes):
        if topo.node_kind[i] == "router" and topo.node_plane[i] in topo.planes:
            out[name] = RouterConfig(name, topo.node_plane[i], topo.node_site[i])
    for name, spec in scenario.network.configs.items():
        cfg = out[name]
        cfg.ospf_cost = {topo.link_index[link]: int(c) for link, c in spec.ospf_cost.items()}
        cfg.acl_deny, cfg.prefix_deny = list(spec.acl_deny), list(spec.prefix_deny)
        cfg.bgp_shutdown, cfg.static_routes = list(spec.bgp_shutdown), dict(spec.static_routes)
        cfg.policy = [PolicyTerm(t.term, t.match, t.local_pref, t.active) for t in spec.policy]
    return out


def physical_links(world: World, state: TwinState) -> np.ndarray:
    """Links whose hardware works: up and both ends up (drains aside)."""
    topo = world.topology
    node_up = state.network.node_down == 0
    return (state.network.link_down == 0) & node_up[topo.link_a] & node_up[topo.link_b]


def init_routing(world: World, scenario: Scenario, state: TwinState, seed: int) -> None:
    """Fill the network state's configs and IGP arrays for a fresh twin (everything converged)."""
    net = state.network
    n = world.topology.n_links
    net.configs = initial_configs(world, scenario)
    usable = usable_links(world, state)
    net.link_sensed, net.link_routed = usable.copy(), usable.copy()
    net.link_physical = physical_links(world, state)
    net.igp_seed = int(seed)
    net.spf_wait = scenario.network.routing.spf
    net.flap_penalty, net.flap_updated = np.zeros(n), np.zeros(n)
    net.flap_suppressed = np.zeros(n, dtype=bool)
    net.route_cpu = np.zeros(len(world.topology.nodes))


#: Control-plane CPU share a router spends when every site pair of its plane routes via its
#: re-announcements (processing and re-advertising a whole plane's routes, as Atlanta did).
ROUTE_CPU = 0.85


def route_load(state: TwinState, route_share: np.ndarray | None) -> None:
    """Show on routers' CPU the routes they re-announce and their peers select (the routing's
    ``route_share``), replacing what the previous routing put there."""
    net = state.network
    new = ROUTE_CPU * route_share if route_share is not None else np.zeros_like(net.route_cpu)
    if net.route_cpu.shape == new.shape and not np.array_equal(new, net.route_cpu):
        net.node_cpu = net.node_cpu + new - net.route_cpu
        net.route_cpu = new


#: Hellos per dead interval (OSPF: hello 10 s, dead 40 s; BFD: a multiplier of 3).
HELLOS_PER_DEAD = 3


def _jitter(state: TwinState, spec: RoutingSpec, size: int) -> np.ndarray:
    if spec.jitter <= 0:
        return np.ones(size)
    rng = np.random.default_rng([state.network.igp_seed, 0x16B, state.network.igp_draws])
    state.network.igp_draws += 1
    return 1.0 + spec.jitter * rng.uniform(-1.0, 1.0, size)


def _spf_at(state: TwinState, t: float, spec: RoutingSpec, plane: str) -> float:
    """When the SPF a change detected at ``t`` triggers runs (RFC 8405-like throttle): it joins
    an SPF already scheduled, else runs after the throttle's wait, which doubles under churn."""
    net = state.network
    runs = net.spf_times.setdefault(plane, [])
    # only the last window's runs load anyone (``t`` may lie up to detect + adjacency ahead)
    horizon = t - spec.load_window - spec.detect - spec.adjacency - spec.spf_max
    if runs and runs[0] <= horizon:
        runs[:] = [r for r in runs if r > horizon]
    i = bisect.bisect_left(runs, t)
    if i < len(runs) and runs[i] <= t + net.spf_wait:
        return runs[i]  # an SPF is already scheduled soon after: this change joins it
    since = t - net.spf_last
    if since > 2 * spec.spf_max:
        net.spf_wait = spec.spf  # quiet long enough: back to the initial wait
    elif since < net.spf_wait + spec.spf:
        net.spf_wait = min(2 * net.spf_wait, spec.spf_max)  # churn: back off
    net.spf_last = t
    at = t + net.spf_wait
    bisect.insort(runs, at)
    if spec.spf_cost > 0 and not any(kind == "hello" for _, _, kind in net.igp_events):
        _push(state, at, -1, "hello")  # recomputation loads the routers: watch their hellos
    return at


def recompute_load(state: TwinState, plane: str, now: float, spec: RoutingSpec) -> float:
    """Share of a router's control-plane CPU that recomputation takes (SPF runs over the last
    ``load_window`` times ``spf_cost``); above 1 the router cannot keep up and misses hellos."""
    runs = state.network.spf_times.get(plane, [])
    recent = sum(1 for t in runs if now - spec.load_window < t <= now)
    return recent * spec.spf_cost / spec.load_window


def flap_penalty(penalty: float, elapsed: float, half_life: float) -> float:
    """A damping penalty ``elapsed`` seconds later (exponential decay).

    >>> flap_penalty(2000.0, 900.0, 900.0)
    1000.0
    """
    return penalty * 0.5 ** (elapsed / half_life)


def _flap(state: TwinState, topo: Any, damp: Any, link: int, t: float, fx: Effects) -> None:
    """Charge ``link`` a flap's penalty at ``t``; past the suppress threshold it stays out of
    the tables until the penalty decays to the reuse threshold (RFC 2439)."""
    net = state.network
    p = flap_penalty(net.flap_penalty[link], t - net.flap_updated[link], damp.half_life) + damp.penalty
    net.flap_penalty[link], net.flap_updated[link] = p, t
    if p >= damp.suppress and not net.flap_suppressed[link]:
        net.flap_suppressed[link] = True
        wait = min(damp.half_life * math.log2(p / damp.reuse), damp.max_suppress)
        _push(state, t + wait, link, "reuse")
        fx.log("routing", topo.links[link], f"{topo.links[link]} suppressed by flap damping "
               f"(penalty {p:.0f} above {damp.suppress:.0f})", link=topo.links[link])


def _push(state: TwinState, at: float, link: int, kind: str) -> None:
    bisect.insort(state.network.igp_events, (float(at), int(link), kind))


def sense_links(world: World, state: TwinState, now: float, spec: RoutingSpec) -> Effects:
    """Routers notice links that changed since they last looked: schedule each change's install.

    A physical failure also feeds flap damping; a suppressed link's recovery is not installed.
    """
    net, fx = state.network, Effects()
    usable = usable_links(world, state)
    physical = physical_links(world, state)
    changed = np.flatnonzero(usable != net.link_sensed)
    if changed.size == 0:
        net.link_physical = physical
        return fx
    topo = world.topology
    detect = _jitter(state, spec, changed.size) * spec.detect
    fib = _jitter(state, spec, changed.size) * spec.fib
    damp = spec.damping
    for j, link in enumerate(changed):
        link = int(link)
        up = bool(usable[link])
        was_physical = physical[link] != net.link_physical[link]
        t_detect = now + (detect[j] if was_physical else 0.0)
        if was_physical and not physical[link] and damp.enabled:
            _flap(state, topo, damp, link, now, fx)
        _push(state, _spf_at(state, t_detect, spec, topo.link_plane[link]) + fib[j], link, "up" if up else "down")
    net.link_sensed = usable
    net.link_physical = physical
    fx.wake("igp", net.igp_events[0][0])
    return fx


def igp_step(world: World, state: TwinState, now: float, spec: RoutingSpec) -> tuple[float | None, Effects]:
    """Install every change due by ``now`` into the forwarding tables; wake at the next one."""
    net, fx, topo = state.network, Effects(), world.topology
    while net.igp_events and net.igp_events[0][0] <= now + 1e-9:
        _, link, kind = net.igp_events.pop(0)
        name = topo.links[link]
        if kind == "reuse":
            p = flap_penalty(net.flap_penalty[link], now - net.flap_updated[link], spec.damping.half_life)
            net.flap_penalty[link], net.flap_updated[link] = p, now
            net.flap_suppressed[link] = False
            fx.log("routing", name, f"{name} no longer suppressed by flap damping (penalty {p:.0f})", link=name)
            if net.link_sensed[link] and not net.link_routed[link]:
                _push(state, _spf_at(state, now, spec, topo.link_plane[link]) + spec.fib, link, "up")
            continue
        if kind == "hello":
            fx.extend(_hellos(world, state, now, spec))
            continue
        if kind in ("reset", "reformed"):
            # held down by the IGP (like a fault holds a link down); the FIB changes for it are
            # already scheduled, so routers' sensing is kept in step with it
            net.link_down = net.link_down.copy()
            net.link_down[link] += 1 if kind == "reset" else -1
            usable, physical = usable_links(world, state), physical_links(world, state)
            net.link_sensed[link], net.link_physical[link] = usable[link], physical[link]
            fx.kick_te()
            continue
        up = kind == "up"
        if up and (net.flap_suppressed[link] or not net.link_sensed[link]):
            continue  # damped, or failed again before this install
        if bool(net.link_routed[link]) != up:
            net.link_routed = net.link_routed.copy()
            net.link_routed[link] = up
            net.routing = None
            fx.log("routing", name, f"routers reconverged: {name} {'back in' if up else 'out of'} the forwarding tables",
                   link=name, up=up)
    return (net.igp_events[0][0] if net.igp_events else None), fx


def _set_cpu(world: World, state: TwinState, plane: str, load: float) -> None:
    """Show the recompute load on the plane's routers' CPU (what their monitors report)."""
    net, topo = state.network, world.topology
    new = 0.9 * min(load, 1.0)
    old = net.igp_cpu.get(plane, 0.0)
    if new != old:
        routers = [i for i, p in enumerate(topo.node_plane) if p == plane and topo.node_kind[i] == "router"]
        net.node_cpu = net.node_cpu.copy()
        net.node_cpu[routers] += new - old
        net.igp_cpu[plane] = new


def _hellos(world: World, state: TwinState, now: float, spec: RoutingSpec) -> Effects:
    """Routers busy recomputing miss hellos: each adjacency of an overloaded plane drops with
    probability ``(1 - 1/load) ** HELLOS_PER_DEAD`` per dead interval (seeded draw), and
    re-forms ``adjacency`` later."""
    net, topo, fx = state.network, world.topology, Effects()
    busy = False
    for plane in topo.planes:
        runs = net.spf_times.get(plane, [])
        net.spf_times[plane] = [t for t in runs if t > now - spec.load_window]  # older runs no longer load
        load = recompute_load(state, plane, now, spec)
        _set_cpu(world, state, plane, load)
        busy |= load > 0 or any(t > now for t in net.spf_times[plane])
        if load <= 1.0:
            continue
        links = np.flatnonzero(world.plane_masks[plane] & net.link_sensed & net.link_routed)
        if links.size == 0:
            continue
        rng = np.random.default_rng([net.igp_seed, 0x4E110, net.igp_draws])
        net.igp_draws += 1
        # a CPU asked for ``load`` times what it has handles 1/load of its hellos in time; the
        # dead timer expires when HELLOS_PER_DEAD hellos in a row are missed
        missed = rng.uniform(0.0, 1.0, links.size) < (1.0 - 1.0 / load) ** HELLOS_PER_DEAD
        expiry = now + rng.uniform(0.0, spec.detect, links.size)  # where each dead timer stood
        dropped = links[missed]
        if dropped.size:
            fx.log("routing", plane, f"{plane} routers overloaded by recomputation (CPU load {load:.1f}): "
                   f"{dropped.size} adjacencies time out", plane=plane)
            fx.extend(_reset(world, state, now, spec, dropped, expiry[missed]))
    if busy:
        _push(state, now + spec.detect, -1, "hello")
    return fx


def _reset(world: World, state: TwinState, now: float, spec: RoutingSpec, links: np.ndarray,
           at: np.ndarray) -> Effects:
    """Adjacencies over ``links`` go down at ``at`` and re-form ``spec.adjacency`` later; the
    link forwards nothing meanwhile (held down, as monitors see it), and routers install each
    change after SPF + FIB, so traffic their old tables send into it is lost. A reset counts as
    a flap for damping."""
    net, topo, fx, damp = state.network, world.topology, Effects(), spec.damping
    for link, t in zip(links.tolist(), at.tolist()):
        plane = topo.link_plane[link]
        if damp.enabled:
            _flap(state, topo, damp, link, t, fx)
        _push(state, t, link, "reset")  # the interface stops forwarding while the adjacency re-forms
        _push(state, t + spec.adjacency, link, "reformed")
        _push(state, _spf_at(state, t, spec, plane) + spec.fib, link, "down")
        _push(state, _spf_at(state, t + spec.adjacency, spec, plane) + spec.fib, link, "up")
    if net.igp_events:
        fx.wake("igp", net.igp_events[0][0])
    return fx


def readdress(world: World, state: TwinState, now: float, spec: RoutingSpec, router: str,
              planned: bool = False) -> Effects:
    """A router's address changed. To an address nobody knows, it floods the change and every
    router of its plane, on receiving it (a seeded delay up to ``detect``), re-forms all its
    adjacencies. Back to its planned address (``planned``), the one its neighbors are configured
    for, it restarts gracefully (RFC 3623): neighbors keep forwarding through it while it
    re-forms its adjacencies, so only one SPF runs."""
    topo, net = world.topology, state.network
    node = topo.node_index[router]
    plane = topo.node_plane[node]
    if planned:
        fx = Effects()
        fx.log("routing", router, f"{router} is back on its planned address; its neighbors restart gracefully",
               router=router)
        _spf_at(state, now, spec, plane)
        if net.igp_events:
            fx.wake("igp", net.igp_events[0][0])
        return fx
    routers = [i for i, p in enumerate(topo.node_plane) if p == plane and topo.node_kind[i] == "router"]
    rng = np.random.default_rng([net.igp_seed, 0xADD4, net.igp_draws])
    net.igp_draws += 1
    heard = dict(zip(routers, now + rng.uniform(0.0, spec.detect, len(routers))))
    links = np.flatnonzero(world.plane_masks[plane] & net.link_sensed)
    at = np.array([min(heard[int(topo.link_a[i])], heard[int(topo.link_b[i])]) for i in links])
    fx = Effects()
    fx.log("routing", router, f"{router} announces a new router address; routers of {plane} re-form adjacencies",
           router=router)
    fx.extend(_reset(world, state, now, spec, links, at))
    return fx


def config_changed(world: World, state: TwinState, now: float, before: dict[str, RouterConfig]) -> Effects:
    """What the IGP does about routers whose configuration changed from ``before``: a changed
    address makes adjacencies re-form (other edits take effect by recomputing forwarding)."""
    fx = Effects()
    spec = world.scenario.network.routing
    for name, old in before.items():
        new = state.network.configs[name].address
        if old.address != new:
            fx.extend(readdress(world, state, now, spec, name, planned=new is None))
    return fx


def fib_epochs(state: TwinState, start: float, end: float) -> list[tuple[float, np.ndarray]]:
    """The forwarding tables' link views over ``[start, end)``: ``(share of the interval, view)``
    in order, the first being the view installed now. Installs already scheduled split it."""
    net = state.network
    view = net.link_routed
    out: list[tuple[float, np.ndarray]] = []
    t = start
    for at, link, kind in net.igp_events:
        if at >= end:
            break
        up = kind == "up"
        if kind not in ("up", "down") or (up and net.flap_suppressed[link]) or bool(view[link]) == up:
            continue
        at = max(at, start)  # due now, installed just after this tick began
        out.append(((at - t) / (end - start), view))
        view = view.copy()
        view[link] = up
        t = at
    out.append(((end - t) / (end - start), view))
    return [(w, v) for w, v in out if w > 0]
