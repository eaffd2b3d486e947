"""Monitors of a twin: the physics' exact values every tick, what sampling monitors make of them,
and alerts with hysteresis evaluated on what they saw.

Every tick the physics gives exact values (:class:`~twin.telemetry.recorder.Readings`, the
sandbox's truth). Monitors see them the way real ones do:

- **counters**: volumes (bytes carried and offered, requests, errors, CPU seconds) accumulate
  into cumulative counters on the device; a sample reads the counters and reports the rate
  over the time since that entity's last good read, so a rate is an average over the interval
  (and the first sample after a gap averages over the whole gap). Loss and error rates are
  ratios of counter deltas (drops over offered, errors over requests);
- **gauges** (latency percentiles, memory, up, replicas) are read as they are at sampling time;
- **sampling interval and export delay** per group (``monitoring.link|device|service``): a
  sample taken at ``t`` becomes visible to operators at ``t + delay``; between samples
  operators see the last visible one;
- **noise** (seeded, from the state's own monitor generator, so physics draws do not move):
  relative noise on gauges, the small jitter of a read's timestamp on counter rates (counters
  themselves are exact), plus the background error and drop rates real systems always show
  (``error_floor``, ``loss_floor``), so an error rate is never exactly 0;
- **gaps**: a sample is lost (NaN) while a monitoring outage covers its entity, with the
  group's ``loss`` probability, or with the packet loss on the group's ``export_path`` links
  (:func:`sample_loss_probability`: monitoring goes dark when its export path is congested).

:class:`Monitors` is built once per world and shared by every fork; it holds no state of its
own. Counters, samples in flight, open alerts and the seconds each condition has held live in
the twin's state (:class:`~twin.sim.state.AlertState`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from twin.errors import ScenarioError, SimulationError
from twin.model.world import CLASSES, World
from twin.sim import monitor_kernels
from twin.sim.export_path import export_loss
from twin.sim.network import NetworkResult
from twin.sim.state import AlertState, TwinState
from twin.telemetry.alerts import Alert, AlertRule, default_rules
from twin.telemetry.recorder import METRICS, Readings, Sample

if TYPE_CHECKING:
    from twin.scenario import MonitorGroupSpec, Scenario

__all__ = ["Monitors", "RuleGroup", "MonitorGroup", "sample_loss_probability"]

#: Weight of deferred traffic (a deferrable class's shed demand) in the impact, against lost traffic's 1.
DEFERRED_WEIGHT = 0.2
#: Monitor groups in the order they sample (the order of their random draws).
GROUPS = ("link", "service", "device", "traffic")
_NONE = np.zeros(0)  # an absent input of a kernel (no services)


class RuleGroup(NamedTuple):
    """The alert rules on one entity kind, as arrays: (entities x rules) evaluated at once."""

    kind: str
    rules: list[AlertRule]
    cols: np.ndarray  # metric column of each rule
    threshold: np.ndarray  # entities x rules, times ``sign``
    above: np.ndarray  # per rule: fires above (True) or below the threshold
    for_s: np.ndarray  # per rule: seconds the condition must hold, rounded to whole samples
    clear: np.ndarray  # entities x rules, times ``sign``: the value must be past this to clear
    clear_for_s: np.ndarray  # per rule: seconds past ``clear`` before the alert clears
    sign: np.ndarray  # per rule: +1 fires above, -1 below (``value * sign > threshold * sign``)
    zeros: np.ndarray  # entities x rules of 0.0, read-only: the seconds held while nothing is past a threshold


class MonitorGroup(NamedTuple):
    """How one entity kind is measured: which columns are counters (rates), ratios of counters
    (``ratio_of``: the column whose counter is the denominator, -1 otherwise) or gauges, and the
    group's sampling interval (whole ticks), export delay, noise, loss and export path."""

    kind: str
    counted: np.ndarray  # bool per column: read through a cumulative counter
    ratio_of: np.ndarray  # int per column: denominator column for a ratio, -1 otherwise
    noisy: np.ndarray  # bool per column: measured with relative noise
    floor: np.ndarray  # per column: background rate added (errors, drops)
    upper: np.ndarray  # per column (or entity x column): clip measured values to this, in float32 (see _noise)
    interval: float
    delay: float
    noise: float
    jitter: float
    loss: float
    export_links: np.ndarray  # link indices the samples cross
    cidx: np.ndarray  # the counted columns, in the order the counters hold them
    rpos: np.ndarray  # positions (in ``cidx``) of ratio numerators
    rden: np.ndarray  # ... their denominators' columns
    rden_pos: np.ndarray  # ... and those denominators' positions in ``cidx``
    rcol: np.ndarray  # ratio columns (``cidx[rpos]``)
    rate_idx: np.ndarray  # counted columns that are rates (not ratios): read-timing jitter
    gauge_idx: np.ndarray  # gauges measured with noise
    floor_idx: np.ndarray  # columns with a background rate
    upper_idx: np.ndarray  # columns with a finite upper bound
    scale: np.ndarray  # per column: relative noise (jitter on rates, noise on gauges, 0: exact)
    counts: tuple[tuple[int, int], ...]  # per counter: its column and its denominator's (-1: a rate)


