"""The Twin: SimPy time over the world's state; numpy physics on every tick.

Processes (workload tick, TE controller, health checks, autoscaler, change management,
fault triggers, in-flight operator actions) are named timers whose next wake time and
scheduling order live in :class:`TwinState`. A fork copies the state and rebuilds the
processes from it in the same order, so it costs the same at any simulated time.

A tick runs in phases (network jobs, network physics, services' inputs, services model,
services' outputs, monitors) so that :func:`run_together` can run the physics of many twins
of one world in one call per phase (``Twin.fork_batch``, :mod:`twin.sim.batch`); a twin alone
takes the same phases with one job.
"""

from __future__ import annotations

import math
import operator
from typing import Any, Callable, NamedTuple, Sequence, overload

import numpy as np
import simpy

from twin.errors import SimulationError
from twin.physics.clients import next_amplification
from twin.physics.services import Carried, Clients, ServiceResult, Services, service_step
from twin.sim.service_tick import model_inputs, tick_figures
from twin.faults.trigger import fault_step, mitigate
from twin.scenario import Scenario, load_scenario
from twin.sim import control
from twin.sim.releases import start_releases
from twin.sim.actions import ActionContext, complete_action, start_action
from twin.sim import igp
from twin.sim.network import (NetworkJob, NetworkResult, NetworkParams, Routing, RoutingPool, blend_results, build_routing,
                               network_params, network_steps, routing_key)
from twin.sim.batch import TwinBatch
from twin.sim.collect import fewer_collections
from twin.sim.effects import Effects
from twin.sim.monitors import Monitors
from twin.sim.state import ChangeRecord, FaultRecord, TwinState
from twin.model.world import CLASSES, World, build_world
from twin.telemetry.alerts import Alert
from twin.telemetry.recorder import Event, Telemetry

__all__ = ["Twin", "ServiceInputs", "run_together"]

#: The user class's index among the traffic classes.
_USER = CLASSES.index("user")
#: The services model's carried state as the twin's state holds it (same names), in Carried's order.
_CARRIED = operator.attrgetter(*Carried.__dataclass_fields__)


