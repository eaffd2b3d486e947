"""The compiled services step against its numpy formulation (the oracle below is the model as
it was written in numpy before it became a kernel, kept here only to check the kernel).

Bit for bit when the oracle takes its transcendentals (``exp``, ``log``, ``log1p``, ``exp2``,
``pow``) from the C library, as the kernel does: every other operation is the same, in the same
order. With numpy's own loops for them (SIMD, which may differ in the last bit) the results
agree to a relative 1e-9 (absolute 1e-14 near 0: an error rate is 1 - exp(x)): the graph
iterations amplify a last-bit difference (a steep timeout tail, retries that double the
backoff), up to 2e-11 on these inputs.
"""

import math

import numpy as np
import pytest

from twin.physics.services import (CLOSED, HALF_OPEN, OPEN, PROBE_SHARE, RHO_CAP, TOL, Carried, Clients, Services,
                                   lognormal_quantiles, service_step)

Z99 = 2.3263478740408408


def _libm(f, args=1):
    """``f`` of the C library elementwise, as a compiled kernel calls it (numpy's own loops may
    differ in the last bit)."""
    vec = np.frompyfunc(f, args, 1)
    return lambda *x: np.asarray(vec(*x), dtype=float)


#: The transcendentals the oracle uses: numpy's, or the C library's (as the kernel).
NUMPY = {"exp": np.exp, "log": np.log, "log1p": np.log1p, "exp2": np.exp2, "pow": np.power}
LIBM = {"exp": _libm(math.exp), "log": _libm(math.log), "log1p": _libm(math.log1p), "exp2": _libm(math.exp2),
        "pow": _libm(math.pow, 2)}


def oracle_quantiles(mean, var, f=NUMPY):
    m = np.maximum(mean, 1e-9)
    s2 = f["log1p"](np.maximum(var, 0.0) / (m * m))
    mu, sigma = f["log"](m) - 0.5 * s2, np.sqrt(s2)
    return f["exp"](mu), f["exp"](mu + Z99 * sigma)


