"""Azure 25 January 2023 from mechanisms: one maintenance command gives a router a new address;
every router re-forms its adjacencies, recomputation loads their CPUs, overloaded routers miss
hellos so more adjacencies drop (waves), flap damping calms the churn, and the iBGP sessions
that point at the old address stay down until the change is rolled back."""

from __future__ import annotations

import pytest

from twin import Twin, load_scenario


@pytest.fixture(scope="module")
def scenario():
    return load_scenario("azure-wan-2023-01-25")


def _variant(sc, **routing):
    r = sc.network.routing.model_copy(update=routing)
    return sc.model_copy(update={"network": sc.network.model_copy(update={"routing": r})})


def _run(sc, until=3600, seed=25):
    t = Twin(sc, seed=seed)
    t.run(until=until)
    return t


def _count(t, text: str) -> int:
    return int(t.events().message.str.contains(text).sum())


def test_one_fault_a_maintenance_command(scenario):
    assert len(scenario.faults) == 1
    f = scenario.faults[0]
    assert f.kind == "config_push" and f.when is None
    assert f.params.config[0].startswith("router_address wan-weu")  # a maintenance command, filed as a config push


def test_every_router_reforms_its_adjacencies(scenario):
    t = Twin(scenario, seed=25)
    t.run(until=300 + 25)  # detection jitter (<= 10 s) + SPF + FIB: every link out of the tables
    n_links = t.world.topology.n_links
    ev = t.events()
    out = ev[ev.message.str.contains("out of the forwarding tables")]
    assert out.entity.nunique() == n_links
    assert t.telemetry.latest().kpi["user_loss"] > 0.5  # packets dropped during recomputation


def test_waves_come_from_recompute_load_and_damping_calms_them(scenario):
    base = _run(scenario)
    no_load = _run(_variant(scenario, spf_cost=0.0))
    no_damping = _run(_variant(scenario, damping=scenario.network.routing.damping.model_copy(update={"enabled": False})))
    assert _count(no_load, "time out") == 0  # adjacencies re-form once; nothing more
    assert _count(base, "time out") > 0  # overloaded routers miss hellos: more adjacencies drop
    assert _count(base, "suppressed by flap damping") > 0
    assert _count(no_damping, "time out") > 5 * _count(base, "time out")  # churn feeds itself without damping
    cpu = base.metrics("device").groupby("entity").cpu.max()
    assert (cpu > 0.9).all()  # routers' monitors show the recompute load


def test_the_old_address_paths_need_the_rollback(scenario):
    left = _run(scenario, until=5400)
    assert left.telemetry.latest().kpi["user_loss"] > 0.2  # weu's iBGP sessions point at the old address
    fixed = Twin(scenario, seed=25)
    fixed.run(until=3000)
    fixed.act("rollback_change", change="chg-3317")
    fixed.run(until=5400)
    assert fixed.state.network.configs["wan-weu"].address is None
    assert fixed.telemetry.latest().kpi["user_loss"] < 0.01
    halted = Twin(scenario, seed=25)
    halted.run(until=3000)
    halted.act("halt_automation")
    halted.run(until=5400)
    assert halted.telemetry.latest().kpi["user_loss"] > 0.2  # halting automation changes no router


def test_same_seed_same_waves_other_seed_other_timing(scenario):
    a, b = _run(scenario, until=1800), _run(scenario, until=1800)
    assert [s.kpi["user_loss"] for s in a.telemetry.samples] == [s.kpi["user_loss"] for s in b.telemetry.samples]
    c = _run(scenario, until=1800, seed=3)
    assert a.events().time.tolist() != c.events().time.tolist()
