"""One flow model per tick: rates, loss where packets drop, queues that follow buffers.

Fluid model, solved as one fixed point for all flows of a tick:

* **Links** (arcs) have a payload capacity (line rate times the share of a packet that is not
  headers), a one-way propagation delay, a buffer (milliseconds at line rate), a queue
  discipline (a drop-tail FIFO, or per-flow fair queueing with an optional AQM target delay)
  and a loss of their own (a faulty optic).
* **Inelastic flows** (UDP, or a class marked inelastic) send their demand. A drop-tail link
  whose arrivals exceed its capacity drops the same fraction of every flow there, and only
  there: downstream links see what is left. A fair-queueing link drops only what a flow sends
  above its max-min share.
* **Elastic flows** (TCP aggregates of ``connections`` connections) send what congestion
  control allows. On drop-tail links the drop rate ``p`` is a price: each flow gets Padhye's
  throughput for its round-trip time and path loss, and ``p`` settles where the link is just
  full (the joint solution of the throughput formula and link loss). On a fair-queueing link a
  flow gets its max-min share, less what its window sawtooth wastes when the AQM keeps the
  queue near its target.
* **Queues**: a drop-tail link kept full by elastic flows holds the standing queue of the
  aggregate window's sawtooth (buffer against bandwidth-delay product, which shrinks with the
  square root of the number of connections); an overloaded link a full buffer; otherwise the
  Kingman (G/D/1) wait for the arrivals' burstiness. Queueing delay feeds round-trip times,
  which feed TCP rates, until the fixed point holds.

Everything is vectorised over a sparse incidence ``flow_of[i]`` crosses ``arc_of[i]``, with
each flow's entries contiguous and in path order.

>>> import numpy as np
>>> links = Links.uniform(1, capacity=10.0, delay_ms=2.0, buffer_ms=120.0, packet_ms=1.2)
>>> flows = Flows.make(np.array([0, 1, 2]), np.array([0, 0, 0]), demand=np.array([2.0, 8.0, 8.0]))
>>> sol = solve(links, flows)
>>> [round(float(x), 2) for x in sol.delivered]     # drop-tail: everyone loses 1 - 10/18
[1.11, 4.44, 4.44]
>>> sol = solve(links.with_fair(True), flows)  # fair queueing: the small flow is protected
>>> [round(float(x), 2) for x in sol.delivered]
[2.0, 4.0, 4.0]
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from twin.physics.maxmin import max_min_rates

__all__ = ["Links", "Flows", "FlowSolution", "solve", "solve_many", "padhye_rate", "sawtooth"]

#: Outer iterations of the fixed point (rates <-> drop prices <-> queues).
ITERATIONS = 60


@dataclass(frozen=True)
class Links:
    """Per arc: what the flow model needs to know about a link direction."""

    capacity: np.ndarray  # payload rate (same unit as demands)
    delay_ms: np.ndarray  # one-way propagation
    buffer_ms: np.ndarray  # buffer, in milliseconds at line rate
    packet_ms: np.ndarray  # one packet's transmission time at line rate
    fair: np.ndarray  # True: per-flow fair queueing; False: drop-tail FIFO
    aqm_ms: np.ndarray  # fair-queueing AQM target delay (0: tail drop only)
    base_loss: np.ndarray  # the link's own loss (corruption), applied to all it carries

    @classmethod
    def uniform(cls, n: int, *, capacity: float, delay_ms: float, buffer_ms: float, packet_ms: float,
                fair: bool = False, aqm_ms: float = 0.0) -> "Links":
        full = lambda v, dt=float: np.full(n, v, dtype=dt)  # noqa: E731
        return cls(full(capacity), full(delay_ms), full(buffer_ms), full(packet_ms), full(fair, bool),
                   full(aqm_ms), np.zeros(n))

    def with_fair(self, fair: bool, aqm_ms: float = 0.0) -> "Links":
        n = self.capacity.shape[0]
        return replace(self, fair=np.full(n, fair), aqm_ms=np.full(n, aqm_ms))


@dataclass(frozen=True)
class Flows:
    """Per flow: its path (incidence), demand and traffic kind."""

    flow_of: np.ndarray
    arc_of: np.ndarray
    demand: np.ndarray  # np.inf: a bulk transfer that takes what congestion control allows
    elastic: np.ndarray  # True: TCP-like; False: sends its demand whatever happens
    connections: np.ndarray  # TCP connections in the aggregate (>= 1)
    extra_rtt_ms: np.ndarray  # round-trip delay outside the modelled arcs (hosts, access)
    packet: np.ndarray  # packet payload size in rate-unit-seconds (Mbit for Mbps)
    burstiness: np.ndarray  # squared coefficient of variation of arrivals (0: constant rate)
    rto_min_ms: float = 200.0
    start_of: np.ndarray | None = None  # per entry: index of its flow's first entry (see make)
    max_hops: int = 0

    @classmethod
    def make(cls, flow_of: np.ndarray, arc_of: np.ndarray, *, demand: np.ndarray, elastic=False, connections=1.0,
             extra_rtt_ms=0.0, packet: float = 0.012, burstiness=1.0, rto_min_ms: float = 200.0) -> "Flows":
        n = demand.shape[0]
        b = lambda v, dt=float: np.broadcast_to(np.asarray(v, dtype=dt), (n,)).copy()  # noqa: E731
        flow_of = np.asarray(flow_of, dtype=np.int64)
        start_of, _ = _segments(flow_of, n)
        max_hops = int(np.bincount(flow_of).max(initial=0)) if flow_of.size else 0
        return cls(flow_of, np.asarray(arc_of, dtype=np.int64), np.asarray(demand, dtype=float), b(elastic, bool),
                   b(connections), b(extra_rtt_ms), b(packet), b(burstiness), rto_min_ms, start_of, max_hops)

    def with_demand(self, demand: np.ndarray) -> "Flows":
        """The same flows with other demands (``dataclasses.replace`` without its per-call cost)."""
        return Flows(self.flow_of, self.arc_of, demand, self.elastic, self.connections, self.extra_rtt_ms, self.packet,
                     self.burstiness, self.rto_min_ms, self.start_of, self.max_hops)


@dataclass(frozen=True)
class FlowSolution:
    sent: np.ndarray  # per flow: what the source sends
    delivered: np.ndarray  # per flow: what reaches the destination
    loss: np.ndarray  # per flow: 1 - delivered / sent
    path_loss: np.ndarray  # per flow: the share of its packets the path drops (defined at zero rate too)
    rtt_ms: np.ndarray  # per flow: propagation both ways + queueing on the way
    latency_ms: np.ndarray  # per flow: one-way
    arc_arrival: np.ndarray  # per arc: offered to the link (after upstream drops)
    arc_carried: np.ndarray  # per arc: what leaves the link (the link's counter)
    arc_loss: np.ndarray  # per arc: dropped / arrival
    arc_queue_ms: np.ndarray
    arc_utilisation: np.ndarray  # carried / capacity


def padhye_rate(rtt_s: np.ndarray, p: np.ndarray, packet: np.ndarray, rto_s: np.ndarray) -> np.ndarray:
    """One TCP connection's throughput (Padhye et al.) for loss ``p``; infinite when p = 0."""
    p = np.asarray(p, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        denom = rtt_s * np.sqrt(2 * p / 3) + rto_s * np.minimum(1.0, 3 * np.sqrt(3 * p / 8)) * p * (1 + 32 * p * p)
        return np.where(p > 0, packet / np.maximum(denom, 1e-300), np.inf)


def sawtooth(buffer: np.ndarray, bdp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(link utilisation, mean standing queue) of an AIMD window that halves when the buffer fills.

    The window swings between (bdp + buffer) / 2 and bdp + buffer, linearly in time; the link
    idles while it is below bdp and queues what is above. Both in the units of the inputs.

    >>> u, q = sawtooth(np.array([100.0, 0.0]), np.array([10.0, 10.0]))
    >>> round(float(u[0]), 3), round(float(q[0]), 1), round(float(u[1]), 2)
    (1.0, 72.5, 0.75)
    """
    lo = (bdp + buffer) / 2
    hi = bdp + buffer
    span = np.maximum(hi - lo, 1e-12)
    # share of the swing below bdp, and the mean window there / the mean excess above it
    below = np.clip((bdp - lo) / span, 0.0, 1.0)
    mean_below = (lo + np.minimum(bdp, hi)) / 2
    util = np.where(bdp > 0, (below * mean_below + (1 - below) * bdp) / np.maximum(bdp, 1e-12), 1.0)
    start = np.maximum(lo, bdp)
    queue = (1 - below) * ((start + hi) / 2 - bdp)
    return np.minimum(util, 1.0), np.maximum(queue, 0.0)


def _segments(flow_of: np.ndarray, n_flows: int) -> tuple[np.ndarray, np.ndarray]:
    """Index of each entry's flow start, and each flow's first entry (-1 if it crosses nothing)."""
    n = flow_of.shape[0]
    starts = np.ones(n, dtype=bool)
    if n:
        starts[1:] = flow_of[1:] != flow_of[:-1]
    start_of = np.maximum.accumulate(np.where(starts, np.arange(n), 0)) if n else np.zeros(0, np.int64)
    first = np.full(n_flows, -1, dtype=np.int64)
    first[flow_of[starts]] = np.flatnonzero(starts)
    return start_of, first


@dataclass(frozen=True)
class _Stack:
    """Several members' problems concatenated member-major (see :func:`solve_many`).

    A running sum over a concatenation is not each member's own running sum (the earlier
    members' total is carried in), so each member's entries sit in a row of a zero-padded
    (members, widest) array whose ``cumsum(axis=1)`` adds each row in order from its start,
    as a 1-D ``cumsum`` of that member alone does (checked bit for bit by a test). The
    settling loops stop per member, after as many rounds as that member would run alone.
    """

    entry_lo: np.ndarray  # per member, its first entry; one more at the end (the total)
    arc_lo: np.ndarray  # per member, its first arc; one more at the end
    flow_lo: np.ndarray  # per member, its first flow; one more at the end
    row: np.ndarray  # per entry: its member
    col: np.ndarray  # per entry: its position among its member's entries
    width: int  # the most entries of one member
    arc_member: np.ndarray  # per arc: its member
    settle_rounds: np.ndarray  # per member: the first settling loop's bound (4 * max_hops + 4)
    cap_rounds: np.ndarray  # per member: the capacity loop's bound (max_hops + 1)


def _surviving(drop_e: np.ndarray, keep_base: np.ndarray, sent_e: np.ndarray, start_of: np.ndarray,
               stack: _Stack | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per entry under drops ``drop_e``: the share kept, its log, and the traffic arriving
    (what survived the hops before), one round of the drop loops."""
    keep_e = (1.0 - drop_e) * keep_base
    log_keep = np.log(np.maximum(keep_e, 1e-300))
    return keep_e, log_keep, sent_e * _exclusive_pass(log_keep, start_of, stack)


def _exclusive_pass(log_keep: np.ndarray, start_of: np.ndarray, stack: _Stack | None = None) -> np.ndarray:
    """Per entry: the share of the flow's traffic that survives the hops before this one."""
    if log_keep.size == 0:
        return np.ones(0)
    if stack is None:
        cs = log_keep.cumsum()
    else:  # each member's own running sum, in a row of its own
        pad = np.zeros((stack.arc_lo.shape[0] - 1, stack.width))
        pad[stack.row, stack.col] = log_keep
        cs = pad.cumsum(axis=1)[stack.row, stack.col]
    before = cs - log_keep  # inclusive sum up to the previous entry
    at_start = before[start_of]
    return np.exp(before - at_start)


def _drops(sent: np.ndarray, price: np.ndarray, links: Links, f_of: np.ndarray, a_of: np.ndarray,
           start_of: np.ndarray, cap: np.ndarray, base_keep: np.ndarray,
           max_hops: int, stack: _Stack | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per entry: the share dropped at that hop, the rate arriving there, the share kept there
    (own loss included) and its log.

    A drop-tail link drops at least its price, and whatever arrives above its capacity, from
    every flow alike; a fair-queueing link drops what a flow sends above its max-min share.
    Downstream hops see only what upstream hops let through, so this settles hop by hop.
    """
    if stack is not None:
        return _stacked_drops(sent, price, links, f_of, a_of, start_of, cap, base_keep, stack)
    fair_e = links.fair[a_of]
    fe = np.flatnonzero(fair_e)
    drop_e = np.where(fair_e, 0.0, price[a_of]) if fe.size else price[a_of]
    n_a = cap.shape[0]
    sent_e, keep_base = sent[f_of], base_keep[a_of]  # per entry, fixed for the whole settling
    arriving = sent_e
    for _round in range(4 * max_hops + 4):
        keep_e, _, arriving = _surviving(drop_e, keep_base, sent_e, start_of)
        arrival = np.bincount(a_of, weights=arriving, minlength=n_a)
        over = np.divide(cap, arrival, out=np.ones(n_a), where=arrival > cap)
        new = np.maximum(price, 1.0 - over)[a_of]  # fair-queueing entries are all set below
        if fe.size:
            share = max_min_rates(np.arange(fe.size), a_of[fe], cap, arriving[fe])
            with np.errstate(divide="ignore", invalid="ignore"):
                new[fe] = np.where(arriving[fe] > 0, 1.0 - np.minimum(share / arriving[fe], 1.0), 0.0)
        if new.size == 0 or float(np.abs(new - drop_e).max()) <= 1e-13:
            break
        # fair shares on paths that cross links in opposite orders can oscillate: damp those
        drop_e = new if (_round < 2 or fe.size == 0) else np.where(fair_e, 0.5 * (drop_e + new), new)
    # never above capacity: raising drops at a link only lowers what reaches the links after it
    for _ in range(max_hops + 1):
        keep_e, _, arriving = _surviving(drop_e, keep_base, sent_e, start_of)
        carried = np.bincount(a_of, weights=arriving * keep_e, minlength=n_a)
        over = carried > cap * (1 + 1e-12)
        if not over.any():
            break
        scale = np.divide(cap, carried, out=np.ones(n_a), where=over)
        drop_e = 1.0 - (1.0 - drop_e) * scale[a_of]
    keep_e, log_keep, arriving = _surviving(drop_e, keep_base, sent_e, start_of)
    return drop_e, arriving, keep_e, log_keep


def _stacked_drops(sent: np.ndarray, price: np.ndarray, links: Links, f_of: np.ndarray, a_of: np.ndarray,
                   start_of: np.ndarray, cap: np.ndarray, base_keep: np.ndarray,
                   stack: _Stack) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """:func:`_drops` for stacked members without fair queueing: the same rounds, with each
    member stopping where it alone would (its own tolerance test, its own hop bounds); a member
    that stopped keeps its drops while the others go on."""
    n_a = cap.shape[0]
    drop_e = price[a_of]
    sent_e, keep_base = sent[f_of], base_keep[a_of]
    lo = stack.entry_lo[:-1]
    has = stack.entry_lo[1:] > lo  # a member without entries stops at once (new.size == 0)
    starts = lo[has]
    active = has.copy()
    for r in range(int(stack.settle_rounds.max(initial=0))):
        active &= r < stack.settle_rounds
        if not active.any():
            break
        keep_e, _, arriving = _surviving(drop_e, keep_base, sent_e, start_of, stack)
        arrival = np.bincount(a_of, weights=arriving, minlength=n_a)
        over = np.divide(cap, arrival, out=np.ones(n_a), where=arrival > cap)
        new = np.maximum(price, 1.0 - over)[a_of]
        settled = np.zeros_like(active)
        settled[has] = np.maximum.reduceat(np.abs(new - drop_e), starts) <= 1e-13
        active &= ~settled
        drop_e = np.where(active[stack.row], new, drop_e)
    active = has.copy()
    for r in range(int(stack.cap_rounds.max(initial=0))):
        active &= r < stack.cap_rounds
        if not active.any():
            break
        keep_e, _, arriving = _surviving(drop_e, keep_base, sent_e, start_of, stack)
        carried = np.bincount(a_of, weights=arriving * keep_e, minlength=n_a)
        over = carried > cap * (1 + 1e-12)
        active &= np.logical_or.reduceat(over, stack.arc_lo[:-1])
        if not active.any():
            break
        scale = np.divide(cap, carried, out=np.ones(n_a), where=over)
        drop_e = np.where(active[stack.row], 1.0 - (1.0 - drop_e) * scale[a_of], drop_e)
    keep_e, log_keep, arriving = _surviving(drop_e, keep_base, sent_e, start_of, stack)
    return drop_e, arriving, keep_e, log_keep


def _wait(links: Links, flows: Flows, f_of: np.ndarray, a_of: np.ndarray, arriving: np.ndarray,
          arrival: np.ndarray, rho: np.ndarray) -> np.ndarray:
    """Per arc: queueing delay (ms) without a standing TCP queue.

    Below capacity, the Kingman (G/D/1) wait for the arrivals' rate-weighted burstiness and a
    fixed packet size; at or above it, a full buffer.
    """
    n_a = links.capacity.shape[0]
    burst = np.divide(np.bincount(a_of, weights=arriving * flows.burstiness[f_of], minlength=n_a), arrival,
                      out=np.zeros(n_a), where=arrival > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        kingman = np.where(rho < 1, rho / np.maximum(1 - rho, 1e-9) * burst / 2 * links.packet_ms, np.inf)
    return np.minimum(kingman, links.buffer_ms)


def _fair_queues(links: Links, flows: Flows, fair_e: np.ndarray, f_of: np.ndarray, a_of: np.ndarray,
                 arriving: np.ndarray, drop_e: np.ndarray, elastic: np.ndarray, base_rtt: np.ndarray,
                 rho: np.ndarray, q_e: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-flow queues at fair-queueing links, and each elastic flow's window efficiency there.

    The buffer is shared; on a full link each backlogged flow (elastic, or sending above its
    share) holds an equal part of it. A TCP flow's window swings within that part (or within
    what the AQM target allows), which sets its queue and how much of its share it uses; an
    inelastic flow above its share keeps its part full, and since the longest queue drops
    from its head, a packet that survives waits that part over its arrival rate. A flow
    below its share is served as it arrives.
    """
    n_f = elastic.shape[0]
    eff = np.ones(n_f)
    fe = np.flatnonzero(fair_e & (rho[a_of] >= 0.999))
    q_e = q_e.copy()
    q_e[fair_e] = 0.0
    if fe.size == 0:
        return q_e, eff
    arc, flow = a_of[fe], f_of[fe]
    backlogged = elastic[flow] | (drop_e[fe] > 1e-9)
    n_b = np.bincount(arc[backlogged], minlength=links.capacity.shape[0])
    pkt = flows.packet[flow]
    rate = np.maximum(arriving[fe], 1e-12)
    buffer_pkts = links.buffer_ms[arc] / np.maximum(links.packet_ms[arc], 1e-12)
    part = buffer_pkts / np.maximum(n_b[arc], 1)
    aqm_pkts = np.where(links.aqm_ms[arc] > 0, links.aqm_ms[arc] / 1000.0 * rate / pkt, np.inf)
    room = np.minimum(part, aqm_pkts)
    bdp = rate * base_rtt[flow] / 1000.0 / pkt / np.sqrt(flows.connections[flow])
    util, q_pkts = sawtooth(room, bdp)
    tcp = elastic[flow]
    wait_ms = np.where(tcp, q_pkts, np.where(backlogged, room, 0.0)) * pkt / rate * 1000.0
    # a flow below its share waits one round of the scheduler: a packet of each backlogged flow
    q_e[fe] = np.where(backlogged, wait_ms, n_b[arc] * links.packet_ms[arc])
    np.minimum.at(eff, flow[tcp], util[tcp])
    return q_e, eff


def solve(links: Links, flows: Flows, iterations: int = ITERATIONS, _stack: _Stack | None = None) -> FlowSolution:
    """Rates, drops and queues of one tick (see the module docstring for the model).

    ``_stack``: the problem is several members' concatenated (made by :func:`solve_many`).
    """
    f_of, a_of = flows.flow_of, flows.arc_of
    n_f, n_a = flows.demand.shape[0], links.capacity.shape[0]
    cap = np.maximum(links.capacity.astype(float, copy=False), 0.0)
    if _stack is not None:
        start_of, max_hops = flows.start_of, 0
    elif flows.start_of is not None and flows.start_of.shape == f_of.shape:
        start_of, max_hops = flows.start_of, flows.max_hops
    else:  # built by hand rather than by Flows.make
        start_of, _ = _segments(f_of, n_f)
        max_hops = int(np.bincount(f_of).max(initial=0)) if f_of.size else 0
    crosses = np.zeros(n_f, dtype=bool)
    crosses[f_of] = True
    # propagation both ways, and each data packet's transmission at every hop
    delay_e, packet_e = links.delay_ms[a_of], links.packet_ms[a_of]
    base_rtt = np.bincount(f_of, weights=2 * delay_e + packet_e, minlength=n_f) + flows.extra_rtt_ms
    elastic = flows.elastic & crosses
    any_elastic = bool(elastic.any())
    inel = ~elastic
    demand = flows.demand
    fair_e = links.fair[a_of]
    # np.clip(base_loss, 0, 1) would turn -0.0 to 0.0, which 1.0 - x cannot tell apart
    base_keep = 1.0 - np.minimum(np.maximum(links.base_loss, 0.0), 1.0)
    price = np.zeros(n_a)  # drop-tail drop probability
    queue_e = np.zeros(f_of.shape[0])  # queueing delay each flow meets at each hop (ms)
    sent = np.where(inel, np.where(np.isfinite(demand), demand, 0.0), 0.0)
    if not any_elastic:
        # inelastic rates depend on neither prices nor queues: one pass is the answer
        iterations = 1
        drop_e, arriving, keep_e, log_keep = _drops(sent, price, links, f_of, a_of, start_of, cap, base_keep, max_hops,
                                                    _stack)
        arrival = np.bincount(a_of, weights=arriving, minlength=n_a)
        rho = np.divide(arrival, cap, out=np.where(arrival > 0, np.inf, 0.0), where=cap > 0)
        queue_e = _wait(links, flows, f_of, a_of, arriving, arrival, rho)[a_of]
        if fair_e.any():
            queue_e, _ = _fair_queues(links, flows, fair_e, f_of, a_of, arriving, drop_e, elastic, base_rtt, rho,
                                      queue_e)
    if any_elastic:
        elastic_cap = cap.copy()  # what elastic flows can use of a drop-tail link (sawtooth efficiency)
        eff = np.ones(n_f)  # per flow: window efficiency under fair queueing with an AQM
        path_cap = np.full(n_f, np.inf)
        np.minimum.at(path_cap, f_of, cap[a_of])
        path_cap *= 2.0  # a safeguard only (rates before the prices settle): the prices do the limiting
    for it in range(iterations if any_elastic else 0):
        rtt = base_rtt + np.bincount(f_of, weights=queue_e, minlength=n_f)
        # -- elastic sending rates from the path's drop price -------------------------------------
        keep_price = np.where(links.fair, 1.0, 1.0 - price) * base_keep
        path_keep = np.exp(np.bincount(f_of, weights=np.log(np.maximum(keep_price[a_of], 1e-300)), minlength=n_f))
        p_path = 1.0 - path_keep
        rto = np.maximum(flows.rto_min_ms, 2 * rtt) / 1000.0
        tcp = flows.connections * padhye_rate(rtt / 1000.0, p_path, flows.packet, rto)
        x = np.where(elastic, np.minimum(np.minimum(demand, tcp), path_cap), sent)
        # fair-queueing links: nobody gets more than its max-min share there
        if fair_e.any():
            fe = np.flatnonzero(fair_e)
            entry_demand = np.minimum(x[f_of[fe]], np.where(np.isfinite(x[f_of[fe]]), x[f_of[fe]], cap[a_of[fe]]))
            share = max_min_rates(np.arange(fe.size), a_of[fe], cap, entry_demand)
            capped = np.full(n_f, np.inf)
            np.minimum.at(capped, f_of[fe], share)
            x = np.where(elastic, np.minimum(x, capped * eff), x)
        sent = np.where(elastic, x, sent)
        # -- drops, hop by hop: loss where the queue overflows, once ------------------------------
        drop_e, arriving, _, _ = _drops(sent, price, links, f_of, a_of, start_of, cap, base_keep, max_hops, _stack)
        arrival = np.bincount(a_of, weights=arriving, minlength=n_a)
        el_arrival = np.bincount(a_of, weights=np.where(elastic[f_of], arriving, 0.0), minlength=n_a)
        in_arrival = arrival - el_arrival
        # -- drop-tail prices: inelastic overload sets them outright; elastic load moves them -----
        over_in = np.divide(cap, in_arrival, out=np.ones(n_a), where=in_arrival > cap)
        forced = np.where(in_arrival > cap, 1.0 - over_in, 0.0)
        has_el = el_arrival > 0
        target = np.minimum(elastic_cap, cap)
        ratio = np.divide(arrival * (1.0 - price), target, out=np.zeros(n_a), where=target > 0)
        # multiplicative (dual) update: Padhye rates fall as 1/sqrt(p), so this halves the error
        # in log p every round; a link that elastic traffic cannot fill lets its price decay to 0
        moved = np.where(price > 0, price * np.sqrt(np.maximum(ratio, 1e-6)), np.where(ratio > 1, 1e-5, 0.0))
        moved = np.where(moved < 1e-10, 0.0, np.minimum(moved, 0.99))
        price = np.where(links.fair, 0.0, np.maximum(np.where(has_el, moved, 0.0), forced))
        # -- queues ---------------------------------------------------------------------------------
        el_rate = np.bincount(a_of, weights=np.where(elastic[f_of], arriving, 0.0), minlength=n_a)
        w_rtt = np.bincount(a_of, weights=np.where(elastic[f_of], arriving * base_rtt[f_of], 0.0), minlength=n_a)
        conns = np.bincount(a_of, weights=np.where(elastic[f_of], flows.connections[f_of], 0.0), minlength=n_a)
        bdp = np.divide(w_rtt, el_rate, out=np.zeros(n_a), where=el_rate > 0) / np.sqrt(np.maximum(conns, 1.0))
        util_st, q_st = sawtooth(links.buffer_ms, bdp)
        elastic_cap = np.where(has_el & ~links.fair, np.maximum(cap - np.minimum(in_arrival, cap), 0.0) * util_st
                               + np.minimum(in_arrival, cap), cap)
        rho = np.divide(arrival, cap, out=np.where(arrival > 0, np.inf, 0.0), where=cap > 0)
        saturated_el = has_el & (price > forced) & ~links.fair
        q_arc = np.where(saturated_el, np.minimum(q_st, links.buffer_ms),
                         _wait(links, flows, f_of, a_of, arriving, arrival, rho))
        q_new = q_arc[a_of]
        if fair_e.any():
            q_new, eff = _fair_queues(links, flows, fair_e, f_of, a_of, arriving, drop_e, elastic, base_rtt,
                                      rho, q_new)
        queue_e = queue_e + (q_new - queue_e) * (1.0 if it < 2 else 0.5)
    # -- final accounting ----------------------------------------------------------------------------
    if any_elastic:  # the drops of the final rates
        drop_e, arriving, keep_e, log_keep = _drops(sent, price, links, f_of, a_of, start_of, cap, base_keep,
                                                    max_hops, _stack)
        arrival = np.bincount(a_of, weights=arriving, minlength=n_a)
    leaving = arriving * keep_e
    carried = np.bincount(a_of, weights=leaving, minlength=n_a)
    path_keep = np.exp(np.bincount(f_of, weights=log_keep, minlength=n_f))
    delivered = np.where(crosses, sent * path_keep, sent)
    loss = np.divide(sent - delivered, sent, out=np.zeros(n_f), where=sent > 0)
    arc_loss = np.divide(arrival - carried, arrival, out=np.zeros(n_a), where=arrival > 0)
    one_way = (np.bincount(f_of, weights=delay_e + packet_e + queue_e, minlength=n_f)
               + flows.extra_rtt_ms / 2)
    rtt = base_rtt + np.bincount(f_of, weights=queue_e, minlength=n_f)
    # what a packet entering the link waits on average (rate-weighted over its flows)
    queue = np.divide(np.bincount(a_of, weights=arriving * queue_e, minlength=n_a), arrival, out=np.zeros(n_a),
                      where=arrival > 0)
    util = np.divide(carried, cap, out=np.zeros(n_a), where=cap > 0)
    path_loss = 1.0 - path_keep
    return FlowSolution(sent, delivered, loss, path_loss, rtt, one_way, arrival, carried, arc_loss, queue, util)


def solve_many(problems: list[tuple[Links, Flows]], iterations: int = ITERATIONS,
               kept: dict | None = None) -> list[FlowSolution]:
    """:func:`solve` for several (links, flows) problems, each solution bit-identical to its own call.

    Problems that take the same branches of ``solve`` (any elastic flow or none, the same
    ``rto_min_ms``) run as one problem: their arcs, flows and entries concatenated with
    offsets. ``bincount`` adds each bin's weights in input order and ufuncs work per element,
    so the offsets give each problem its own sums; the running sums and the settling loops
    are kept per problem (see ``_Stack``). A problem with a fair-queueing link on a path runs
    alone (its max-min shares settle on a global test), as does a group of one. ``kept``: where
    to keep, between calls, each problem's branch and the stacked flows' static arrays (valid
    while the problems' flows share their index arrays, as ``Flows.with_demand`` copies do).
    """
    out: list[FlowSolution | None] = [None] * len(problems)
    groups: dict[tuple, list[int]] = {}
    branches = kept.setdefault("branch", {}) if kept is not None else {}
    for i, (links, flows) in enumerate(problems):
        hit = branches.get(id(flows.flow_of))
        if hit is not None and hit[0] is flows.flow_of and hit[1] is links.fair and hit[2] is flows.elastic:
            branch = hit[3]
        else:
            branch = _branch(links, flows)
            if kept is not None:
                if len(branches) > 512:
                    branches.clear()
                branches[id(flows.flow_of)] = (flows.flow_of, links.fair, flows.elastic, branch)
        if branch is None:
            out[i] = solve(links, flows, iterations)
        else:
            groups.setdefault(branch, []).append(i)
    for members in groups.values():
        if len(members) == 1:
            out[members[0]] = solve(*problems[members[0]], iterations)
            continue
        flows_k = [problems[i][1] for i in members]
        arcs_k = [problems[i][0].capacity.shape[0] for i in members]
        key = tuple(id(f.flow_of) for f in flows_k) + tuple(arcs_k)
        hit = kept.get(key) if kept is not None else None
        if hit is not None and all(all(x is getattr(f, n) for x, n in zip(xs, _STATIC)) for xs, f in zip(hit[0], flows_k)):
            template, stack = hit[1], hit[2]
        else:
            template, stack = _stacked_flows(flows_k, arcs_k)
            if kept is not None:
                if len(kept) > 64:
                    kept.clear()
                    kept["branch"] = branches
                kept[key] = (tuple(tuple(getattr(f, n) for n in _STATIC) for f in flows_k), template, stack)
        links = Links(*(np.concatenate([getattr(problems[i][0], f) for i in members]) for f in Links.__dataclass_fields__))
        sol = solve(links, template.with_demand(np.concatenate([f.demand for f in flows_k])), iterations, _stack=stack)
        f_lo = stack.flow_lo
        for k, i in enumerate(members):
            f, a = slice(int(f_lo[k]), int(f_lo[k + 1])), slice(int(stack.arc_lo[k]), int(stack.arc_lo[k + 1]))
            out[i] = FlowSolution(sol.sent[f], sol.delivered[f], sol.loss[f], sol.path_loss[f], sol.rtt_ms[f],
                                  sol.latency_ms[f], sol.arc_arrival[a], sol.arc_carried[a], sol.arc_loss[a],
                                  sol.arc_queue_ms[a], sol.arc_utilisation[a])
    return out  # type: ignore[return-value]


#: A problem's flows' arrays that a stacked template copies (all but the demand).
_STATIC = ("flow_of", "arc_of", "start_of", "elastic", "connections", "extra_rtt_ms", "packet", "burstiness")


def _branch(links: Links, flows: Flows) -> tuple | None:
    """The branches ``solve`` takes for a problem (any elastic flow, ``rto_min_ms``); None: it runs alone."""
    if links.fair[flows.arc_of].any() or links.capacity.shape[0] == 0:
        return None
    crosses = np.zeros(flows.demand.shape[0], dtype=bool)
    crosses[flows.flow_of] = True
    return bool((flows.elastic & crosses).any()), flows.rto_min_ms


def _stacked_flows(problems: list[Flows], n_arcs: list[int]) -> tuple[Flows, _Stack]:
    """The flows' static arrays concatenated member-major, indices offset (each member's arcs
    follow the ``n_arcs`` of those before it; demands: zeros), and the stack's bookkeeping."""
    n_e = np.array([fl.flow_of.shape[0] for fl in problems])
    n_f = np.array([fl.demand.shape[0] for fl in problems])
    n_a = np.array(n_arcs)
    e_lo, f_lo, a_lo = (np.concatenate([[0], np.cumsum(n)]) for n in (n_e, n_f, n_a))
    hops, starts = [], []
    for fl in problems:
        if fl.start_of is not None and fl.start_of.shape == fl.flow_of.shape:
            starts.append(fl.start_of)
            hops.append(fl.max_hops)
        else:
            starts.append(_segments(fl.flow_of, fl.demand.shape[0])[0])
            hops.append(int(np.bincount(fl.flow_of).max(initial=0)) if fl.flow_of.size else 0)
    rep = lambda lo, n: np.repeat(lo[:-1], n)  # noqa: E731
    cat = lambda f: np.concatenate([getattr(fl, f) for fl in problems])  # noqa: E731
    flows = Flows(cat("flow_of") + rep(f_lo, n_e), cat("arc_of") + rep(a_lo, n_e), np.zeros(int(f_lo[-1])),
                  cat("elastic"), cat("connections"), cat("extra_rtt_ms"), cat("packet"), cat("burstiness"),
                  problems[0].rto_min_ms, np.concatenate(starts) + rep(e_lo, n_e), max(hops))
    b = len(problems)
    hops_a = np.array(hops)
    stack = _Stack(e_lo, a_lo, f_lo, np.repeat(np.arange(b), n_e), np.arange(int(e_lo[-1])) - rep(e_lo, n_e),
                   int(n_e.max(initial=0)), np.repeat(np.arange(b), n_a), 4 * hops_a + 4, hops_a + 1)
    return flows, stack
