"""Microservice physics: queues that fill, clients that time out and retry, errors up the graph.

One call per tick of ``dt`` seconds over all services and call edges (a fluid model: rates and
expected values, no per-request loop), compiled as one loop nest (:mod:`twin.physics.jit`) over
the members of a batch, each member computed as it would be alone.

1. **Clients decide how much to send** from what they saw last tick. An edge's attempt failure
   probability ``q`` (last tick's) gives the retries a call makes, ``q + q^2 + ... + q^r``,
   capped by the edge's *retry budget* (retries as a fraction of requests, as gRPC and Finagle
   budgets do). A *circuit breaker* that is open sends nothing (fails fast); half-open it lets
   a probe share through. A *concurrency limit* rejects fast the attempts above it (Little's
   law: in flight = attempt rate x attempt duration).
2. **Load flows down** the DAG from the callers' *throughput*: a callee gets the calls of the
   requests its caller actually served.
3. **Each service is a queue with a backlog** carried across ticks: it fills while arrivals
   exceed capacity, drains otherwise, and overflows its queue limit (overflow is rejected with an
   error). A request's sojourn is its service time plus the larger of the M/M/1 wait and the
   backlog's drain time. The server works through its backlog whether or not the clients are
   still waiting: attempts whose client already timed out are *wasted* work, and their retries
   arrive on top. This is the loop that makes a retry storm metastable (Bronson et al., HotOS'21):
   once the backlog's delay passes the clients' timeout, the retries alone keep it full after
   the trigger ends, until the load or the retries are cut.
4. **Latency and errors propagate up** the DAG as a mean and a variance per service: an attempt
   fails on network loss, a callee error or a timeout (the callee's latency past the client's
   timeout, from the fitted distribution). The latency distribution is a lognormal fitted to
   the mean and variance, so p50 and p99 follow from the load and the position in the graph
   (a lightly loaded leaf is nearly exponential; a caller summing many calls is narrower).
5. **Breakers update** from the edge's failure ratio over a window (an EWMA): open above the
   threshold, half-open after the cooldown, closed again when the probes succeed.

Details: retries wait ``b, 2b, 4b ...`` (exponential backoff), adding to the call's latency;
attempts failed fast (breaker, concurrency limit) are not retried; a fanout below 1 is the share
of requests that make the call. Steps 2 and 4 iterate over the DAG from last tick's solution and
stop once a round changes nothing (``TOL``), so a steady graph costs one round, a changed one at
most its depth + 1.

>>> import numpy as np
>>> svc = Services(entry_rps=np.array([500.0, 0.0]), capacity_rps=np.array([1000.0, 1000.0]),
...                service_time_ms=np.array([1.0, 1.0]), queue_limit=np.array([100.0, 100.0]),
...                injected_error=np.zeros(2))
>>> res = service_step(svc, Clients.simple([0], [1]), Carried.empty(2, 1), np.zeros(1), np.ones(1), depth=1)
>>> res.rps.round(1).tolist(), float(res.latency_ms[1].round(2))
([500.0, 500.0], 2.0)
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
import math
from typing import NamedTuple

import numpy as np

from twin.physics.jit import kernel

__all__ = ["Services", "Clients", "Carried", "ServiceResult", "service_step", "lognormal_quantiles",
           "CLOSED", "OPEN", "HALF_OPEN"]

#: Breaker states, per call edge.
CLOSED, OPEN, HALF_OPEN = 0, 1, 2
#: Share of a half-open breaker's calls let through as probes.
PROBE_SHARE = 0.1
#: Utilisation at which the M/M/1 wait is capped (the fluid backlog takes over above it).
RHO_CAP = 0.95
Z99 = 2.3263478740408408  # standard normal 0.99 quantile
#: Relative change (of latency and load; a tenth of it, absolute, of error rates) below which an
#: iteration over the graph has converged.
TOL = 1e-3


@dataclass(frozen=True)
class Services:
    """Per service, this tick: outside load, capacity (requests/s), service time, queue limit."""

    entry_rps: np.ndarray
    capacity_rps: np.ndarray
    service_time_ms: np.ndarray
    queue_limit: np.ndarray  # requests the service's queues hold (all replicas)
    injected_error: np.ndarray


@dataclass(frozen=True)
class Clients:
    """Per call edge (caller -> callee): the client's policy. ``inf`` disables a limit."""

    src: np.ndarray
    dst: np.ndarray
    fanout: np.ndarray
    timeout_ms: np.ndarray
    retries: np.ndarray
    backoff_ms: np.ndarray  # first retry's backoff; each next one doubles it
    retry_budget: np.ndarray  # retries allowed per request (0.1 = 10%); inf: no budget
    breaker_threshold: np.ndarray  # failure ratio that opens the breaker; inf: no breaker
    breaker_window_s: np.ndarray
    breaker_cooldown_s: np.ndarray
    max_inflight: np.ndarray  # concurrent attempts the client allows; inf: no limit

    @classmethod
    def simple(cls, src, dst, fanout=1.0, timeout_ms=100.0, retries=0.0, backoff_ms=0.0, retry_budget=np.inf,
               breaker_threshold=np.inf, breaker_window_s=30.0, breaker_cooldown_s=30.0,
               max_inflight=np.inf) -> "Clients":
        """Edges with one policy for all (scalars broadcast), for tests and examples."""
        src, dst = np.asarray(src, dtype=np.int64), np.asarray(dst, dtype=np.int64)

        def arr(v):
            return np.broadcast_to(np.asarray(v, dtype=float), src.shape).copy()

        return cls(src, dst, arr(fanout), arr(timeout_ms), arr(retries), arr(backoff_ms), arr(retry_budget),
                   arr(breaker_threshold), arr(breaker_window_s), arr(breaker_cooldown_s), arr(max_inflight))

    @cached_property
    def derived(self) -> "_Derived":
        """What every tick reads of the fixed policy (computed on first use: clients are immutable)."""
        fan, timeout = self.fanout, self.timeout_ms
        policy = np.stack([fan, timeout, self.retries, self.backoff_ms, self.retry_budget, self.breaker_threshold,
                           self.breaker_window_s, self.breaker_cooldown_s, self.max_inflight,
                           np.maximum(fan * (1.0 - fan), 0.0),  # a call made by a share of requests varies
                           # log P(calls ok) = outer * log(1 - inner * p): fanout <= 1 is a share of
                           # requests making one call, above 1 that many independent calls
                           np.minimum(fan, 1.0), np.maximum(fan, 1.0),
                           np.log(timeout), timeout * timeout]).astype(float)
        return _Derived(
            breakers=bool(np.isfinite(self.breaker_threshold).any()),
            limited=bool(np.isfinite(self.max_inflight).any()),
            policy=policy,
            ends=np.stack([self.src, self.dst]).astype(np.int64),
        )