def sample_loss_probability(loss: float, path_loss: np.ndarray) -> float:
    """Probability a sample is lost: the group's own ``loss``, or a drop on any link of its
    export path (``path_loss``: those links' packet loss now), whichever way it goes first.

    >>> round(sample_loss_probability(0.0, np.array([0.5, 0.5])), 2)
    0.75
    """
    return float(1.0 - (1.0 - loss) * np.prod(1.0 - np.clip(path_loss, 0.0, 1.0)))


def _group(kind: str, spec: "MonitorGroupSpec", tick: float, n_cols: int, export_links: np.ndarray,
           counted: tuple[int, ...], ratios: dict[int, int], exact: tuple[int, ...], floors: dict[int, float],
           upper: dict[int, float]) -> MonitorGroup:
    c = np.zeros(n_cols, dtype=bool)
    c[list(counted)] = True
    r = np.full(n_cols, -1)
    for col, den in ratios.items():
        r[col] = den
        c[col] = True
    noisy = np.ones(n_cols, dtype=bool)
    noisy[list(exact)] = False
    fl = np.zeros(n_cols)
    for col, v in floors.items():
        fl[col] = v
    up = np.full(n_cols, np.inf)
    for col, v in upper.items():
        up[col] = v
    interval = max(tick, round(spec.interval / tick) * tick)
    cidx = np.flatnonzero(c)
    pos = {int(col): j for j, col in enumerate(cidx)}
    rpos = np.array([j for j, col in enumerate(cidx) if r[col] >= 0], dtype=np.int64)
    rden = np.array([r[col] for col in cidx if r[col] >= 0], dtype=np.int64)
    rden_pos = np.array([pos[int(d)] for d in rden], dtype=np.int64)
    return MonitorGroup(kind, c, r, noisy, fl, up.astype(np.float32), interval, spec.delay, spec.noise, spec.jitter, spec.loss, export_links,
                        cidx, rpos, rden, rden_pos, cidx[rpos], np.flatnonzero(c & (r < 0) & noisy),
                        np.flatnonzero(~c & noisy), np.flatnonzero(fl), np.flatnonzero(np.isfinite(up)),
                        np.where(c & (r < 0) & noisy, spec.jitter, np.where(~c & noisy, spec.noise, 0.0)),
                        tuple((int(col), int(r[col])) for col in cidx))


