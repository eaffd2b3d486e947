"""Flap damping: a link that flaps repeatedly is kept out of the routing tables until its
penalty decays (RFC 2439 style penalty, suppress and reuse thresholds)."""

from __future__ import annotations

import math

import pytest

from wan_fixture import BASE, square

FLAP = [{"id": "flap", "kind": "link_flap", "at": "60s", "duration": "345s",
         "params": {"link": "wan:a-b", "period": "30s"}}]
DAMPING = {"enabled": True, "penalty": 1000, "suppress": 2000, "reuse": 750, "half_life": "5m"}


def _twin(damping: dict):
    return square(FLAP, network={**BASE["network"], "routing": {"detect": "3s", "spf": "1s", "fib": "2s",
                                                                  "damping": damping}})


def _in_tables(t, at: float) -> bool:
    t.run(until=at)
    return bool(t.state.network.link_routed[t.world.topology.link_index["wan:a-b"]])


def test_a_flapping_link_is_suppressed_until_its_penalty_decays():
    t = _twin(DAMPING)
    # failures at 60, 120, 180 s: penalties 1000, 1000 * 2^(-60/300) + 1000, ... cross 2000 at 180 s
    p120 = 1000 * 2 ** (-60 / 300) + 1000
    p180 = p120 * 2 ** (-60 / 300) + 1000
    assert p120 < 2000 < p180
    assert _in_tables(t, 100.0)  # first recovery (90 s) installed at 96 s
    assert _in_tables(t, 160.0)
    t.run(until=181)
    ab = t.world.topology.link_index["wan:a-b"]
    assert t.state.network.flap_suppressed[ab]
    assert t.state.network.flap_penalty[ab] == pytest.approx(p180)
    # the flapping ends at 405 s (link up); the link stays out of the tables while suppressed
    assert not _in_tables(t, 600.0)
    assert t.state.network.link_down[ab] == 0
    reuse = 180 + 300 * math.log2(p180 / 750)
    assert not _in_tables(t, reuse - 1)
    assert _in_tables(t, reuse + 1 + 3 + 0.1)  # reused, then SPF + FIB
    ev = t.events()
    assert ev.message.str.contains("suppressed by flap damping").any()


def test_without_damping_every_recovery_goes_back_into_the_tables():
    t = _twin({"enabled": False})
    t.run(until=600)
    ev = t.events()
    back_in = ev[ev.message.str.contains("wan:a-b back in")]
    assert len(back_in) >= 5  # one per recovery: each later failure blackholes traffic again
    losses = [s.kpi["user_loss"] for s in t.telemetry.samples if 60 <= s.t < 400]
    damped = _twin(DAMPING)
    damped.run(until=600)
    damped_losses = [s.kpi["user_loss"] for s in damped.telemetry.samples if 60 <= s.t < 400]
    assert sum(damped_losses) < sum(losses)  # damping keeps traffic off the flapping link


def test_damping_is_off_by_default():
    t = square()
    assert t.scenario.network.routing.damping.enabled is False


def test_a_fork_of_a_long_flapping_twin_costs_no_more_than_an_early_one():
    t = square([{"id": "flap", "kind": "link_flap", "at": "60s", "params": {"link": "wan:a-b", "period": "30s"}}])
    t.run(until=300)
    early = t.fork().work
    t.run(until=3000)
    assert t.fork().work <= early + 2  # IGP bookkeeping (events, SPF history) stays bounded
