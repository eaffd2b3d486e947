"""Every built-in tool runs mid-incident; calls cost simulated time; bad calls fail politely."""

from __future__ import annotations

from twin.tools.toolbox import sandbox_of

import json

import pytest

from twin.sim.actions import ACTIONS
from twin.tools import Tool, Toolbox, ToolRegistry, ToolResult, default_registry, tool
from twin.tools.registry import BUILTIN
from twin.tools.toolbox import BAD_CALL_S

EXTRA = {  # required arguments besides the target
    "query_metric": {"metric": "loss"},
    "ping": {"dst_site": "us-west", "traffic_class": "interdc"},
    "traceroute": {"dst_site": "us-west"},
    "similar_alerts": {},
    "shift_traffic": {"plane": "b4"},
    "scale_service": {"replicas": 4},
    "rate_limit": {"rps": 500.0},
    "set_retry_budget": {"budget": 0.1},
    "shed_traffic": {"traffic_class": "user", "fraction": 0.1},
    "push_config": {"change": "igp_cost b2:us-east-us-central 500"},
}


def _args(box: Toolbox, name: str) -> dict:
    t = box.registry.get(name)
    args = dict(EXTRA.get(name, {}))
    if t.target:
        targets = box.targets(name)
        if not targets:
            pytest.skip(f"{name}: nothing to aim at in this scenario")
        args[t.target] = "PacketLoss" if name == "similar_alerts" else targets[0]
    return args


@pytest.mark.parametrize("name", [t.name for t in default_registry() if t.name in BUILTIN])
def test_every_builtin_tool_runs_at_12m(twin_12m, name):
    box = Toolbox(twin_12m.fork())
    tool_ = box.registry.get(name)
    result = box.call(name, _args(box, name))
    assert result.ok, result.error
    assert result.t_start == 720.0
    assert result.t_end == pytest.approx(720.0 + tool_.duration_s)
    assert result.summary and "\n" not in result.summary
    json.dumps(result.to_dict())  # structured results are plain data
    assert result.tool in result.text()
    if tool_.kind == "mitigate":
        assert box.mitigations_applied == [result]
        assert sandbox_of(box).state.actions[-1]["kind"] == name


def test_registry_covers_every_action_and_orders_by_kind():
    reg = default_registry()
    mitigations = [t.name for t in reg if t.kind == "mitigate"]
    assert sorted(mitigations) == sorted(ACTIONS)
    kinds = [t.kind for t in reg]
    assert kinds == sorted(kinds, key=("observe", "test", "mitigate").index)
    observe = [t.name for t in reg if t.kind == "observe"]
    assert observe == sorted(observe)
    assert {"list_alerts", "query_metric", "top_links", "top_services", "show_neighbourhood", "recent_changes",
            "show_config", "ping", "traceroute", "check_link_counters", "compare_baseline",
            "similar_alerts"} <= set(reg.names())


def test_mitigation_schema_follows_action_params():
    reg = default_registry()
    shift = reg.get("shift_traffic").parameters
    assert shift["required"] == ["traffic_class", "plane"]
    assert shift["properties"]["traffic_class"]["enum"] == ["user", "interdc"]
    assert reg.get("scale_service").parameters["properties"]["replicas"]["type"] == "integer"
    assert reg.get("drain_link").target == "link" and reg.get("drain_link").target_kind == "link"
    assert reg.get("freeze_te").parameters["properties"] == {}


def test_mitigation_lands_after_its_own_duration(twin_12m):
    box = Toolbox(twin_12m.fork())
    result = box.call("drain_link", {"link": "b2:us-east-us-central"})
    assert result.ok and result.t_end - result.t_start == 30.0
    assert result.data["lands_at"] == pytest.approx(result.t_start + ACTIONS["drain_link"].duration)
    assert sandbox_of(box).state.actions[0]["status"] == "in_flight"
    sandbox_of(box).run(until=result.data["lands_at"] + 1)
    assert sandbox_of(box).state.actions[0]["status"] == "done"


def test_targets_schemas_and_entities(twin_12m):
    box = Toolbox(twin_12m.fork())
    assert box.targets("drain_link") == list(sandbox_of(box).world.topology.links)
    assert box.targets("freeze_te") == []
    assert "PacketLoss" in box.targets("similar_alerts")
    assert box.entities("site") == list(sandbox_of(box).world.topology.sites)
    schemas = box.schemas()
    assert [s["name"] for s in schemas] == [t.name for t in box.tools]
    ping = next(s for s in schemas if s["name"] == "ping")
    assert ping["parameters"]["properties"]["src_site"]["enum"] == box.entities("site")
    assert "x-entity" not in json.dumps(schemas)