class Twin:
    """A running digital twin of one scenario.

    >>> from twin import Twin, load_scenario
    >>> t = Twin(load_scenario("b2b4-casc1"), seed=1)
    >>> t.run(until=600)
    >>> t.now
    600.0
    """

    def __init__(self, scenario: Scenario | str, seed: int | None = None) -> None:
        if isinstance(scenario, str):
            scenario = load_scenario(scenario)
        self.scenario = scenario
        self.seed = scenario.seed if seed is None else int(seed)
        self.world: World = build_world(scenario)
        self.state = self._initial_state()
        self.telemetry = Telemetry(self._entities())
        self.monitors = Monitors(scenario, self.world, self.telemetry.entities)
        self._net_params = network_params(scenario)
        self._faults = {f.id: f for f in scenario.faults}
        self.env = simpy.Environment(initial_time=0.0)
        self._procs: dict[str, simpy.Process] = {}
        self.work = 0  # elements copied or rebuilt by the last fork (a cost measure)
        self._clients_kept: tuple[tuple[bytes, bytes], Clients] | None = None  # see _clients
        self._tick_wait: simpy.Event | None = None  # the tick process's pending wake-up
        self._tick_done: tuple[float, float] | None = None  # (time, next) of a tick a batch ran
        self._bootstrap()

    # -- construction ----------------------------------------------------------------------
    def _entities(self) -> dict[str, tuple[str, ...]]:
        return {"link": self.world.topology.links, "service": self.world.services, "device": self.world.device_names}

    def _initial_state(self) -> TwinState:
        w = self.world
        topo = w.topology
        n_svc = len(w.services)
        cg = w.callgraph
        st = TwinState(now=0.0, rng=np.random.default_rng(self.seed))
        st.network.link_down = np.zeros(topo.n_links, dtype=np.int64)
        st.network.link_drained = np.zeros(topo.n_links, dtype=bool)
        st.network.link_loss = np.zeros(topo.n_links)
        st.network.node_down = np.zeros(len(topo.nodes), dtype=np.int64)
        st.network.node_drained = np.zeros(len(topo.nodes), dtype=bool)
        st.network.node_blackhole = np.zeros(len(topo.nodes), dtype=bool)
        st.network.node_cpu = np.zeros(len(topo.nodes))
        st.control.te_plane_up = {p: True for p in topo.planes}
        st.control.te_class_plane = dict(w.class_plane)
        st.control.features_enabled = {f: True for f in w.features}
        reps = np.array([s.replicas for s in cg.services], dtype=float) if cg else np.zeros(0)
        st.services.replicas, st.services.replicas_up = reps.copy(), reps.copy()
        st.services.crashloop = np.zeros(n_svc)
        st.services.cpu_hog = np.zeros(n_svc)
        st.services.memory_mb = np.array([0.3 * s.memory_limit_mb for s in cg.services]) if cg else np.zeros(0)
        st.services.leak_mb_per_s = np.zeros(n_svc)
        st.services.injected_error = np.zeros(n_svc)
        start_releases(st, n_svc)
        st.services.cpu_hog_growth = np.zeros(n_svc)
        st.services.cpu_hog_cap = np.zeros(n_svc)
        st.services.retry_factor = np.ones(w.call_src.shape[0])
        st.services.entry_factor = np.ones(n_svc)
        st.services.retry_budget = w.service_arrays["retry_budget"].copy() if cg else np.zeros(0)
        st.services.entry_limit = np.full(n_svc, np.inf)
        carried = Carried.empty(n_svc, w.call_src.shape[0])
        for name, value in vars(carried).items():
            setattr(st.services, name, value)
        st.control.health_fail = np.zeros(w.devices.shape[0], dtype=np.int64)
        st.control.health_alarm = np.zeros(w.devices.shape[0], dtype=bool)
        igp.init_routing(w, self.scenario, st, self.seed)
        st.alerts.rng = np.random.default_rng([self.seed, 1])  # monitors' noise: physics draws stay put
        return st

    def _bootstrap(self) -> None:
        st, sc = self.state, self.scenario
        self._schedule("tick", 0.0)
        self._schedule("te", 0.0)
        self._schedule("health", sc.control.health.period)
        if sc.control.dns is not None:
            self._schedule("dns", sc.control.dns.period)
        if sc.control.autoscaler.enabled and self.world.callgraph:
            self._schedule("autoscaler", sc.control.autoscaler.period)
        for change in sc.changes:
            self._schedule(f"change:{change.id}", change.at)
        for fault in sc.faults:
            st.faults.phase[fault.id] = "pending"
            self._schedule(f"fault:{fault.id}", fault.at)
        self._start_all()

    def _start_all(self) -> None:
        for name, _ in sorted(self.state.wake.items(), key=lambda kv: kv[1][1]):
            self._procs[name] = self.env.process(self._loop(name))

    # -- timers ----------------------------------------------------------------------------
    def _schedule(self, name: str, t: float) -> None:
        self.state.seq += 1
        self.state.wake[name] = (float(t), self.state.seq)

    def _wake_at(self, name: str, t: float) -> None:
        """Bring a sleeping process forward to ``t`` (used by topology events and actions)."""
        current = self.state.wake.get(name)
        if current is not None and current[0] <= t:
            return
        self._schedule(name, t)
        proc = self._procs.get(name)
        if proc is None or not proc.is_alive:
            self._procs[name] = self.env.process(self._loop(name))
        elif self.env.active_process is not proc:
            proc.interrupt("rescheduled")

    def _loop(self, name: str):
        while True:
            entry = self.state.wake.get(name)
            if entry is None:
                return
            t = entry[0]
            wait = self.env.timeout(max(0.0, t - self.env.now))
            if name == "tick":
                self._tick_wait = wait  # a batch finds the tick's wake-up at the head of the queue
            try:
                yield wait
            except simpy.Interrupt:
                continue
            if self.state.wake.get(name, (None,))[0] != t:
                continue
            self.state.now = self.env.now
            done, self._tick_done = self._tick_done, None
            nxt = done[1] if (name == "tick" and done is not None and done[0] == t) else self._step(name)
            if nxt is None:
                self.state.wake.pop(name, None)
                return
            after = self.state.wake.get(name)
            if after is not None and after[0] != t and after[0] < nxt:
                continue  # woken earlier during the step
            self._schedule(name, nxt)

    def _applied(self, result: tuple[float | None, Effects]) -> float | None:
        nxt, fx = result
        self.apply(fx)
        return nxt

    def _step(self, name: str) -> float | None:
        kind, _, key = name.partition(":")
        if kind == "tick":
            return self._tick()
        ctl = self.scenario.control
        if kind == "te":
            return self._applied(control.te_step(self.world, self.state, self.now, ctl.te))
        if kind == "igp":
            return self._applied(igp.igp_step(self.world, self.state, self.now, self.scenario.network.routing))
        if kind == "health":
            return self._applied(control.health_step(self.world, self.state, self.now, ctl.health))
        if kind == "dns":
            return self._applied(control.dns_step(self.world, self.state, self.now, ctl.dns))
        if kind == "autoscaler":
            return self._applied(control.autoscaler_step(self.world, self.state, self.now, ctl.autoscaler))
        if kind == "change":
            spec = next(c for c in self.scenario.changes if c.id == key)
            self.record_change(ChangeRecord(spec.id, self.now, spec.kind, spec.target, spec.description))
            return None
        if kind == "fault":
            latest = self.telemetry.latest()  # a cascade condition reads the physics, not the monitors
            nxt, fx = fault_step(self.world, self.state, self.now, self._faults[key],
                                 latest.truth if latest is not None else None, self.telemetry.entities)
            self.apply(fx)
            return nxt
        if kind == "action":
            ctx = ActionContext(self.world, self.state, self.now, self._faults)
            return self._applied(complete_action(ctx, int(key)))
        raise SimulationError(f"unknown process {name!r}")

    # -- public API --------------------------------------------------------------------------
    @property
    def now(self) -> float:
        return float(self.env.now)

    def run(self, until: float | str) -> None:
        """Advance simulated time to ``until`` (seconds or a duration like ``"30m"``)."""
        from twin.units import parse_duration

        target = parse_duration(until) if isinstance(until, str) else float(until)
        if target < self.env.now:
            raise SimulationError(f"until={target} is in the past (now={self.env.now})")
        if target > self.env.now:
            with fewer_collections():
                self.env.run(until=target)
        self.state.now = self.now

    @overload
    def fork(self) -> "Twin": ...

    @overload
    def fork(self, n: int) -> TwinBatch: ...

    def fork(self, n: int | None = None) -> "Twin | TwinBatch":
        """An independent twin at this instant; running it never touches this one. ``fork(n)``:
        ``n`` of them as a batch advanced together (:meth:`fork_batch`)."""
        if n is not None:
            return self.fork_batch(n)
        other = Twin.__new__(Twin)
        other.scenario, other.seed, other.world = self.scenario, self.seed, self.world
        other.state = self.state.copy()
        other.telemetry = self.telemetry.fork()
        other.monitors, other._faults, other._net_params = self.monitors, self._faults, self._net_params
        other.env = simpy.Environment(initial_time=self.env.now)
        other._procs, other._clients_kept = {}, None
        other._tick_wait = other._tick_done = None
        other._start_all()
        other.work = other.state.size() + len(other._procs)
        return other

    def reseed(self, seed: int) -> None:
        """Draw this twin's physics (demand noise, ...) from a fresh stream seeded by ``seed``; the
        monitors' noise keeps its stream. A fork or a batch member reseeded with one seed draws
        what any other twin of the same instant reseeded with it draws (a what-if draw)."""
        self.state.rng = np.random.default_rng(int(seed))

    def fork_batch(self, n: int, seeds: Sequence[int] | None = None) -> TwinBatch:
        """``n`` independent futures of this instant, advanced together (see :mod:`twin.sim.batch`).
        Members share this twin's random streams (so they stay alike until acted on) unless
        ``seeds`` gives each its own physics stream (:meth:`reseed`): ``n`` what-if draws."""
        if int(n) < 1:
            raise SimulationError(f"n={n}: a batch has at least 1 member")
        if seeds is not None and len(seeds) != int(n):
            raise SimulationError(f"seeds: {len(seeds)} seeds for n={n} members (give one per member)")
        members = [self.fork() for _ in range(int(n))]
        for m, seed in zip(members, seeds if seeds is not None else ()):
            m.reseed(seed)
        return TwinBatch(members, run_together)

    def _to_tick(self, t: float) -> None:
        """Process events up to the tick's wake-up at ``t``, leaving that wake-up next."""
        queue = self.env._queue  # noqa: SLF001 - SimPy has no public "next event"; the heap's head is it
        while not (queue and queue[0][3] is self._tick_wait):
            if not queue or self.env.peek() > t:
                raise SimulationError(f"the tick due at t={t} is not next in the queue (now={self.now})")
            self.env.step()
        if queue[0][0] != t:
            raise SimulationError(f"the tick is due at {queue[0][0]}, the batch's at {t}")

    def apply(self, fx: Effects) -> None:
        """Carry out a step's requests in the order it made them."""
        for op in fx.ops:
            what = op[0]
            if what == "log":
                self.log(op[1], op[2], op[3], **op[4])
            elif what == "change":
                self.record_change(op[1], fault_id=op[2])
            elif what == "topology":
                self.topology_changed()
            elif what == "kick_te":
                self.kick_te(now=op[1])
            elif what == "mitigate":
                self.mitigate_fault(op[1], op[2])
            elif what == "wake":
                self._wake_at(op[1], op[2])
            else:  # pragma: no cover - Effects only builds the ops above
                raise SimulationError(f"unknown effect {what!r}")

    def log(self, kind: str, entity: str, message: str, **data: Any) -> None:
        self.telemetry.events.append(Event(self.now, kind, entity, message, data))

    def record_change(self, change: ChangeRecord, fault_id: str | None = None) -> None:
        """Record a change as change management would; remember which fault rides on it."""
        if fault_id:
            self.state.faults.records.setdefault(fault_id, FaultRecord()).change = change.id
        self.state.control.changes.append(change)
        self.log("change", change.target, f"{change.kind} {change.id} on {change.target}: {change.description}".rstrip(": "),
                 change=change.id)

    def topology_changed(self) -> None:
        """Links, devices or configs changed: routers sense it (their FIBs follow after the IGP's
        timers; config edits have already invalidated the routing)."""
        self.apply(igp.sense_links(self.world, self.state, self.now, self.scenario.network.routing))
        self.kick_te()

    def kick_te(self, now: bool = False) -> None:
        self.state.control.te_pending = True
        delay = 0.0 if now else self.scenario.control.te.reaction
        self._wake_at("te", self.now + delay)

    def open_alerts(self) -> list[Alert]:
        return [Alert(**a) for a in self.state.alerts.open.values()]

    def alerts(self):
        """All alerts so far (open ones have ``end`` = None) as a DataFrame."""
        return self.telemetry.alert_frame(self.open_alerts())

    def events(self):
        return self.telemetry.event_frame()

    def metrics(self, kind: str = "link", **kw: Any):
        return self.telemetry.frame(kind, **kw)

    def slo_violated(self) -> bool:
        latest = self.telemetry.latest()
        return bool(latest and latest.kpi.get("slo_violations", 0) > 0)

    def act(self, kind: str, **args: Any) -> int:
        """Start an operator action (a mitigation); it lands after its duration. Returns its id."""
        action_id, fx = start_action(self.world, self.state, self.now, kind, args)
        self.apply(fx)
        return action_id

    def mitigate_fault(self, fault_id: str, reason: str) -> None:
        """End a fault, and those cascading from it: an operator action removed its cause."""
        stopped, fx = mitigate(self.world, self.state, self.now, self._faults, fault_id)
        for fid in stopped:
            self.state.wake.pop(f"fault:{fid}", None)
        self.apply(fx)

    # -- processes ----------------------------------------------------------------------------
    def _diurnal(self, t: float) -> float:
        d = self.scenario.traffic.diurnal
        hour = (d.start_hour + t / 3600.0) % 24.0
        return 1.0 + d.amplitude * math.cos(2 * math.pi * (hour - d.peak_hour) / 24.0)

    def routing(self) -> Routing:
        st = self.state
        if st.network.routing is None:
            st.network.routing = self._routing_for(st.network.link_routed)
            igp.route_load(st, st.network.routing.route_share)
        return st.network.routing

    def _routing_for(self, view: np.ndarray) -> Routing:
        """The routing over the FIB view ``view``: reused while the view, the TE placement and
        the configs are those it was built from (a routing built for a mid-tick install, or a
        TE kick before the FIBs changed, costs nothing); else taken from the lineage's pool
        when a fork or a batch member built it from the same inputs; else built."""
        st = self.state
        key = (view.tobytes(), tuple(sorted(st.control.te_class_plane.items())), st.network.config_version)
        for k, r in st.network.routing_built:
            if k == key:
                return r
        te, scale = self.scenario.control.te, self._diurnal(self.now)
        pool = st.network.routing_pool
        if pool is None:
            pool = st.network.routing_pool = RoutingPool()
        content = routing_key(st, st.control.te_class_plane, te.tunnels, te.quantum, scale,
                              self.scenario.network.hash_connections, view)
        r = pool.get(content)
        if r is None:
            r = build_routing(self.world, st, st.control.te_class_plane, te.tunnels, te.quantum, scale,
                              self.scenario.network.hash_connections, view,
                              reuse=(*(r for _, r in st.network.routing_built), *pool.routings()))
            pool.put(content, r)
        st.network.routing_built = ((key, r), *st.network.routing_built[:1])
        return r

    def _network_jobs(self, routing: Routing, scale: float, noise: np.ndarray,
                      fabric_scale: float) -> tuple[list[float], list[NetworkJob]]:
        """The tick's network physics to compute, with the share of the tick each part lasts:
        split where the FIBs change during the tick."""
        st = self.state
        epochs = igp.fib_epochs(st, self.now, self.now + self.scenario.tick)
        shares, jobs = [], []
        for share, view in epochs:
            r = routing if view is st.network.link_routed else self._routing_for(view)
            shares.append(share)
            jobs.append(NetworkJob(st, r, scale, noise, fabric_scale))
        return shares, jobs

    def _tick(self) -> float:
        net, scale = self._tick_network()
        svc = self._services(net, scale, self.scenario.tick) if self.world.callgraph else None
        return self._tick_record(net, svc)

    def _tick_network(self) -> tuple[NetworkResult, float]:
        """The tick up to the services: replicas that came up, routing, demand draws, network physics."""
        (shares, jobs), scale = self._tick_jobs()
        return self._network_done(list(zip(shares, network_steps(self.world, jobs, self._net_params)))), scale

    def _tick_jobs(self) -> tuple[tuple[list[float], list[NetworkJob]], float]:
        """Replicas that came up, the routing, the tick's demand draws: the network's jobs."""
        st, w, sc = self.state, self.world, self.scenario
        now = self.now
        if st.services.replicas_ready_at:
            keep = []
            for t, svc, count, grow in st.services.replicas_ready_at:
                if t <= now:
                    if grow:
                        st.services.replicas[svc] += count
                    st.services.replicas_up[svc] = min(st.services.replicas[svc], st.services.replicas_up[svc] + count)
                else:
                    keep.append((t, svc, count, grow))
            st.services.replicas_ready_at = keep
        routing = self.routing()
        scale = self._diurnal(now)
        sigma = sc.traffic.noise
        noise = st.rng.lognormal(-0.5 * sigma * sigma, sigma, w.demand_gbps.shape[0]) if sigma else np.ones(w.demand_gbps.shape[0])
        fabric_noise = float(st.rng.lognormal(-0.5 * sigma * sigma, sigma)) if sigma else 1.0
        return self._network_jobs(routing, scale, noise, scale * fabric_noise), scale

    def _network_done(self, parts: list[tuple[float, NetworkResult]]) -> NetworkResult:
        """The tick's network result from its parts; clients' retries and latent defects follow it."""
        st = self.state
        net = blend_results(parts)
        if any(self._net_params.class_retries):  # clients retry, next tick, what this one lost
            st.network.retry_amp = next_amplification(st.network.retry_amp, net.group_loss, self._net_params.class_retries,
                                                      self.scenario.tick)
        self._latent_defects(net)
        return net

    def _tick_record(self, net: NetworkResult, svc) -> float:
        """The tick's end: monitors sample the physics and evaluate their alerts."""
        st, now = self.state, self.now
        sample = self.monitors.sample(st, now, net, svc)
        return self._tick_recorded(sample, self.monitors.evaluate(st, now, sample))

    def _tick_recorded(self, sample, closed: list[Alert]) -> float:
        """The tick's end once its monitors sampled and evaluated their alerts: both kept."""
        self.telemetry.samples.append(sample)
        for alert in closed:
            self.telemetry.closed_alerts.append(alert)
        return self.now + self.scenario.tick

    def _clients(self) -> Clients:
        """The call edges' client policies, rebuilt only when a mitigation changed retries or budgets
        (kept with their derived arrays, see ``Clients.derived``)."""
        w, ss = self.world, self.state.services
        key = (ss.retry_factor.tobytes(), ss.retry_budget.tobytes())
        kept = self._clients_kept
        if kept is None or kept[0] != key:
            arr = w.service_arrays
            clients = Clients(w.call_src, w.call_dst, arr["fanout"], arr["timeout_ms"],
                              arr["retries"] * ss.retry_factor, arr["backoff_ms"], ss.retry_budget.copy(),
                              arr["breaker_threshold"], arr["breaker_window_s"], arr["breaker_cooldown_s"],
                              arr["max_inflight"])
            kept = self._clients_kept = (key, clients)
        return kept[1]

    def _latent_defects(self, net: NetworkResult) -> None:
        st, w = self.state, self.world
        for feature, (pattern, threshold) in st.control.defects.items():
            if not st.control.features_enabled.get(feature, True):
                continue
            load = net.pattern_node_gbps.get(pattern)
            if load is None:
                continue
            for node in w.features.get(feature, []):
                if not st.network.node_blackhole[node] and not st.network.node_drained[node] and load[node] > threshold:
                    st.network.node_blackhole[node] = True

    def _services(self, net: NetworkResult, scale: float, dt: float):
        inputs = self._services_inputs(net, scale, dt)
        return self._services_done(service_step(*inputs.args, self.now, dt), inputs)

    def _services_inputs(self, net: NetworkResult, scale: float, dt: float) -> "ServiceInputs":
        """The services' side of the tick up to their model: memory, OOM kills, CPU hogs,
        capacity and admitted load, the calls' network loss and latency."""
        st, w = self.state, self.world
        cg = w.callgraph
        services = cg.services
        arr = w.service_arrays
        limit = arr["memory_limit_mb"]
        st.services.memory_mb = st.services.memory_mb + (st.services.leak_mb_per_s + st.services.release_leak) * dt
        oom = st.services.memory_mb >= limit
        for i in (np.flatnonzero(oom) if oom.any() else ()):
            lost = math.ceil(st.services.replicas_up[i] / 2)
            st.services.replicas_up[i] -= lost
            st.services.replicas_ready_at.append((self.now + 30.0, int(i), float(lost), False))
            st.services.memory_mb[i] = 0.3 * limit[i]
            self.log("health", services[i].name, f"{int(lost)} replica(s) of {services[i].name} OOM-killed and restarting")
        ss = st.services
        if ss.cpu_hog_growth.any():  # a growing hog takes more CPU each tick, up to its cap
            grown = ss.cpu_hog + ss.cpu_hog_growth * dt
            ss.cpu_hog = np.where(ss.cpu_hog_growth > 0, np.minimum(grown, np.maximum(ss.cpu_hog_cap, ss.cpu_hog)),
                                  ss.cpu_hog)
        cross, group, fab, probe = _call_paths(w, self.routing())
        own, calls = model_inputs(
            ss.memory_mb, limit, ss.replicas_up, ss.crashloop, ss.release_crashloop, arr["capacity_rps"], ss.cpu_hog,
            arr["entry_rps"], float(scale), ss.entry_factor, ss.entry_limit,
            float(st.network.class_resolvable[_USER]), arr["service_time_ms"], arr["queue_limit"], ss.injected_error,
            ss.release_error, w.call_src.shape[0], cross, group, _read_only(net.group_loss),
            _read_only(net.group_latency), fab, probe, _read_only(net.flow_loss), _read_only(net.flow_latency))
        mem_frac, gc, up, capacity, entry, admitted, service_time, queue_limit, injected = own
        args = (Services(admitted, capacity, service_time, queue_limit, injected), self._clients(),
                Carried(*_CARRIED(ss)), calls[0], calls[1], w.call_depth)
        return ServiceInputs(args, mem_frac, gc, up, entry, admitted)

    def _services_done(self, res: ServiceResult, inputs: "ServiceInputs"):
        """The services' side of the tick after their model: carried state, CPU, customer errors."""
        st = self.state
        ss = st.services
        per = self.world.service_arrays["capacity_rps"]
        gc, up, entry, admitted = inputs.gc, inputs.up, inputs.entry, inputs.admitted
        vars(ss).update(vars(res.carried))  # the model's carried state (its fields are the state's names)
        cpu, customer_err = tick_figures(res.rps, res.error_rate, up, per, gc, ss.cpu_hog, entry, admitted)
        st.last["svc_cpu"] = cpu
        return res, cpu, inputs.mem_frac, up, entry, customer_err