class Monitors:
    """The monitors of one scenario's world: how each group samples and which alerts fire."""

    def __init__(self, scenario: "Scenario", world: World, entities: dict[str, tuple[str, ...]]) -> None:
        self.scenario, self.world, self.entities = scenario, world, entities
        self.tick = scenario.tick
        kinds = scenario.traffic.kinds
        self.deferrable = np.array([bool(kinds[c].deferrable) if c in kinds else False for c in ("user", "interdc")])
        slo = scenario.slo
        self.slo_p99 = np.array([slo.services.get(s, {}).get("p99_ms", slo.p99_ms) for s in world.services])
        self.slo_err = np.array([slo.services.get(s, {}).get("error_rate", slo.error_rate) for s in world.services])
        rules = default_rules(self.slo_p99, self.slo_err, slo.link_loss)
        for r in scenario.alerts:
            above = r.above is not None
            rules.append(AlertRule(r.name, r.entity_kind, r.metric, r.above if above else r.below, above, r.for_,
                                   r.severity, r.clear, 30.0 if r.clear_for is None else r.clear_for))
        self.rules: tuple[AlertRule, ...] = tuple(rules)
        self.groups = self._groups()
        self.sampling = self._sampling()
        # per WAN plane: its links, as indices (the KPIs read them every tick)
        self.plane_links = {p: np.flatnonzero(world.plane_masks[p]) for p in world.topology.planes}
        self.device_capacity = np.maximum(world.attached_capacity[world.devices], 1e-9)  # what CPU load scales by
        # the truth kernel's constants, packed once
        topo = world.topology
        self.link_ends = np.ascontiguousarray([topo.link_a, topo.link_b], dtype=np.int64).reshape(2, topo.n_links)
        planes = list(self.plane_links.values())
        self.plane_n = np.array([p.size for p in planes], dtype=np.int64)
        self.planes = np.zeros((len(planes), max([1, *self.plane_n])), dtype=np.int64)
        for i, p in enumerate(planes):
            self.planes[i, :p.size] = p
        self.slo = np.ascontiguousarray([self.slo_p99, self.slo_err], dtype=float).reshape(2, len(world.services))
        # the sampling kernels' constants: each counter's denominator column (-1: a rate), bounds as 2-D
        self.count_den = {k: np.array([den for _col, den in g.counts], dtype=np.int64) for k, g in self.sampling.items()}
        self.upper = {k: np.atleast_2d(g.upper) for k, g in self.sampling.items()}
        self.no_pending = {g.kind: np.zeros(g.zeros.shape) for g in self.groups}  # read by kernels only
        self._kpis = {svc: _kpi_layout(topo.planes, bool(self.deferrable.any()), svc) for svc in (False, True)}

    def kpi_names(self, with_services: bool) -> tuple[str, ...]:
        """The KPI names of a sample, in the order a sample's ``kpi`` holds them."""
        return self._kpis[with_services][0]

    def kpi_cols(self, with_services: bool) -> np.ndarray:
        """Their columns in the truth kernel's KPI rows."""
        return self._kpis[with_services][1]

    def _export_links(self, kind: str, spec: "MonitorGroupSpec") -> np.ndarray:
        links = self.world.topology.links
        idx = []
        for i, name in enumerate(spec.export_path):
            if name not in links:
                known = ", ".join(links[:8]) + (", ..." if len(links) > 8 else "")
                raise ScenarioError(self.scenario.path or self.scenario.name,
                                    f"monitoring.{kind}.export_path[{i}]", f"unknown link {name!r} (known: {known})")
            idx.append(links.index(name))
        return np.array(idx, dtype=np.int64)

    def _sampling(self) -> dict[str, MonitorGroup]:
        m, tick = self.scenario.monitoring, self.tick
        lk, sv = METRICS["link"], METRICS["service"]
        topo = self.world.topology
        # a counter's rate never beats line rate, whatever the jitter of its reads (both directions)
        line_rate = 2.0 * topo.capacity_gbps * (1.0 - self.scenario.network.header_overhead)
        link = _group("link", m.link, tick, len(lk), self._export_links("link", m.link),
                      counted=(lk.index("utilisation"), lk.index("throughput_gbps")),
                      ratios={lk.index("loss"): lk.index("utilisation")}, exact=(lk.index("up"),),
                      floors={lk.index("loss"): m.loss_floor}, upper={lk.index("loss"): 1.0})
        upper = np.tile(link.upper, (topo.n_links, 1))
        upper[:, lk.index("throughput_gbps")] = line_rate  # rounded to float32, as every bound
        finite = np.flatnonzero(np.isfinite(upper).all(axis=0))
        return {
            # interface counters: offered and carried bytes, drops over offered; link state is exact
            "link": link._replace(upper=upper, upper_idx=finite),
            # requests, errors over requests and CPU seconds counted; percentiles and memory are gauges
            "service": _group("service", m.service, tick, len(sv), self._export_links("service", m.service),
                              counted=(sv.index("rps"), sv.index("cpu")),
                              ratios={sv.index("error_rate"): sv.index("rps")},
                              exact=(sv.index("replicas"), sv.index("unavailable")),
                              floors={sv.index("error_rate"): m.error_floor},
                              upper={sv.index("error_rate"): 1.0, sv.index("cpu"): 1.0, sv.index("memory"): 1.0}),
            "device": _group("device", m.device, tick, 3, self._export_links("device", m.device),
                             counted=(1, 2), ratios={}, exact=(0,), floors={}, upper={1: 1.0}),
            # per-class volume from flow export, sampled like the interface counters
            "traffic": _group("traffic", m.link, tick, 1, self._export_links("link", m.link),
                              counted=(0,), ratios={}, exact=(), floors={}, upper={}),
        }

    def _groups(self) -> list[RuleGroup]:
        groups = []
        for kind in ("link", "service", "device"):
            rules = [r for r in self.rules if r.entity_kind == kind and r.metric in METRICS[kind]]
            n = len(self.entities[kind])
            if not rules or n == 0:
                continue
            cols = np.array([METRICS[kind].index(r.metric) for r in rules])
            thr = np.stack([np.broadcast_to(np.asarray(r.threshold, dtype=float), (n,)) for r in rules], axis=1)
            clear = np.stack([np.broadcast_to(np.asarray(r.clear_threshold(), dtype=float), (n,)) for r in rules], axis=1)
            above = np.array([r.above for r in rules])
            for_s = np.array([r.for_s + self.tick - 1e-9 if r.for_s > 0 else -np.inf for r in rules])
            clear_for = np.array([r.clear_for_s + self.tick - 1e-9 if r.clear_for_s > 0 else -np.inf for r in rules])
            sign = np.where(above, 1.0, -1.0)
            zeros = np.zeros((n, len(rules)))
            zeros.setflags(write=False)
            groups.append(RuleGroup(kind, rules, cols, thr * sign, above, for_s, clear * sign, clear_for, sign, zeros))
        return groups

    def sample(self, state: TwinState, now: float, net: NetworkResult, svc) -> Sample:
        """The exact values of this tick and what operators see of them at ``now``."""
        truth, kpi, traffic = _truth(self, state, net, svc)
        mon = self.scenario.monitoring
        via = {kind: export_loss(self.world, getattr(mon, kind).export_via, net)
               for kind in ("link", "service", "device") if getattr(mon, kind).export_via}
        return _observe(self, state, now, truth, kpi, traffic, via)

    def sample_many(self, states: list[TwinState], now: float | Sequence[float], nets: list[NetworkResult],
                    svcs: list) -> list[Sample]:
        """:meth:`sample` for several twins of one world, each at its own time (``now``: one per
        member, or one for all): their exact values in one pass (:func:`_truth_many`), then their
        reads, each member sampling on its own period's phase and drawing its noise and losses
        from its own generator in its own order, the noise maths in one pass (:func:`_observe_many`)."""
        nows = _member_times(now, len(states))
        if len(states) == 1:
            return [self.sample(states[0], nows[0], nets[0], svcs[0])]
        mon = self.scenario.monitoring
        vias = [{kind: export_loss(self.world, getattr(mon, kind).export_via, net)
                 for kind in ("link", "service", "device") if getattr(mon, kind).export_via} for net in nets]
        block = _truth_block(self, states, nets, svcs)
        return _observe_many(self, states, nows, _hand_out(*block), vias, block)

    def evaluate_many(self, states: list[TwinState], now: float | Sequence[float],
                      samples: list[Sample]) -> list[list[Alert]]:
        """:meth:`evaluate` for several twins of one world, each at its own time (``now``: one per
        member, or one for all), their tests stacked."""
        nows = _member_times(now, len(states))
        if len(states) == 1:
            return [self.evaluate(states[0], nows[0], samples[0])]
        return _evaluate_many(self, states, nows, samples)

    def evaluate(self, state: TwinState, now: float, sample: Sample) -> list[Alert]:
        """Open and clear alerts in ``state`` on what monitors saw; returns the alerts that cleared."""
        return _evaluate(self, state, now, sample)


