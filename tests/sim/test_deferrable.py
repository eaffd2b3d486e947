"""A deferrable class (bulk work that can wait): traffic shed at the edge is deferred, not lost."""

from __future__ import annotations

from twin.scenario import load_scenario, parse_scenario
from twin.sim.twin import Twin


def _shed_run(deferrable: bool) -> dict[str, float]:
    sc = load_scenario("novel-drain-trap")
    data = sc.model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)
    data["faults"] = []
    data.pop("ground_truth", None)
    data["traffic"]["kinds"] = {"interdc": {"deferrable": deferrable}}
    t = Twin(parse_scenario(data, "shed"), seed=0)
    t.run(until=120)
    t.act("shed_traffic", traffic_class="interdc", fraction=0.5)
    t.run(until=400)
    return t.telemetry.latest().kpi


def test_shed_deferrable_traffic_is_not_loss_but_still_costs_something() -> None:
    kept, lost = _shed_run(True), _shed_run(False)
    assert lost["interdc_loss"] > 0.45  # customers could not send half of it
    assert kept["interdc_loss"] < 0.01  # senders hold it back: no loss against the SLO
    assert kept["deferred_gbps"] > 0
    assert "deferred_gbps" not in lost
    assert 0 < kept["impact"] < lost["impact"]  # deferral is cheaper than loss, not free
