"""Routings shared by content (twin.sim.network.RoutingPool): forks that ask for the routing of
the same inputs get one object, equal to a build of their own; different configs under the
same config version never share one."""

from __future__ import annotations

import numpy as np

from twin import Twin, load_scenario

from wan_fixture import square

FIELDS = ("flow_group", "flow_ratio", "flow_fabric", "routable", "flow_of", "arc_of", "call_flow", "route_share")


def _own_build(t: Twin):
    """The routing ``t`` holds, built again from scratch by a fork with no pool and no routing."""
    f = t.fork()
    f.state.network.routing, f.state.network.routing_built, f.state.network.routing_pool = None, (), None
    return f.routing()


def test_forks_draining_one_link_share_its_routing():
    t = Twin(load_scenario("b2b4-casc1"), seed=3)
    t.run(until=300)
    a, b = t.fork(), t.fork()
    for f in (a, b):
        f.act("drain_link", link="b2:us-east-us-central")
        f.run(until=600)
    assert a.routing() is b.routing() is not t.routing()
    again = _own_build(a)
    assert again is not a.routing()
    for name in FIELDS:
        assert getattr(again, name).tobytes() == getattr(a.routing(), name).tobytes(), name


def test_same_config_version_different_configs_do_not_share():
    t = square()
    t.run(until=30)
    a, b = t.fork(), t.fork()
    a.act("push_config", change="igp_cost wan:a-b 500")
    b.act("push_config", change="igp_cost wan:a-b 7")
    a.run(until=200), b.run(until=200)
    assert a.state.network.config_version == b.state.network.config_version
    assert a.routing() is not b.routing()
    for f in (a, b):
        own = _own_build(f)
        for name in FIELDS:
            assert np.array_equal(getattr(own, name), getattr(f.routing(), name)), name
