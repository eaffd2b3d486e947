"""Routing reconverges through timers in simulated time (issue 12, acceptance item 2, second half).

After a WAN link fails, forwarding keeps the old table until detection + SPF + FIB delay have
passed; traffic sent into the dead link meanwhile is lost, and the tick in which the new table
is installed loses exactly the share of the tick before the install.
"""

from __future__ import annotations

import pytest

from twin.errors import ScenarioError
from twin.scenario import parse_scenario

from wan_fixture import BASE, kpi_at, square

CUT = [{"id": "cut", "kind": "link_down", "at": "60s", "params": {"link": "wan:a-b"}}]


def _move_time(routing: dict) -> tuple[float, object]:
    """When the routers' tables dropped wan:a-b (the install event's time), and the twin."""
    t = square(CUT, network={**BASE["network"], "routing": routing})
    t.run(until=59)
    assert t.state.network.link_routed[t.world.topology.link_index["wan:a-b"]]
    t.run(until=100)
    ev = t.events()
    moved = ev[(ev.kind == "routing") & (ev.entity == "wan:a-b")]
    return float(moved.time.iloc[0]), t


@pytest.mark.parametrize("routing, expected", [
    ({"detect": "3s", "spf": "1s", "fib": "2s"}, 66.0),
    ({"detect": "13s", "spf": "1s", "fib": "2s"}, 76.0),
    ({"detect": "1s", "spf": "500ms", "fib": "1s"}, 62.5),
])
def test_traffic_moves_after_detect_spf_fib(routing, expected):
    moved, t = _move_time(routing)
    assert moved == pytest.approx(expected)
    # after the install the detour a-c-b carries a->b
    assert t.telemetry.latest().truth.link[t.world.topology.link_index["wan:a-c"], 3] == pytest.approx(40.0 + 10.0)


@pytest.mark.parametrize("detect, losses", [
    ("3s", {60.0: 0.6, 70.0: 0.0}),     # installed 6 s into the 10 s tick
    ("13s", {60.0: 1.0, 70.0: 0.6, 80.0: 0.0}),  # a whole tick blackholed, then 6 s of the next
])
def test_loss_in_the_gap_is_the_share_of_the_tick_before_the_install(detect, losses):
    t = square(CUT, network={**BASE["network"], "routing": {"detect": detect, "spf": "1s", "fib": "2s"}})
    t.run(until=100)
    assert kpi_at(t, "user_loss", 50.0) == 0.0
    for at, loss in losses.items():
        assert kpi_at(t, "user_loss", at) == pytest.approx(loss, abs=1e-9)


def test_recovery_is_installed_after_the_timers_too():
    faults = [{"id": "cut", "kind": "link_down", "at": "60s", "duration": "60s", "params": {"link": "wan:a-b"}}]
    t = square(faults, network={**BASE["network"], "routing": {"detect": "3s", "spf": "1s", "fib": "2s"}})
    ab = t.world.topology.link_index["wan:a-b"]
    t.run(until=125.9)
    assert not t.state.network.link_routed[ab]  # up again at 120 s, not yet in the tables
    t.run(until=126.1)
    assert t.state.network.link_routed[ab]


def test_a_drain_skips_detection():
    t = square(network={**BASE["network"], "routing": {"detect": "30s", "spf": "1s", "fib": "2s"}})
    t.run(until=60)
    t.act("drain_link", link="wan:a-b")  # lands at 180 s: an operator's metric change, flooded at once
    t.run(until=182.9)
    assert t.state.network.link_routed[t.world.topology.link_index["wan:a-b"]]
    t.run(until=183.1)
    assert not t.state.network.link_routed[t.world.topology.link_index["wan:a-b"]]
    assert kpi_at(t, "user_loss", 180.0) == 0.0  # a drained link still forwards until the move


def test_jitter_is_seeded_and_forks_agree():
    routing = {"detect": "3s", "spf": "1s", "fib": "2s", "jitter": 0.5}
    a, t1 = _move_time(routing)
    b, _ = _move_time(routing)
    assert a == b and a != 66.0 and abs(a - 66.0) <= 0.5 * 5  # same seed, same draw; off the nominal time
    t2 = square(CUT, network={**BASE["network"], "routing": routing})
    t2.run(until=61)
    fork = t2.fork()
    t2.run(until=80)
    fork.run(until=80)
    assert [s.kpi["user_loss"] for s in t2.telemetry.samples] == [s.kpi["user_loss"] for s in fork.telemetry.samples]


@pytest.mark.parametrize("routing, field", [
    ({"detect": "soon"}, "network.routing.detect"),
    ({"jitter": 2}, "network.routing.jitter"),
    ({"damping": {"suppress": 500, "reuse": 750}}, "network.routing.damping.reuse"),
    ({"spf_delay": "1s"}, "network.routing.spf_delay"),
])
def test_bad_routing_settings_name_the_field(routing, field):
    data = {**BASE, "network": {**BASE["network"], "routing": routing}}
    with pytest.raises(ScenarioError) as err:
        parse_scenario(data, "square.yaml")
    assert field in str(err.value) and "square.yaml" in str(err.value)
