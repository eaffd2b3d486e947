"""The twin's counters, class loss and SLO inputs come from one flow-model solution (issue 13)."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.scenario import parse_scenario
from twin.sim.network import build_routing, network_params, network_step


def _step(t: Twin):
    te = t.scenario.control.te
    routing = build_routing(t.world, t.state, t.state.control.te_class_plane, te.tunnels, te.quantum, 1.0,
                            t.scenario.network.hash_connections)
    n = t.world.demand_gbps.shape[0]
    return routing, network_step(t.world, t.state, routing, 1.0, np.ones(n), 1.0, network_params(t.scenario))


@pytest.fixture(scope="module")
def overloaded():
    t = Twin("b2b4-casc1", seed=0)
    t.run(until="12m")  # B4 marked failed, inter-DC traffic on B2
    return t


def test_links_never_carry_more_than_capacity_and_drop_what_they_lose(overloaded):
    _, net = _step(overloaded)
    assert np.all(net.arc_carried <= net.arc_capacity * (1 + 1e-9) + 1e-9)
    assert np.all(net.arc_carried <= net.arc_offered + 1e-9)
    dropped = net.arc_offered - net.arc_carried
    assert np.allclose(net.arc_loss, np.divide(dropped, net.arc_offered, out=np.zeros_like(dropped),
                                                where=net.arc_offered > 0))
    assert net.arc_loss.max() > 0.2  # B2 overloaded


def test_class_loss_is_what_the_links_dropped(overloaded):
    routing, net = _step(overloaded)
    # loss counted once: what groups lost equals what links dropped (only WAN traffic crosses B2)
    lost_by_groups = float((net.group_gbps * net.group_loss).sum())
    wan_arcs = np.unique(routing.arc_of[(routing.flow_group >= 0)[routing.flow_of]])
    dropped = float((net.arc_offered - net.arc_carried)[wan_arcs].sum())
    assert lost_by_groups == pytest.approx(dropped, rel=1e-6)
    assert np.all((net.group_loss >= 0) & (net.group_loss <= 1))


def test_telemetry_counters_respect_capacity(overloaded):
    t = overloaded.fork()
    t.run(until=t.now + t.scenario.tick)
    sample = t.telemetry.latest()
    topo = t.world.topology
    payload = topo.capacity_gbps * (1 - t.scenario.network.header_overhead)
    through = sample.link[:, 3].astype(float)  # both directions
    assert np.all(through <= 2 * payload * (1 + 1e-5) + 1e-6)
    lossy = sample.link[:, 1] > 0.2
    assert lossy.any() and sample.kpi["interdc_loss"] > 0.1


def test_elastic_interdc_backs_off_instead_of_losing_a_third():
    sc = load_scenario("b2b4-casc1")
    data = sc.model_dump(mode="json", by_alias=True, exclude={"path"})
    data["traffic"]["kinds"] = {"interdc": {"elastic": True, "connections": 2000}, "user": {"elastic": True}}
    elastic = parse_scenario(data, "b2b4-elastic")
    t = Twin(elastic, seed=0)
    t.run(until="12m")
    _, net = _step(t)
    hot = net.arc_offered > net.arc_capacity * 0.999
    assert hot.any()
    # TCP-like aggregates fill the links and lose little, where inelastic traffic loses 30%+
    assert net.arc_loss[hot].max() < 0.05
    assert np.all(net.arc_carried <= net.arc_capacity * (1 + 1e-9) + 1e-9)
