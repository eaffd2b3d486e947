"""Scoring is counterfactual: "mitigated" means restoring the SLOs earlier than doing nothing
would (same scenario, same seed), so an agent that changes nothing scores 0 (issue 12)."""

from __future__ import annotations

import pytest

from twin import load_scenario
from twin.evaluate import select_scenarios
from twin.replay import no_action_run, reference_run, replay_paths, replay_with_agent, score

from one_action import OneAction


class SitsStill:
    """Takes no action at all."""

    name = "sits-still"

    def reset(self, toolbox, rng) -> None:
        pass

    def act(self, toolbox):
        return None


def UnfreezesTE() -> OneAction:  # noqa: N802 - reads as the agent it builds
    """Busy but useless: its only action is to unfreeze a TE controller nobody froze."""
    return OneAction("unfreeze-te", "unfreeze_te")


SCENARIOS = select_scenarios("all")


@pytest.mark.slow
@pytest.mark.parametrize("name", SCENARIOS)
def test_a_no_op_agent_scores_zero_mitigated(name):
    sc = load_scenario(name)
    baseline = no_action_run(sc, sc.seed)
    for agent in (SitsStill(), UnfreezesTE()):
        run = replay_with_agent(sc, agent, sc.seed)
        s = score(run, sc, baseline, baseline=baseline)
        assert not s.mitigated and s.ttm is None, f"{name}: {agent.name} scored as mitigating"


def test_faults_that_end_by_themselves_are_not_credited():
    # b2b4-casc1's fault clears on its own: without the counterfactual a no-op "mitigated" it
    sc = load_scenario("b2b4-casc1")
    # the fault clears about 5 minutes before the file's end: 10 more minutes keep the clean
    # window after it from hanging on when monitors first alert (the no-op's timing)
    sc = sc.model_copy(update={"duration": sc.duration + 600})
    baseline = no_action_run(sc, sc.seed)
    run = replay_with_agent(sc, UnfreezesTE(), sc.seed)
    assert run.mitigated  # the SLOs did come back within the run
    assert not score(run, sc, baseline, baseline=baseline).mitigated


@pytest.mark.parametrize("name", sorted(replay_paths()))
def test_the_operators_mitigate_earlier_than_doing_nothing(name):
    sc = load_scenario(name)
    ops = reference_run(name, sc.seed)
    baseline = no_action_run(sc, sc.seed)
    assert score(ops, sc, ops, baseline=baseline).mitigated, name