class ServiceInputs(NamedTuple):
    """One twin's services model inputs for a tick (``args``: service_step's first six
    arguments) and what the tick's end needs of their derivation."""

    args: tuple
    mem_frac: np.ndarray
    gc: np.ndarray
    up: np.ndarray
    entry: np.ndarray
    admitted: np.ndarray


def run_together(members: list[Twin], target: float | list[float] | tuple[float, ...],
                 network: Callable[[list[NetworkJob], NetworkParams], list[NetworkResult]],
                 services: Callable[[list[ServiceInputs], float | list[float], float], list[ServiceResult]]) -> None:
    """Advance twins of one world to ``target`` (one time, or one per member) with their ticks
    taken together.

    Members may be at different times and bound for different targets (a vector env's tool
    calls last different times). Members share nothing that changes, so they need not tick at
    the same simulated time to tick together: each round, every member whose next tick comes
    before its target takes that tick (its own time), and the round's ticks run phase by phase,
    ``network`` and ``services`` computing every member's network physics and services model at
    once and the monitors sampling and evaluating every member in one call each (both get one
    time per member when their times differ). Before its tick, each member's environment is
    brought to the head of the tick's wake-up (every earlier event, and those due at the same
    time but scheduled before it, processed in the member's own order); after it, the tick
    process wakes, takes its result and sleeps until the next tick. Events at a member's target
    itself wait, as in ``Environment.run(until=target)``.
    """
    targets = [float(target)] * len(members) if np.ndim(target) == 0 else [float(x) for x in target]
    if len(targets) != len(members):
        raise SimulationError(f"{len(targets)} targets for {len(members)} members: give one each, or one for all")
    for m, until in zip(members, targets):
        if until < m.now:
            raise SimulationError(f"until={until} is in the past (now={m.now})")
    live = list(zip(members, targets))
    while True:
        live = [(m, until) for m, until in live if m.state.wake["tick"][0] < until]
        if not live:
            break
        _tick_together([m for m, _ in live], [m.state.wake["tick"][0] for m, _ in live], network, services)
    for m, until in zip(members, targets):
        m.run(until=until)