def _kpi_layout(planes: Sequence[str], defers: bool, with_services: bool) -> tuple[tuple[str, ...], np.ndarray]:
    """The names of a sample's KPIs (in a solo sample's order) and their truth-kernel columns."""
    names = list(monitor_kernels.KPI_BASE)
    for plane in planes:
        names += [f"{plane}_utilisation", f"{plane}_gbps"]
    names += monitor_kernels.KPI_SERVICE
    keep = [i for i, n in enumerate(names) if (n != "deferred_gbps" or defers) and (n != "service_bad" or with_services)]
    return tuple(names[i] for i in keep), np.array(keep, dtype=np.int64)


def _member_times(now: float | Sequence[float], n: int) -> list[float]:
    """One time per member: ``now`` repeated for a single time, or as given (one per member)."""
    if np.ndim(now) == 0:
        return [float(now)] * n
    nows = [float(t) for t in now]
    if len(nows) != n:
        raise SimulationError(f"now: {len(nows)} times for {n} members (give one per member, or one for all)")
    return nows


def _cat(xs: list[np.ndarray]) -> np.ndarray:
    """Members' arrays member-major, as one array (a single member's as it is: no copy)."""
    return xs[0] if len(xs) == 1 else np.concatenate(xs)


def _truth(mon: Monitors, st: TwinState, net: NetworkResult, svc) -> tuple[Readings, dict[str, float], np.ndarray]:
    """The physics' exact values per entity, the sandbox's KPIs, and per-class volume (the batch of one)."""
    return _truth_many(mon, [st], [net], [svc])[0]


def _truth_many(mon: Monitors, states: list[TwinState], nets: list[NetworkResult],
                svcs: list) -> list[tuple[Readings, dict[str, float], np.ndarray]]:
    """The physics' exact values per entity, the sandbox's KPIs and per-class volume of each
    member of a batch (a solo twin: the batch of one), in one kernel call
    (:func:`~twin.sim.monitor_kernels.truth`)."""
    return _hand_out(*_truth_block(mon, states, nets, svcs))


