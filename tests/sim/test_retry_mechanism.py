"""The TrainTicket retry storm as a mechanism: a load surge is the only injected cause; the
storm persists through clients' retries into a queue whose delay is past their timeout, and a
smaller retry budget or a rate limit at the entry ends it."""

from __future__ import annotations

import copy

import pytest

from twin import Twin
from twin.errors import ScenarioError
from twin.scenario import parse_scenario, scenario_paths
from twin.yamlfile import read_yaml

SURGE_END = 15 * 60.0
BASIC = "ts-basic-service"


@pytest.fixture(scope="module")
def storm_data() -> dict:
    data, _ = read_yaml("trainticket-retry-storm", ScenarioError, "scenario", scenario_paths())
    return data


def scenario(data: dict, budget=None, surge=True):
    data = copy.deepcopy(data)
    if budget is not None:
        data["services"]["clients"][0]["retry_budget"] = budget
    if not surge:
        data["faults"] = []
        data.pop("ground_truth", None)
    return parse_scenario(data, "trainticket-retry-storm (test variant)")


def basic(t: Twin) -> tuple[float, float]:
    """ts-basic-service's error rate and backlog now."""
    i = t.world.services.index(BASIC)
    return float(t.telemetry.latest().service[i, 3]), float(t.state.services.backlog[i])


def in_storm(t: Twin) -> bool:
    err, backlog = basic(t)
    return err > 0.5 and backlog > 0


def healthy(t: Twin) -> bool:
    err, backlog = basic(t)
    return err < 0.01 and backlog == 0.0


def test_the_shipped_scenario_injects_only_the_surge(storm_data):
    sc = scenario(storm_data)
    assert [f.kind for f in sc.faults] == ["load_surge"]
    assert not any(f.when for f in sc.faults)


def test_storm_persists_long_after_the_surge_ends(storm_data):
    t = Twin(scenario(storm_data), seed=9)
    t.run(until=10 * 60)
    assert in_storm(t)
    for minute in (16, 30, 45, 60):  # the surge ended at 15m
        t.run(until=minute * 60)
        assert in_storm(t), minute
    assert t.state.faults.phase["surge"] == "ended"


def test_with_a_10pct_retry_budget_the_same_surge_does_not_persist(storm_data):
    t = Twin(scenario(storm_data, budget=0.1), seed=9)
    t.run(until=10 * 60)
    assert in_storm(t)  # the surge itself still overloads ts-basic-service
    t.run(until=SURGE_END + 30)  # three ticks after the surge
    assert healthy(t)
    t.run(until=60 * 60)
    assert healthy(t)


def test_rate_limit_at_the_entry_ends_a_running_storm(storm_data):
    t = Twin(scenario(storm_data), seed=9)
    t.run(until=25 * 60)
    assert in_storm(t)
    t.act("rate_limit", service="ts-ui-dashboard", rps=1000)  # lands after 30 s
    t.run(until=27 * 60)
    assert healthy(t)
    t.act("rate_limit", service="ts-ui-dashboard", rps=2600)  # back above the normal load
    t.run(until=60 * 60)
    assert healthy(t)  # the good state is stable again: the storm does not come back


def test_a_mild_rate_limit_does_not_end_it(storm_data):
    # the storm's load is retries: cutting a tenth of the users leaves it saturated
    t = Twin(scenario(storm_data), seed=9)
    t.run(until=25 * 60)
    t.act("rate_limit", service="ts-ui-dashboard", rps=1800)
    t.run(until=35 * 60)
    assert in_storm(t)


def test_a_smaller_retry_budget_ends_a_running_storm(storm_data):
    t = Twin(scenario(storm_data), seed=9)
    t.run(until=25 * 60)
    assert in_storm(t)
    t.act("set_retry_budget", service=BASIC, budget=0.1)  # lands after 60 s
    t.run(until=27 * 60)
    assert healthy(t)
    t.run(until=60 * 60)
    assert healthy(t)


def test_without_the_surge_there_is_no_storm(storm_data):
    t = Twin(scenario(storm_data, surge=False), seed=9)
    for minute in range(5, 61, 5):
        t.run(until=minute * 60)
        assert healthy(t), minute


def test_a_circuit_breaker_on_the_edge_ends_the_storm_by_itself(storm_data):
    data = copy.deepcopy(storm_data)
    data["services"]["clients"][0].update(breaker_threshold=0.5, breaker_window="20s", breaker_cooldown="30s")
    t = Twin(parse_scenario(data, "breaker variant"), seed=9)
    t.run(until=SURGE_END + 5 * 60)
    assert healthy(t)


def test_the_storm_is_deterministic_and_forks_carry_the_backlog(storm_data):
    a = Twin(scenario(storm_data), seed=9)
    a.run(until=20 * 60)
    b = a.fork()
    a.run(until=30 * 60)
    b.run(until=30 * 60)
    assert basic(a) == basic(b)


@pytest.mark.parametrize("change, field, words", [
    ({"callee": "ts-nowhere"}, "services.clients[0].callee", ["unknown service", "known services"]),
    ({"caller": "ts-user-service"}, "services.clients[0]", ["no call"]),
    ({"retry_budget": -1}, "services.clients[0].retry_budget", []),
    ({"retry_budget": "lots"}, "services.clients[0].retry_budget", ["unlimited"]),
    ({"breaker_threshold": 1.5}, "services.clients[0].breaker_threshold", []),
    ({"jitter": 3}, "services.clients[0].jitter", []),
])
def test_bad_client_policy_names_file_and_field(storm_data, change, field, words):
    data = copy.deepcopy(storm_data)
    data["services"]["clients"][0].update(change)
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "bad.yaml")
    assert exc.value.source == "bad.yaml"
    assert exc.value.field == field
    for word in words:
        assert word in exc.value.message
