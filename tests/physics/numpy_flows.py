"""The flow model and max-min water-filling as they were in numpy, before the kernels
(twin/physics/flows.py and maxmin.py at 45defad): the oracle the kernels are checked against.
Only the solo path is kept (a problem alone); the stacked variant it had is gone with the stack."""

from __future__ import annotations

import numpy as np

from twin.physics.flows import FlowSolution, Flows, Links

ITERATIONS = 60


def max_min_rates(
    flow_of: np.ndarray,
    link_of: np.ndarray,
    capacity: np.ndarray,
    demand: np.ndarray,
) -> np.ndarray:
    """Return each flow's max-min fair rate, never above its demand.

    ``capacity`` has one entry per link, ``demand`` one per flow (``np.inf`` means
    unlimited). A flow crossing no link gets its demand.

    >>> import numpy as np
    >>> # two links of capacity 1; flow 0 crosses both, flows 1 and 2 one each
    >>> max_min_rates(np.array([0, 0, 1, 2]), np.array([0, 1, 0, 1]),
    ...               np.array([1.0, 1.0]), np.full(3, np.inf)).tolist()
    [0.5, 0.5, 0.5]
    """
    n_flows = demand.shape[0]
    n_links = capacity.shape[0]
    rate = np.zeros(n_flows)
    remaining = np.maximum(np.asarray(capacity, dtype=float), 0.0).copy()
    residual = np.asarray(demand, dtype=float).copy()
    active = residual > 0
    flow_of = np.asarray(flow_of, dtype=np.int64)
    link_of = np.asarray(link_of, dtype=np.int64)
    finite = np.where(np.isfinite(residual), residual, 0.0)
    offered = np.bincount(link_of, weights=finite[flow_of], minlength=n_links)
    unbounded = np.bincount(link_of, weights=(~np.isfinite(residual))[flow_of].astype(float), minlength=n_links)
    hot = (offered > remaining * (1 + 1e-12)) | (unbounded > 0)
    touches_hot = np.zeros(n_flows, dtype=bool)
    touches_hot[flow_of[hot[link_of]]] = True
    easy = active & ~touches_hot
    rate[easy] = residual[easy]
    remaining -= np.bincount(link_of, weights=np.where(easy, residual, 0.0)[flow_of], minlength=n_links)
    residual[easy] = 0.0
    active &= ~easy
    # flows that cross no link are limited by demand alone
    crosses = np.zeros(n_flows, dtype=bool)
    crosses[flow_of] = True
    free = active & ~crosses
    rate[free] = residual[free]
    active &= crosses
    edge_live = active[flow_of]
    for _ in range(n_flows + n_links + 1):
        if not edge_live.any():
            break
        f, l = flow_of[edge_live], link_of[edge_live]
        count = np.bincount(l, minlength=n_links)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(count > 0, remaining / np.maximum(count, 1), np.inf)
        bottleneck = np.full(n_flows, np.inf)
        np.minimum.at(bottleneck, f, share[l])
        fits = active & (residual <= bottleneck)
        if fits.any():
            grant = np.where(fits, residual, 0.0)
        else:
            local = np.full(n_links, np.inf)
            np.minimum.at(local, l, bottleneck[f])
            at_level = (count > 0) & (share <= local * (1 + 1e-12) + 1e-15)
            hit = np.zeros(n_flows, dtype=bool)
            hit[f[at_level[l]]] = True
            fits = hit & active
            grant = np.where(fits, np.maximum(bottleneck, 0.0), 0.0)
        rate += grant
        used = np.bincount(l, weights=grant[f], minlength=n_links)
        remaining = np.maximum(remaining - used, 0.0)
        residual = residual - grant
        active &= ~fits
        edge_live = active[flow_of]
    return rate


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


def _surviving(drop_e: np.ndarray, keep_base: np.ndarray, sent_e: np.ndarray,
               start_of: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per entry under drops ``drop_e``: the share kept, its log, and the traffic arriving
    (what survived the hops before), one round of the drop loops."""
    keep_e = (1.0 - drop_e) * keep_base
    log_keep = np.log(np.maximum(keep_e, 1e-300))
    return keep_e, log_keep, sent_e * _exclusive_pass(log_keep, start_of)


def _exclusive_pass(log_keep: np.ndarray, start_of: np.ndarray) -> np.ndarray:
    """Per entry: the share of the flow's traffic that survives the hops before this one."""
    if log_keep.size == 0:
        return np.ones(0)
    cs = log_keep.cumsum()
    before = cs - log_keep  # inclusive sum up to the previous entry
    at_start = before[start_of]
    return np.exp(before - at_start)


def _drops(sent: np.ndarray, price: np.ndarray, links: Links, f_of: np.ndarray, a_of: np.ndarray,
           start_of: np.ndarray, cap: np.ndarray, base_keep: np.ndarray,
           max_hops: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per entry: the share dropped at that hop, the rate arriving there, the share kept there
    (own loss included) and its log.

    A drop-tail link drops at least its price, and whatever arrives above its capacity, from
    every flow alike; a fair-queueing link drops what a flow sends above its max-min share.
    Downstream hops see only what upstream hops let through, so this settles hop by hop.
    """
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


def solve(links: Links, flows: Flows, iterations: int = ITERATIONS) -> FlowSolution:
    """Rates, drops and queues of one tick (see the module docstring for the model).

    """
    f_of, a_of = flows.flow_of, flows.arc_of
    n_f, n_a = flows.demand.shape[0], links.capacity.shape[0]
    cap = np.maximum(links.capacity.astype(float, copy=False), 0.0)
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
        drop_e, arriving, keep_e, log_keep = _drops(sent, price, links, f_of, a_of, start_of, cap, base_keep, max_hops)
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
        drop_e, arriving, _, _ = _drops(sent, price, links, f_of, a_of, start_of, cap, base_keep, max_hops)
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
                                                    max_hops)
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
