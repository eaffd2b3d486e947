import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twin.physics.maxmin import max_min_rates


def incidence(paths):
    flow_of = np.array([f for f, p in enumerate(paths) for _ in p], dtype=np.int64)
    link_of = np.array([l for p in paths for l in p], dtype=np.int64)
    return flow_of, link_of


def test_two_links_three_flows_classic():
    # flow 0 crosses links 0 and 1; flow 1 only link 0; flow 2 only link 1; capacities 1
    f, l = incidence([[0, 1], [0], [1]])
    rates = max_min_rates(f, l, np.array([1.0, 1.0]), np.full(3, np.inf))
    assert rates == pytest.approx([0.5, 0.5, 0.5])


def test_two_links_unequal_capacity():
    # link 0 cap 1 shared by flows 0,1; link 1 cap 3 shared by flows 0,2.
    # Flow 0 and 1 bottleneck at 0.5 on link 0; flow 2 then gets 3 - 0.5 = 2.5.
    f, l = incidence([[0, 1], [0], [1]])
    rates = max_min_rates(f, l, np.array([1.0, 3.0]), np.full(3, np.inf))
    assert rates == pytest.approx([0.5, 0.5, 2.5])


def test_demand_caps_release_capacity_to_others():
    # one link of 10 shared by demands 2, 4 and unlimited: 2, 4, then the rest (4)
    f, l = incidence([[0], [0], [0]])
    rates = max_min_rates(f, l, np.array([10.0]), np.array([2.0, 4.0, np.inf]))
    assert rates == pytest.approx([2.0, 4.0, 4.0])


def test_demand_cap_above_share_is_bottlenecked():
    # demands 5, 5, 1 on a link of 6: 1 is satisfied, the others share 5 -> 2.5 each
    f, l = incidence([[0], [0], [0]])
    rates = max_min_rates(f, l, np.array([6.0]), np.array([5.0, 5.0, 1.0]))
    assert rates == pytest.approx([2.5, 2.5, 1.0])


def test_flow_without_links_gets_its_demand_and_dead_link_gets_zero():
    f, l = incidence([[], [0]])
    rates = max_min_rates(f, l, np.array([0.0]), np.array([3.0, 3.0]))
    assert rates == pytest.approx([3.0, 0.0])


@st.composite
def networks(draw):
    n_links = draw(st.integers(1, 8))
    n_flows = draw(st.integers(1, 12))
    cap = np.array(draw(st.lists(st.floats(0.0, 100.0), min_size=n_links, max_size=n_links)))
    paths = [sorted(set(draw(st.lists(st.integers(0, n_links - 1), min_size=1, max_size=4)))) for _ in range(n_flows)]
    demand = np.array(draw(st.lists(st.one_of(st.floats(0.0, 80.0), st.just(np.inf)), min_size=n_flows, max_size=n_flows)))
    return cap, paths, demand


@settings(max_examples=200, deadline=None)
@given(networks())
def test_max_min_invariants(net):
    cap, paths, demand = net
    f, l = incidence(paths)
    rates = max_min_rates(f, l, cap, demand)
    load = np.bincount(l, weights=rates[f], minlength=cap.size)
    # no link carries more than its capacity
    assert np.all(load <= cap + 1e-6)
    assert np.all(rates >= -1e-9) and np.all(rates <= demand + 1e-9)
    # every flow is limited by its demand or by a saturated link on which it has a maximal rate
    for i, path in enumerate(paths):
        if rates[i] >= demand[i] - 1e-6:
            continue
        saturated = [j for j in path if load[j] >= cap[j] - 1e-6]
        assert saturated, f"flow {i} below demand with no saturated link"
        ok = False
        for j in saturated:
            others = [rates[k] for k, p in enumerate(paths) if j in p]
            if rates[i] >= max(others) - 1e-6:
                ok = True
        assert ok, f"flow {i} is not maximal on any of its saturated links"
