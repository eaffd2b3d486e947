"""The services' side of the tick around their model (``twin.sim.service_tick``) against the
numpy formulation it replaced (kept here only as the oracle): no transcendental, so equal bit
for bit."""

import numpy as np

from twin.sim.service_tick import model_inputs, tick_figures


def test_model_inputs_equal_numpy() -> None:
    rng = np.random.default_rng(23)
    n, m, groups, flows = 30, 50, 7, 40
    for _ in range(20):
        limit = rng.uniform(500, 2000, n)
        memory = limit * rng.uniform(0.1, 0.99, n)
        replicas_up, crashloop, release_crashloop = rng.integers(0, 6, (3, n)).astype(float)
        per, hog = rng.uniform(0, 500, n), np.where(rng.random(n) < 0.3, rng.uniform(0, 0.9, n), 0.0)
        entry_rps, entry_factor = np.where(rng.random(n) < 0.3, rng.uniform(0, 900, n), 0.0), rng.uniform(0.5, 3, n)
        entry_limit = np.where(rng.random(n) < 0.3, rng.uniform(0, 500, n), np.inf)
        resolvable, scale = float(rng.random() < 0.8), float(rng.uniform(0.3, 2))
        service_time, queue_limit = rng.uniform(0.5, 30, n), rng.uniform(10, 500, n)
        injected, release_error = (np.where(rng.random((2, n)) < 0.2, rng.random((2, n)), 0.0))
        edges = rng.permutation(m)
        cross, fab = np.sort(edges[:20]), np.sort(edges[20:35])
        group, probe = rng.integers(0, groups, 20), rng.integers(0, flows, 15)
        group_loss, group_latency = rng.uniform(0, 0.1, groups), rng.uniform(1, 80, groups)
        flow_loss, flow_latency = rng.uniform(0, 0.1, flows), rng.uniform(0.01, 2, flows)

        own, calls = model_inputs(memory, limit, replicas_up, crashloop, release_crashloop, per, hog, entry_rps, scale,
                                  entry_factor, entry_limit, resolvable, service_time, queue_limit, injected,
                                  release_error, m, cross, group, group_loss, group_latency, fab, probe, flow_loss,
                                  flow_latency)

        mem_frac = memory / limit
        gc = np.minimum(np.maximum(1.0 - 2.0 * (mem_frac - 0.75), 0.2), 1.0)
        up = np.maximum(replicas_up - crashloop - release_crashloop, 0.0)
        entry = entry_rps * scale * entry_factor
        want = [mem_frac, gc, up, up * per * (1.0 - hog) * gc, entry, np.minimum(entry, entry_limit) * resolvable,
                service_time / gc, queue_limit * up, 1.0 - (1.0 - injected) * (1.0 - release_error)]
        net_loss, net_lat = np.zeros(m), np.full(m, 0.05)
        net_loss[cross], net_lat[cross] = group_loss[group], group_latency[group]
        net_loss[fab], net_lat[fab] = flow_loss[probe], flow_latency[probe]
        assert own.tobytes() == np.array(want).tobytes()
        assert calls.tobytes() == np.array([net_loss, net_lat]).tobytes()


def test_tick_figures_equal_numpy() -> None:
    rng = np.random.default_rng(29)
    n = 40
    for _ in range(20):
        rps, error_rate = rng.uniform(0, 2000, n), np.where(rng.random(n) < 0.3, rng.random(n), 0.0)
        up, per = rng.integers(0, 4, n).astype(float), np.where(rng.random(n) < 0.1, 0.0, rng.uniform(1, 500, n))
        gc, hog = rng.uniform(0.2, 1, n), np.where(rng.random(n) < 0.3, rng.uniform(0, 0.9, n), 0.0)
        entry = np.where(rng.random(n) < 0.4, rng.uniform(0, 900, n), 0.0)
        admitted = entry * np.where(rng.random(n) < 0.3, rng.random(n), 1.0)

        cpu, customer_err = tick_figures(rps, error_rate, up, per, gc, hog, entry, admitted)

        want_cpu = np.clip(np.where(per > 0, rps / np.maximum(up * per * gc, 1e-9), 0.0) * (1 - hog) + hog, 0, 1)
        want_cpu = np.where(up > 0, want_cpu, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            rejected = np.where(entry > 0, 1.0 - admitted / np.maximum(entry, 1e-12), 0.0)
        assert cpu.tobytes() == want_cpu.tobytes()
        assert customer_err.tobytes() == (1 - (1 - error_rate) * (1 - rejected)).tobytes()
