"""Microservice physics: load down the call graph, queueing latency, retries, errors up.

One call per tick, vectorised over services and call edges:

1. Load flows from callers to callees. Each call edge carries ``fanout`` calls per caller
   request times the expected attempts ``(1 - q^(r+1)) / (1 - q)``, where ``q`` is the
   edge's attempt failure probability from the previous tick and ``r`` its retries. Using
   last tick's ``q`` is what lets retry storms feed themselves across ticks.
2. Each service is a queue: utilisation ``rho = load / capacity``; mean own latency is
   ``service_time / (1 - rho)``; above capacity the excess is shed as errors and the
   queue sits full.
3. Latency and errors propagate from callees up to callers over the DAG: an attempt fails
   on network loss, a callee error, or a timeout (exponential latency tail).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ServiceResult", "service_step"]

#: Own latency of a service whose queue is full, as a multiple of its service time.
SATURATED_FACTOR = 60.0
LN2, LN100 = float(np.log(2.0)), float(np.log(100.0))


@dataclass(frozen=True)
class ServiceResult:
    rps: np.ndarray  # offered requests/s per service, retries included
    utilisation: np.ndarray
    latency_ms: np.ndarray  # mean end-to-end latency of a request to the service
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    error_rate: np.ndarray  # fraction of requests answered with an error
    attempt_fail: np.ndarray  # per call edge, for next tick's retry amplification


def service_step(
    entry_rps: np.ndarray,
    capacity_rps: np.ndarray,
    service_time_ms: np.ndarray,
    call_src: np.ndarray,
    call_dst: np.ndarray,
    fanout: np.ndarray,
    timeout_ms: np.ndarray,
    retries: np.ndarray,
    net_loss: np.ndarray,
    net_latency_ms: np.ndarray,
    injected_error: np.ndarray,
    prev_fail: np.ndarray,
    depth: int,
    retry_budget: np.ndarray | float = np.inf,
) -> ServiceResult:
    """Advance the service model one tick; all arrays are per service or per call edge."""
    n = entry_rps.shape[0]
    q = np.minimum(np.maximum(prev_fail, 0.0), 0.999)
    r1 = retries + 1.0
    # clients cap retries at a budget (extra attempts per request), as retry throttling does
    extra = np.divide(1.0 - q**r1, 1.0 - q, out=np.ones_like(q), where=q > 1e-9) - 1.0
    weight = fanout * (1.0 + np.minimum(extra, retry_budget))
    # load flows down the DAG: after i rounds every service at depth <= i from an entry is exact
    rps = entry_rps
    for _ in range(max(depth, 1)):
        rps = entry_rps + np.bincount(call_dst, weights=weight * rps[call_src], minlength=n)
    rps = np.maximum(rps, 0.0)
    rho = np.divide(rps, capacity_rps, out=np.where(rps > 0, np.inf, 0.0), where=capacity_rps > 0)
    shed = np.where(rho > 1.0, 1.0 - 1.0 / np.maximum(rho, 1e-12), 0.0)
    own = np.where(rho < 0.98, service_time_ms / (1.0 - np.minimum(rho, 0.98)), service_time_ms * SATURATED_FACTOR)
    latency = own
    healthy = (1.0 - injected_error) * (1.0 - shed)
    error = 1.0 - healthy
    fail = q
    net_ok = (1.0 - net_loss) ** 2  # request and response both cross the path
    rtt = 2 * net_latency_ms
    w_fan = fanout
    # after i rounds every service of height <= i is exact; roots have height ``depth``
    for _ in range(max(depth, 1)):
        child_lat = latency[call_dst]
        p_timeout = np.exp(-timeout_ms / np.maximum(child_lat + rtt, 1e-6))
        fail = 1.0 - net_ok * (1.0 - error[call_dst]) * (1.0 - p_timeout)
        all_fail = fail**r1
        # expected attempts (1 - f^(r+1)) / (1 - f), whose limit at f -> 1 is r + 1
        att = np.where(fail < 1 - 1e-9, (1.0 - all_fail) / np.maximum(1.0 - fail, 1e-9), r1)
        per_call = (rtt + np.minimum(child_lat, timeout_ms)) * att
        latency = own + np.bincount(call_src, weights=w_fan * per_call, minlength=n)
        log_ok = np.bincount(call_src, weights=w_fan * np.log1p(-np.minimum(all_fail, 1 - 1e-12)), minlength=n)
        error = 1.0 - healthy * np.exp(log_ok)
    # exponential-tailed latency: median ln2 x mean, p99 ln100 x mean
    return ServiceResult(
        rps=rps,
        utilisation=np.minimum(rho, 10.0),
        latency_ms=latency,
        p50_ms=latency * LN2,
        p99_ms=latency * LN100,
        error_rate=np.minimum(np.maximum(error, 0.0), 1.0),
        attempt_fail=np.minimum(np.maximum(fail, 0.0), 1.0),
    )
