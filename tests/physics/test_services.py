from dataclasses import replace

import numpy as np
import pytest

from twin.physics.services import CLOSED, HALF_OPEN, OPEN, Carried, Clients, Services, lognormal_quantiles, service_step

# a chain a -> b with one call per request


def services(entry=100.0, cap=(1000.0, 1000.0), inj=(0.0, 0.0), queue=(1000.0, 1000.0), st=(1.0, 1.0)):
    return Services(np.array([entry, 0.0]), np.array(cap, dtype=float), np.array(st, dtype=float),
                    np.array(queue, dtype=float), np.array(inj, dtype=float))


def step(svc=None, loss=0.0, carried=None, dt=10.0, now=0.0, **policy):
    clients = Clients.simple([0], [1], **policy)
    return service_step(svc or services(), clients, carried or Carried.empty(2, 1), np.array([loss]),
                        np.array([1.0]), depth=1, now=now, dt=dt)


def run(ticks, svc_of_tick, **policy):
    """Tick the chain; ``svc_of_tick(i)`` gives the services of tick i. Returns every result."""
    carried, out = Carried.empty(2, 1), []
    for i in range(ticks):
        res = step(svc_of_tick(i), carried=carried, now=10.0 * i, **policy)
        carried = res.carried
        out.append(res)
    return out


def test_load_flows_down_and_latency_follows_mm1():
    r = step(services(entry=500.0))
    assert r.rps == pytest.approx([500.0, 500.0])
    assert r.utilisation == pytest.approx([0.5, 0.5])
    # own latency 1 ms / (1 - 0.5) = 2 ms; a's latency adds the network round trip and b's latency
    assert r.latency_ms[1] == pytest.approx(2.0)
    assert r.latency_ms[0] == pytest.approx(2.0 + 2 * 1.0 + 2.0, rel=1e-3)


def test_backlog_fills_above_capacity_drains_below_and_overflow_is_shed():
    # 1200 rps on 1000 of capacity: 2000 requests a tick pile up until the queue (3000) is full
    res = run(5, lambda i: services(entry=1200.0 if i < 3 else 500.0, cap=(5000.0, 1000.0), queue=(1e9, 3000.0)),
              timeout_ms=1e6)
    assert [r.backlog[1] for r in res[:3]] == pytest.approx([2000.0, 3000.0, 3000.0])
    assert res[0].shed[1] == 0.0 and res[2].shed[1] == pytest.approx(2000.0 / 12000.0)
    # the queue's delay is in the latency: 3000 requests at 1000/s is 3 s
    assert res[2].latency_ms[1] > 2500.0
    assert res[3].backlog[1] == 0.0  # drained within the next tick (its arrivals met half the queue)
    assert res[4].latency_ms[1] < 10.0


def test_server_keeps_working_for_clients_that_gave_up():
    # a full queue's delay (3 s) is past the client's 100 ms timeout: the work is wasted
    res = run(3, lambda i: services(entry=1200.0, cap=(5000.0, 1000.0), queue=(1e9, 3000.0)), timeout_ms=100.0)
    assert res[-1].wasted[1] > 0.99
    assert res[-1].attempt_fail[0] > 0.99 and res[-1].error_rate[0] > 0.99


def test_retries_amplify_load_within_budget():
    failing = replace(Carried.empty(2, 1), attempt_fail=np.array([0.5]))
    plain = step(carried=failing, retries=2.0)
    capped = step(carried=failing, retries=2.0, retry_budget=0.2)
    # expected attempts 1 + 0.5 + 0.25 = 1.75; a 20% budget allows 1.2
    assert plain.rps[1] == pytest.approx(175.0)
    assert capped.rps[1] == pytest.approx(120.0)


def test_retry_storm_is_metastable_without_a_budget_and_not_with_one():
    # capacity 1000, normal load 600: fine. A 2x surge for 3 ticks fills the queue past the
    # timeout; with 2 retries and no budget the retried load (up to 3 x 600) keeps it full
    def svc(i):
        return services(entry=1200.0 if 2 <= i < 5 else 600.0, cap=(1e5, 1000.0), queue=(1e9, 2000.0))

    storm = run(20, svc, timeout_ms=300.0, retries=2.0)
    assert storm[1].backlog[1] == 0.0
    assert storm[-1].backlog[1] == pytest.approx(2000.0) and storm[-1].error_rate[0] > 0.9
    budget = run(20, svc, timeout_ms=300.0, retries=2.0, retry_budget=0.1)
    assert budget[4].error_rate[0] > 0.5  # the surge hurt it too
    assert budget[8].backlog[1] == 0.0 and budget[8].error_rate[0] < 0.01


