"""Compiled kernels of the monitors: a tick's exact values, a read's noise, and the alert tests,
each one loop nest over all members of a batch (a solo twin is the batch of one).

Arrays of a batch are member-major: member ``k``'s ``n`` values of a per-entity array are
``x[k * n:(k + 1) * n]``. No transcendental is used, so each kernel gives the bits the numpy
formulation gives (the tests keep that formulation as the oracle): the same operations in the
same order, numpy's dtypes (float32 where numpy keeps float32, float64 where it promotes), its
``maximum``/``minimum`` (NaN wins), and its sums (:func:`pairwise_sum`, numpy's order).
"""

from __future__ import annotations

import numpy as np

from twin.physics.jit import kernel

__all__ = ["pairwise_sum", "truth", "count", "read", "noise", "evaluate", "KPI_BASE", "KPI_SERVICE"]

#: KPI columns of :func:`truth` before the planes' (``deferred_gbps`` first, written only if a class defers)
KPI_BASE = ("deferred_gbps", "user_gbps", "interdc_gbps", "user_loss", "interdc_loss")
#: ... and after them (``service_bad`` only with services)
KPI_SERVICE = ("service_bad", "net_bad", "impact", "slo_violations")


@kernel
def _block_sum(a, lo, n, zero):
    """numpy's sum of a run of at most 128: eight accumulators, then the rest one by one."""
    if n == 0:
        return zero - zero  # +0.0, the sum of nothing
    if n < 8:
        res = zero
        for i in range(n):
            res += a[lo + i]
        return res
    r0, r1, r2, r3 = a[lo], a[lo + 1], a[lo + 2], a[lo + 3]
    r4, r5, r6, r7 = a[lo + 4], a[lo + 5], a[lo + 6], a[lo + 7]
    i = 8
    while i < n - n % 8:
        j = lo + i
        r0 += a[j]
        r1 += a[j + 1]
        r2 += a[j + 2]
        r3 += a[j + 3]
        r4 += a[j + 4]
        r5 += a[j + 5]
        r6 += a[j + 6]
        r7 += a[j + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[lo + i]
        i += 1
    return res


@kernel
def pairwise_sum(a, lo, n, zero):
    """``a[lo:lo + n].sum()`` as numpy adds it: a run longer than 128 is split in two halves
    (the first a multiple of 8 long) summed alike, a shorter one by :func:`_block_sum`; in
    ``a``'s dtype (``zero``: -0.0 of that dtype, numpy's start for short runs). The halving is
    walked with a stack, not recursion (a cached recursive kernel can crash when reloaded).

    >>> x = np.linspace(0.1, 9.7, 1001)
    >>> bool(pairwise_sum(x, 0, x.size, -0.0) == x.sum())
    True
    """
    if n <= 128:
        return _block_sum(a, lo, n, zero)
    todo_lo = np.empty(64, dtype=np.int64)  # runs to sum; a negative length: add the last two sums
    todo_n = np.empty(64, dtype=np.int64)
    sums = np.empty(64, dtype=a.dtype)
    top, done = 1, 0
    todo_lo[0], todo_n[0] = lo, n
    while top:
        top -= 1
        start, m = todo_lo[top], todo_n[top]
        if m < 0:
            done -= 1
            sums[done - 1] = sums[done - 1] + sums[done]
        elif m <= 128:
            sums[done] = _block_sum(a, start, m, zero)
            done += 1
        else:
            half = m // 2
            half -= half % 8
            todo_lo[top], todo_n[top] = 0, -1  # after both halves: their sum
            todo_lo[top + 1], todo_n[top + 1] = start + half, m - half
            todo_lo[top + 2], todo_n[top + 2] = start, half  # first half first
            top += 3
    return sums[0]


@kernel
def _max(a, b):
    """``np.maximum`` of two scalars: NaN wins, else ``a`` unless ``b`` is larger."""
    return a if (a >= b or a != a) else b


@kernel
def _min(a, b):
    """``np.minimum`` of two scalars."""
    return a if (a <= b or a != a) else b


@kernel
def truth(b, cap, offered, arc_loss, arc_latency, arc_carried, link_ends, link_down, node_down, node_cpu,
          node_gbps, health_alarm, devs, dev_cap, wanted, gbps, gloss, class_limit, deferrable, planes,
          plane_n, rps, p50, p99, err, up, cpu, mem, entry, replicas, slo, user_loss_slo, with_services):
    """The exact values of ``b`` members' tick: links (``b * n_l`` x 5), devices (x 3), services
    (x 8, zeros without services), float32 as monitors hold them, and each member's KPIs
    (``b`` x (5 + 2 per plane + 4): :data:`KPI_BASE`, per plane its utilisation and Gbps,
    :data:`KPI_SERVICE`). ``link_ends``: (2, links) end nodes; ``planes``: (planes, longest) link
    indices, ``plane_n`` how many each has; ``slo``: (2, services) p99 ms and error rate."""
    n_l = link_ends.shape[1]
    n_a = cap.shape[0] // b
    n_n = node_down.shape[0] // b
    n_d = devs.shape[0]
    n_g = wanted.shape[0] // b
    n_s = slo.shape[1]
    n_p = planes.shape[0]
    link = np.empty((b * n_l, 5), dtype=np.float32)
    device = np.empty((b * n_d, 3), dtype=np.float32)
    service = np.zeros((b * n_s, 8), dtype=np.float32)
    kpi = np.zeros((b, 9 + 2 * n_p))
    util = np.empty(n_l)
    lost = np.empty(n_g)
    deferred = np.empty(n_g)
    gathered = np.empty(n_l)
    gathered32 = np.empty(n_l, dtype=np.float32)
    ok = np.empty(n_s)
    defers = deferrable[0] or deferrable[1]
    for k in range(b):
        a0, l0, n0 = k * n_a, k * n_l, k * n_n
        # np.maximum / np.minimum written out (NaN wins): a call to another kernel is not inlined
        for i in range(n_l):
            j = a0 + 2 * i  # both directions of a link: its even and odd arc
            o0, o1, c0, c1 = offered[j], offered[j + 1], cap[j], cap[j + 1]
            u0 = o0 / c0 if c0 > 0 else (10.0 if o0 > 0 else 0.0)  # no capacity: the cap, if offered anything
            u1 = o1 / c1 if c1 > 0 else (10.0 if o1 > 0 else 0.0)
            u = u0 if (u0 >= u1 or u0 != u0) else u1
            u = u if (u <= 10.0 or u != u) else 10.0
            util[i] = u
            row = l0 + i
            link[row, 0] = u
            x0, x1 = arc_loss[j], arc_loss[j + 1]
            link[row, 1] = x0 if (x0 >= x1 or x0 != x0) else x1
            x0, x1 = arc_latency[j], arc_latency[j + 1]
            link[row, 2] = x0 if (x0 >= x1 or x0 != x0) else x1
            link[row, 3] = arc_carried[j] + arc_carried[j + 1]
            link[row, 4] = (link_down[row] == 0 and node_down[n0 + link_ends[0, i]] == 0
                            and node_down[n0 + link_ends[1, i]] == 0)
        for i in range(n_d):
            node = n0 + devs[i]
            row = k * n_d + i
            device[row, 0] = not health_alarm[row]
            through = node_gbps[node]
            cpu_dev = 0.1 + 0.2 * through / dev_cap[i] + node_cpu[node]
            device[row, 1] = 0.0 if node_down[node] > 0 else (cpu_dev if (cpu_dev <= 1.0 or cpu_dev != cpu_dev) else 1.0)
            device[row, 2] = through
        # traffic shed at the edge counts as lost, but a deferrable class's, which waits (DEFERRED_WEIGHT)
        g0 = k * n_g
        vol_c = np.empty(2)
        lost_c = np.empty(2)
        for i in range(n_g):
            j = g0 + i
            lost[i] = wanted[j] - gbps[j] * (1.0 - gloss[j])
            deferred[i] = 0.0
            if defers:
                c = i % 2
                if deferrable[c]:
                    deferred[i] = _max(wanted[j] * (1.0 - class_limit[2 * k + c]), 0.0)
                lost[i] = lost[i] - deferred[i]
            if i < 2:  # numpy's sum over the first axis of (pairs, 2): row after row
                vol_c[i], lost_c[i] = wanted[j], lost[i]
            else:
                vol_c[i % 2] += wanted[j]
                lost_c[i % 2] += lost[i]
        deferred_sum = pairwise_sum(deferred, 0, n_g, -0.0) if defers else 0.0
        kpi[k, 0] = deferred_sum
        kpi[k, 1], kpi[k, 2] = vol_c[0], vol_c[1]
        kpi[k, 3] = lost_c[0] / _max_py(vol_c[0])
        kpi[k, 4] = lost_c[1] / _max_py(vol_c[1])
        for p in range(n_p):
            m = plane_n[p]
            for q in range(m):
                gathered[q] = util[planes[p, q]]
                gathered32[q] = link[l0 + planes[p, q], 3]
            kpi[k, 5 + 2 * p] = pairwise_sum(gathered, 0, m, -0.0) / m if m else 0.0
            kpi[k, 6 + 2 * p] = pairwise_sum(gathered32, 0, m, np.float32(-0.0)) if m else 0.0
        violations = int(kpi[k, 3] > user_loss_slo) + int(kpi[k, 4] > user_loss_slo)
        net_bad = (pairwise_sum(lost, 0, n_g, -0.0) + 0.2 * deferred_sum) / _max_py(pairwise_sum(wanted, g0, n_g, -0.0))
        impact = net_bad
        c0 = 5 + 2 * n_p
        if with_services:
            s0 = k * n_s
            for i in range(n_s):
                j = s0 + i
                service[j, 0] = rps[j]
                service[j, 1] = p50[j]
                service[j, 2] = p99[j]
                service[j, 3] = err[j]
                service[j, 4] = up[j]
                service[j, 5] = cpu[j]
                service[j, 6] = mem[j]
                service[j, 7] = _max(replicas[j] - up[j], 0.0)
                slow = p99[j] > slo[0, i]
                violations += slow or err[j] > slo[1, i]
            total = _max_py(pairwise_sum(entry, s0, n_s, -0.0))
            for i in range(n_s):
                j = s0 + i
                ok[i] = entry[j] / total * _min(_max(err[j] + (0.5 if p99[j] > slo[0, i] else 0.0), 0.0), 1.0)
            svc_bad = pairwise_sum(ok, 0, n_s, -0.0)
            kpi[k, c0] = svc_bad
            impact = 0.5 * (net_bad + svc_bad)
        kpi[k, c0 + 1] = net_bad
        kpi[k, c0 + 2] = impact
        kpi[k, c0 + 3] = violations
    return link, device, service, kpi


@kernel
def _max_py(x):
    """``max(x, 1e-9)`` as Python's ``max`` takes it (``x`` unless 1e-9 is larger: NaN stays)."""
    return 1e-9 if 1e-9 > x else x


@kernel
def count(counters, v, cols, dens):
    """Add a tick's volumes to a group's counters, in place: counter ``r`` counts column
    ``cols[r]``, times column ``dens[r]`` for a ratio's numerator (-1: a rate), in value x
    ticks; the product in float32 as numpy forms it, the sum in float64."""
    for r in range(cols.shape[0]):
        c, d = cols[r], dens[r]
        for i in range(v.shape[0]):
            if d < 0:
                counters[r, i] += v[i, c]
            else:
                counters[r, i] += v[i, c] * v[i, d]


@kernel
def read(v, counters, last, last_t, end, dt, cidx, rpos, rden_pos, rcol):
    """A read over each entity's span since its last good read (``last``, ``last_t``): the
    counted columns as rates (counter delta over the span in ticks), ratio columns as the
    numerator's delta over the denominator's (as ``v`` holds it where nothing was offered);
    gauges as they are. Returns a new float32 array shaped as ``v``."""
    seen = v.copy()
    for i in range(v.shape[0]):
        span = (end - last_t[i]) / dt
        for r in range(cidx.shape[0]):
            seen[i, cidx[r]] = (counters[r, i] - last[r, i]) / span
        for q in range(rpos.shape[0]):
            den = counters[rden_pos[q], i] - last[rden_pos[q], i]
            if den > 1e-12:
                seen[i, rcol[q]] = (counters[rpos[q], i] - last[rpos[q], i]) / den
            else:
                seen[i, rcol[q]] = v[i, rcol[q]]
    return seen


@kernel
def noise(seen, z, n, scale, floor, with_floor, upper):
    """A read's noise, in place, on the reads of several members stacked (rows: member-major
    entities, ``n`` per member; ``z`` their standard normal draws, float32): times
    ``1 + scale * z`` in float64 (0 scale: exact), plus ``floor * z**2`` (``z**2`` in float32),
    then clipped to ``upper`` (float32; one row for all entities, or one per entity)."""
    per_entity = upper.shape[0] > 1
    for row in range(seen.shape[0]):
        u = row % n if per_entity else 0
        for c in range(seen.shape[1]):
            x = seen[row, c]
            zz = z[row, c]
            x = np.float32(x * (scale[c] * zz + 1.0))
            if with_floor:
                x = np.float32(x + floor[c] * (zz * zz))
            if x > upper[u, c]:
                x = upper[u, c]
            seen[row, c] = x


@kernel
def evaluate(v, cols, sign, thr, for_s, clear, clear_for, pending, calm, is_open, dt):
    """One rule group's tests on the samples of ``m`` members, ``v`` (m, entities, metrics):
    rule ``j`` reads column ``cols[j]``, signed by ``sign[j]`` so every rule fires above its
    threshold (NaN, a silent monitor, neither fires nor clears). Returns per member whether
    anything is past a threshold, whether any alert is open, whether any opens and whether any
    clears (``flags``, m x 4: the caller's bookkeeping skips a member with nothing to do); the seconds
    held (``pending`` + ``dt`` where past, else 0) and the alerts that open (held ``for_s``,
    not open yet), for all members if any hit (else empty arrays); the seconds calm (an open
    alert's value below ``clear``; 0 once it clears or is not open) and the alerts that clear
    (calm ``clear_for``), likewise if any is open."""
    m, n, r = pending.shape
    flags = np.zeros((m, 4), dtype=np.bool_)
    for k in range(m):
        for i in range(n):
            for j in range(r):
                if v[k, i, cols[j]] * sign[j] > thr[i, j]:
                    flags[k, 0] = True
                if is_open[k, i, j]:
                    flags[k, 1] = True
    hit_shape = (m, n, r) if flags[:, 0].any() else (0, 0, 0)
    open_shape = (m, n, r) if flags[:, 1].any() else (0, 0, 0)
    held = np.zeros(hit_shape)
    opened = np.zeros(hit_shape, dtype=np.bool_)
    calm_s = np.zeros(open_shape)
    cleared = np.zeros(open_shape, dtype=np.bool_)
    for k in range(m):
        if flags[k, 0]:
            for i in range(n):
                for j in range(r):
                    if v[k, i, cols[j]] * sign[j] > thr[i, j]:
                        held[k, i, j] = pending[k, i, j] + dt
                        opened[k, i, j] = held[k, i, j] >= for_s[j] and not is_open[k, i, j]
                        if opened[k, i, j]:
                            flags[k, 2] = True
        if flags[k, 1]:
            for i in range(n):
                for j in range(r):
                    if is_open[k, i, j]:
                        s = calm[k, i, j] + dt if v[k, i, cols[j]] * sign[j] < clear[i, j] else 0.0
                        if s >= clear_for[j]:
                            cleared[k, i, j] = True
                            flags[k, 3] = True
                            s = 0.0
                        calm_s[k, i, j] = s
    return flags, held, opened, calm_s, cleared
