"""Max-min fair rate allocation by water-filling, compiled (:mod:`twin.physics.jit`).

Flows and links meet in a sparse incidence given as two aligned index arrays
(``flow_of[i]`` crosses ``link_of[i]``). Flows that cross no overloaded link (offered
load at full demand within capacity) get their demand outright: such a link can never
become their bottleneck. For the rest, each round does one of two things for all flows
at once: satisfy every flow whose remaining demand fits under the fair share of every
link it crosses (shares only grow as flows freeze, so it is never bottlenecked later),
or, if none fits, freeze the flows of every link whose fair share is the smallest among
the links its flows cross (a local bottleneck) at that share. Rounds are few.

:func:`water_fill` is the kernel (plain arrays, called by the flow model's kernels too);
:func:`max_min_rates` is its entry point from Python.
"""

from __future__ import annotations

import numpy as np

from twin.physics.jit import kernel

__all__ = ["max_min_rates", "water_fill"]


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
    as_float = lambda a: np.ascontiguousarray(a, dtype=np.float64)  # noqa: E731
    as_int = lambda a: np.ascontiguousarray(a, dtype=np.int64)  # noqa: E731
    return water_fill(as_int(flow_of), as_int(link_of), as_float(capacity), as_float(demand))


@kernel
def water_fill(flow_of, link_of, capacity, demand):  # pragma: no cover - compiled
    """:func:`max_min_rates` on contiguous int64/float64 arrays (sums in entry order)."""
    n_flows, n_links, n_e = demand.shape[0], capacity.shape[0], flow_of.shape[0]
    rate = np.zeros(n_flows)
    remaining = np.empty(n_links)
    for l in range(n_links):
        remaining[l] = capacity[l] if capacity[l] >= 0.0 or capacity[l] != capacity[l] else 0.0
    residual = demand.copy()
    active = residual > 0
    offered = np.zeros(n_links)
    unbounded = np.zeros(n_links)
    for i in range(n_e):
        r = residual[flow_of[i]]
        if np.isfinite(r):
            offered[link_of[i]] += r
        else:
            offered[link_of[i]] += 0.0
            unbounded[link_of[i]] += 1.0
    touches_hot = np.zeros(n_flows, dtype=np.bool_)
    crosses = np.zeros(n_flows, dtype=np.bool_)
    for i in range(n_e):
        l = link_of[i]
        crosses[flow_of[i]] = True
        if offered[l] > remaining[l] * (1 + 1e-12) or unbounded[l] > 0:
            touches_hot[flow_of[i]] = True
    # flows that cross only links with room get their demand outright
    used = np.zeros(n_links)
    for i in range(n_e):
        f = flow_of[i]
        used[link_of[i]] += residual[f] if active[f] and not touches_hot[f] else 0.0
    for l in range(n_links):
        remaining[l] -= used[l]
    for f in range(n_flows):
        if active[f] and not touches_hot[f]:
            rate[f] = residual[f]
            residual[f] = 0.0
            active[f] = False
        elif active[f] and not crosses[f]:  # limited by demand alone
            rate[f] = residual[f]
            active[f] = False
    count = np.zeros(n_links, dtype=np.int64)
    share = np.empty(n_links)
    bottleneck = np.empty(n_flows)
    local = np.empty(n_links)
    fits = np.zeros(n_flows, dtype=np.bool_)
    grant = np.zeros(n_flows)
    for _ in range(n_flows + n_links + 1):
        live = 0
        count[:] = 0
        for i in range(n_e):
            if active[flow_of[i]]:
                count[link_of[i]] += 1
                live += 1
        if live == 0:
            break
        for l in range(n_links):
            share[l] = remaining[l] / max(count[l], 1) if count[l] > 0 else np.inf
        bottleneck[:] = np.inf
        for i in range(n_e):
            f = flow_of[i]
            if active[f] and share[link_of[i]] < bottleneck[f]:
                bottleneck[f] = share[link_of[i]]
        any_fit = False
        for f in range(n_flows):
            fits[f] = active[f] and residual[f] <= bottleneck[f]
            any_fit |= fits[f]
        if any_fit:
            for f in range(n_flows):
                grant[f] = residual[f] if fits[f] else 0.0
        else:  # freeze the flows of every local bottleneck at its share
            local[:] = np.inf
            for i in range(n_e):
                f = flow_of[i]
                if active[f] and bottleneck[f] < local[link_of[i]]:
                    local[link_of[i]] = bottleneck[f]
            fits[:] = False
            for i in range(n_e):
                f, l = flow_of[i], link_of[i]
                if active[f] and count[l] > 0 and share[l] <= local[l] * (1 + 1e-12) + 1e-15:
                    fits[f] = True
            for f in range(n_flows):
                grant[f] = max(bottleneck[f], 0.0) if fits[f] else 0.0
        used[:] = 0.0
        for i in range(n_e):
            f = flow_of[i]
            if active[f]:
                used[link_of[i]] += grant[f]
        for f in range(n_flows):
            rate[f] += grant[f]
            residual[f] = residual[f] - grant[f]
            if fits[f]:
                active[f] = False
        for l in range(n_links):
            v = remaining[l] - used[l]
            remaining[l] = v if v >= 0.0 or v != v else 0.0
    return rate