def test_circuit_breaker_opens_fails_fast_half_opens_and_closes():
    def svc(i):  # the callee fails everything for 5 ticks
        return services(entry=100.0, inj=(0.0, 1.0 if i < 5 else 0.0))

    res = run(12, svc, breaker_threshold=0.5, breaker_window_s=10.0, breaker_cooldown_s=20.0)
    states = [int(r.carried.breaker[0]) for r in res]
    assert states[0] == OPEN
    assert res[1].rps[1] == 0.0 and res[1].error_rate[0] == pytest.approx(1.0)  # open: nothing sent, fails fast
    assert HALF_OPEN in states and states[-1] == CLOSED
    assert res[-1].rps[1] == pytest.approx(100.0) and res[-1].error_rate[0] < 0.01


def test_concurrency_limit_rejects_the_excess_fast():
    slow = replace(Carried.empty(2, 1), attempt_ms=np.array([100.0]))
    # 500 rps x 0.1 s in flight = 50 attempts; the client allows 25
    r = step(services(entry=500.0), carried=slow, max_inflight=25.0)
    assert r.rps[1] == pytest.approx(250.0)
    assert r.error_rate[0] == pytest.approx(0.5, abs=0.01)


def test_network_loss_fails_attempts_and_errors_propagate():
    r = step(services(entry=100.0), loss=0.1, timeout_ms=1e6)
    # request and response each cross the lossy path
    assert r.attempt_fail[0] == pytest.approx(1 - 0.9**2, rel=1e-3)
    assert r.error_rate[0] == pytest.approx(1 - 0.9**2, rel=1e-3)
    assert r.error_rate[1] == 0.0


def test_fractional_fanout_is_a_share_of_requests():
    # a fifth of requests call b; b fails everything: a fifth of a's requests fail, not all
    clients = Clients.simple([0], [1], fanout=0.2)
    r = service_step(services(inj=(0.0, 1.0)), clients, Carried.empty(2, 1), np.zeros(1), np.ones(1), depth=1)
    # (an attempt's failure is capped at 0.999999: 0.2 x 0.999999 is 2e-7 from 0.2, at approx's
    # default tolerance, where the last bit of exp decided the test)
    assert r.error_rate[0] == pytest.approx(0.2 * 0.999999)


def test_percentiles_come_from_the_distribution():
    # a lightly loaded leaf is nearly exponential (p99/p50 near ln100/ln2 = 6.6); a saturated
    # caller of many calls, its delay mostly a backlog, is much narrower
    n = 6
    src, dst = np.zeros(n - 1, dtype=np.int64), np.arange(1, n)
    svc = Services(np.r_[900.0, np.zeros(n - 1)], np.r_[1000.0, np.full(n - 1, 1e5)], np.ones(n),
                   np.full(n, 5000.0), np.zeros(n))
    clients = Clients.simple(src, dst, fanout=3.0, timeout_ms=1e6)
    carried = Carried.empty(n, n - 1)
    for i in range(3):
        entry = np.r_[1500.0 if i < 2 else 900.0, np.zeros(n - 1)]
        svc = Services(entry, svc.capacity_rps, svc.service_time_ms, svc.queue_limit, svc.injected_error)
        r = service_step(svc, clients, carried, np.zeros(n - 1), np.ones(n - 1), depth=1)
        carried = r.carried
    assert (r.p50_ms < r.latency_ms).all() and (r.latency_ms < r.p99_ms).all()
    leaf, caller = r.p99_ms[1] / r.p50_ms[1], r.p99_ms[0] / r.p50_ms[0]
    assert leaf > 5.0 and caller < 2.0
    # and the ratio moves with load on the same service
    light = step(services(entry=100.0))
    heavy = step(services(entry=940.0))
    assert light.p99_ms[1] / light.p50_ms[1] != pytest.approx(heavy.p99_ms[0] / heavy.p50_ms[0], rel=0.05)


def test_lognormal_quantiles_match_their_moments():
    rng = np.random.default_rng(0)
    mean, var = np.array([20.0]), np.array([150.0])
    s2 = np.log1p(var / mean**2)
    draws = rng.lognormal(np.log(mean) - s2 / 2, np.sqrt(s2), 200_000)
    p50, p99 = lognormal_quantiles(mean, var)
    assert p50[0] == pytest.approx(np.quantile(draws, 0.5), rel=0.02)
    assert p99[0] == pytest.approx(np.quantile(draws, 0.99), rel=0.03)
