"""The planner: diagnosis, discriminating tests and the operator-mode pre-check, with no notes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from agents.planner import PlannerAgent, candidates_for, reweigh
from twin.belief import Hypothesis
from twin.diagnosis import Diagnosis, Scored
from twin.episode import run_episode
from twin.sim.twin import Twin
from twin.tools import Toolbox


@pytest.fixture(scope="module")
def b2b4_box() -> Toolbox:
    t = Twin("b2b4-casc1", seed=0)
    t.run(until=840)
    return Toolbox(t)


def test_candidates_follow_what_the_hypothesis_blames(b2b4_box: Toolbox) -> None:
    push = Hypothesis("config_push", {"change": "chg-4421", "target": "b4", "plane": "b4"}, 600.0)
    lossy = Hypothesis("link_degraded", {"link": "b2:us-east-us-central", "loss": 0.1}, 600.0)
    tools = {(c["tool"], tuple(c["args"].values())) for c in candidates_for(b2b4_box, [push, lossy])}
    assert ("rollback_change", ("chg-4421",)) in tools
    assert ("drain_link", ("b2:us-east-us-central",)) in tools
    assert ("freeze_te", ()) in tools
    # nothing that neither the hypotheses nor a critical service alert names
    hot = {a.entity for a in b2b4_box.open_alerts() if a.entity_kind == "service" and a.severity == "critical"}
    assert {args[0] for t, args in tools if t == "restart_service"} <= hot
    assert all(c["tool"] in ("restart_service", "scale_service", "rate_limit", "set_retry_budget", "rollback_deploy")
               for c in candidates_for(b2b4_box, []))


def test_service_causes_offer_service_fixes() -> None:
    t = Twin("trainticket-retry-storm", seed=0)
    t.run(until=900)
    box = Toolbox(t)
    entry = next(iter(s for s in box.world.callgraph.services))
    cands = candidates_for(box, [Hypothesis("load_surge", {"service": entry.name, "factor": 2.2}, 300.0)])
    tools = {c["tool"] for c in cands}
    assert {"restart_service", "scale_service", "rate_limit"} <= tools
    limit = next(c for c in cands if c["tool"] == "rate_limit")
    assert limit["args"]["rps"] > 0  # the baseline load the monitors saw, not a guess


def test_reweigh_is_bayes_with_none_of_these_unweighted() -> None:
    a = Hypothesis("link_down", {"link": "x"}, 0.0)
    b = Hypothesis("link_down", {"link": "y"}, 0.0)
    d = Diagnosis.__new__(Diagnosis)
    fields = {f.name for f in dataclasses.fields(Diagnosis)}
    kw = {name: None for name in fields}
    kw["ranked"] = [Scored(a, 1.0, 0.5), Scored(b, 1.0, 0.3), Scored(None, 4.0, 0.2)]
    d = Diagnosis(**kw)
    out = reweigh(d, lambda h: 3.0 if h is b else 1.0)
    p = {s.label: s.probability for s in out.ranked}
    total = 0.5 + 0.9 + 0.2
    assert p[b.label] == pytest.approx(0.9 / total)
    assert p[a.label] == pytest.approx(0.5 / total)
    assert p["none of these"] == pytest.approx(0.2 / total)
    assert out.ranked[0].hypothesis is b


@pytest.mark.slow
def test_the_planner_mitigates_b2b4_without_notes_and_never_applies_a_harmful_verdict() -> None:
    agent = PlannerAgent()
    ep = run_episode("b2b4-casc1", agent, seed=0)
    assert ep.mitigated
    assert agent.decisions, "the planner pre-checked nothing"
    chosen = [d for d in agent.decisions if d["chosen"]]
    assert chosen and all(d["verdict"] != "harmful" and d["p_harm"] <= agent.max_p_harm for d in chosen)
    # it blamed the push, from the evidence alone
    assert agent.root_cause and "chg-4421" in agent.root_cause["statement"]


def test_the_planner_does_nothing_when_nothing_is_wrong() -> None:
    """No alert, no diagnosis, no mitigation: a quiet network is left alone."""
    from twin.belief import operator_scenario
    from twin.scenario import load_scenario

    sc = operator_scenario(load_scenario("b2b4-casc1"))
    t = Twin(sc, seed=0)
    t.run(until=600)
    box = Toolbox(t)
    agent = PlannerAgent(max_rounds=2)
    agent.reset(box, np.random.default_rng(0))
    for _ in range(6):
        call = agent.act(box)
        if call is None:
            break
        box.call(*call)
    assert box.mitigations_applied == []


@pytest.mark.slow
def test_the_planners_prechecks_are_put_to_the_oracle() -> None:
    """Every operator-mode pre-check is recorded with the sandbox as it was, so scoring can ask
    the oracle the same question: verdicts and the Brier score of P(harm) come out."""
    from twin.evaluate import agreement_table, oracle_agreement
    from twin.replay import replay_with_agent

    run = replay_with_agent("b2b4-casc1", PlannerAgent(), seed=0, who="planner")
    assert run.prechecks and all(rec.sandbox.now == rec.at for rec in run.prechecks)
    pairs = oracle_agreement([{"agent": "planner", "scenario": "b2b4-casc1", "seed": 0, "_run": run}])
    assert pairs and {p["oracle"] for p in pairs} <= {"safe", "risky", "harmful"}
    assert all(p["brier"] is None or 0.0 <= p["brier"] <= 1.0 for p in pairs)
    # the freeze the planner applied is not harmful in the sandbox either
    assert any(p["candidate"].startswith("freeze_te") and not p["oracle_harmful"] for p in pairs)
    assert agreement_table(pairs).row_count == 1
