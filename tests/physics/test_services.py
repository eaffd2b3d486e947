import numpy as np
import pytest

from twin.physics.services import service_step

# a chain a -> b with one call per request
SRC, DST = np.array([0]), np.array([1])


def step(entry=100.0, cap=(1000.0, 1000.0), loss=0.0, inj=(0.0, 0.0), prev=0.0, retries=0.0, budget=np.inf):
    return service_step(
        np.array([entry, 0.0]), np.array(cap), np.array([1.0, 1.0]), SRC, DST, np.array([1.0]), np.array([100.0]),
        np.array([retries]), np.array([loss]), np.array([1.0]), np.array(inj), np.array([prev]), depth=1,
        retry_budget=np.array([budget]),
    )


def test_load_flows_down_and_latency_follows_mm1():
    r = step(entry=500.0)
    assert r.rps == pytest.approx([500.0, 500.0])
    assert r.utilisation == pytest.approx([0.5, 0.5])
    # own latency 1ms / (1 - 0.5) = 2 ms; a's latency adds the network round trip and b's latency
    assert r.latency_ms[1] == pytest.approx(2.0)
    assert r.latency_ms[0] == pytest.approx(2.0 + 2 * 1.0 + 2.0, rel=1e-3)


def test_overload_sheds_excess_as_errors():
    r = step(entry=2000.0, cap=(4000.0, 1000.0))
    assert r.error_rate[1] == pytest.approx(0.5)
    assert r.error_rate[0] >= 0.5  # errors propagate up


def test_retries_amplify_load_under_failures_within_budget():
    plain = step(entry=100.0, prev=0.5, retries=2.0)
    capped = step(entry=100.0, prev=0.5, retries=2.0, budget=0.2)
    # expected attempts 1 + 0.5 + 0.25 = 1.75
    assert plain.rps[1] == pytest.approx(175.0)
    assert capped.rps[1] == pytest.approx(120.0)


def test_network_loss_fails_attempts_and_errors_propagate():
    r = step(entry=100.0, loss=0.1)
    # request and response each cross the lossy path
    assert r.attempt_fail[0] == pytest.approx(1 - 0.9**2, rel=1e-3)
    assert r.error_rate[0] == pytest.approx(1 - 0.9**2, rel=1e-3)
    assert r.error_rate[1] == 0.0
