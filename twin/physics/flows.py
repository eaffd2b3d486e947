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

Everything runs over a sparse incidence ``flow_of[i]`` crosses ``arc_of[i]``, with each
flow's entries contiguous and in path order, as one compiled kernel (:mod:`twin.physics.jit`)
for a batch of problems: :func:`solve_many` loops over them inside the kernel, each solved as it
would be alone, and :func:`solve` is the batch of one.

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

from twin.physics.jit import kernel
from twin.physics.maxmin import water_fill

__all__ = ["Links", "Flows", "FlowSolution", "solve", "solve_many", "solve_packed", "pack", "padhye_rate",
           "sawtooth", "ARC_COLUMNS", "FLOW_COLUMNS"]

#: Outer iterations of the fixed point (rates <-> drop prices <-> queues).
ITERATIONS = 60

#: Columns of the per-arc and per-flow parameter arrays the kernel takes (see :func:`pack`).
ARC_COLUMNS = ("capacity", "delay_ms", "buffer_ms", "packet_ms", "fair", "aqm_ms", "base_loss")
FLOW_COLUMNS = ("demand", "elastic", "connections", "extra_rtt_ms", "packet", "burstiness")
_CAP, _DELAY, _BUF, _PKT_MS, _FAIR, _AQM, _LOSS = range(7)
_DEMAND, _ELASTIC, _CONNS, _XRTT, _PACKET, _BURST = range(6)


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

    @classmethod
    def make(cls, flow_of: np.ndarray, arc_of: np.ndarray, *, demand: np.ndarray, elastic=False, connections=1.0,
             extra_rtt_ms=0.0, packet: float = 0.012, burstiness=1.0, rto_min_ms: float = 200.0) -> "Flows":
        n = demand.shape[0]
        b = lambda v, dt=float: np.broadcast_to(np.asarray(v, dtype=dt), (n,)).copy()  # noqa: E731
        return cls(np.asarray(flow_of, dtype=np.int64), np.asarray(arc_of, dtype=np.int64),
                   np.asarray(demand, dtype=float), b(elastic, bool), b(connections), b(extra_rtt_ms), b(packet),
                   b(burstiness), rto_min_ms)

    def with_demand(self, demand: np.ndarray) -> "Flows":
        """The same flows with other demands (``dataclasses.replace`` without its per-call cost)."""
        return Flows(self.flow_of, self.arc_of, demand, self.elastic, self.connections, self.extra_rtt_ms, self.packet,
                     self.burstiness, self.rto_min_ms)


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
    args = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (rtt_s, p, packet, rto_s)))
    flat = [np.ascontiguousarray(x).ravel() for x in args]
    return _padhye_all(*flat).reshape(args[0].shape)