def _tick_together(members: list[Twin], times: list[float],
                   network: Callable[[list[NetworkJob], NetworkParams], list[NetworkResult]],
                   services: Callable[[list[ServiceInputs], float | list[float], float], list[ServiceResult]]) -> None:
    """One tick of each member, member ``i``'s due at ``times[i]``, phase by phase."""
    for m, t in zip(members, times):
        m._to_tick(t)
        m.env._now = t  # noqa: SLF001 - the tick's wake-up is next in the queue: this is its time
        m.state.now = t
    begun = [m._tick_jobs() for m in members]
    results = network([job for (_, jobs), _ in begun for job in jobs], members[0]._net_params)
    nets, at = [], 0
    for m, ((shares, jobs), scale) in zip(members, begun):
        nets.append((m._network_done(list(zip(shares, results[at:at + len(jobs)]))), scale))
        at += len(jobs)
    one_time = min(times) == max(times)
    if members[0].world.callgraph:
        dt = members[0].scenario.tick
        inputs = [m._services_inputs(net, scale, dt) for m, (net, scale) in zip(members, nets)]
        results = services(inputs, times[0] if one_time else list(times), dt)
        svcs = [m._services_done(res, inp) for m, res, inp in zip(members, results, inputs)]
    else:
        svcs = [None] * len(members)
    states = [m.state for m in members]
    monitors = members[0].monitors
    when = times[0] if one_time else times
    samples = monitors.sample_many(states, when, [net for net, _ in nets], svcs)
    for m, t, sample, closed in zip(members, times, samples, monitors.evaluate_many(states, when, samples)):
        m._tick_done = (t, m._tick_recorded(sample, closed))
        m.env.step()


def _read_only(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``: network results share some arrays read-only on some ticks, and a
    kernel compiles (or loads) once per flag, so its arguments always go read-only."""
    if a.flags.writeable:
        a = a.view()
        a.flags.writeable = False
    return a


def _call_paths(world: World, routing: Routing) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Where each call edge's network loss and latency come from, as index arrays kept on the
    routing: cross-site calls (and their interdc flow group), calls inside a fabric (and their
    probe flow)."""
    hit = routing.cache.get("call_paths")
    if hit is None:
        cross = np.flatnonzero(world.call_pair >= 0)
        fab = np.flatnonzero(routing.call_flow >= 0)
        hit = routing.cache["call_paths"] = (cross, world.call_pair[cross] * 2 + CLASSES.index("interdc"), fab,
                                              routing.call_flow[fab])
    return hit
