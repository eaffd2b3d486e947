"""The services' side of a twin's tick around their model, as two compiled kernels.

Before the model (:func:`model_inputs`): what the replicas that are up, their memory (garbage
collection slows a service past 75% of its limit) and CPU hogs leave of each service's
capacity; the load admitted at the entries; each call edge's network loss and latency, from
its interdc flow group (a cross-site call) or its fabric probe flow (a call inside a site).
After it (:func:`tick_figures`): each service's CPU and the error its customers see (the
model's errors and the load turned away at the entries).

Each is a few dozen elementwise operations on arrays of a few dozen services: in numpy the
calls, not the arithmetic, set the cost, and they run once per member of a batch per tick.

>>> import numpy as np
>>> cpu, err = tick_figures(np.array([50.0]), np.array([0.1]), np.array([1.0]), np.array([100.0]),
...                         np.array([1.0]), np.array([0.0]), np.array([200.0]), np.array([100.0]))
>>> cpu.tolist(), err.tolist()
([0.5], [0.55])
"""

from __future__ import annotations

import numpy as np

from twin.physics.jit import kernel

__all__ = ["model_inputs", "tick_figures"]

#: Rows of :func:`model_inputs`' per-service block.
MEM_FRAC, GC, UP, CAPACITY, ENTRY, ADMITTED, SERVICE_TIME, QUEUE_LIMIT, INJECTED = range(9)


@kernel
def _clip(x: float, lo: float, hi: float) -> float:
    """``np.clip`` of a float (a NaN stays NaN)."""
    if x != x:
        return x
    return lo if x < lo else (hi if x > hi else x)


@kernel
def model_inputs(memory, limit, replicas_up, crashloop, release_crashloop, per, hog, entry_rps, scale, entry_factor,
                 entry_limit, resolvable, service_time, queue_limit, injected, release_error,
                 n_calls, cross, group, group_loss, group_latency, fab, probe, flow_loss, flow_latency):
    """Per service, the rows ``MEM_FRAC`` ... ``INJECTED`` (a (9, services) array); per call
    edge, its network loss and latency in ms (a (2, edges) array): ``cross`` edges take their
    ``group``'s, ``fab`` edges their ``probe`` flow's."""
    n = memory.shape[0]
    out = np.empty((9, n))
    for i in range(n):
        mem_frac = memory[i] / limit[i]
        gc = _clip(1.0 - 2.0 * (mem_frac - 0.75), 0.2, 1.0)
        up = replicas_up[i] - crashloop[i] - release_crashloop[i]
        up = up if up >= 0.0 or up != up else 0.0
        entry = entry_rps[i] * scale * entry_factor[i]
        # users whose names do not resolve (every DNS POP withdrawn) never reach the entry services
        admitted = (entry if entry <= entry_limit[i] or entry != entry else entry_limit[i]) * resolvable
        out[MEM_FRAC, i], out[GC, i], out[UP, i] = mem_frac, gc, up
        out[CAPACITY, i] = up * per[i] * (1.0 - hog[i]) * gc
        out[ENTRY, i], out[ADMITTED, i] = entry, admitted
        out[SERVICE_TIME, i] = service_time[i] / gc
        out[QUEUE_LIMIT, i] = queue_limit[i] * up
        out[INJECTED, i] = 1.0 - (1.0 - injected[i]) * (1.0 - release_error[i])
    # per call edge: loss and latency of its path; on none, no loss and 0.05 ms (a call inside a host)
    net = np.empty((2, n_calls))
    net[0, :] = 0.0
    net[1, :] = 0.05
    for k in range(cross.shape[0]):
        net[0, cross[k]], net[1, cross[k]] = group_loss[group[k]], group_latency[group[k]]
    for k in range(fab.shape[0]):
        net[0, fab[k]], net[1, fab[k]] = flow_loss[probe[k]], flow_latency[probe[k]]
    return out, net


@kernel
def tick_figures(rps, error_rate, up, per, gc, hog, entry, admitted):
    """Per service: CPU (busy share of what is up, the hog's share included) and the error rate
    customers see (the model's, and the entry load turned away)."""
    n = rps.shape[0]
    cpu, customer_err = np.empty(n), np.empty(n)
    for i in range(n):
        busy = 0.0
        if per[i] > 0:
            room = up[i] * per[i] * gc[i]
            busy = rps[i] / (room if room >= 1e-9 or room != room else 1e-9)
        cpu[i] = _clip(busy * (1.0 - hog[i]) + hog[i], 0.0, 1.0) if up[i] > 0 else 0.0
        rejected = 0.0
        if entry[i] > 0:
            rejected = 1.0 - admitted[i] / (entry[i] if entry[i] >= 1e-12 else 1e-12)
        customer_err[i] = 1.0 - (1.0 - error_rate[i]) * (1.0 - rejected)
    return cpu, customer_err
