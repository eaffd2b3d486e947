"""A fork's state copy (``twin.sim.state.clone``): independent of the original, records
included, generators drawing what the original would draw next."""

from __future__ import annotations

import numpy as np

from twin import Twin
from twin.physics.configs import RouterConfig
from twin.sim.state import ChangeRecord, Release, clone, copy_rng


def test_clone_copies_every_mutable_part_and_shares_only_immutable_records() -> None:
    arr = np.arange(3.0)
    cfg = RouterConfig("r1", "b4", "us-east", acl_deny=["10.0.0.0/8"])
    rel = Release("chg-1", "v2", error_rate=0.1)
    change = ChangeRecord("chg-1", 5.0, "config", "r1", "push")
    value = {"a": [arr, (1, "x", {2.5})], "cfg": cfg, "rel": rel, "chg": [change], "none": None}
    out = clone(value)
    assert out["a"][0] is not arr and np.array_equal(out["a"][0], arr)
    out["a"][0][0] = 9.0
    out["a"][1][2].add(7.0)
    out["cfg"].acl_deny.append("192.0.2.0/24")
    out["chg"][0].status = "rolled_back"
    assert arr[0] == 0.0 and value["a"][1][2] == {2.5}
    assert cfg.acl_deny == ["10.0.0.0/8"] and change.status == "applied"
    assert out["rel"] is rel  # frozen, all atoms: shared
    assert out["cfg"] == RouterConfig("r1", "b4", "us-east", acl_deny=["10.0.0.0/8", "192.0.2.0/24"])


def test_a_copied_generator_draws_what_the_original_draws_next() -> None:
    rng = np.random.default_rng(7)
    rng.standard_normal(3)
    other = copy_rng(rng)
    assert np.array_equal(other.random(5), rng.random(5))
    assert other.bit_generator is not rng.bit_generator


def test_a_fork_runs_as_the_original_and_never_touches_it() -> None:
    t = Twin("b2b4-casc1", seed=3)
    t.run(until=600)
    f = t.fork()
    before = t.state.network.link_down.copy()
    f.state.network.link_down[0] += 1
    f.state.control.te_class_plane["user"] = "nowhere"
    assert np.array_equal(t.state.network.link_down, before) and t.state.control.te_class_plane["user"] != "nowhere"
    a, b = t.fork(), t.fork()
    a.run(until=900)
    b.run(until=900)
    assert [s.kpi for s in a.telemetry.window()] == [s.kpi for s in b.telemetry.window()]
