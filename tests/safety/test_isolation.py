"""Acceptance 3: a pre-check never changes the twin it was given."""

import pickle

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twin import Twin, load_scenario
from twin.safety import precheck
from twin.sim.actions import ACTIONS, entity_names

_TWIN = Twin(load_scenario("b2b4-casc1"))
_TWIN.run(until="12m")


@st.composite
def mitigations(draw):
    usable = [k for k, spec in sorted(ACTIONS.items())
              if all(e in ("count", "number", "fraction") or entity_names(_TWIN.world, _TWIN.state, e) for e in spec.params.values())]
    kind = draw(st.sampled_from(usable))
    args = {}
    for name, ekind in ACTIONS[kind].params.items():
        if ekind == "count":
            args[name] = draw(st.integers(1, 8))
        elif ekind == "number":
            args[name] = draw(st.floats(1.0, 1000.0))
        elif ekind == "fraction":
            args[name] = draw(st.floats(0.0, 1.0))
        else:
            names = entity_names(_TWIN.world, _TWIN.state, ekind)
            args[name] = draw(st.sampled_from(names))
    return {"tool": kind, "args": args}


def _snapshot(t):
    latest = t.telemetry.latest()
    return (pickle.dumps(t.state), t.now, len(t.telemetry.samples), len(t.telemetry.events),
            latest.t, latest.link.tobytes(), latest.service.tobytes(), latest.device.tobytes(), dict(latest.kpi),
            t.alerts().to_json())


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mitigations())
def test_precheck_never_mutates_the_twin(m):
    before = _snapshot(_TWIN)
    report = precheck(_TWIN, m, draws=2, horizon="5m", rng=1)
    assert report.verdict in ("safe", "risky", "harmful")
    after = _snapshot(_TWIN)
    assert before == after
    assert np.array_equal(_TWIN.state.network.link_down, pickle.loads(before[0]).network.link_down)