def _truth_block(mon: Monitors, states: list[TwinState], nets: list[NetworkResult], svcs: list) -> tuple:
    """:func:`_truth_many`'s values as the kernel gives them, member-major: links, services and
    devices as (members, entities, columns), the KPIs as one list per member, per-class volume
    as (members, classes, 1)."""
    b = len(states)
    w = mon.world
    nw = [st.network for st in states]
    # each input as one array, member-major (a lone member's own array: no copy, no list)
    if b == 1:
        def cat(objs: list, name: str) -> np.ndarray:
            return getattr(objs[0], name)
    else:
        def cat(objs: list, name: str) -> np.ndarray:
            return np.concatenate([getattr(o, name) for o in objs])
    with_services = svcs[0] is not None
    if with_services:  # each member's (result, cpu, memory, up, entry, customer errors)
        res = [s[0] for s in svcs]
        svc_in = ([cat(res, "rps"), cat(res, "p50_ms"), cat(res, "p99_ms")]
                  + [svcs[0][i] if b == 1 else np.concatenate([s[i] for s in svcs]) for i in (5, 3, 1, 2, 4)]
                  + [states[0].services.replicas if b == 1 else np.concatenate([st.services.replicas for st in states])])
    else:
        svc_in = [_NONE] * 9
    ctl = [st.control for st in states]
    link, device, service, kpi = monitor_kernels.truth(
        b, cat(nets, "arc_capacity"), cat(nets, "arc_offered"), cat(nets, "arc_loss"), cat(nets, "arc_latency"),
        cat(nets, "arc_carried"), mon.link_ends, cat(nw, "link_down"), cat(nw, "node_down"), cat(nw, "node_cpu"),
        cat(nets, "node_gbps"), cat(ctl, "health_alarm"), w.devices, mon.device_capacity, cat(nets, "group_wanted"),
        cat(nets, "group_gbps"), cat(nets, "group_loss"), cat(nw, "class_limit"), mon.deferrable, mon.planes,
        mon.plane_n, *svc_in, mon.slo, mon.scenario.slo.user_loss, with_services)
    kpis = kpi[:, mon.kpi_cols(with_services)].tolist()
    traffic = kpi[:, 1:3].astype(np.float32).reshape(b, len(CLASSES), 1)
    return (mon.kpi_names(with_services), link.reshape(b, -1, link.shape[1]), service.reshape(b, -1, service.shape[1]),
            device.reshape(b, -1, device.shape[1]), kpis, traffic)


def _hand_out(names: tuple[str, ...], link: np.ndarray, service: np.ndarray, device: np.ndarray, kpis: list,
              traffic: np.ndarray) -> list[tuple[Readings, dict[str, float], np.ndarray]]:
    """Each member's part of :func:`_truth_block`'s values: its readings, KPI dict and volume."""
    if link.shape[0] == 1:
        return [(Readings(link[0], service[0], device[0]), dict(zip(names, kpis[0])), traffic[0])]
    # copies: a member's samples must not keep the whole batch's arrays alive after the batch
    return [(Readings(x.copy(), y.copy(), z.copy()), dict(zip(names, row)), v.copy())
            for x, y, z, row, v in zip(link, service, device, kpis, traffic)]


def _silent(mon: Monitors, st: TwinState, kind: str, n: int) -> np.ndarray | None:
    """Entities of ``kind`` whose monitors a monitoring outage silences now (None: none)."""
    down = st.alerts.monitoring_down
    if not down or kind == "traffic":
        return None
    out = np.zeros(n, dtype=bool)
    if f"{kind}s" in down:
        out[:] = True
    w = mon.world
    topo = w.topology
    for site in sorted(down & set(topo.sites)):
        if kind == "link":
            out |= np.array([topo.node_site[a] == site for a in topo.link_a], dtype=bool)
        elif kind == "service":
            out |= w.service_site == w.site_index[site]
        else:
            out |= np.array([topo.node_site[d] == site for d in w.devices], dtype=bool)
    return out


def _observe(mon: Monitors, st: TwinState, now: float, truth: Readings, kpi: dict[str, float],
             traffic: np.ndarray, via: dict[str, float] | None = None) -> Sample:
    rng = _monitor_rng(mon, st)
    exact = {"link": truth.link, "service": truth.service, "device": truth.device, "traffic": traffic}
    for kind in GROUPS:
        read = _read(mon, st, now, kind, exact[kind])
        if read is None:
            continue
        seen = read[0]
        _noise(mon.sampling[kind], seen, rng.standard_normal(seen.shape, dtype=np.float32), mon.upper[kind])
        _lose(mon, st, rng, now, kind, exact, via, read)
    return _visible(st, now, truth, kpi, exact)


