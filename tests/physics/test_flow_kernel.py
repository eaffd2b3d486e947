"""The compiled flow model and water-filling against their numpy formulation (``numpy_flows``,
the code they replaced): exact where no transcendental is involved (max-min rates, inelastic
problems without loss on any path), to a relative 1e-12 otherwise (libm's exp/log against
numpy's SIMD loops can differ in the last bit, and the fixed point carries that on)."""

from __future__ import annotations

import numpy as np
import pytest

import numpy_flows as oracle
from twin import Twin, load_scenario
from twin.physics.flows import Flows, Links, padhye_rate, sawtooth, solve, solve_many
from twin.physics.maxmin import max_min_rates


def _problem(rng: np.random.Generator, elastic: bool, fair: bool, lossy: bool = True) -> tuple[Links, Flows]:
    n_a, n_f = int(rng.integers(1, 12)), int(rng.integers(0, 30))
    hops = rng.integers(1, min(n_a, 6) + 1, n_f)
    flow_of = np.repeat(np.arange(n_f), hops)
    arc_of = np.concatenate([rng.permutation(n_a)[:h] for h in hops]) if n_f else np.zeros(0, np.int64)
    links = Links(capacity=rng.uniform(1, 20, n_a) * (rng.random(n_a) > 0.05), delay_ms=rng.uniform(0.1, 10, n_a),
                  buffer_ms=rng.uniform(5, 200, n_a), packet_ms=rng.uniform(0.001, 1.0, n_a),
                  fair=np.full(n_a, fair) & (rng.random(n_a) < 0.5), aqm_ms=np.where(rng.random(n_a) < 0.5, 5.0, 0.0),
                  base_loss=np.where((rng.random(n_a) < 0.2) & lossy, rng.uniform(0, 0.3, n_a), 0.0))
    demand = rng.uniform(0.1, 15, n_f) * rng.uniform(0.2, 3)
    demand[rng.random(n_f) < 0.05] = np.inf
    flows = Flows.make(flow_of, arc_of, demand=demand, elastic=elastic & (rng.random(n_f) < 0.6),
                       connections=rng.integers(1, 50, n_f).astype(float), extra_rtt_ms=rng.uniform(0, 5, n_f),
                       burstiness=rng.uniform(0, 3, n_f))
    return links, flows


def _assert_close(got, want, rel: float = 1e-12, abs_: float = 1e-15) -> None:
    for f in want.__dataclass_fields__:
        a, b = getattr(got, f), getattr(want, f)
        assert a.shape == b.shape, f
        np.testing.assert_allclose(a, b, rtol=rel, atol=abs_, err_msg=f)
        assert (np.isinf(a) == np.isinf(b)).all(), f


def _assert_exact(got, want) -> None:
    for f in want.__dataclass_fields__:
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)


@pytest.mark.parametrize("kind", ["inelastic", "elastic", "fair", "elastic-fair"])
def test_solve_matches_the_numpy_model_on_random_problems(kind: str) -> None:
    rng = np.random.default_rng(["inelastic", "elastic", "fair", "elastic-fair"].index(kind))
    for _ in range(60):
        links, flows = _problem(rng, "elastic" in kind, "fair" in kind)
        _assert_close(solve(links, flows), oracle.solve(links, flows))


def test_inelastic_drop_tail_without_own_loss_is_exact() -> None:
    """No path loses anything at a link's own fault, and drops that only ever come from
    overflow: the logs and exps see 1.0 or values whose running sums subtract exactly."""
    rng = np.random.default_rng(7)
    for _ in range(60):
        links, flows = _problem(rng, False, False, lossy=False)
        flows = flows.with_demand(np.minimum(flows.demand, 1.0))  # well below every capacity: no drop
        links = Links(np.maximum(links.capacity, 1.0) * 40, *(getattr(links, f) for f in Links.__dataclass_fields__
                                                                if f != "capacity"))
        _assert_exact(solve(links, flows), oracle.solve(links, flows))


def test_solve_many_equals_each_solve_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    for _ in range(10):
        problems = [_problem(rng, rng.random() < 0.5, rng.random() < 0.3) for _ in range(int(rng.integers(1, 9)))]
        for (links, flows), sol in zip(problems, solve_many(problems)):
            alone = solve(links, flows)
            for f in alone.__dataclass_fields__:
                assert getattr(sol, f).tobytes() == getattr(alone, f).tobytes(), f


def test_solve_matches_the_numpy_model_on_a_scenarios_hot_flows() -> None:
    """The problems ``network_steps`` poses on b2b4-casc1 over its incident (overloaded links)."""
    from twin.sim import network

    posed: list[tuple[Links, Flows]] = []
    real = network.solve_packed

    def spy(lo, inc, flow_p, arc_p, rto_min, iterations=60):
        for k in range(lo.shape[0] - 1):
            e, f, a = (slice(int(lo[k, c]), int(lo[k + 1, c])) for c in range(3))
            links = Links(*(arc_p[a, c].copy() for c in range(7)))
            links = Links(links.capacity, links.delay_ms, links.buffer_ms, links.packet_ms, links.fair != 0,
                          links.aqm_ms, links.base_loss)
            flows = Flows(inc[0, e].copy(), inc[1, e].copy(), flow_p[f, 0].copy(), flow_p[f, 1] != 0,
                          *(flow_p[f, c].copy() for c in range(2, 6)), float(rto_min[k]))
            posed.append((links, flows))
        return real(lo, inc, flow_p, arc_p, rto_min, iterations)

    network.solve_packed = spy
    try:
        Twin(load_scenario("b2b4-casc1"), seed=1).run(until=1800)
    finally:
        network.solve_packed = real
    assert len(posed) > 20
    for links, flows in posed[::5]:
        _assert_close(solve(links, flows), oracle.solve(links, flows))


def test_max_min_rates_match_the_numpy_water_filling_exactly() -> None:
    rng = np.random.default_rng(11)
    for _ in range(200):
        n_l, n_f = int(rng.integers(1, 10)), int(rng.integers(0, 25))
        hops = rng.integers(0, min(n_l, 4) + 1, n_f)
        flow_of = np.repeat(np.arange(n_f), hops)
        link_of = np.concatenate([rng.permutation(n_l)[:h] for h in hops]) if n_f else np.zeros(0, np.int64)
        cap = rng.uniform(0, 10, n_l) * (rng.random(n_l) > 0.1)
        demand = np.where(rng.random(n_f) < 0.3, np.inf, rng.uniform(0, 6, n_f))
        np.testing.assert_array_equal(max_min_rates(flow_of, link_of, cap, demand),
                                      oracle.max_min_rates(flow_of, link_of, cap, demand))


def test_padhye_and_sawtooth_match_numpy() -> None:
    rng = np.random.default_rng(5)
    rtt, p, pkt, rto = rng.uniform(0.001, 0.5, 500), rng.uniform(-0.1, 0.5, 500), 0.012, rng.uniform(0.2, 1, 500)
    np.testing.assert_array_equal(padhye_rate(rtt, p, pkt, rto), oracle.padhye_rate(rtt, p, pkt, rto))
    buf, bdp = rng.uniform(0, 100, 500), rng.uniform(-1, 100, 500)
    for got, want in zip(sawtooth(buf, bdp), oracle.sawtooth(buf, bdp)):
        np.testing.assert_array_equal(got, want)
