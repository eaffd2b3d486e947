"""The fault registry: built-in kinds meet the plug-in contract; errors name the known kinds."""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import EntryPoint

import pytest

from twin import Twin, load_scenario
from twin.faults import FaultKind, FaultParams, FaultRegistry, fault_kind, fault_kinds, registry
from twin.faults.base import LAYERS
from twin.sim.effects import Effects
from twin.sim.state import FaultRecord

BUILTIN_KINDS = {
    "link_down",
    "link_degraded",
    "link_flap",
    "device_failure",
    "traffic_surge",
    "config_push",
    "latent_protocol_defect",
    "control_plane_jobs_down",
    "route_attraction",
    "replica_crash",
    "cpu_hog",
    "memory_leak",
    "bad_deploy",
    "retry_storm",
    "load_surge",
    "monitoring_outage",
}


class _Noop(FaultKind):
    name, layer, description = "noop", "services", "changes nothing"

    class Params(FaultParams):
        service: str

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        return Effects()

    revert = apply


def test_builtin_kinds_meet_the_contract():
    kinds = registry._builtins()
    assert set(kinds.names()) == BUILTIN_KINDS
    for kind in kinds:
        assert kind.layer in LAYERS and kind.description
        assert kind.Params.model_config["extra"] == "forbid"
        kind.Undo()  # the trigger builds it empty before apply fills it


def test_unknown_kind_lists_the_allowed_ones():
    with pytest.raises(KeyError) as info:
        fault_kind("link_dwn")
    message = info.value.args[0]
    assert message.startswith("unknown fault kind 'link_dwn' (allowed: bad_deploy, config_push, ")
    assert all(name in message for name in BUILTIN_KINDS)


def test_register_rejects_clashes_and_broken_kinds():
    reg = FaultRegistry([_Noop])
    assert "noop" in reg and len(reg) == 1
    reg.register(_Noop)  # the same kind again is harmless

    class Clash(_Noop):
        pass

    with pytest.raises(ValueError, match="already registered"):
        reg.register(Clash)

    class Nowhere(_Noop):
        name, layer = "nowhere", "cloud"

    with pytest.raises(
        ValueError, match="layer must be one of wan, fabric, services, control, monitoring"
    ):
        reg.register(Nowhere)

    class Lax(_Noop):
        name = "lax"

        class Params(FaultParams, extra="ignore"):
            pass

    with pytest.raises(ValueError, match="must forbid extra fields"):
        reg.register(Lax)

    class NeedsArgs(_Noop):
        name = "needs_args"

        @dataclass
        class Undo:
            before: float

    with pytest.raises(TypeError):
        reg.register(NeedsArgs)
    with pytest.raises(TypeError, match="expected a twin.faults.FaultKind"):
        reg.register(object())  # type: ignore[arg-type]


def test_broken_entry_point_is_a_warning(monkeypatch):
    broken = [
        EntryPoint("broken", "twin_no_such_module:kinds", "twin.faults"),
        EntryPoint("odd", "json:dumps", "twin.faults"),
        EntryPoint("good", "tests.sim.test_fault_registry:_Noop", "twin.faults"),
    ]
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: broken)
    with pytest.warns(RuntimeWarning) as caught:
        reg = registry.load_entry_points(registry.BUILTIN.copy())
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["broken", "odd"]
    assert "noop" in reg and "link_down" in reg


def test_params_read_like_the_yaml_mapping():
    params = fault_kinds()["link_down"].Params.model_validate({"plane": "bb"})
    assert "plane" in params and "change" not in params  # given vs defaulted
    assert params.get("change", "none") == "none" and params["plane"] == "bb"
    surge = fault_kinds()["traffic_surge"].Params.model_validate({"class": "user", "factor": 2})
    assert surge.get("class") == "user" and surge.traffic_class == "user"
    with pytest.raises(KeyError):
        params["site"]


def test_change_ids_known_before_the_run():
    sc = load_scenario("novel-dual-fault")
    deploy = next(f for f in sc.faults if f.kind == "bad_deploy")
    assert fault_kind("bad_deploy").change_ids(deploy.id, deploy.params) == ["deploy-carts-v7"]
    push = next(f for f in load_scenario("b2b4-casc1").faults if f.kind == "config_push")
    assert fault_kind("config_push").change_ids(push.id, push.params) == ["chg-4421"]


def test_fault_records_are_typed_and_forks_copy_them():
    t = Twin("b2b4-casc1", seed=0)
    t.run(until="12m")
    active = [fid for fid, phase in t.state.faults.phase.items() if phase == "active"]
    assert active
    for fid in active:
        assert isinstance(t.state.faults.records[fid], FaultRecord)
    push = next(f.id for f in t.scenario.faults if f.kind == "config_push")
    assert t.state.faults.records[push].change == "chg-4421"
    fork = t.fork()
    fork.state.faults.records[push].change = "other"
    assert t.state.faults.records[push].change == "chg-4421"
