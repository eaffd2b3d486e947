"""Cloudflare 17 July 2020 from config state: one policy term's match clause deactivated on
bb-atl; route selection then sends backbone traffic through Atlanta, whose links overload.
Rollback or draining Atlanta fixes it through recomputation, not by reverting the fault."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin, load_scenario


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("cloudflare-2020-07-17")


def _atl_gbps(t: Twin) -> float:
    return float(t.metrics("device").query("entity == 'bb-atl'").throughput_gbps.iloc[-1])


def _user_loss(t: Twin) -> float:
    return t.telemetry.latest().kpi["user_loss"]


def test_one_fault_and_it_is_a_config_change(scenario):
    assert [f.kind for f in scenario.faults] == ["config_push"]
    assert all(f.when is None for f in scenario.faults)
    assert scenario.faults[0].params.config == ["policy_match bb-atl 6-SITE-LOCAL any"]


def test_route_selection_pulls_traffic_through_atlanta(scenario):
    t = Twin(scenario, seed=17)
    t.run(until="4m")
    before, loss_before = _atl_gbps(t), _user_loss(t)
    t.run(until="8m")
    after = _atl_gbps(t)
    assert loss_before < 0.01 and _user_loss(t) > 0.05
    assert after > 2 * before
    # every pair not starting or ending at Atlanta that now routes through it does so by BGP
    routing = t.routing()
    atl = t.world.topology.node_index["bb-atl"]
    through = np.isin(t.world.arc_dst[routing.arc_of], [atl])
    crossing_groups = set(routing.flow_group[routing.flow_of[through]].tolist())
    assert len(crossing_groups) >= len(t.world.pairs)  # (pair, class) groups: most of them
    atl_links = [i for i, n in enumerate(t.world.topology.links) if "atl" in n]
    assert t.telemetry.latest().truth.link[atl_links, 1].max() > 0.05  # Atlanta's links drop packets
    cpu = t.metrics("device").query("entity == 'bb-atl'").cpu
    assert cpu.iloc[0] < 0.5 and cpu.iloc[-1] > 0.9  # processing the routes it attracted pegs its CPU


@pytest.mark.parametrize("action, args", [("rollback_change", {"change": "chg-0717"}),
                                          ("drain_device", {"device": "bb-atl"})])
def test_rollback_or_drain_fixes_it_by_recomputation(scenario, action, args):
    t = Twin(scenario, seed=17)
    t.run(until="8m")
    t.act(action, **args)
    t.run(until="16m")
    assert _user_loss(t) < 0.01
    assert t.state.network.route_cpu.max() == 0.0  # nobody routes via a re-announcement any more
    term = t.state.network.configs["bb-atl"].policy[0]
    # a rollback restores the term's match; a drain leaves the bad config in place and routes around it
    assert term.match == ("site-local" if action == "rollback_change" else "any")


def test_the_same_term_without_the_change_attracts_nothing(scenario):
    quiet = scenario.model_copy(update={"faults": []})
    t = Twin(quiet, seed=17)
    t.run(until="8m")
    assert _user_loss(t) < 0.01
