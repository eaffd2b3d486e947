"""Load that automation drives lasts only while automation runs (issue 12: fixes change state,
they do not look faults up)."""

from __future__ import annotations

from twin import load_scenario
from twin.sim.twin import Twin


def test_halting_automation_stops_the_load_it_drives_while_the_fault_stays_scheduled():
    sc = load_scenario("aws-us-east-1-2021-12-07")
    t = Twin(sc, seed=sc.seed)
    t.run(until=1800)
    busy = t.fork()
    t.act("halt_automation")
    t.run(until=3600)
    busy.run(until=3600)
    assert t.state.faults.phase["scaling-surge"] == "active"  # nothing looked the fault up
    assert t.state.network.automation_factor[1] > 1.0  # the surge is still what automation would drive
    loss = lambda twin: max(s.kpi.get("interdc_loss", 0.0) for s in twin.telemetry.window(since=3000))  # noqa: E731
    assert loss(busy) > 0.2 and loss(t) < 0.05
