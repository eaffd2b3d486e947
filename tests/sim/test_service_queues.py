"""Service queues in the twin: a CPU hog that grows saturates its service through the queue
model (one fault, no ``when:`` chain), and restarting the replicas ends it."""

from __future__ import annotations

import pytest

from twin import Twin, load_scenario


def catalogue(t: Twin) -> tuple[float, float, float]:
    i = t.world.services.index("catalogue")
    s = t.telemetry.latest().service
    return float(t.state.services.cpu_hog[i]), float(t.state.services.backlog[i]), float(s[i, 2])


def test_sockshop_is_one_fault():
    sc = load_scenario("sockshop-cpu-hog")
    assert len(sc.faults) == 1 and sc.faults[0].when is None


def test_a_growing_hog_saturates_the_queue_only_once_capacity_falls_below_load():
    t = Twin(load_scenario("sockshop-cpu-hog"), seed=3)
    t.run(until=5 * 60 + 10)
    share, backlog, _ = catalogue(t)
    assert share == pytest.approx(0.9, abs=0.01) and backlog == 0.0  # 90%: slower, not saturated
    t.run(until=9 * 60)
    share, backlog, p99 = catalogue(t)
    assert share == pytest.approx(0.95, abs=0.005)
    assert backlog > 0 and p99 > t.scenario.slo.p99_ms  # the queue filled: latency past the SLO
    t.run(until=15 * 60)
    assert catalogue(t)[0] == pytest.approx(0.95)  # it stops at its cap
    t.act("restart_service", service="catalogue")
    t.run(until=17 * 60)
    share, backlog, p99 = catalogue(t)
    assert share == 0.0 and backlog == 0.0 and p99 < t.scenario.slo.p99_ms


def test_queue_limit_override_is_validated():
    from twin.errors import ScenarioError
    from twin.scenario import parse_scenario, scenario_paths
    from twin.yamlfile import read_yaml

    data, _ = read_yaml("sockshop-cpu-hog", ScenarioError, "scenario", scenario_paths())
    data["services"]["queue_limit"] = {"catalog": 100}
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "bad.yaml")
    assert exc.value.field == "services.queue_limit.catalog"
    assert "known services" in exc.value.message
