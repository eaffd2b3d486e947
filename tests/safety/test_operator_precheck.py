"""The pre-check under uncertainty (twin.safety.operator): trialled on belief twins, never the sandbox."""

import pytest

from twin import Twin, load_scenario
from twin.belief import Hypothesis, operator_scenario
from twin.diagnosis import Diagnosis, Scored, diagnose
from twin.errors import PolicyError
from twin.safety import rank
from twin.safety.operator import operator_precheck, operator_rank
from twin.safety.policy import parse_policy
from twin.scenario import parse_scenario

AT = 840.0  # 14 minutes: B2 is lossy, the TE controller has moved B4's traffic onto it
MAIN = ["freeze_te", "drain_link b2:us-east-us-central", "rollback_change chg-4421"]
QUICK = {"draws": 2, "horizon": 600.0, "rng": 7}


@pytest.fixture(scope="module")
def casc():
    sc = load_scenario("b2b4-casc1")
    t = Twin(sc)
    t.run(until=AT)
    return sc, t, diagnose(sc, AT, twin=t)


@pytest.fixture(scope="module")
def operator_reports(casc):
    sc, _, d = casc
    return operator_rank(operator_scenario(sc), d.evidence, d, MAIN, **QUICK)


def _verdicts(reports):
    return {r.label: r.verdict for r in reports}


def test_operator_mode_agrees_with_the_oracle_on_the_main_candidates(casc, operator_reports):
    _, t, _ = casc
    oracle = _verdicts(rank(t, MAIN, **QUICK))
    assert _verdicts(operator_reports) == oracle
    assert oracle["drain_link b2:us-east-us-central"] == "harmful" and oracle["freeze_te"] != "harmful"


def test_probabilities_and_report_shape(operator_reports):
    import json

    for r in operator_reports:
        assert 0.0 <= r.p_harm <= 1.0 and 0.0 <= r.p_no_effect <= 1.0 and r.p_harm + r.p_no_effect <= 1.0
        assert r.impact.p10 <= r.impact.mean <= r.impact.p90 or r.impact.p10 == r.impact.p90
        assert r.worst_hypothesis is not None and r.hypotheses
        assert abs(sum(h.probability for h in r.hypotheses) - 1.0) < 1e-9
        json.dumps(r.to_dict())
    drain = next(r for r in operator_reports if r.label.startswith("drain_link"))
    assert drain.p_harm == 1.0 and "P(harm) 100%" in drain.explanation


def test_a_split_posterior_mixes_p_harm_by_weight(casc):
    sc, _, d = casc
    ev = d.evidence
    cause = next(s.hypothesis for s in d.ranked if s.hypothesis is not None)
    other = Hypothesis("link_down", {"link": "b2:us-east-us-central"}, 600.0)
    split = Diagnosis(ev, [Scored(cause, 0.1, 0.54), Scored(other, 0.5, 0.36), Scored(None, 4.0, 0.1)])
    kw = dict(QUICK, horizon=300.0)
    mixed = operator_rank(operator_scenario(sc), ev, split, ["drain_link b4:us-east-us-central"], **kw)[0]
    alone = [operator_rank(operator_scenario(sc), ev, Diagnosis(ev, [Scored(h, 0.1, 1.0)]),
                           ["drain_link b4:us-east-us-central"], **kw)[0] for h in (cause, other)]
    assert [h.probability for h in mixed.hypotheses] == pytest.approx([0.6, 0.4])
    assert mixed.unexplained == pytest.approx(0.1)
    assert [h.p_harm for h in mixed.hypotheses] == pytest.approx([a.p_harm for a in alone])
    assert mixed.p_harm == pytest.approx(0.6 * alone[0].p_harm + 0.4 * alone[1].p_harm)
    assert mixed.impact.mean == pytest.approx(0.6 * alone[0].impact.mean + 0.4 * alone[1].impact.mean)
    assert alone[0].p_harm != alone[1].p_harm or alone[0].impact.mean != alone[1].impact.mean  # the mix is a mix


def test_none_of_these_makes_every_candidate_risky(casc):
    sc, _, d = casc
    blind = Diagnosis(d.evidence, [Scored(None, 4.0, 1.0)])
    reports = operator_rank(operator_scenario(sc), d.evidence, blind, MAIN, **QUICK)
    assert {r.verdict for r in reports} == {"risky"}
    assert all(r.p_harm is None and "cannot tell what broke" in r.explanation for r in reports)


def test_the_report_does_not_depend_on_the_sandbox_fault():
    sc = load_scenario("b2b4-casc1")
    data = sc.model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)
    data["faults"][0]["id"] = "renamed-fault"
    data["faults"][0]["params"]["description"] = "a description only the sandbox holds"
    data["ground_truth"]["root_cause"]["fault"] = "renamed-fault"
    data["ground_truth"]["root_cause"]["summary"] = "something else entirely"
    other = parse_scenario(data, "b2b4-casc1 (renamed fault)")
    kw = dict(QUICK, horizon=300.0)

    def plain(reports):
        return [{k: v for k, v in r.to_dict().items() if k != "elapsed_s"} for r in reports]

    a = operator_precheck(sc, AT, MAIN[:2], **kw)[1]
    b = operator_precheck(other, AT, MAIN[:2], **kw)[1]
    assert plain(a) == plain(b)


def test_policy_operator_section_is_validated():
    p = parse_policy({"operator": {"harm_probability": 0.4, "risk_probability": 0.1}})
    assert p.operator.harm_probability == 0.4 and p.operator.max_unexplained == 0.5
    for bad, field in (({"harm_probabilty": 0.3}, "operator.harm_probabilty"),
                       ({"harm_probability": 1.5}, "operator.harm_probability"),
                       ({"risk_probability": 0.5, "harm_probability": 0.2}, "operator.risk_probability"),
                       ("high", "operator")):
        with pytest.raises(PolicyError) as exc:
            parse_policy({"operator": bad}, "p.yaml")
        assert field in str(exc.value)