def _observe_many(mon: Monitors, states: list[TwinState], nows: list[float],
                  truths: list[tuple[Readings, dict[str, float], np.ndarray]], vias: list[dict[str, float]],
                  block: tuple | None = None) -> list[Sample]:
    """:func:`_observe` for several twins of one world, member ``k`` at ``nows[k]`` (its
    timestamps, its counters' spans, whether its period's next read is due): each member reads
    its counters, draws its noise and its lost samples from its own generator in its own order
    (kind by kind, the noise before the losses), and the noise maths, elementwise, runs once on
    the reads of the members that read stacked. Each member's samples are its own arrays
    (copies), as alone. ``block``: the exact values as :func:`_truth_block` gave them, if at
    hand (a kind every member reads over one tick is then copied from it at once)."""
    b = len(states)
    rngs = [_monitor_rng(mon, st) for st in states]
    exacts = [{"link": t.link, "service": t.service, "device": t.device, "traffic": traffic} for t, _, traffic in truths]
    stacked = dict(zip(("link", "service", "device", "traffic"), block[1:4] + block[5:])) if block else {}
    for kind in GROUPS:
        g = mon.sampling[kind]
        if kind in stacked and _one_tick_reads(mon, states, kind):
            if stacked[kind].shape[1] == 0:
                continue
            for st, now in zip(states, nows):
                st.alerts.next_sample[kind] = now + g.interval
            ks, reads, seen = range(b), [(None, True, None, None, None)] * b, stacked[kind].copy()
        else:
            reads = [_read(mon, st, now, kind, exact[kind], copy=False) for st, now, exact in zip(states, nows, exacts)]
            ks = [k for k in range(b) if reads[k] is not None]
            if not ks:
                continue
            seen = np.stack([reads[k][0] for k in ks])  # a copy: the exact values stay as they are
        z = np.empty(seen.shape, dtype=np.float32)
        for j, k in enumerate(ks):  # each member's draw, as alone, into its row
            rngs[k].standard_normal(out=z[j], dtype=np.float32)
        _noise(g, seen, z, mon.upper[kind])
        lossless = g.loss == 0 and g.export_links.size == 0  # only an outage or an export plane loses samples
        for j, k in enumerate(ks):
            st = states[k]
            if lossless and reads[k][1] and not st.alerts.monitoring_down and kind not in vias[k]:
                _send(st.alerts, g, kind, nows[k], seen[j].copy())  # _lose's case of nothing lost over one tick
            else:
                _lose(mon, st, rngs[k], nows[k], kind, exacts[k], vias[k], (seen[j].copy(),) + reads[k][1:])
    return [_visible(st, now, t, kpi, exact) for st, now, (t, kpi, _), exact in zip(states, nows, truths, exacts)]


def _one_tick_read(mem: AlertState, g: MonitorGroup, kind: str, dt: float) -> bool:
    """Whether a read of ``kind`` this tick spans this one tick: the group is read every tick
    and no read was missed, so a rate is the tick's own value and the counters need not be
    kept until a read is lost."""
    return g.interval <= dt + 1e-9 and not mem.last_read.get(kind + "/gap", False)


def _one_tick_reads(mon: Monitors, states: list[TwinState], kind: str) -> bool:
    """Whether every member reads ``kind`` over this one tick (:func:`_read`'s fast case, with
    its counters started)."""
    g, dt = mon.sampling[kind], mon.tick
    return all(kind in st.alerts.counters and _one_tick_read(st.alerts, g, kind, dt) for st in states)


def _monitor_rng(mon: Monitors, st: TwinState) -> np.random.Generator:
    mem = st.alerts
    if mem.rng is None:  # a state built by hand (tests): monitors draw from their own seeded stream
        mem.rng = np.random.default_rng([mon.scenario.seed, 1])
    return mem.rng


def _read(mon: Monitors, st: TwinState, now: float, kind: str, v: np.ndarray, copy: bool = True) -> tuple | None:
    """What one group's monitors read this tick before noise (None: no read is due): the values,
    whether they are one-tick reads, and the counters' state for a read over a longer span.
    ``copy=False``: a one-tick read may be ``v`` itself (the caller copies it before the noise)."""
    mem, dt = st.alerts, mon.tick
    g = mon.sampling[kind]
    n = v.shape[0]
    if n == 0:
        return None
    end = now + dt  # this tick's values hold until the next tick
    if kind not in mem.counters:  # counters and their last reads are (counter, entity): one row per counter
        mem.counters[kind] = np.zeros((g.cidx.size, n))
        mem.last_read[kind] = np.zeros((g.cidx.size, n))
        mem.last_read[kind + "/t"] = np.full(n, now)
        mem.next_sample[kind] = now
    fast = _one_tick_read(mem, g, kind, dt)
    if fast:
        mem.next_sample[kind] = now + g.interval
        return v.copy() if copy else v, fast, None, None, None
    counters = mem.counters[kind]
    # counters count in value x ticks (dt applied at the read)
    monitor_kernels.count(counters, v, g.cidx, mon.count_den[kind])
    if now + 1e-9 < mem.next_sample[kind]:
        return None
    mem.next_sample[kind] = now + g.interval
    last, last_t = mem.last_read[kind], mem.last_read[kind + "/t"]
    seen = monitor_kernels.read(v, counters, last, last_t, end, dt, g.cidx, g.rpos, g.rden_pos, g.rcol)
    return seen, fast, counters, last, last_t


