"""Deploys as state (issue 12): a bad build's defect rides on its release, and a rollback runs
the previous release again, so the fix follows from state, not from reverting the fault."""

from __future__ import annotations

import numpy as np
import pytest

from twin import load_scenario
from twin.scenario import parse_scenario
from twin.sim.twin import Twin


def _carts_errors(t: Twin) -> float:
    i = t.world.callgraph.index()["carts"]
    return float(t.state.services.release_error[i])


def test_rolling_back_the_bad_release_ends_its_errors_while_the_fault_stays_scheduled():
    t = Twin(load_scenario("novel-dual-fault"), seed=0)
    t.run(until=600)
    assert _carts_errors(t) == pytest.approx(0.15)
    assert any(c.id == "deploy-carts-v7" for c in t.state.control.changes)
    t.act("rollback_deploy", service="carts")
    t.run(until=900)
    assert _carts_errors(t) == 0.0
    assert t.state.faults.phase["carts-deploy"] == "active"  # nothing looked the fault up
    i = t.world.callgraph.index()["carts"]
    assert t.state.services.releases[i][-1].label == "v1"
    assert [c.status for c in t.state.control.changes if c.id == "deploy-carts-v7"] == ["rolled_back"]


def test_rolling_back_a_service_on_its_first_release_changes_nothing():
    t = Twin(load_scenario("novel-dual-fault"), seed=0)
    t.run(until=600)
    before = t.fork()
    t.act("rollback_deploy", service="orders")
    t.run(until=1200)
    before.run(until=1200)
    a = t.telemetry.kpis()
    b = before.telemetry.kpis()
    assert np.allclose(a["slo_violations"].to_numpy(), b["slo_violations"].to_numpy())


def test_rolling_back_a_good_release_brings_back_the_bad_one_below_it():
    data = load_scenario("novel-dual-fault").model_dump(mode="json", exclude_none=True)
    data["faults"] = [f for f in data["faults"] if f["id"] == "carts-deploy"]
    data["faults"].append({"id": "carts-good", "kind": "bad_deploy", "at": "7m",
                           "params": {"service": "carts", "error_rate": 0.0, "version": "v8"}})
    t = Twin(parse_scenario(data, "two-deploys"), seed=0)
    t.run(until=400)
    assert _carts_errors(t) == pytest.approx(0.15)  # v7 runs
    t.run(until=600)
    assert _carts_errors(t) == 0.0  # v8 replaced it, and v8 is a good build
    t.act("rollback_deploy", service="carts")
    t.run(until=1000)
    assert _carts_errors(t) == pytest.approx(0.15)  # back on v7: the rollback brought the defect back
    t.act("rollback_deploy", service="carts")
    t.run(until=1400)
    assert _carts_errors(t) == 0.0  # v1