class _Derived(NamedTuple):
    breakers: bool  # some edge has a circuit breaker
    limited: bool  # some edge has a concurrency limit
    policy: np.ndarray  # (14, edges): the policy's fields and what is derived of them, rows _FAN ... _T2
    ends: np.ndarray  # (2, edges): src, dst


@dataclass(frozen=True)
class Carried:
    """What the model carries from one tick to the next (lives in the twin's state)."""

    backlog: np.ndarray  # per service: requests queued
    attempt_fail: np.ndarray  # per edge: share of last tick's attempts that failed
    attempt_ms: np.ndarray  # per edge: mean duration of an attempt as the client saw it
    fail_ratio: np.ndarray  # per edge: the breaker's windowed failure ratio
    breaker: np.ndarray  # per edge: CLOSED | OPEN | HALF_OPEN
    breaker_until: np.ndarray  # per edge: when an open breaker half-opens
    # last tick's solution, per service: where this tick's iteration starts (it then stops as soon
    # as a round changes nothing, so a steady graph costs one round, not its depth)
    served_rps: np.ndarray
    latency_ms: np.ndarray
    latency_var: np.ndarray
    error: np.ndarray

    @classmethod
    def empty(cls, n_services: int, n_edges: int) -> "Carried":
        z, zs = np.zeros(n_edges), np.zeros(n_services)
        return cls(zs, z, z.copy(), z.copy(), np.zeros(n_edges, dtype=np.int64), z.copy(), zs.copy(), zs.copy(),
                   zs.copy(), zs.copy())