def test_unknown_entity_lists_the_allowed_ones(twin_12m):
    box = Toolbox(twin_12m.fork())
    result = box.call("drain_link", {"link": "b2:atlantis-eu"})
    assert not result.ok and "unknown link" in result.error
    assert "b2:us-east-us-central" in result.allowed
    assert result.t_end - result.t_start == BAD_CALL_S
    assert sandbox_of(box).state.actions == []
    bad_enum = box.call("top_links", {"by": "colour"})
    assert not bad_enum.ok and bad_enum.allowed == ("utilisation", "loss")
    missing = box.call("check_link_counters", {})
    assert not missing.ok and "link" in missing.error and "link" in missing.allowed
    unknown = box.call("reboot_internet", {})
    assert not unknown.ok and "list_alerts" in unknown.allowed
    assert len(box.history) == 4 and box.mitigations_applied == []


def test_exception_inside_a_tool_is_a_failed_result(twin_12m):
    def boom(twin, args):
        raise RuntimeError("monitoring API down")

    reg = default_registry().copy()
    reg.register(Tool("flaky", "observe", "always fails", {"type": "object", "properties": {}}, 10.0, boom))
    box = Toolbox(twin_12m.fork(), reg)
    result = box.call("flaky", {})
    assert not result.ok and "monitoring API down" in result.error
    assert result.t_end - result.t_start == BAD_CALL_S
    wrong_kind = box.call("query_metric", {"entity": "frontend", "metric": "loss"})
    assert not wrong_kind.ok and "no metric" in wrong_kind.error


def test_probes_do_not_change_the_future(b2b4):
    from twin import Twin

    a, b = Twin(b2b4, seed=3), Twin(b2b4, seed=3)
    a.run(until=605), b.run(until=605)  # just after TE moved traffic: routing is being rebuilt
    box = Toolbox(a)
    box.call("traceroute", {"src_site": "us-east", "dst_site": "us-west", "traffic_class": "interdc"})
    b.run(until=a.now)
    a.run(until=900), b.run(until=900)
    assert a.telemetry.kpis().equals(b.telemetry.kpis())


def test_ping_sees_the_symptom_not_the_cause(twin_12m):
    box = Toolbox(twin_12m.fork())
    moved = box.call("ping", {"src_site": "us-east", "dst_site": "us-central", "traffic_class": "interdc"})
    assert moved.ok and moved.data["loss"] > 0.05  # inter-DC traffic now rides the congested B2
    hops = box.call("traceroute", {"src_site": "us-east", "dst_site": "us-central", "traffic_class": "interdc"})
    assert all(h["link"].startswith("b2:") for p in hops.data["paths"] for h in p["hops"])
    assert "fault" not in json.dumps(moved.data) and "upgrade-push" not in json.dumps(hops.data)


def test_registry_rejects_duplicates_and_bad_tools():
    reg = ToolRegistry()
    t = Tool("x", "observe", "d", {"type": "object", "properties": {}}, 1.0, lambda tw, a: ({}, ""))
    reg.register(t)
    with pytest.raises(ValueError):
        reg.register(Tool("x", "test", "d", {"type": "object", "properties": {}}, 1.0, lambda tw, a: ({}, "")))
    with pytest.raises(ValueError):
        Tool("y", "fix", "d", {"type": "object", "properties": {}}, 1.0, lambda tw, a: ({}, ""))
    with pytest.raises(KeyError):
        reg.get("nope")
    assert list(reg) == [t] and "x" in reg


def test_tool_result_text_and_dict():
    r = ToolResult(False, "drain_link", {"link": "z"}, {}, "error: bad", error="bad", allowed=("a", "b"))
    assert "allowed: a, b" in r.text() and r.to_dict()["allowed"] == ["a", "b"]
    assert callable(tool)


def test_plain_schema_check_only_passes_what_jsonschema_passes():
    """The fast check skips jsonschema only for arguments jsonschema accepts (odd types, NaN,
    huge ints, bounds, enums, patterns, extra and missing names probed on every built-in tool)."""
    import jsonschema

    from twin.tools.toolbox import _plain_schema, _plainly_valid

    probes = ["a", "", "10m", "x y", 0, 1, -1, 1000, 1001, 0.5, 1.5, -0.1, float("nan"), float("inf"), True, None,
              [1], {"a": 1}, 10**400]
    fast = 0
    for t in default_registry():
        plain = _plain_schema(t.parameters)
        assert plain is not None, t.name  # every built-in schema is flat and scalar
        validator = jsonschema.Draft202012Validator(t.parameters)
        props = t.parameters.get("properties", {})
        full = {p: (spec.get("enum") or ["a"])[0] for p, spec in props.items()}
        enums = [v for spec in props.values() for v in spec.get("enum", [])]
        for name in [*props, "extra"]:
            for value in probes + enums:
                for base in ({}, full):
                    args = {**base, name: value}
                    if _plainly_valid(plain, args):
                        fast += 1
                        assert validator.is_valid(args), (t.name, args)
    assert fast > 0


def test_tool_windows_read_the_same_samples_as_a_scan():
    from twin import Twin
    from twin.tools._common import samples_since, samples_until

    twin = Twin("b2b4-casc1", seed=0)
    twin.run(until=900.0)
    for since in (-1.0, 0.0, 300.0, 601.0, 899.0, 2000.0):
        assert samples_since(twin, since) == twin.telemetry.window(since=since)
        assert samples_until(twin, since) == twin.telemetry.window(until=since)
