"""Microservice physics: queues that fill, clients that time out and retry, errors up the graph.

One call per tick of ``dt`` seconds, vectorised over services and call edges (a fluid model:
rates and expected values, no per-request loop).

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
from typing import Callable, NamedTuple

import numpy as np

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
        return _Derived(
            breakers=bool(np.isfinite(self.breaker_threshold).any()),
            limited=bool(np.isfinite(self.max_inflight).any()),
            fan_var=np.maximum(fan * (1.0 - fan), 0.0),  # a call made by a share of requests varies
            # log P(calls ok) = outer * log(1 - inner * p): fanout <= 1 is a share of requests
            # making one call, above 1 that many independent calls
            inner=np.minimum(fan, 1.0),
            outer=np.maximum(fan, 1.0),
            log_timeout=np.log(timeout),
            t2=timeout * timeout,
        )


class _Derived(NamedTuple):
    breakers: bool  # some edge has a circuit breaker
    limited: bool  # some edge has a concurrency limit
    fan_var: np.ndarray
    inner: np.ndarray
    outer: np.ndarray
    log_timeout: np.ndarray
    t2: np.ndarray


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


def _lognormal(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    m = np.maximum(mean, 1e-9)
    s2 = np.log1p(np.maximum(var, 0.0) / (m * m))
    return np.log(m) - 0.5 * s2, np.sqrt(s2)


def lognormal_quantiles(mean: np.ndarray, var: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """p50 and p99 of the lognormal with this mean and variance.

    >>> p50, p99 = lognormal_quantiles(np.array([10.0]), np.array([100.0]))  # exponential-like
    >>> round(float((p99 / p50)[0]), 1)
    6.9
    """
    mu, sigma = _lognormal(mean, var)
    return np.exp(mu), np.exp(mu + Z99 * sigma)


def _normal_sf(z: np.ndarray) -> np.ndarray:
    """P(Z > z) for a standard normal (a logistic fit of the normal CDF, |error| < 2e-4)."""
    z = np.minimum(np.maximum(z, -8.0), 8.0)  # np.clip's result (non-zero bounds), without its wrapper
    return 1.0 / (1.0 + np.exp(z * (1.5976 + 0.070566 * z * z)))


def _retries(q: np.ndarray, r: np.ndarray) -> np.ndarray:
    """Expected retries of a call whose attempts fail with probability q: q + q^2 + ... + q^r."""
    one_q = 1.0 - q
    regular = np.abs(one_q) > 1e-9
    return np.where(regular, q * (1.0 - q**r) / np.where(regular, one_q, 1.0), r)


class _Rounds:
    """Convergence of the graph iterations, per member of a batch (one member: the plain
    ``all()`` test). A member counts as converged from the round its own test passes."""

    __slots__ = ("members", "n", "m", "batched", "active")

    def __init__(self, members: int, n: int, m: int) -> None:
        if members < 1 or n % members or m % members:
            raise ValueError(f"members={members} must be >= 1 and divide the services ({n}) and edges ({m})")
        self.members, self.n, self.m, self.batched = members, n // members, m // members, members > 1
        self.active = np.ones(members, dtype=bool) if self.batched else None

    def restart(self) -> None:
        if self.batched:
            self.active = np.ones(self.members, dtype=bool)

    def keep(self, new, old, edges: bool = False):
        """``new`` for members still iterating, ``old`` for those that had converged."""
        if self.active.all():
            return new
        rows = np.repeat(self.active, self.m if edges else self.n)
        return np.where(rows, new, old)

    def converged(self, first: np.ndarray, then: Callable[[], np.ndarray] | None = None) -> bool:
        """Record this round's per-service tests (``then`` computed only when needed: one member
        stops at the first failing test); True once every member has converged."""
        if not self.batched:
            return bool(first.all()) and (then is None or bool(then().all()))
        done = first.reshape(self.members, self.n).all(axis=1)
        if then is not None:
            done &= then().reshape(self.members, self.n).all(axis=1)
        self.active &= ~done
        return not self.active.any()


def service_step(
    svc: Services,
    clients: Clients,
    carried: Carried,
    net_loss: np.ndarray,
    net_latency_ms: np.ndarray,
    depth: int,
    now: float = 0.0,
    dt: float = 10.0,
    members: int = 1,
) -> ServiceResult:
    """Advance services and their clients one tick; arrays per service or per call edge.

    ``members`` > 1: the arrays hold that many twins of one call graph, member-major (each
    member's services, then its edges, contiguous; ``clients.src``/``dst`` offset to the
    member's services). The graph iterations stop per member exactly where that member alone
    would stop (a member that has converged keeps its values while the others go on), so
    each member's slice of the result is bit-identical to its own call.
    """
    c = clients
    n = svc.entry_rps.shape[0]
    rounds = _Rounds(members, n, c.src.shape[0])
    src, dst = c.src, c.dst
    mu = svc.capacity_rps
    r, budget, timeout = c.retries, c.retry_budget, c.timeout_ms

    # 1. what clients send: retries from last tick's failures within the budget; breakers; limits
    q_prev = np.minimum(carried.attempt_fail, 0.999)
    attempts = 1.0 + np.minimum(_retries(q_prev, r), budget)
    state = carried.breaker
    fixed = c.derived
    breakers = fixed.breakers
    passing = np.where(state == OPEN, 0.0, np.where(state == HALF_OPEN, PROBE_SHARE, 1.0)) if breakers else 1.0
    per_call = c.fanout * attempts * passing  # attempts per caller request served
    limited = fixed.limited

    # 2-3. load flows down from callers' throughput; queues fill and drain. After i rounds every
    # service at depth < i from an entry is exact, whatever the start
    backlog0 = carried.backlog
    served_rps = carried.served_rps
    arrivals, work = svc.entry_rps, backlog0
    admit = 1.0
    for _ in range(max(depth, 1) + 1):
        before, before_arrivals, before_work, before_admit = served_rps, arrivals, work, admit
        want = per_call * served_rps[src]
        if limited:
            inflight = want * carried.attempt_ms / 1000.0  # Little's law
            admit = np.minimum(1.0, np.divide(c.max_inflight, inflight, out=np.ones_like(inflight), where=inflight > 0))
            want = want * admit
        arrivals = svc.entry_rps + np.bincount(dst, weights=want, minlength=n)
        work = backlog0 + arrivals * dt
        served_rps = np.minimum(work, mu * dt) / dt
        if rounds.batched:  # members that had converged keep their values
            served_rps, arrivals, work = (rounds.keep(new, old) for new, old in
                                          ((served_rps, before), (arrivals, before_arrivals), (work, before_work)))
            admit = rounds.keep(admit, before_admit, edges=True) if limited else admit
        if rounds.converged(np.abs(served_rps - before) <= TOL * served_rps):
            break
    sent = per_call * admit * served_rps[src]  # attempts/s on each edge
    left = work - served_rps * dt
    backlog = np.minimum(left, svc.queue_limit)
    shed = np.minimum(np.divide(left - backlog, arrivals * dt, out=np.zeros(n), where=arrivals > 0), 1.0)

    # sojourn: service time + the larger of the M/M/1 wait and the backlog's drain time
    st = svc.service_time_ms
    up = mu > 0
    inv_mu = np.divide(1000.0, mu, out=np.zeros(n), where=up)  # ms per request
    rho = np.divide(arrivals, mu, out=np.where(arrivals > 0, np.inf, 0.0), where=up)
    rc = np.minimum(rho, RHO_CAP)
    full_ms = np.where(up, svc.queue_limit * inv_mu, 1e6)
    mm1 = np.minimum(st * rc / (1.0 - rc), full_ms)
    drain = 0.5 * (backlog0 + backlog) * inv_mu
    own_mean = np.where(up, st + np.minimum(np.maximum(mm1, drain), full_ms), 1e6)
    spread = (backlog - backlog0) * inv_mu
    own_var = (st + mm1) ** 2 + spread * spread / 12.0  # exponential sojourn + where in the tick one arrived

    # 4. latency and errors up the DAG; after i + 1 rounds every service of height <= i is exact
    healthy = (1.0 - svc.injected_error) * (1.0 - shed)
    lat_m, lat_v, err = carried.latency_ms, carried.latency_var, carried.error
    if not lat_m.any():  # a cold start: from the services' own figures
        lat_m, lat_v, err = own_mean, own_var, 1.0 - healthy
    net_ok = (1.0 - net_loss) ** 2  # request and response both cross the path
    rtt = 2.0 * net_latency_ms
    fan = c.fanout
    fan_var, inner, outer = fixed.fan_var, fixed.inner, fixed.outer
    failing_fast = breakers or limited
    sent_ok = passing * admit  # not failed fast by an open breaker or the concurrency limit
    log_timeout, t2 = fixed.log_timeout, fixed.t2
    q = p_to = t_att = np.zeros_like(fan)
    rounds.restart()
    for _ in range(max(depth, 1) + 1):
        before_m, before_err = lat_m, err
        before_v, before_q, before_p_to, before_t_att = lat_v, q, p_to, t_att
        m = np.maximum(lat_m[dst] + rtt, 1e-6)
        v = lat_v[dst]
        s2 = np.log1p(v / (m * m))
        p_to = _normal_sf((log_timeout - np.log(m) + 0.5 * s2) / np.sqrt(s2 + 1e-18))  # lognormal tail past the timeout
        ok = 1.0 - p_to
        q = np.minimum(1.0 - net_ok * (1.0 - err[dst]) * ok, 0.999999)
        mt = np.minimum(m, timeout)
        t_att = mt + p_to * (timeout - mt)
        one_q, not_all_r = 1.0 - q, 1.0 - q**r
        unbudgeted = q * not_all_r / one_q  # q + q^2 + ... + q^r
        retries = np.minimum(unbudgeted, budget)
        share = retries / np.maximum(unbudgeted, 1e-12)  # of failed calls, those the budget lets retry
        call_fail = q * (1.0 - share * not_all_r)
        # backoff b, 2b, 4b ... before retries 1, 2, 3 ...: b (2^k - 1) after k retries
        tries = 1.0 + retries
        call_m = tries * t_att + c.backoff_ms * (np.exp2(retries) - 1.0)
        call_v = tries * ok * np.minimum(v, t2) + retries * one_q * t_att * t_att
        if failing_fast:
            call_fail = 1.0 - sent_ok * (1.0 - call_fail)
            call_v = sent_ok * call_v + sent_ok * (1.0 - sent_ok) * call_m * call_m
            call_m = sent_ok * call_m
        lat_m = own_mean + np.bincount(src, weights=fan * call_m, minlength=n)
        lat_v = own_var + np.bincount(src, weights=fan * call_v + fan_var * call_m * call_m, minlength=n)
        log_ok = np.bincount(src, weights=outer * np.log1p(-inner * np.minimum(call_fail, 1 - 1e-12)), minlength=n)
        err = 1.0 - healthy * np.exp(log_ok)
        if rounds.batched:  # members that had converged keep their values
            lat_m, lat_v, err = (rounds.keep(new, old) for new, old in
                                 ((lat_m, before_m), (lat_v, before_v), (err, before_err)))
            q, p_to, t_att = (rounds.keep(new, old, edges=True) for new, old in
                              ((q, before_q), (p_to, before_p_to), (t_att, before_t_att)))
        if rounds.converged(np.abs(lat_m - before_m) <= TOL * lat_m, lambda: np.abs(err - before_err) <= 0.1 * TOL):
            break
    p50, p99 = lognormal_quantiles(lat_m, lat_v)
    into = np.bincount(dst, weights=sent, minlength=n)
    wasted = np.divide(np.bincount(dst, weights=sent * p_to, minlength=n), into, out=np.zeros(n), where=into > 0)

    # 5. breakers: windowed failure ratio; open above threshold, half-open after the cooldown
    fail_ratio, new, until = carried.fail_ratio, state, carried.breaker_until
    if breakers:
        w = 1.0 - np.exp(-dt / np.maximum(c.breaker_window_s, 1e-9))
        fail_ratio = np.where(sent > 0, (1.0 - w) * fail_ratio + w * q, fail_ratio)
        new = state.copy()
        opening = (state == CLOSED) & (fail_ratio > c.breaker_threshold) & (sent > 0)
        probe_bad = (state == HALF_OPEN) & (q > c.breaker_threshold)
        new[opening | probe_bad] = OPEN
        until = np.where(opening | probe_bad, now + c.breaker_cooldown_s, until)
        new[(state == HALF_OPEN) & ~probe_bad] = CLOSED
        fail_ratio = np.where((state == HALF_OPEN) & ~probe_bad, q, fail_ratio)
        new[(state == OPEN) & (now + dt >= until)] = HALF_OPEN

    nxt = Carried(backlog=backlog, attempt_fail=np.clip(q, 0.0, 1.0), attempt_ms=t_att, fail_ratio=fail_ratio,
                  breaker=new, breaker_until=until, served_rps=served_rps, latency_ms=lat_m, latency_var=lat_v,
                  error=err)
    return ServiceResult(
        rps=arrivals,
        utilisation=np.minimum(rho, 10.0),
        latency_ms=lat_m,
        p50_ms=p50,
        p99_ms=p99,
        error_rate=np.clip(err, 0.0, 1.0),
        attempt_fail=nxt.attempt_fail,
        backlog=backlog,
        shed=shed,
        wasted=wasted,
        carried=nxt,
    )
