"""Diagnosis on batches of belief twins ranks what it ranked one twin at a time.

``data/diagnosis_golden.json`` was recorded with every hypothesis simulated on its own belief
twin (before :func:`twin.belief.belief_twins`); labels, misfits, probabilities and alerts must
come out the same: exactly, floats to 1e-9 relative (:mod:`tests.approx`: recorded on another
CPU, numpy's exp/log loops may differ in the last bit).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.belief import Hypothesis, belief_twin, belief_twins, operator_scenario
from twin.diagnosis import diagnose_evidence, evidence
from tests.approx import assert_same

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name, workers", [("b2b4-casc1", 1), ("sockshop-cpu-hog", 1), ("sockshop-cpu-hog", 2)])
def test_diagnosis_equals_the_ranking_recorded_one_twin_at_a_time(name: str, workers: int) -> None:
    case = json.loads((DATA / "diagnosis_golden.json").read_text())[name]
    sc = load_scenario(name)
    t = Twin(sc)
    t.run(until=case["at"])
    d = diagnose_evidence(evidence(t), operator_scenario(sc), workers=workers)
    assert d.simulated == case["simulated"]
    assert list(d.rejected) == case["rejected"]
    assert_same(json.loads(json.dumps([[s.label, s.misfit, s.probability, s.explained, s.missed, s.invented]
                                       for s in d.ranked])), case["ranked"])


@pytest.mark.parametrize("batched", [True, False])
def test_belief_twins_are_the_belief_twins(batched: bool) -> None:
    base = operator_scenario(load_scenario("b2b4-casc1"))
    hyps = [Hypothesis("link_down", {"link": "b4:us-east-us-central"}, 300.0), None,
            Hypothesis("link_down", {"link": "no-such-link"}, 300.0),
            Hypothesis("link_degraded", {"link": "b2:us-east-us-central", "loss": 0.05}, 120.0)]
    actions = [(200.0, "freeze_te", {}), (400.0, "drain_link", {"link": "b2:us-west-us-central"})]
    together = belief_twins(base, hyps, 600.0, actions, batched=batched)
    assert [t is None for t in together] == [False, False, True, False]
    assert len({id(t.world) for t in together if t is not None}) == 1  # one world: a batch can run them
    for h, t in zip(hyps, together):
        alone = belief_twin(base, h, 600.0, actions)
        if t is None:
            assert alone is None
            continue
        assert t.now == alone.now == 600.0
        for a, b in zip(t.telemetry.window(), alone.telemetry.window()):
            assert a.t == b.t and np.array_equal(a.link, b.link, equal_nan=True)
        assert t.events().to_csv(index=False) == alone.events().to_csv(index=False)
        assert t.alerts().to_csv(index=False) == alone.alerts().to_csv(index=False)
