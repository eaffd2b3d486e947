"""Max-min fair rate allocation by vectorised water-filling.

Flows and links meet in a sparse incidence given as two aligned index arrays
(``flow_of[i]`` crosses ``link_of[i]``). Flows that cross no overloaded link (offered
load at full demand within capacity) get their demand outright: such a link can never
become their bottleneck. For the rest, each round does one of two things for all flows
at once: satisfy every flow whose remaining demand fits under the fair share of every
link it crosses (shares only grow as flows freeze, so it is never bottlenecked later),
or, if none fits, freeze the flows of every link whose fair share is the smallest among
the links its flows cross (a local bottleneck) at that share. Rounds are few.
"""

from __future__ import annotations

import numpy as np

__all__ = ["max_min_rates"]


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
