"""What the tick keeps between ticks changes nothing: a routing built from earlier routings'
pieces equals one built from scratch, and cached arc limits follow the link state."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin
from twin.sim.network import Routing, build_routing, network_params, network_step

ARRAYS = ("flow_group", "flow_ratio", "flow_fabric", "routable", "flow_of", "arc_of", "call_flow", "route_share")


def _build(t: Twin, reuse: tuple[Routing, ...] = ()) -> Routing:
    te = t.scenario.control.te
    st = t.state
    return build_routing(t.world, st, st.control.te_class_plane, te.tunnels, te.quantum, 1.0,
                         t.scenario.network.hash_connections, st.network.link_routed, reuse=reuse)


def _same(a: Routing, b: Routing) -> None:
    for name in ARRAYS:
        x, y = getattr(a, name), getattr(b, name)
        assert x.dtype == y.dtype and x.shape == y.shape and x.tobytes() == y.tobytes(), name
    assert a.n_fabric == b.n_fabric and a.class_plane == b.class_plane


@pytest.mark.parametrize("scenario, until", [("b2b4-casc1", "12m"), ("large", "21m")])
def test_a_routing_built_from_earlier_pieces_equals_a_fresh_one(scenario, until):
    t = Twin(scenario, seed=0)
    first = _build(t)
    t.run(until=until)  # a config push (b2b4-casc1) or a cut WAN link (large) since ``first``
    reused = _build(t, reuse=(first,))
    _same(reused, _build(t))
    assert any(reused.cache[k] is first.cache.get(k) for k in reused.cache), "nothing was reused"


def test_arc_limits_follow_a_link_state_edited_in_place():
    t = Twin("b2b4-casc1", seed=0)
    t.run(until=60)
    routing = t.routing()
    params = network_params(t.scenario)
    noise = np.ones(t.world.demand_gbps.shape[0])
    before = network_step(t.world, t.state, routing, 1.0, noise, 1.0, params)
    t.state.network.link_down[0] += 1  # in place, as some faults do
    after = network_step(t.world, t.state, routing, 1.0, noise, 1.0, params)
    assert before.arc_capacity[0] > 0 and after.arc_capacity[0] == 0 and after.arc_capacity[1] == 0
    t.state.network.link_down[0] -= 1
    again = network_step(t.world, t.state, routing, 1.0, noise, 1.0, params)
    assert again.arc_capacity.tobytes() == before.arc_capacity.tobytes()


def test_skipping_a_quiet_sample_changes_no_alert(monkeypatch):
    """Alerts and their pending timers are the same when every sample is evaluated afresh."""
    import twin.sim.monitors as monitors

    def run(forget: bool):
        if forget:
            evaluate = monitors._evaluate

            def fresh(mon, st, now, sample):
                st.alerts.quiet.clear()
                return evaluate(mon, st, now, sample)

            monkeypatch.setattr(monitors, "_evaluate", fresh)
        t = Twin("b2b4-casc1", seed=0)
        t.run(until="40m")
        monkeypatch.undo()
        return t

    kept, fresh = run(False), run(True)
    assert kept.state.alerts.quiet  # quiet samples were seen (and skipped)
    assert kept.alerts().to_csv() == fresh.alerts().to_csv()
    assert kept.state.alerts.open == fresh.state.alerts.open
    for k, v in fresh.state.alerts.pending.items():
        assert kept.state.alerts.pending[k].tobytes() == v.tobytes(), k