def _noise(g: MonitorGroup, seen: np.ndarray, z: np.ndarray, upper: np.ndarray | None = None) -> None:
    """A read's noise, in place: ``seen`` is (entities, columns), or a stack of members' reads
    (members, entities, columns) with their draws ``z``; elementwise either way
    (:func:`~twin.sim.monitor_kernels.noise`; ``upper``: ``g.upper`` as 2-D, if at hand).

    Counters are exact: a rate errs only by the jitter of its read's timestamp (ratios cancel
    it); gauges carry their own measurement noise; error and drop ratios a small positive
    background (floor x chi-square(1): mean ``floor``).
    """
    n, c = seen.shape[-2:]
    monitor_kernels.noise(seen.reshape(-1, c), z.reshape(-1, c), n, g.scale, g.floor, g.floor_idx.size > 0,
                          np.atleast_2d(g.upper) if upper is None else upper)


def _lose(mon: Monitors, st: TwinState, rng: np.random.Generator, now: float, kind: str, exact: dict,
          via: dict[str, float] | None, read: tuple) -> None:
    """Samples lost (silenced, dropped, or on a lossy export path), the counters' state after
    the read, and the sample sent on its way to operators."""
    seen, fast, counters, last, last_t = read
    mem, dt = st.alerts, mon.tick
    g = mon.sampling[kind]
    v = exact[kind]
    n = v.shape[0]
    end = now + dt
    gap_key = kind + "/gap"
    lost = _silent(mon, st, kind, n)
    p = sample_loss_probability(g.loss, exact["link"][g.export_links, 1]) if g.export_links.size else g.loss
    if via and kind in via:  # samples crossing a plane: lost where it drops packets
        p = 1.0 - (1.0 - p) * (1.0 - via[kind])
    if p > 0:
        drawn = rng.random(n) < p
        lost = drawn if lost is None else lost | drawn
    if lost is not None and lost.any():
        seen[lost] = np.nan
        # a lost read leaves the counter unread: the next good one averages over the gap
        if fast:  # start counting from this tick for the entities whose read was lost
            inc = v.T[g.cidx].astype(float)
            if g.rpos.size:
                inc[g.rpos] *= v.T[g.rden]
            mem.counters[kind] = inc
            mem.last_read[kind] = np.where(lost, 0.0, inc)
            mem.last_read[kind + "/t"] = np.where(lost, now, end)
            mem.last_read[gap_key] = np.True_
        else:
            mem.last_read[kind] = np.where(lost, last, counters)
            mem.last_read[kind + "/t"] = np.where(lost, last_t, end)
    elif not fast:
        mem.last_read[kind] = counters.copy()
        last_t.fill(end)
        if g.interval <= dt + 1e-9:
            mem.last_read[gap_key] = np.False_  # every entity read: back to one-tick reads
    _send(mem, g, kind, now, seen)


def _send(mem: AlertState, g: MonitorGroup, kind: str, now: float, seen: np.ndarray) -> None:
    """A sample taken at ``now`` on its way to operators, visible ``g.delay`` later."""
    # monitors ran before the twin started: the first sample is visible at once
    visible_at = now + g.delay if kind in mem.visible else now
    mem.in_flight.append((visible_at, kind, now, seen))


def _visible(st: TwinState, now: float, truth: Readings, kpi: dict[str, float], exact: dict) -> Sample:
    """The tick's sample: what has reached operators by ``now``, with the exact values beside it."""
    mem = st.alerts
    if mem.in_flight:
        keep = []
        for item in mem.in_flight:
            if item[0] <= now + 1e-9:
                mem.visible[item[1]] = (item[2], item[3])
            else:
                keep.append(item)
        mem.in_flight = keep
    vis = mem.visible
    blank = {k: np.full(np.shape(exact[k]), np.nan, dtype=np.float32) for k in GROUPS if k not in vis}
    return Sample(
        now,
        vis["link"][1] if "link" in vis else blank["link"],
        vis["service"][1] if "service" in vis else blank["service"],
        vis["device"][1] if "device" in vis else blank["device"],
        kpi,
        truth=truth,
        measured_at={k: at for k, (at, _) in vis.items()},
        traffic=vis["traffic"][1] if "traffic" in vis else None,
    )


def _evaluate(mon: Monitors, st: TwinState, now: float, sample: Sample) -> list[Alert]:
    """Open and clear alerts in ``st`` on what monitors saw (the batch of one)."""
    return _evaluate_many(mon, [st], [now], [sample])[0]