def oracle_step(svc, c, carried, net_loss, net_latency_ms, depth, now=0.0, dt=10.0, f=NUMPY):
    """The numpy service step (one twin): returns the fields of ServiceResult and Carried."""
    n = svc.entry_rps.shape[0]
    src, dst, mu = c.src, c.dst, svc.capacity_rps
    r, budget, timeout = c.retries, c.retry_budget, c.timeout_ms
    q_prev = np.minimum(carried.attempt_fail, 0.999)
    one_q = 1.0 - q_prev
    regular = np.abs(one_q) > 1e-9
    attempts = 1.0 + np.minimum(np.where(regular, q_prev * (1.0 - f["pow"](q_prev, r)) / np.where(regular, one_q, 1.0), r), budget)
    state = carried.breaker
    breakers, limited = bool(np.isfinite(c.breaker_threshold).any()), bool(np.isfinite(c.max_inflight).any())
    passing = np.where(state == OPEN, 0.0, np.where(state == HALF_OPEN, PROBE_SHARE, 1.0)) if breakers else 1.0
    per_call = c.fanout * attempts * passing
    backlog0, served_rps = carried.backlog, carried.served_rps
    arrivals, work, admit = svc.entry_rps, backlog0, 1.0
    for _ in range(max(depth, 1) + 1):
        before = served_rps
        want = per_call * served_rps[src]
        if limited:
            inflight = want * carried.attempt_ms / 1000.0
            admit = np.minimum(1.0, np.divide(c.max_inflight, inflight, out=np.ones_like(inflight), where=inflight > 0))
            want = want * admit
        arrivals = svc.entry_rps + np.bincount(dst, weights=want, minlength=n)
        work = backlog0 + arrivals * dt
        served_rps = np.minimum(work, mu * dt) / dt
        if (np.abs(served_rps - before) <= TOL * served_rps).all():
            break
    sent = per_call * admit * served_rps[src]
    left = work - served_rps * dt
    backlog = np.minimum(left, svc.queue_limit)
    shed = np.minimum(np.divide(left - backlog, arrivals * dt, out=np.zeros(n), where=arrivals > 0), 1.0)
    st = svc.service_time_ms
    up = mu > 0
    inv_mu = np.divide(1000.0, mu, out=np.zeros(n), where=up)
    rho = np.divide(arrivals, mu, out=np.where(arrivals > 0, np.inf, 0.0), where=up)
    rc = np.minimum(rho, RHO_CAP)
    full_ms = np.where(up, svc.queue_limit * inv_mu, 1e6)
    mm1 = np.minimum(st * rc / (1.0 - rc), full_ms)
    drain = 0.5 * (backlog0 + backlog) * inv_mu
    own_mean = np.where(up, st + np.minimum(np.maximum(mm1, drain), full_ms), 1e6)
    spread = (backlog - backlog0) * inv_mu
    own_var = (st + mm1) ** 2 + spread * spread / 12.0
    healthy = (1.0 - svc.injected_error) * (1.0 - shed)
    lat_m, lat_v, err = carried.latency_ms, carried.latency_var, carried.error
    if not lat_m.any():
        lat_m, lat_v, err = own_mean, own_var, 1.0 - healthy
    net_ok = (1.0 - net_loss) ** 2
    rtt = 2.0 * net_latency_ms
    fan = c.fanout
    fan_var, inner, outer = np.maximum(fan * (1.0 - fan), 0.0), np.minimum(fan, 1.0), np.maximum(fan, 1.0)
    sent_ok = passing * admit
    log_timeout, t2 = np.log(timeout), timeout * timeout  # computed once, by numpy (Clients.derived)
    for _ in range(max(depth, 1) + 1):
        before_m, before_err = lat_m, err
        m = np.maximum(lat_m[dst] + rtt, 1e-6)
        v = lat_v[dst]
        s2 = f["log1p"](v / (m * m))
        z = np.clip((log_timeout - f["log"](m) + 0.5 * s2) / np.sqrt(s2 + 1e-18), -8.0, 8.0)
        p_to = 1.0 / (1.0 + f["exp"](z * (1.5976 + 0.070566 * z * z)))
        ok = 1.0 - p_to
        q = np.minimum(1.0 - net_ok * (1.0 - err[dst]) * ok, 0.999999)
        mt = np.minimum(m, timeout)
        t_att = mt + p_to * (timeout - mt)
        one_q, not_all_r = 1.0 - q, 1.0 - f["pow"](q, r)
        unbudgeted = q * not_all_r / one_q
        retries = np.minimum(unbudgeted, budget)
        share = retries / np.maximum(unbudgeted, 1e-12)
        call_fail = q * (1.0 - share * not_all_r)
        tries = 1.0 + retries
        call_m = tries * t_att + c.backoff_ms * (f["exp2"](retries) - 1.0)
        call_v = tries * ok * np.minimum(v, t2) + retries * one_q * t_att * t_att
        if breakers or limited:
            call_fail = 1.0 - sent_ok * (1.0 - call_fail)
            call_v = sent_ok * call_v + sent_ok * (1.0 - sent_ok) * call_m * call_m
            call_m = sent_ok * call_m
        lat_m = own_mean + np.bincount(src, weights=fan * call_m, minlength=n)
        lat_v = own_var + np.bincount(src, weights=fan * call_v + fan_var * call_m * call_m, minlength=n)
        log_ok = np.bincount(src, weights=outer * f["log1p"](-inner * np.minimum(call_fail, 1 - 1e-12)), minlength=n)
        err = 1.0 - healthy * f["exp"](log_ok)
        if (np.abs(lat_m - before_m) <= TOL * lat_m).all() and (np.abs(err - before_err) <= 0.1 * TOL).all():
            break
    p50, p99 = oracle_quantiles(lat_m, lat_v, f)
    into = np.bincount(dst, weights=sent, minlength=n)
    wasted = np.divide(np.bincount(dst, weights=sent * p_to, minlength=n), into, out=np.zeros(n), where=into > 0)
    fail_ratio, new, until = carried.fail_ratio, state, carried.breaker_until
    if breakers:
        w = 1.0 - f["exp"](-dt / np.maximum(c.breaker_window_s, 1e-9))
        fail_ratio = np.where(sent > 0, (1.0 - w) * fail_ratio + w * q, fail_ratio)
        new = state.copy()
        opening = (state == CLOSED) & (fail_ratio > c.breaker_threshold) & (sent > 0)
        probe_bad = (state == HALF_OPEN) & (q > c.breaker_threshold)
        new[opening | probe_bad] = OPEN
        until = np.where(opening | probe_bad, now + c.breaker_cooldown_s, until)
        new[(state == HALF_OPEN) & ~probe_bad] = CLOSED
        fail_ratio = np.where((state == HALF_OPEN) & ~probe_bad, q, fail_ratio)
        new[(state == OPEN) & (now + dt >= until)] = HALF_OPEN
    return {"rps": arrivals, "utilisation": np.minimum(rho, 10.0), "latency_ms": lat_m, "p50_ms": p50, "p99_ms": p99,
            "error_rate": np.clip(err, 0.0, 1.0), "attempt_fail": np.clip(q, 0.0, 1.0), "backlog": backlog,
            "shed": shed, "wasted": wasted, "attempt_ms": t_att, "fail_ratio": fail_ratio, "breaker": new,
            "breaker_until": until, "served_rps": served_rps, "latency_var": lat_v, "error": err}