@dataclass(frozen=True)
class ServiceResult:
    rps: np.ndarray  # offered requests/s per service, retries included
    utilisation: np.ndarray  # offered / capacity
    latency_ms: np.ndarray  # mean end-to-end latency of a request to the service
    p50_ms: np.ndarray
    p99_ms: np.ndarray
    error_rate: np.ndarray  # fraction of requests answered with an error
    attempt_fail: np.ndarray  # per call edge: attempts failed (network, error, timeout)
    backlog: np.ndarray  # per service: requests queued at the end of the tick
    shed: np.ndarray  # per service: share of arrivals rejected by a full queue
    wasted: np.ndarray  # per service: share of its work done for clients that had given up
    carried: Carried  # the state for the next tick


#: Rows of ``Clients.derived.policy``: the fixed policy per call edge, and what every tick derives from it.
_FAN, _TIMEOUT, _RETRIES, _BACKOFF, _BUDGET, _THRESHOLD, _WINDOW, _COOLDOWN, _MAX_INFLIGHT = range(9)
_FAN_VAR, _INNER, _OUTER, _LOG_TIMEOUT, _T2 = range(9, 14)
#: Rows of the kernel's per-service and per-edge outputs.
_RPS, _UTIL, _LAT, _P50, _P99, _ERR_RATE, _BACKLOG, _SHED, _WASTED, _SERVED, _LAT_VAR, _ERR = range(12)
_ATTEMPT_FAIL, _ATTEMPT_MS, _FAIL_RATIO, _UNTIL = range(4)


@kernel
def _minimum(a: float, b: float) -> float:
    """``np.minimum`` of two floats (a NaN wins, as there)."""
    return a if a <= b or a != a else b


@kernel
def _maximum(a: float, b: float) -> float:
    """``np.maximum`` of two floats (a NaN wins, as there)."""
    return a if a >= b or a != a else b


@kernel
def _quantiles(mean: float, var: float) -> tuple[float, float]:
    """p50 and p99 of the lognormal with this mean and variance."""
    m = _maximum(mean, 1e-9)
    s2 = math.log1p(_maximum(var, 0.0) / (m * m))
    mu = math.log(m) - 0.5 * s2
    return math.exp(mu), math.exp(mu + Z99 * math.sqrt(s2))