def _evaluate_many(mon: Monitors, states: list[TwinState], nows: list[float],
                   samples: list[Sample]) -> list[list[Alert]]:
    """Alerts of several twins of one world, member ``k`` at ``nows[k]``: each rule group's
    tests for every member not quiet in one kernel call
    (:func:`~twin.sim.monitor_kernels.evaluate`), each member's alert state and its alerts
    opened and cleared as alone (held and calm seconds count ticks, so only an alert's start
    and end take the member's time)."""
    dt = mon.tick
    closed: list[list[Alert]] = [[] for _ in states]
    for group in mon.groups:
        kind = group.kind
        ats = [s.measured_at.get(kind) for s in samples]
        # a sample seen already, which fired nothing and had nothing open, still does
        ks = [k for k, (st, at) in enumerate(zip(states, ats)) if not (at is not None and st.alerts.quiet.get(kind) == at)]
        if not ks:
            continue
        shape = group.threshold.shape
        pending = [_pending(states[k], kind, shape) for k in ks]
        parts = ([getattr(samples[k], kind) for k in ks], pending, [states[k].alerts.pending[kind + "/calm"] for k in ks],
                 [states[k].alerts.pending[kind + "/open"] for k in ks])
        if len(ks) == 1 and pending[0] is group.zeros:  # its writable twin: a kernel types read-only arrays apart
            parts = parts[:1] + ([mon.no_pending[kind]],) + parts[2:]
        v, pending, calm, is_open = (x[0][None] if len(ks) == 1 else np.stack(x) for x in parts)
        flags, held, opened, calm_s, cleared = monitor_kernels.evaluate(
            v, group.cols, group.sign, group.threshold, group.for_s, group.clear, group.clear_for_s,
            pending, calm, is_open, dt)
        one = len(ks) == 1
        for j, (any_hit, any_open, any_opened, any_cleared) in enumerate(flags.tolist()):
            k = ks[j]
            st = states[k]
            # nothing past a threshold: the shared zeros (no one writes to them)
            st.alerts.pending[kind] = (held[j] if one else held[j].copy()) if any_hit else group.zeros
            _quiet(st, kind, ats[k], any_hit, any_open)
            if any_open:
                st.alerts.pending[kind + "/calm"] = calm_s[j] if one else calm_s[j].copy()
            if any_opened or any_cleared:
                ci, cr = np.nonzero(cleared[j]) if any_cleared else (None, None)
                _changed(mon, st, nows[k], group, v[j], opened[j] if any_hit else None, ci, cr, is_open[j], closed[k])
    return closed


def _pending(st: TwinState, kind: str, shape: tuple) -> np.ndarray:
    """Seconds each (entity, rule) condition has held (zeros, and no alert open, at the first evaluation)."""
    pending = st.alerts.pending.get(kind)
    if pending is None:
        pending = np.zeros(shape)
        st.alerts.pending[kind + "/open"] = np.zeros(shape, dtype=bool)
        st.alerts.pending[kind + "/calm"] = np.zeros(shape)
    return pending


def _quiet(st: TwinState, kind: str, at: float | None, any_hit: bool, any_open: bool) -> None:
    """Mark the sample quiet (nothing past a threshold, nothing open): it is not tested again."""
    if at is not None and not any_hit and not any_open:
        st.alerts.quiet[kind] = at
    else:
        st.alerts.quiet.pop(kind, None)


def _changed(mon: Monitors, st: TwinState, now: float, group: RuleGroup, sample: np.ndarray, opened: np.ndarray | None,
             ci: np.ndarray | None, cr: np.ndarray | None, is_open: np.ndarray, closed: list[Alert]) -> None:
    """Alerts that open (``opened``) and clear (``ci``, ``cr``) now on the values ``sample`` (entities x
    metrics): into the state, the cleared into ``closed``."""
    if ci is None and (opened is None or not opened.any()):
        return
    kind, rules, thr, sign = group.kind, group.rules, group.threshold, group.sign
    names = mon.entities
    values = sample[:, group.cols] * sign  # signed, as the rules tested them
    if opened is None:
        opened = np.zeros(values.shape, dtype=bool)
    for i, r in zip(*np.nonzero(opened)):
        rule, entity = rules[r], names[kind][i]
        st.alerts.open[(rule.name, entity)] = dict(
            name=rule.name,
            entity=entity,
            entity_kind=kind,
            severity=rule.severity,
            start=now,
            end=None,
            value=float(values[i, r] * sign[r]),
            message=f"{rule.name}: {entity} {rule.metric}={values[i, r] * sign[r]:.3g} "
            f"{'>' if rule.above else '<'} {thr[i, r] * sign[r]:.3g}",
        )
    is_open = is_open | opened
    if ci is not None:
        for i, r in zip(ci, cr):
            alert = st.alerts.open.pop((rules[r].name, names[kind][i]))
            alert["end"] = now
            closed.append(Alert(**alert))
        is_open[ci, cr] = False
    st.alerts.pending[kind + "/open"] = is_open