def check_against_oracle(res, args: tuple, now: float = 0.0) -> None:
    """``res`` equals the oracle's C-library result bit for bit, and numpy's to a relative 1e-9."""
    got = {f: getattr(res, f) for f in res.__dataclass_fields__ if f != "carried"}
    got.update({f: getattr(res.carried, f) for f in res.carried.__dataclass_fields__})
    libm, numpy = oracle_step(*args, now=now, f=LIBM), oracle_step(*args, now=now, f=NUMPY)
    assert set(got) == set(libm)
    for f, value in libm.items():
        np.testing.assert_array_equal(got[f], value, err_msg=f)
        np.testing.assert_allclose(got[f], numpy[f], rtol=1e-9, atol=1e-14, err_msg=f)  # atol: 1 - exp(x) near 0


def random_graph(rng, n: int, m: int):
    """A random DAG (callers before callees) with service and client figures that span idle to overloaded."""
    src = rng.integers(0, n - 1, m)
    dst = np.array([rng.integers(s + 1, n) for s in src])
    depth = n - 1
    return src, dst, depth


@pytest.mark.parametrize("policy", ["plain", "breakers", "limits", "both"])
def test_kernel_matches_numpy_on_random_inputs(policy: str) -> None:
    rng = np.random.default_rng(17)
    n, m = 9, 16
    src, dst, depth = random_graph(rng, n, m)
    inf = np.full(m, np.inf)
    clients = Clients(src, dst, rng.choice([0.3, 1.0, 2.0, 3.5], m), rng.uniform(20, 400, m), rng.choice([0.0, 1.0, 3.0], m),
                      rng.uniform(0, 20, m), np.where(rng.random(m) < 0.5, 0.2, np.inf),
                      rng.uniform(0.1, 0.6, m) if policy in ("breakers", "both") else inf, rng.uniform(5, 60, m),
                      rng.uniform(10, 60, m), rng.uniform(5, 200, m) if policy in ("limits", "both") else inf)
    carried = Carried.empty(n, m)
    for tick in range(40):
        svc = Services(np.where(np.arange(n) < 2, rng.uniform(50, 3000, n), 0.0),
                       np.where(rng.random(n) < 0.05, 0.0, rng.uniform(200, 4000, n)), rng.uniform(0.5, 20, n),
                       rng.uniform(10, 5000, n), np.where(rng.random(n) < 0.2, rng.uniform(0, 1, n), 0.0))
        loss, lat = np.where(rng.random(m) < 0.3, rng.uniform(0, 0.3, m), 0.0), rng.uniform(0.05, 30, m)
        res = service_step(svc, clients, carried, loss, lat, depth, now=10.0 * tick)
        check_against_oracle(res, (svc, clients, carried, loss, lat, depth), now=10.0 * tick)
        carried = res.carried  # the kernel's state carries on (so both see the same inputs each tick)
    if policy != "plain":
        assert carried.breaker.any() or policy == "limits"


@pytest.mark.parametrize("name", ["b2b4-casc1", "trainticket-retry-storm", "hotel-memory-leak"])
def test_kernel_matches_numpy_on_scenario_inputs(name: str, monkeypatch) -> None:
    """Every tick's inputs of a twin's services model over half an hour of its incident."""
    import twin.sim.twin as twin_module
    from twin import Twin

    seen = []

    def recording(svc, clients, carried, net_loss, net_latency_ms, depth, now, dt):
        res = service_step(svc, clients, carried, net_loss, net_latency_ms, depth, now, dt)
        seen.append(((svc, clients, carried, net_loss, net_latency_ms, depth), now, res))
        return res

    monkeypatch.setattr(twin_module, "service_step", recording)
    Twin(name, seed=3).run(until=1800)
    assert len(seen) >= 150
    for args, now, res in seen:
        check_against_oracle(res, args, now)


def test_lognormal_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(5)
    mean, var = rng.lognormal(2, 2, 500), rng.lognormal(3, 3, 500)
    mean[:5], var[:5] = 0.0, -1.0
    for got, libm, numpy in zip(lognormal_quantiles(mean, var), oracle_quantiles(mean, var, LIBM),
                                oracle_quantiles(mean, var, NUMPY)):
        np.testing.assert_array_equal(got, libm)
        np.testing.assert_allclose(got, numpy, rtol=1e-12)