@kernel
def _quantiles_of(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p50, p99 = np.empty(mean.shape[0]), np.empty(mean.shape[0])
    for i in range(mean.shape[0]):
        p50[i], p99[i] = _quantiles(mean[i], var[i])
    return p50, p99


def lognormal_quantiles(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p50 and p99 of the lognormal with this mean and variance.

    >>> p50, p99 = lognormal_quantiles(np.array([10.0]), np.array([100.0]))  # exponential-like
    >>> round(float((p99 / p50)[0]), 1)
    6.9
    """
    return _quantiles_of(np.ascontiguousarray(mean, dtype=float), np.ascontiguousarray(var, dtype=float))


@kernel
def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal (a logistic fit of the normal CDF, |error| < 2e-4)."""
    z = _minimum(_maximum(z, -8.0), 8.0)
    return 1.0 / (1.0 + math.exp(z * (1.5976 + 0.070566 * z * z)))


@kernel
def _step(entry, mu, st, queue_limit, injected, policy, ends, backlog0, attempt_fail0, attempt_ms0, fail_ratio0,
          state, until0, served0, latency0, variance0, error0, net_loss, net_latency, now, depth, dt, members,
          breakers, limited):
    """Steps 1-5 for each member (services ``k*n ..``, edges ``k*m ..``); ``now`` one or one per edge.
    Returns the per-service rows (``_RPS ..``), the per-edge rows (``_ATTEMPT_FAIL ..``), the breakers."""
    n_all, m_all = entry.shape[0], ends.shape[1]
    n, m = n_all // members, m_all // members
    src, dst = ends[0], ends[1]
    fan, timeout, r, backoff, budget = policy[_FAN], policy[_TIMEOUT], policy[_RETRIES], policy[_BACKOFF], policy[_BUDGET]
    fan_var, inner, outer, log_timeout, t2 = policy[_FAN_VAR], policy[_INNER], policy[_OUTER], policy[_LOG_TIMEOUT], policy[_T2]
    out = np.empty((12, n_all))
    edge_out = np.empty((4, m_all))
    breaker = state.copy()
    arrivals, served, lat_m, lat_v, err = out[_RPS], out[_SERVED], out[_LAT], out[_LAT_VAR], out[_ERR]
    backlog, shed = out[_BACKLOG], out[_SHED]
    q, t_att = edge_out[_ATTEMPT_FAIL], edge_out[_ATTEMPT_MS]  # q clipped to [0, 1] at the end
    fail_ratio, until = edge_out[_FAIL_RATIO], edge_out[_UNTIL]
    # scratch, per service and per edge
    work, own_mean, own_var, healthy = np.empty(n_all), np.empty(n_all), np.empty(n_all), np.empty(n_all)
    sum_m, sum_v, sum_log = np.empty(n_all), np.empty(n_all), np.empty(n_all)
    per_call, admit, sent, sent_ok = np.empty(m_all), np.ones(m_all), np.empty(m_all), np.empty(m_all)
    p_to = np.empty(m_all)
    rounds = max(depth, 1) + 1
    failing_fast = breakers or limited
    for k in range(members):
        s0, s1, e0, e1 = k * n, (k + 1) * n, k * m, (k + 1) * m

        # 1. what clients send: retries from last tick's failures within the budget; breakers; limits
        for e in range(e0, e1):
            qp = _minimum(attempt_fail0[e], 0.999)
            one_q = 1.0 - qp
            retries = qp * (1.0 - qp ** r[e]) / one_q if abs(one_q) > 1e-9 else r[e]  # qp + qp^2 + ... + qp^r
            passing = 1.0
            if breakers:
                passing = 0.0 if state[e] == OPEN else (PROBE_SHARE if state[e] == HALF_OPEN else 1.0)
            per_call[e] = fan[e] * (1.0 + _minimum(retries, budget[e])) * passing  # attempts per request served
            sent_ok[e] = passing

        # 2-3. load flows down from callers' throughput; queues fill and drain. After i rounds every
        # service at depth < i from an entry is exact, whatever the start
        for s in range(s0, s1):
            served[s] = served0[s]
        for _ in range(rounds):
            sum_m[s0:s1] = 0.0
            for e in range(e0, e1):
                want = per_call[e] * served[src[e]]
                if limited:
                    inflight = want * attempt_ms0[e] / 1000.0  # Little's law
                    admit[e] = _minimum(1.0, policy[_MAX_INFLIGHT, e] / inflight if inflight > 0 else 1.0)
                    want = want * admit[e]
                sum_m[dst[e]] += want
            settled = True
            for s in range(s0, s1):
                arrivals[s] = entry[s] + sum_m[s]
                work[s] = backlog0[s] + arrivals[s] * dt
                before = served[s]
                served[s] = _minimum(work[s], mu[s] * dt) / dt
                settled &= abs(served[s] - before) <= TOL * served[s]
            if settled:
                break
        for e in range(e0, e1):
            sent[e] = per_call[e] * admit[e] * served[src[e]]  # attempts/s on each edge
            sent_ok[e] *= admit[e]  # not failed fast by an open breaker or the concurrency limit

        # sojourn: service time + the larger of the M/M/1 wait and the backlog's drain time
        cold = True
        for s in range(s0, s1):
            left = work[s] - served[s] * dt
            backlog[s] = _minimum(left, queue_limit[s])
            shed[s] = _minimum((left - backlog[s]) / (arrivals[s] * dt) if arrivals[s] > 0 else 0.0, 1.0)
            up = mu[s] > 0
            inv_mu = 1000.0 / mu[s] if up else 0.0  # ms per request
            rho = arrivals[s] / mu[s] if up else (np.inf if arrivals[s] > 0 else 0.0)
            out[_UTIL, s] = _minimum(rho, 10.0)
            rc = _minimum(rho, RHO_CAP)
            full_ms = queue_limit[s] * inv_mu if up else 1e6
            mm1 = _minimum(st[s] * rc / (1.0 - rc), full_ms)
            drain = 0.5 * (backlog0[s] + backlog[s]) * inv_mu
            own_mean[s] = st[s] + _minimum(_maximum(mm1, drain), full_ms) if up else 1e6
            spread = (backlog[s] - backlog0[s]) * inv_mu
            own_var[s] = (st[s] + mm1) * (st[s] + mm1) + spread * spread / 12.0  # exponential sojourn + where in the tick one arrived
            healthy[s] = (1.0 - injected[s]) * (1.0 - shed[s])
            cold &= latency0[s] == 0.0

        # 4. latency and errors up the DAG; after i + 1 rounds every service of height <= i is exact
        for s in range(s0, s1):
            if cold:  # a cold start: from the services' own figures
                lat_m[s], lat_v[s], err[s] = own_mean[s], own_var[s], 1.0 - healthy[s]
            else:
                lat_m[s], lat_v[s], err[s] = latency0[s], variance0[s], error0[s]
        for _ in range(rounds):
            sum_m[s0:s1] = 0.0
            sum_v[s0:s1] = 0.0
            sum_log[s0:s1] = 0.0
            for e in range(e0, e1):
                d = dst[e]
                one_loss = 1.0 - net_loss[e]
                net_ok = one_loss * one_loss  # request and response both cross the path
                mean = _maximum(lat_m[d] + 2.0 * net_latency[e], 1e-6)
                v = lat_v[d]
                s2 = math.log1p(v / (mean * mean))
                p_to[e] = _normal_sf((log_timeout[e] - math.log(mean) + 0.5 * s2) / math.sqrt(s2 + 1e-18))  # lognormal tail past the timeout
                ok = 1.0 - p_to[e]
                qe = _minimum(1.0 - net_ok * (1.0 - err[d]) * ok, 0.999999)
                q[e] = qe
                mt = _minimum(mean, timeout[e])
                t_att[e] = mt + p_to[e] * (timeout[e] - mt)
                one_q, not_all_r = 1.0 - qe, 1.0 - qe ** r[e]
                unbudgeted = qe * not_all_r / one_q  # q + q^2 + ... + q^r
                retries = _minimum(unbudgeted, budget[e])
                share = retries / _maximum(unbudgeted, 1e-12)  # of failed calls, those the budget lets retry
                call_fail = qe * (1.0 - share * not_all_r)
                # backoff b, 2b, 4b ... before retries 1, 2, 3 ...: b (2^k - 1) after k retries
                tries = 1.0 + retries
                call_m = tries * t_att[e] + backoff[e] * (np.exp2(retries) - 1.0)
                call_v = tries * ok * _minimum(v, t2[e]) + retries * one_q * t_att[e] * t_att[e]
                if failing_fast:
                    so = sent_ok[e]
                    call_fail = 1.0 - so * (1.0 - call_fail)
                    call_v = so * call_v + so * (1.0 - so) * call_m * call_m
                    call_m = so * call_m
                c = src[e]
                sum_m[c] += fan[e] * call_m
                sum_v[c] += fan[e] * call_v + fan_var[e] * call_m * call_m
                sum_log[c] += outer[e] * math.log1p(-inner[e] * _minimum(call_fail, 1 - 1e-12))
            settled = True
            for s in range(s0, s1):
                before_m, before_err = lat_m[s], err[s]
                lat_m[s] = own_mean[s] + sum_m[s]
                lat_v[s] = own_var[s] + sum_v[s]
                err[s] = 1.0 - healthy[s] * math.exp(sum_log[s])
                settled &= abs(lat_m[s] - before_m) <= TOL * lat_m[s] and abs(err[s] - before_err) <= 0.1 * TOL
            if settled:
                break
        sum_m[s0:s1] = 0.0
        sum_v[s0:s1] = 0.0
        for e in range(e0, e1):
            sum_m[dst[e]] += sent[e]
            sum_v[dst[e]] += sent[e] * p_to[e]
        for s in range(s0, s1):
            out[_P50, s], out[_P99, s] = _quantiles(lat_m[s], lat_v[s])
            out[_WASTED, s] = sum_v[s] / sum_m[s] if sum_m[s] > 0 else 0.0
            out[_ERR_RATE, s] = _minimum(_maximum(err[s], 0.0), 1.0)

        # 5. breakers: windowed failure ratio; open above threshold, half-open after the cooldown
        for e in range(e0, e1):
            ratio, at = fail_ratio0[e], until0[e]
            if breakers:
                t = now[e] if now.shape[0] > 1 else now[0]
                threshold = policy[_THRESHOLD, e]
                w = 1.0 - math.exp(-dt / _maximum(policy[_WINDOW, e], 1e-9))
                if sent[e] > 0:
                    ratio = (1.0 - w) * ratio + w * q[e]
                was = state[e]
                opening = was == CLOSED and ratio > threshold and sent[e] > 0
                probe_bad = was == HALF_OPEN and q[e] > threshold
                if opening or probe_bad:
                    breaker[e] = OPEN
                    at = t + policy[_COOLDOWN, e]
                if was == HALF_OPEN and not probe_bad:
                    breaker[e] = CLOSED
                    ratio = q[e]
                if was == OPEN and t + dt >= at:
                    breaker[e] = HALF_OPEN
            fail_ratio[e], until[e] = ratio, at
            q[e] = _minimum(_maximum(q[e], 0.0), 1.0)
    return out, edge_out, breaker


def service_step(
    svc: Services,
    clients: Clients,
    carried: Carried,
    net_loss: np.ndarray,
    net_latency_ms: np.ndarray,
    depth: int,
    now: float | np.ndarray = 0.0,
    dt: float = 10.0,
    members: int = 1,
) -> ServiceResult:
    """Advance services and their clients one tick; arrays per service or per call edge.

    ``members`` > 1: the arrays hold that many twins of one call graph, member-major (each
    member's services, then its edges, contiguous; ``clients.src``/``dst`` offset to the
    member's services). Each member's graph iterations stop where that member alone would
    stop, so each member's slice of the result is bit-identical to its own call. ``now``: one
    time, or one per call edge (members apart in time).
    """
    n, m = svc.entry_rps.shape[0], clients.src.shape[0]
    if members < 1 or n % members or m % members:
        raise ValueError(f"members={members} must be >= 1 and divide the services ({n}) and edges ({m})")
    fixed, c = clients.derived, carried
    out, edge_out, breaker = _step(
        svc.entry_rps, svc.capacity_rps, svc.service_time_ms, svc.queue_limit, svc.injected_error, fixed.policy,
        fixed.ends, c.backlog, c.attempt_fail, c.attempt_ms, c.fail_ratio, c.breaker, c.breaker_until, c.served_rps,
        c.latency_ms, c.latency_var, c.error, net_loss, net_latency_ms, np.asarray(now, dtype=float).reshape(-1),
        depth, float(dt), members, fixed.breakers, fixed.limited)
    nxt = Carried(out[_BACKLOG], edge_out[_ATTEMPT_FAIL], edge_out[_ATTEMPT_MS], edge_out[_FAIL_RATIO], breaker,
                  edge_out[_UNTIL], out[_SERVED], out[_LAT], out[_LAT_VAR], out[_ERR])
    return ServiceResult(out[_RPS], out[_UTIL], out[_LAT], out[_P50], out[_P99], out[_ERR_RATE], nxt.attempt_fail,
                         nxt.backlog, out[_SHED], out[_WASTED], nxt)
