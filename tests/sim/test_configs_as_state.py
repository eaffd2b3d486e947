"""Changes and configs as state: routers' configurations decide forwarding, a change edits them,
a rollback restores what the change replaced and forwarding follows (issue 12)."""

from __future__ import annotations

import pytest

from twin.config.change import ConfigChange, parse_change
from twin.config.render import render_all
from twin.errors import SimulationError

from wan_fixture import kpi_at, link_gbps, square

B_PREFIX = "172.16.1.0/24"  # site b's prefix (the addressing plan of twin.config.render)
A_PREFIX = "172.16.0.0/24"


def _pushed(change: str, faults: list[dict] | None = None, until: float = 200.0):
    t = square(faults)
    t.run(until=30)
    t.act("push_config", change=change)  # lands at 150 s
    t.run(until=until)
    return t


def test_igp_cost_moves_traffic_off_the_link_when_an_alternative_exists():
    t = _pushed("igp_cost wan:a-b 500")
    assert link_gbps(t, "wan:a-b") == pytest.approx(0.0)  # d->a moves too (d-c-a: 30 < d-b-a: 510)
    assert link_gbps(t, "wan:a-c") == pytest.approx(40.0 + 10.0)
    assert kpi_at(t, "user_loss", 190.0) == 0.0
    nothing = square()
    nothing.run(until=200)
    assert link_gbps(nothing, "wan:a-b") == pytest.approx(50.0)  # doing nothing keeps it there


def test_igp_cost_moves_nothing_when_no_alternative_exists():
    down = [{"id": "ac", "kind": "link_down", "at": "0s", "params": {"link": "wan:a-c"}}]
    t = _pushed("igp_cost wan:a-b 500", down)
    assert link_gbps(t, "wan:a-b") == pytest.approx(50.0)
    assert kpi_at(t, "user_loss", 190.0) == 0.0


def test_acl_drops_the_traffic_it_matches_and_only_that():
    t = _pushed(f"acl_block wan-b {B_PREFIX}")
    assert kpi_at(t, "user_loss", 190.0) == pytest.approx(1.0)  # a->b enters wan-b: denied
    assert kpi_at(t, "interdc_loss", 190.0) == 0.0  # d->a goes to a's prefix
    other = _pushed("acl_block wan-b 10.9.0.0/16")
    assert kpi_at(other, "user_loss", 190.0) == 0.0


def test_prefix_filter_withdraws_the_destination():
    t = _pushed(f"prefix_list wan-b {B_PREFIX}")
    assert kpi_at(t, "user_loss", 190.0) == pytest.approx(1.0)  # nobody learns b's prefix
    assert kpi_at(t, "interdc_loss", 190.0) == 0.0


def test_bgp_session_shutdown_loses_the_routes_learned_over_it():
    t = _pushed("bgp_shutdown wan-a wan-b")
    assert kpi_at(t, "user_loss", 190.0) == pytest.approx(1.0)  # a learned b's prefix only from b
    assert kpi_at(t, "interdc_loss", 190.0) == 0.0


def test_static_route_pins_a_path():
    t = _pushed(f"static_route wan-a {B_PREFIX} wan-c")
    assert link_gbps(t, "wan:a-c") == pytest.approx(40.0)  # pinned via c although a-b is shorter
    assert link_gbps(t, "wan:a-b") == pytest.approx(10.0)
    assert kpi_at(t, "user_loss", 190.0) == 0.0


def test_rollback_restores_the_previous_config_and_forwarding_follows():
    t = _pushed("igp_cost wan:a-b 500")
    change = t.state.control.changes[-1]
    assert change.id.startswith("op-") and "igp_cost wan:a-b 500" in change.description
    a_end = t.state.network.configs["wan-a"]
    assert a_end.ospf_cost == {t.world.topology.link_index["wan:a-b"]: 500}
    t.act("rollback_change", change=change.id)  # lands 300 s later
    t.run(until=t.now + 320)
    assert t.state.network.configs["wan-a"].ospf_cost == {}
    assert link_gbps(t, "wan:a-b") == pytest.approx(50.0)
    assert change.status == "rolled_back"


def test_a_config_change_is_a_real_mitigation_not_config_only():
    t = square()
    change = parse_change(t, "igp_cost wan:a-b 500")
    m = change.equivalent(t)
    assert m.tool == "push_config" and m.args == {"change": "igp_cost wan:a-b 500"}
    assert ConfigChange("acl_block", {"device": "wan-b", "prefix": B_PREFIX}).equivalent(t).tool == "push_config"


def test_rendered_configs_follow_the_config_state():
    t = _pushed(f"static_route wan-a {B_PREFIX} wan-c")
    text = render_all(t)["wan-a"]
    assert "ip route 172.16.1.0 255.255.255.0" in text


def test_bad_config_change_is_refused_naming_what_is_wrong():
    t = square()
    with pytest.raises(SimulationError, match="unknown next hop 'wan-z'"):
        t.act("push_config", change=f"static_route wan-a {B_PREFIX} wan-z")
    with pytest.raises(SimulationError, match="unknown config change"):
        t.act("push_config", change="reboot wan-a")


def test_a_config_push_fault_edits_state_and_its_rollback_undoes_it():
    push = [{"id": "bad", "kind": "config_push", "at": "60s",
             "params": {"change": "chg-1", "target": "wan-b", "config": [f"prefix_list wan-b {B_PREFIX}"]}}]
    t = square(push)
    t.run(until=100)
    assert kpi_at(t, "user_loss", 90.0) == pytest.approx(1.0)
    t.act("rollback_change", change="chg-1")
    t.run(until=t.now + 320)
    assert t.state.network.configs["wan-b"].prefix_deny == []
    assert t.telemetry.latest().kpi["user_loss"] == 0.0
