import numpy as np
import pandas as pd
import pytest

from twin import SimulationError, Twin


def run(sc, seed, until=1800):
    t = Twin(sc, seed=seed)
    t.run(until=until)
    return t


def test_same_seed_identical_telemetry_other_seed_differs(b2b4):
    a, b, c = run(b2b4, 3), run(b2b4, 3), run(b2b4, 4)
    pd.testing.assert_frame_equal(a.telemetry.wide(), b.telemetry.wide())
    pd.testing.assert_frame_equal(a.alerts(), b.alerts())
    pd.testing.assert_frame_equal(a.events(), b.events())
    assert not a.telemetry.wide().equals(c.telemetry.wide())


def test_cascade_in_order(b2b4):
    t = run(b2b4, 1, until=1500)
    ev = t.events()
    change = ev[ev.message.str.contains("chg-4421")].time.min()
    failed = ev[ev.message.str.contains("marks b4 FAILED")].time.min()
    moved = ev[ev.message.str.contains("moves interdc traffic from b4 to b2")].time.min()
    al = t.alerts()
    b2 = al[al.entity.str.startswith("b2:")]
    loss = b2[b2.name == "PacketLoss"].start.min()
    congestion = b2[b2.name == "LinkCongestion"].start.min()
    service = al[al.entity_kind == "service"].start.min()
    assert change <= failed <= moved < loss <= service
    assert congestion >= moved
    # B2 at or above capacity, B4 nearly empty, no device failure alarm
    links = t.metrics("link", since=1200)
    b2_util = links[links.entity.str.startswith("b2:")].groupby("entity").utilisation.mean()
    b4_tput = links[links.entity.str.startswith("b4:")].throughput_gbps.max()
    assert b2_util.max() >= 1.0
    assert b4_tput < 1.0
    assert not (al.name == "DeviceDown").any()


def test_run_rejects_the_past(b2b4):
    t = run(b2b4, 1, until=60)
    with pytest.raises(SimulationError):
        t.run(until=30)


def test_fork_cost_does_not_grow_with_time(b2b4):
    t = Twin(b2b4, seed=2)
    t.run(until=600)
    early, early_samples = t.fork().work, len(t.telemetry.samples)
    t.run(until=3000)
    late, late_samples = t.fork().work, len(t.telemetry.samples)
    # five times the history, the same work: only state (sized by the network) is copied;
    # what differs is the handful of alerts open at each instant
    assert late_samples >= 4 * early_samples
    assert abs(late - early) <= 0.1 * early


def test_fork_future_does_not_touch_original(b2b4):
    t = Twin(b2b4, seed=2)
    t.run(until=700)
    before = t.telemetry.wide().copy()
    alerts = t.alerts().copy()
    f = t.fork()
    f.act("freeze_te")
    f.run(until=2400)
    assert t.now == 700
    pd.testing.assert_frame_equal(t.telemetry.wide(), before)
    pd.testing.assert_frame_equal(t.alerts(), alerts)
    assert len(f.telemetry.wide()) > len(before)
    # and the fork's past is the original's
    pd.testing.assert_frame_equal(f.telemetry.wide().loc[:690], before)


def test_fork_without_action_matches_original_future(b2b4):
    t = Twin(b2b4, seed=5)
    t.run(until=650)
    f = t.fork()
    t.run(until=1500)
    f.run(until=1500)
    pd.testing.assert_frame_equal(t.telemetry.wide(), f.telemetry.wide())


def test_freeze_te_mitigates_and_drain_does_not(b2b4):
    t = Twin(b2b4, seed=1)
    t.run(until=900)
    good, bad = t.fork(), t.fork()
    good.act("freeze_te")
    bad.act("drain_link", link="b2:us-east-us-central")
    good.run(until=1500)
    bad.run(until=1500)
    assert good.telemetry.kpis().loc[1200:, "slo_violations"].max() == 0
    assert bad.telemetry.kpis().loc[1200:, "user_loss"].mean() > 0.05


def test_b2b4_cascade_follows_from_one_fault_and_the_controller(b2b4):
    """One injected cause (the upgrade's inconsistent push); the controller does the rest."""
    assert [f.kind for f in b2b4.faults] == ["config_push"]
    assert all(f.when is None for f in b2b4.faults)
    t = Twin(b2b4, seed=0)
    t.run(until="15m")
    ev = t.events()
    assert ev["message"].str.contains("TE controller marks b4 FAILED").any()
    assert t.alerts()["name"].eq("PacketLoss").any()


def test_the_same_push_on_a_b2_with_room_overloads_nothing(b2b4):
    from twin.scenario import parse_scenario

    data = b2b4.model_dump(mode="json", by_alias=True, exclude={"path"})
    for plane in data["topology"]["planes"]:
        if plane["name"] == "b2":
            for link in plane["links"]:
                link["capacity_gbps"] *= 6
    roomy = parse_scenario(data, "b2b4-roomy-b2")
    t = Twin(roomy, seed=0)
    t.run(until="20m")
    ev = t.events()
    assert ev["message"].str.contains("moves interdc traffic from b4 to b2").any()  # the controller still fails over
    links = t.metrics("link")
    assert links["utilisation"].max() < 1.0
    assert not t.alerts()["name"].isin(["PacketLoss", "LinkCongestion"]).any()


def test_draining_the_only_b4_link_fails_inter_dc_traffic_over_to_b2():
    """The controller reads link state: a plane with no usable link is down in its view."""
    t = Twin("novel-dual-fault", seed=0)
    t.run(until="12m")
    (b4_link,) = [name for name in t.world.topology.links if name.startswith("b4:")]
    t.act("drain_link", link=b4_link)
    te = t.scenario.control.te
    lands = t.now + 120.0  # a drain takes two minutes
    t.run(until=lands + te.reaction + te.period)
    moves = t.events()
    moves = moves[moves["message"].str.contains("moves interdc traffic from b4 to b2")]
    assert len(moves) == 1 and float(moves["time"].iloc[0]) <= lands + te.reaction + te.period
    assert t.telemetry.kpis()["interdc_loss"].iloc[-1] < 0.01
