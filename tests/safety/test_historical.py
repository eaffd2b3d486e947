"""Acceptance 2: for every historical scenario, the operators' final mitigation comes out safe and
a plausible wrong one comes out risky or harmful, trialled 2 minutes after the first fault starts.
(Scoring code: this test may read the fault schedule and ground truth.)"""

import pytest

from twin import ScenarioError, Twin, load_scenario, scenario_paths
from twin.safety import precheck


def _historical():
    out = []
    for name, path in scenario_paths().items():
        try:
            sc = load_scenario(path)
        except ScenarioError:  # an invalid scenario is another test's business
            continue
        if sc.category == "historical" and sc.ground_truth is not None:
            out.append(pytest.param(sc, id=name))
    return out


def _at_incident(sc):
    t = Twin(sc)
    while not any(p == "active" for p in t.state.faults.phase.values()):
        if t.now >= sc.duration:
            pytest.fail(f"{sc.name}: no fault became active within the scenario's duration")
        t.run(until=t.now + sc.tick)
    t.run(until=t.now + 120.0)
    return t


@pytest.mark.parametrize("sc", _historical())
def test_operators_fix_is_safe_and_wrong_fix_is_not(sc):
    gt = sc.ground_truth
    assert gt.effective and gt.harmful, f"{sc.name}: ground truth needs effective and harmful mitigations"
    t = _at_incident(sc)
    good = precheck(t, {"tool": gt.effective[0].tool, "args": gt.effective[0].args}, rng=0)
    assert good.verdict == "safe", good.explanation
    bad = precheck(t, {"tool": gt.harmful[0].tool, "args": gt.harmful[0].args}, rng=0)
    assert bad.verdict in ("risky", "harmful"), bad.explanation
