"""network_steps' kernels against the numpy code they replaced (exact: sums in entry order,
no transcendentals), on random inputs and on what b2b4-casc1 and large pass them."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.sim import network


def _numpy_path_metrics(arrival, cap, packet_ms, arc_delay, hot, hot_queue, buffer_ms, needed, n_flows, wan_gi, wan_wr,
                        safe, sent_w, delivered, flow_loss, n_g):
    """The numpy formulation in network_steps before the kernel (45defad)."""
    has_cap = cap > 0
    if has_cap.all():
        rho = arrival / cap
    else:
        rho = np.divide(arrival, cap, out=np.where(arrival > 0, np.inf, 0.0), where=has_cap)
    with np.errstate(divide="ignore", invalid="ignore"):
        wait = 1 - rho
        np.maximum(wait, 1e-9, out=wait)
        np.divide(rho, wait, out=wait)
        wait *= 0.5
        wait *= packet_ms
    kingman = np.minimum(wait, buffer_ms, out=wait)
    np.copyto(kingman, buffer_ms, where=~(rho < 1))
    queue = np.where(hot, hot_queue, kingman) if hot.any() else kingman
    latency = arc_delay + queue
    flow_latency = np.bincount(needed[0], weights=latency[needed[1]], minlength=n_flows)
    g, wan_idx, w, routable = wan_gi[0], wan_gi[1], wan_wr[0], wan_wr[1] != 0
    sent_g = np.bincount(g, weights=sent_w, minlength=n_g)
    got_g = np.bincount(g, weights=np.where(routable, sent_w if delivered.size == 0 else delivered[wan_idx], 0.0),
                        minlength=n_g)
    by_path = np.bincount(g, weights=w * flow_loss[wan_idx], minlength=n_g) / safe
    group_loss = np.where(sent_g > 0, 1.0 - np.divide(got_g, sent_g, out=np.ones(n_g), where=sent_g > 0), by_path)
    group_latency = np.bincount(g, weights=w * flow_latency[wan_idx], minlength=n_g) / safe
    return latency, flow_latency, group_loss, group_latency


def _assert_same(args) -> None:
    for got, want in zip(network._path_metrics(*args), _numpy_path_metrics(*args)):
        assert got.tobytes() == want.tobytes()


def test_path_metrics_match_numpy_on_random_inputs() -> None:
    rng = np.random.default_rng(2)
    for _ in range(100):
        n_a, n_f, n_g = int(rng.integers(1, 40)), int(rng.integers(1, 60)), int(rng.integers(1, 10))
        cap = rng.uniform(0, 10, n_a) * (rng.random(n_a) > 0.1)
        arrival = rng.uniform(0, 12, n_a) * (rng.random(n_a) > 0.1)
        hot = rng.random(n_a) < 0.3
        n_e, n_w = int(rng.integers(0, 200)), int(rng.integers(0, n_f + 1))
        needed = np.stack([np.sort(rng.integers(0, n_f, n_e)), rng.integers(0, n_a, n_e)])
        wan_gi = np.stack([rng.integers(0, n_g, n_w), rng.choice(n_f, n_w, replace=False)])
        wan_wr = np.stack([rng.uniform(0, 1, n_w), (rng.random(n_w) < 0.8).astype(float)])
        sent_w = rng.uniform(0, 5, n_w) * (rng.random(n_w) > 0.2)
        delivered = rng.uniform(0, 5, n_f) if rng.random() < 0.5 else np.zeros(0)
        _assert_same((arrival, cap, rng.uniform(0.001, 1, n_a), rng.uniform(0, 20, n_a), hot, rng.uniform(0, 50, n_a),
                      float(rng.uniform(5, 100)), needed, n_f, wan_gi, wan_wr, rng.uniform(0.5, 2, n_g), sent_w,
                      delivered, rng.uniform(0, 1, n_f) * (rng.random(n_f) < 0.3), n_g))


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_path_metrics_match_numpy_in_a_scenario(name: str, monkeypatch) -> None:
    seen = []
    real = network._path_metrics

    def spy(*args):
        seen.append(tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args))
        return real(*args)

    monkeypatch.setattr(network, "_path_metrics", spy)
    Twin(load_scenario(name), seed=1).run(until=1800 if name == "b2b4-casc1" else 600)
    assert seen
    for args in seen[::7]:
        _assert_same(args)


def _numpy_offered_load(key, vol, wanted, n_g, wan_live, wan_live_ratio, wan_arcs, n_wan, fab_arc_base, fab_scales,
                        overloaded_above):
    """The numpy formulation in network_steps before the kernel (45defad)."""
    group_gbps = np.bincount(key, weights=vol, minlength=n_g)
    group_wanted = np.bincount(key, weights=wanted, minlength=n_g)
    demand_w = np.zeros(n_wan)
    demand_w[wan_live[0]] = group_gbps[wan_live[1]] * wan_live_ratio
    offered = np.bincount(wan_arcs[0], weights=demand_w[wan_arcs[1]], minlength=fab_arc_base.size).astype(float)
    if fab_scales.size > 1:
        offered += np.repeat(fab_scales, fab_arc_base.size // fab_scales.size) * fab_arc_base
    else:
        offered += float(fab_scales[0]) * fab_arc_base
    return group_gbps, group_wanted, demand_w, offered, offered > overloaded_above


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_offered_load_matches_numpy_in_a_scenario_and_its_batch(name: str, monkeypatch) -> None:
    seen = []
    real = network._offered_load

    def spy(*args):
        seen.append(tuple(a.copy() if isinstance(a, np.ndarray) else a for a in args))
        return real(*args)

    monkeypatch.setattr(network, "_offered_load", spy)
    twin = Twin(load_scenario(name), seed=1)
    twin.run(until=900)
    twin.fork_batch(3, seeds=[1, 2, 3]).run(until=1200)
    # b2b4-casc1's members stack into one call; large's run one per call (twin.sim.batch.STACKED_ENTRIES)
    assert any(args[9].size == (3 if name == "b2b4-casc1" else 1) for args in seen)
    for args in seen[::5]:
        for got, want in zip(network._offered_load(*args), _numpy_offered_load(*args)):
            assert got.tobytes() == want.tobytes()