def sawtooth(buffer: np.ndarray, bdp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(link utilisation, mean standing queue) of an AIMD window that halves when the buffer fills.

    The window swings between (bdp + buffer) / 2 and bdp + buffer, linearly in time; the link
    idles while it is below bdp and queues what is above. Both in the units of the inputs.

    >>> u, q = sawtooth(np.array([100.0, 0.0]), np.array([10.0, 10.0]))
    >>> round(float(u[0]), 3), round(float(q[0]), 1), round(float(u[1]), 2)
    (1.0, 72.5, 0.75)
    """
    b, d = np.broadcast_arrays(np.asarray(buffer, dtype=float), np.asarray(bdp, dtype=float))
    util, queue = _sawtooth_all(np.ascontiguousarray(b).ravel(), np.ascontiguousarray(d).ravel())
    return util.reshape(b.shape), queue.reshape(b.shape)


def pack(problems: list[tuple[Links, Flows]]) -> tuple[np.ndarray, ...]:
    """The kernel's arguments for ``problems`` (see :func:`solve_packed`): member-major, each
    problem's entries, flows and arcs after those of the problems before it, indices local."""
    n_e = [fl.flow_of.shape[0] for _, fl in problems]
    n_f = [fl.demand.shape[0] for _, fl in problems]
    n_a = [lk.capacity.shape[0] for lk, _ in problems]
    lo = np.zeros((len(problems) + 1, 3), dtype=np.int64)
    lo[1:] = np.cumsum(np.array([n_e, n_f, n_a], dtype=np.int64).T.reshape(-1, 3), axis=0)
    inc = np.empty((2, int(lo[-1, 0])), dtype=np.int64)
    flow_p, arc_p = np.empty((int(lo[-1, 1]), len(FLOW_COLUMNS))), np.empty((int(lo[-1, 2]), len(ARC_COLUMNS)))
    for k, (links, flows) in enumerate(problems):
        e, f, a = (slice(int(lo[k, c]), int(lo[k + 1, c])) for c in range(3))
        inc[0, e], inc[1, e] = flows.flow_of, flows.arc_of
        for c, name in enumerate(FLOW_COLUMNS):
            flow_p[f, c] = getattr(flows, name)
        for c, name in enumerate(ARC_COLUMNS):
            arc_p[a, c] = getattr(links, name)
    rto_min = np.array([fl.rto_min_ms for _, fl in problems], dtype=float)
    return lo, inc, flow_p, arc_p, rto_min


def solve(links: Links, flows: Flows, iterations: int = ITERATIONS) -> FlowSolution:
    """Rates, drops and queues of one tick (see the module docstring for the model): the batch of one."""
    return solve_many([(links, flows)], iterations)[0]


def solve_many(problems: list[tuple[Links, Flows]], iterations: int = ITERATIONS) -> list[FlowSolution]:
    """:func:`solve` for several (links, flows) problems in one kernel call; each solution is
    bit-identical to its own call (the kernel solves each problem alone, in turn)."""
    lo = pack(problems)
    flow_out, arc_out = solve_packed(*lo, iterations)
    out = []
    for k in range(len(problems)):
        f, a = slice(int(lo[0][k, 1]), int(lo[0][k + 1, 1])), slice(int(lo[0][k, 2]), int(lo[0][k + 1, 2]))
        out.append(FlowSolution(*(flow_out[c, f] for c in range(6)), *(arc_out[c, a] for c in range(5))))
    return out


def solve_packed(lo: np.ndarray, inc: np.ndarray, flow_p: np.ndarray, arc_p: np.ndarray, rto_min: np.ndarray,
                 iterations: int = ITERATIONS) -> tuple[np.ndarray, np.ndarray]:
    """The flow model on packed problems, one kernel call for all.

    ``lo`` (problems + 1, 3): each problem's first entry, flow and arc (and the totals last);
    ``inc`` (2, entries): per entry its flow and its arc, local to its problem; ``flow_p``
    (flows, ``FLOW_COLUMNS``) and ``arc_p`` (arcs, ``ARC_COLUMNS``), booleans as 0/1;
    ``rto_min`` per problem. Returns (6, flows): sent, delivered, loss, path loss, rtt, one-way
    latency; and (5, arcs): arrival, carried, loss, queue, utilisation (rows: each contiguous).
    """
    return _solve_members(lo, inc, flow_p, arc_p, rto_min, iterations)


@kernel
def _max(a, b):  # pragma: no cover - compiled
    """``np.maximum`` of two floats: a NaN in either wins."""
    return a if (a >= b or a != a) else b


@kernel
def _min(a, b):  # pragma: no cover - compiled
    """``np.minimum`` of two floats: a NaN in either wins."""
    return a if (a <= b or a != a) else b


@kernel
def _padhye_at(rtt_s, p, packet, rto_s):  # pragma: no cover - compiled
    if p > 0:
        denom = rtt_s * np.sqrt(2 * p / 3) + rto_s * _min(1.0, 3 * np.sqrt(3 * p / 8)) * p * (1 + 32 * p * p)
        return packet / _max(denom, 1e-300)
    return np.inf


@kernel
def _padhye_all(rtt_s, p, packet, rto_s):  # pragma: no cover - compiled
    out = np.empty(p.shape[0])
    for i in range(p.shape[0]):
        out[i] = _padhye_at(rtt_s[i], p[i], packet[i], rto_s[i])
    return out


@kernel
def _sawtooth_at(buffer, bdp):  # pragma: no cover - compiled
    lo = (bdp + buffer) / 2
    hi = bdp + buffer
    span = _max(hi - lo, 1e-12)
    # share of the swing below bdp, and the mean window there / the mean excess above it
    below = _min(_max((bdp - lo) / span, 0.0), 1.0)
    mean_below = (lo + _min(bdp, hi)) / 2
    util = (below * mean_below + (1 - below) * bdp) / _max(bdp, 1e-12) if bdp > 0 else 1.0
    start = _max(lo, bdp)
    queue = (1 - below) * ((start + hi) / 2 - bdp)
    return _min(util, 1.0), _max(queue, 0.0)


@kernel
def _sawtooth_all(buffer, bdp):  # pragma: no cover - compiled
    util, queue = np.empty(bdp.shape[0]), np.empty(bdp.shape[0])
    for i in range(bdp.shape[0]):
        util[i], queue[i] = _sawtooth_at(buffer[i], bdp[i])
    return util, queue


@kernel
def _surviving(drop_e, keep_base, sent_e, start_of, keep_e, log_keep, arriving):  # pragma: no cover - compiled
    """Per entry under drops ``drop_e``: the share kept, its log, and the traffic arriving (what
    survived the hops before: exp of the running sum of logs since the flow's first entry)."""
    n = drop_e.shape[0]
    before = np.empty(n)
    cs = 0.0
    for i in range(n):
        k = (1.0 - drop_e[i]) * keep_base[i]
        keep_e[i] = k
        log_keep[i] = np.log(_max(k, 1e-300))
        cs += log_keep[i]
        before[i] = cs - log_keep[i]  # the running sum up to the previous entry
    for i in range(n):
        arriving[i] = sent_e[i] * np.exp(before[i] - before[start_of[i]])


@kernel
def _drops(sent, price, f_of, a_of, start_of, cap, base_keep, fair_e, fe, max_hops):  # pragma: no cover - compiled
    """Per entry: the share dropped at that hop, the rate arriving there, the share kept there
    (own loss included) and its log.

    A drop-tail link drops at least its price, and whatever arrives above its capacity, from
    every flow alike; a fair-queueing link (entries ``fe``) drops what a flow sends above its
    max-min share. Downstream hops see only what upstream hops let through, so this settles
    hop by hop.
    """
    n_e, n_a, n_fe = f_of.shape[0], cap.shape[0], fe.shape[0]
    drop_e, sent_e, keep_base = np.empty(n_e), np.empty(n_e), np.empty(n_e)
    for i in range(n_e):
        drop_e[i] = 0.0 if fair_e[i] else price[a_of[i]]
        sent_e[i], keep_base[i] = sent[f_of[i]], base_keep[a_of[i]]
    keep_e, log_keep, arriving, new = np.empty(n_e), np.empty(n_e), sent_e.copy(), np.empty(n_e)
    arrival = np.empty(n_a)
    fe_flow, fe_arc, fe_demand = np.arange(n_fe), np.empty(n_fe, dtype=np.int64), np.empty(n_fe)
    for j in range(n_fe):
        fe_arc[j] = a_of[fe[j]]
    for rnd in range(4 * max_hops + 4):
        _surviving(drop_e, keep_base, sent_e, start_of, keep_e, log_keep, arriving)
        arrival[:] = 0.0
        for i in range(n_e):
            arrival[a_of[i]] += arriving[i]
        for i in range(n_e):
            a = a_of[i]
            over = cap[a] / arrival[a] if arrival[a] > cap[a] else 1.0
            new[i] = _max(price[a], 1.0 - over)  # fair-queueing entries are all set below
        if n_fe:
            for j in range(n_fe):
                fe_demand[j] = arriving[fe[j]]
            share = water_fill(fe_flow, fe_arc, cap, fe_demand)
            for j in range(n_fe):
                x = fe_demand[j]
                new[fe[j]] = 1.0 - _min(share[j] / x, 1.0) if x > 0 else 0.0
        settled = True
        for i in range(n_e):
            if not abs(new[i] - drop_e[i]) <= 1e-13:
                settled = False
                break
        if settled:  # (no entries: settled at once)
            break
        # fair shares on paths that cross links in opposite orders can oscillate: damp those
        for i in range(n_e):
            drop_e[i] = 0.5 * (drop_e[i] + new[i]) if (rnd >= 2 and n_fe > 0 and fair_e[i]) else new[i]
    # never above capacity: raising drops at a link only lowers what reaches the links after it
    carried, over_a = np.empty(n_a), np.empty(n_a, dtype=np.bool_)
    for _ in range(max_hops + 1):
        _surviving(drop_e, keep_base, sent_e, start_of, keep_e, log_keep, arriving)
        carried[:] = 0.0
        for i in range(n_e):
            carried[a_of[i]] += arriving[i] * keep_e[i]
        any_over = False
        for a in range(n_a):
            over_a[a] = carried[a] > cap[a] * (1 + 1e-12)
            any_over |= over_a[a]
        if not any_over:
            break
        for i in range(n_e):
            a = a_of[i]
            drop_e[i] = 1.0 - (1.0 - drop_e[i]) * (cap[a] / carried[a] if over_a[a] else 1.0)
    _surviving(drop_e, keep_base, sent_e, start_of, keep_e, log_keep, arriving)
    return drop_e, arriving, keep_e, log_keep


@kernel
def _wait(ap, f_of, a_of, fp, arriving, arrival, rho):  # pragma: no cover - compiled
    """Per arc: queueing delay (ms) without a standing TCP queue.

    Below capacity, the Kingman (G/D/1) wait for the arrivals' rate-weighted burstiness and a
    fixed packet size; at or above it, a full buffer.
    """
    n_a = ap.shape[0]
    burst = np.zeros(n_a)
    for i in range(f_of.shape[0]):
        burst[a_of[i]] += arriving[i] * fp[f_of[i], _BURST]
    out = np.empty(n_a)
    for a in range(n_a):
        b = burst[a] / arrival[a] if arrival[a] > 0 else 0.0
        r = rho[a]
        kingman = r / _max(1 - r, 1e-9) * b / 2 * ap[a, _PKT_MS] if r < 1 else np.inf
        out[a] = _min(kingman, ap[a, _BUF])
    return out


@kernel
def _fair_queues(ap, fp, fair_e, f_of, a_of, arriving, drop_e, elastic, base_rtt, rho,
                 q_e):  # pragma: no cover - compiled
    """Per-flow queues at fair-queueing links (``q_e`` updated in place), and each elastic
    flow's window efficiency there.

    The buffer is shared; on a full link each backlogged flow (elastic, or sending above its
    share) holds an equal part of it. A TCP flow's window swings within that part (or within
    what the AQM target allows), which sets its queue and how much of its share it uses; an
    inelastic flow above its share keeps its part full, and since the longest queue drops
    from its head, a packet that survives waits that part over its arrival rate. A flow
    below its share is served as it arrives.
    """
    n_f, n_a, n_e = fp.shape[0], ap.shape[0], f_of.shape[0]
    eff = np.ones(n_f)
    n_b = np.zeros(n_a, dtype=np.int64)
    full = np.zeros(n_e, dtype=np.bool_)
    for i in range(n_e):
        if fair_e[i]:
            q_e[i] = 0.0
            full[i] = rho[a_of[i]] >= 0.999
            if full[i] and (elastic[f_of[i]] or drop_e[i] > 1e-9):
                n_b[a_of[i]] += 1
    for i in range(n_e):
        if not full[i]:
            continue
        a, f = a_of[i], f_of[i]
        tcp = elastic[f]
        backlogged = tcp or drop_e[i] > 1e-9
        pkt = fp[f, _PACKET]
        rate = _max(arriving[i], 1e-12)
        buffer_pkts = ap[a, _BUF] / _max(ap[a, _PKT_MS], 1e-12)
        part = buffer_pkts / max(n_b[a], 1)
        aqm_pkts = ap[a, _AQM] / 1000.0 * rate / pkt if ap[a, _AQM] > 0 else np.inf
        room = _min(part, aqm_pkts)
        bdp = rate * base_rtt[f] / 1000.0 / pkt / np.sqrt(fp[f, _CONNS])
        util, q_pkts = _sawtooth_at(room, bdp)
        held = q_pkts if tcp else (room if backlogged else 0.0)
        # a flow below its share waits one round of the scheduler: a packet of each backlogged flow
        q_e[i] = held * pkt / rate * 1000.0 if backlogged else n_b[a] * ap[a, _PKT_MS]
        if tcp and util < eff[f]:
            eff[f] = util
    return eff


@kernel
def _solve_members(lo, inc, flow_p, arc_p, rto_min, iterations):  # pragma: no cover - compiled
    flow_out, arc_out = np.empty((6, flow_p.shape[0])), np.empty((5, arc_p.shape[0]))
    for m in range(lo.shape[0] - 1):
        _solve_one(inc[0, lo[m, 0]:lo[m + 1, 0]], inc[1, lo[m, 0]:lo[m + 1, 0]], flow_p[lo[m, 1]:lo[m + 1, 1]],
                   arc_p[lo[m, 2]:lo[m + 1, 2]], rto_min[m], iterations, flow_out[:, lo[m, 1]:lo[m + 1, 1]],
                   arc_out[:, lo[m, 2]:lo[m + 1, 2]])
    return flow_out, arc_out


@kernel
def _solve_one(f_of, a_of, fp, ap, rto_min, iterations, fo, ao):  # pragma: no cover - compiled
    """One problem (the module docstring's model); writes its flows' ``fo`` and arcs' ``ao`` (one row per output)."""
    n_e, n_f, n_a = f_of.shape[0], fp.shape[0], ap.shape[0]
    cap, base_keep, fair = np.empty(n_a), np.empty(n_a), np.empty(n_a, dtype=np.bool_)
    for a in range(n_a):
        cap[a] = _max(ap[a, _CAP], 0.0)
        # not a clip: that would turn -0.0 to 0.0, which 1.0 - x cannot tell apart anyway
        base_keep[a] = 1.0 - _min(_max(ap[a, _LOSS], 0.0), 1.0)
        fair[a] = ap[a, _FAIR] != 0.0
    # each entry's flow's first entry, hops per flow; propagation both ways and each data
    # packet's transmission at every hop
    start_of, hops, base_rtt = np.empty(n_e, dtype=np.int64), np.zeros(n_f, dtype=np.int64), np.zeros(n_f)
    fair_e = np.empty(n_e, dtype=np.bool_)
    n_fe = 0
    for i in range(n_e):
        start_of[i] = i if (i == 0 or f_of[i] != f_of[i - 1]) else start_of[i - 1]
        hops[f_of[i]] += 1
        a = a_of[i]
        base_rtt[f_of[i]] += 2 * ap[a, _DELAY] + ap[a, _PKT_MS]
        fair_e[i] = fair[a]
        n_fe += fair[a]
    fe = np.empty(n_fe, dtype=np.int64)
    j = 0
    for i in range(n_e):
        if fair_e[i]:
            fe[j] = i
            j += 1
    max_hops = 0
    elastic = np.empty(n_f, dtype=np.bool_)
    sent = np.empty(n_f)
    any_elastic = False
    for f in range(n_f):
        max_hops = max(max_hops, hops[f])
        base_rtt[f] = base_rtt[f] + fp[f, _XRTT]
        elastic[f] = fp[f, _ELASTIC] != 0.0 and hops[f] > 0
        any_elastic |= elastic[f]
        d = fp[f, _DEMAND]
        sent[f] = 0.0 if elastic[f] else (d if np.isfinite(d) else 0.0)
    price = np.zeros(n_a)  # drop-tail drop probability
    queue_e = np.zeros(n_e)  # queueing delay each flow meets at each hop (ms)
    arrival, rho = np.zeros(n_a), np.empty(n_a)
    if not any_elastic:
        # inelastic rates depend on neither prices nor queues: one pass is the answer
        drop_e, arriving, keep_e, log_keep = _drops(sent, price, f_of, a_of, start_of, cap, base_keep, fair_e, fe,
                                                    max_hops)
        for i in range(n_e):
            arrival[a_of[i]] += arriving[i]
        _rho(arrival, cap, rho)
        wait = _wait(ap, f_of, a_of, fp, arriving, arrival, rho)
        for i in range(n_e):
            queue_e[i] = wait[a_of[i]]
        if n_fe:
            _fair_queues(ap, fp, fair_e, f_of, a_of, arriving, drop_e, elastic, base_rtt, rho, queue_e)
    else:
        queue_e, sent, drop_e, arriving, keep_e, log_keep = _elastic_rounds(
            f_of, a_of, fp, ap, rto_min, iterations, cap, base_keep, fair, fair_e, fe, start_of, max_hops, base_rtt,
            elastic, sent, price)
        for i in range(n_e):
            arrival[a_of[i]] += arriving[i]
    # -- final accounting -------------------------------------------------------------------------
    carried, arc_q, path_log, one_way, q_sum = np.zeros(n_a), np.zeros(n_a), np.zeros(n_f), np.zeros(n_f), np.zeros(n_f)
    for i in range(n_e):
        a, f = a_of[i], f_of[i]
        carried[a] += arriving[i] * keep_e[i]
        path_log[f] += log_keep[i]
        one_way[f] += ap[a, _DELAY] + ap[a, _PKT_MS] + queue_e[i]
        q_sum[f] += queue_e[i]
        # what a packet entering the link waits on average (rate-weighted over its flows)
        arc_q[a] += arriving[i] * queue_e[i]
    for f in range(n_f):
        path_keep = np.exp(path_log[f])
        s = sent[f]
        delivered = s * path_keep if hops[f] > 0 else s
        fo[0, f], fo[1, f] = s, delivered
        fo[2, f] = (s - delivered) / s if s > 0 else 0.0
        fo[3, f] = 1.0 - path_keep
        fo[4, f] = base_rtt[f] + q_sum[f]
        fo[5, f] = one_way[f] + fp[f, _XRTT] / 2
    for a in range(n_a):
        x = arrival[a]
        ao[0, a], ao[1, a] = x, carried[a]
        ao[2, a] = (x - carried[a]) / x if x > 0 else 0.0
        ao[3, a] = arc_q[a] / x if x > 0 else 0.0
        ao[4, a] = carried[a] / cap[a] if cap[a] > 0 else 0.0


@kernel
def _rho(arrival, cap, rho):  # pragma: no cover - compiled
    for a in range(cap.shape[0]):
        rho[a] = arrival[a] / cap[a] if cap[a] > 0 else (np.inf if arrival[a] > 0 else 0.0)


@kernel
def _elastic_rounds(f_of, a_of, fp, ap, rto_min, iterations, cap, base_keep, fair, fair_e, fe, start_of, max_hops,
                    base_rtt, elastic, sent, price):  # pragma: no cover - compiled
    """The fixed point with elastic flows: their rates from the drop prices, the prices from
    the load, queues from both; then the drops of the final rates."""
    n_e, n_f, n_a, n_fe = f_of.shape[0], fp.shape[0], ap.shape[0], fe.shape[0]
    elastic_cap = cap.copy()  # what elastic flows can use of a drop-tail link (sawtooth efficiency)
    eff = np.ones(n_f)  # per flow: window efficiency under fair queueing with an AQM
    path_cap = np.full(n_f, np.inf)
    for i in range(n_e):
        path_cap[f_of[i]] = _min(path_cap[f_of[i]], cap[a_of[i]])
    for f in range(n_f):
        path_cap[f] *= 2.0  # a safeguard only (rates before the prices settle): the prices do the limiting
    queue_e, q_new = np.zeros(n_e), np.empty(n_e)
    q_sum, path_log, keep_price = np.empty(n_f), np.empty(n_f), np.empty(n_a)
    fe_flow, fe_arc, fe_demand, capped = np.arange(n_fe), np.empty(n_fe, dtype=np.int64), np.empty(n_fe), np.empty(n_f)
    for j in range(n_fe):
        fe_arc[j] = a_of[fe[j]]
    arrival, el_arrival, w_rtt, conns = np.empty(n_a), np.empty(n_a), np.empty(n_a), np.empty(n_a)
    forced, rho, q_arc, saturated = np.empty(n_a), np.empty(n_a), np.empty(n_a), np.empty(n_a, dtype=np.bool_)
    for it in range(iterations):
        q_sum[:] = 0.0
        path_log[:] = 0.0
        for a in range(n_a):
            keep_price[a] = (1.0 if fair[a] else 1.0 - price[a]) * base_keep[a]
        for i in range(n_e):
            q_sum[f_of[i]] += queue_e[i]
            path_log[f_of[i]] += np.log(_max(keep_price[a_of[i]], 1e-300))
        # -- elastic sending rates from the path's drop price -------------------------------------
        for f in range(n_f):
            if elastic[f]:
                rtt = base_rtt[f] + q_sum[f]
                p_path = 1.0 - np.exp(path_log[f])
                rto = _max(rto_min, 2 * rtt) / 1000.0
                tcp = fp[f, _CONNS] * _padhye_at(rtt / 1000.0, p_path, fp[f, _PACKET], rto)
                sent[f] = _min(_min(fp[f, _DEMAND], tcp), path_cap[f])
        # fair-queueing links: nobody gets more than its max-min share there
        if n_fe:
            for j in range(n_fe):
                x = sent[f_of[fe[j]]]
                fe_demand[j] = _min(x, x if np.isfinite(x) else cap[fe_arc[j]])
            share = water_fill(fe_flow, fe_arc, cap, fe_demand)
            capped[:] = np.inf
            for j in range(n_fe):
                f = f_of[fe[j]]
                capped[f] = _min(capped[f], share[j])
            for f in range(n_f):
                if elastic[f]:
                    sent[f] = _min(sent[f], capped[f] * eff[f])
        # -- drops, hop by hop: loss where the queue overflows, once ------------------------------
        drop_e, arriving, _, _ = _drops(sent, price, f_of, a_of, start_of, cap, base_keep, fair_e, fe, max_hops)
        arrival[:] = 0.0
        el_arrival[:] = 0.0
        w_rtt[:] = 0.0
        conns[:] = 0.0
        for i in range(n_e):
            a, f = a_of[i], f_of[i]
            arrival[a] += arriving[i]
            if elastic[f]:
                el_arrival[a] += arriving[i]
                w_rtt[a] += arriving[i] * base_rtt[f]
                conns[a] += fp[f, _CONNS]
        _rho(arrival, cap, rho)
        for a in range(n_a):
            # -- drop-tail prices: inelastic overload sets them outright; elastic load moves them -
            in_arrival = arrival[a] - el_arrival[a]
            over_in = cap[a] / in_arrival if in_arrival > cap[a] else 1.0
            forced[a] = 1.0 - over_in if in_arrival > cap[a] else 0.0
            has_el = el_arrival[a] > 0
            target = _min(elastic_cap[a], cap[a])
            ratio = arrival[a] * (1.0 - price[a]) / target if target > 0 else 0.0
            # multiplicative (dual) update: Padhye rates fall as 1/sqrt(p), so this halves the
            # error in log p every round; a link elastic traffic cannot fill lets its price decay
            if price[a] > 0:
                moved = price[a] * np.sqrt(_max(ratio, 1e-6))
            else:
                moved = 1e-5 if ratio > 1 else 0.0
            moved = 0.0 if moved < 1e-10 else _min(moved, 0.99)
            price[a] = 0.0 if fair[a] else _max(moved if has_el else 0.0, forced[a])
            # -- queues -----------------------------------------------------------------------------
            bdp = (w_rtt[a] / el_arrival[a] if el_arrival[a] > 0 else 0.0) / np.sqrt(_max(conns[a], 1.0))
            util_st, q_st = _sawtooth_at(ap[a, _BUF], bdp)
            in_cap = _min(in_arrival, cap[a])
            elastic_cap[a] = _max(cap[a] - in_cap, 0.0) * util_st + in_cap if (has_el and not fair[a]) else cap[a]
            saturated[a] = has_el and price[a] > forced[a] and not fair[a]
            q_arc[a] = _min(q_st, ap[a, _BUF])
        wait = _wait(ap, f_of, a_of, fp, arriving, arrival, rho)
        for a in range(n_a):
            if not saturated[a]:
                q_arc[a] = wait[a]
        for i in range(n_e):
            q_new[i] = q_arc[a_of[i]]
        if n_fe:
            eff = _fair_queues(ap, fp, fair_e, f_of, a_of, arriving, drop_e, elastic, base_rtt, rho, q_new)
        step = 1.0 if it < 2 else 0.5
        for i in range(n_e):
            queue_e[i] = queue_e[i] + (q_new[i] - queue_e[i]) * step
    # the drops of the final rates
    drop_e, arriving, keep_e, log_keep = _drops(sent, price, f_of, a_of, start_of, cap, base_keep, fair_e, fe, max_hops)
    return queue_e, sent, drop_e, arriving, keep_e, log_keep
