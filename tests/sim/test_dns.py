"""DNS servers that health-check the data centers and withdraw their anycast prefix (twin.sim.dns)."""

from __future__ import annotations

import pytest

from twin import Twin, load_scenario
from twin.scenario import parse_scenario

META = "meta-2021-10-04"
BACKBONE_DOWN_AT = 300.0


def _meta(dns: dict | None = None, faults: list | None = None):
    """Meta's backbone with its DNS settings changed and, optionally, other faults instead."""
    data = load_scenario(META).model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)
    data["control"]["dns"].update(dns or {})
    if faults is not None:
        data["faults"] = faults
        data.pop("ground_truth")
    return parse_scenario(data, "meta-variant")


def _dns_events(t: Twin):
    ev = t.events()
    return ev[(ev["kind"] == "health") & ev["message"].str.startswith("DNS servers")]


def _withdrawn(t: Twin) -> dict[str, float]:
    ev = _dns_events(t)
    gone = ev[ev["message"].str.contains("withdraw")]
    return {r.entity: float(r.time) for r in gone.itertuples()}


@pytest.mark.parametrize("failures", [3, 6])
def test_backbone_down_withdraws_after_the_configured_failed_checks(failures):
    t = Twin(_meta({"failures": failures}))
    t.run(until="10m")
    period = t.scenario.control.dns.period
    withdrawn = _withdrawn(t)
    assert set(withdrawn) == {"pop-iad", "pop-ams"}
    # the first failing check runs at the instant the command lands or one period later
    for at in withdrawn.values():
        assert BACKBONE_DOWN_AT + (failures - 1) * period <= at <= BACKBONE_DOWN_AT + failures * period
    assert t.state.network.class_resolvable[0] == 0.0  # no POP announces: user names do not resolve
    assert t.telemetry.kpis()["user_loss"].iloc[-1] == 1.0
    assert t.metrics("service").query("entity == 'frontend'")["rps"].iloc[-1] == 0.0  # users cannot reach it


def test_restored_backbone_reannounces_and_user_traffic_returns():
    t = Twin(META)
    t.run(until="20m")
    t.act("rollback_change", change="maint-7710")  # lands after the action's 5 minutes
    t.run(until="30m")
    ev = _dns_events(t)
    back = ev[ev["message"].str.contains("re-announce")]
    assert set(back["entity"]) == {"pop-iad", "pop-ams"}
    assert back["time"].min() >= 25 * 60  # not before the backbone is back
    assert t.state.network.class_resolvable[0] == 1.0
    kpi = t.telemetry.kpis()
    assert kpi["user_loss"].iloc[-1] < 0.01 and kpi["user_gbps"].iloc[-1] > 500


def test_traffic_waits_for_the_reannouncement_not_for_the_links():
    """With checks that need a while to pass again, user traffic stays away after the links are back."""
    t = Twin(_meta({"recoveries": 9}))  # 90 s of passing checks before announcing again
    t.run(until="20m")
    t.act("rollback_change", change="maint-7710")
    t.run(until="26m")  # links back at 25m; the POPs still withdrawn
    assert t.state.network.link_down.sum() == 0
    assert t.state.network.class_resolvable[0] == 0.0
    assert t.telemetry.kpis()["user_loss"].iloc[-1] == 1.0
    t.run(until="28m")
    assert t.state.network.class_resolvable[0] == 1.0
    assert t.telemetry.kpis()["user_loss"].iloc[-1] < 0.01


def _link_down(fid: str, links: list[str]) -> dict:
    return {"id": fid, "kind": "link_down", "at": "5m", "params": {"links": links}}


def test_a_failure_that_keeps_the_data_centers_reachable_withdraws_nothing():
    # the core between the data centers goes, but each POP still reaches one of them
    t = Twin(_meta(faults=[_link_down("core", ["bb:prn-ash", "bb:ash-lla", "bb:prn-lla"])]))
    t.run(until="15m")
    assert _withdrawn(t) == {}
    assert t.state.network.class_resolvable[0] == 1.0


def test_an_isolated_pop_withdraws_alone_and_anycast_keeps_names_resolving():
    t = Twin(_meta(faults=[_link_down("ams-cut", ["bb:pop-ams-lla", "bb:pop-ams-ash"])]))
    t.run(until="15m")
    assert set(_withdrawn(t)) == {"pop-ams"}
    # queries go to pop-iad, which still announces: its users' traffic keeps flowing
    assert t.state.network.class_resolvable[0] == 1.0
    net = t.telemetry.latest()
    assert net.kpi["user_gbps"] > 0 and net.kpi["user_loss"] < 0.5


def test_needing_more_data_centers_than_reachable_withdraws():
    # pop-iad still reaches ash and prn, but not lla; asked to reach all three, its check fails
    t = Twin(_meta({"min_reachable": 3}, faults=[_link_down("lla-cut", ["bb:ash-lla", "bb:prn-lla", "bb:pop-ams-lla"])]))
    t.run(until="15m")
    assert set(_withdrawn(t)) == {"pop-iad", "pop-ams"}


def test_meta_is_one_fault_and_the_withdrawal_follows_from_the_checks():
    sc = load_scenario(META)
    assert [f.kind for f in sc.faults] == ["link_down"]
    assert all(f.when is None for f in sc.faults)
