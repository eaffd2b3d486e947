"""The batched pre-check gives the reports that simulating each future alone gave.

``data/rank_golden.json`` and ``data/operator_rank_golden.json`` were recorded with the
one-future-at-a-time pre-check (before :mod:`twin.safety.futures`); every verdict, figure,
failure, explanation and P(harm) must come out the same: exactly, floats to 1e-9 relative
(:mod:`tests.approx`: numpy's exp/log loops differ by CPU in the last bit, so a golden recorded
on one host holds to ~1e-15 on another; on one host the numbers are the same to the bit).
They were re-recorded (``tests/record_goldens.py``) once, when the tick's stages became compiled
kernels whose exp/log differ from numpy's in the last bit: 88 floats moved, by at most 1.7e-14
relative, and no verdict or text. Since then they are regression oracles; that batching changes
nothing is checked without them, by the batched-against-one-by-one tests below.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.safety import rank
from twin.safety.precheck import plan_draws
from tests.approx import assert_same

DATA = Path(__file__).parent / "data"


def _portable(x):
    """Reports name the policy file by its absolute path; the golden files hold its name alone,
    so they hold in any checkout."""
    if isinstance(x, dict):
        return {k: Path(v).name if k == "source" and isinstance(v, str) else _portable(v) for k, v in x.items()}
    if isinstance(x, list):
        return [_portable(v) for v in x]
    return x


def _plain(reports) -> list[dict]:
    out = [_portable(json.loads(r.to_json())) for r in reports]
    for r in out:
        r.pop("elapsed_s", None)
    return out


@pytest.mark.parametrize("name", ["b2b4-casc1", "sockshop-cpu-hog"])
def test_rank_equals_the_reports_recorded_one_future_at_a_time(name: str) -> None:
    case = json.loads((DATA / "rank_golden.json").read_text())[name]
    t = Twin(load_scenario(name))
    t.run(until=case["at"])
    got = _plain(rank(t, case["candidates"], horizon=1800, draws=case["draws"], workers=1))
    assert_same(got, case["reports"])


def test_rank_does_not_depend_on_the_workers() -> None:
    case = json.loads((DATA / "rank_golden.json").read_text())["sockshop-cpu-hog"]
    t = Twin(load_scenario("sockshop-cpu-hog"))
    t.run(until=case["at"])
    got = _plain(rank(t, case["candidates"], horizon=1800, draws=case["draws"], workers=2))
    assert_same(got, case["reports"])


@pytest.mark.parametrize("workers", [1, 2])
def test_operator_rank_equals_the_reports_recorded_one_future_at_a_time(workers: int) -> None:
    from twin.belief import operator_scenario
    from twin.diagnosis import diagnose
    from twin.safety.operator import operator_rank

    case = json.loads((DATA / "operator_rank_golden.json").read_text())
    sc = load_scenario("b2b4-casc1")
    t = Twin(sc)
    t.run(until=case["at"])
    d = diagnose(sc, case["at"], twin=t)
    reports = operator_rank(operator_scenario(sc), d.evidence, d, case["candidates"], horizon=1800,
                            draws=case["draws"], k=case["k"], workers=workers)
    got = [_portable(json.loads(json.dumps(r.to_dict(), default=str))) for r in reports]
    for r in got:
        r.pop("elapsed_s", None)
    assert_same(got, case["reports"])


def test_a_reseeded_batch_member_draws_what_a_solo_draw_fork_draws() -> None:
    t = Twin(load_scenario("b2b4-casc1"))
    t.run(until=600)
    draws = plan_draws(5, 3)
    batch = t.fork_batch(len(draws))
    for member, draw in zip(batch.members, draws):
        member.reseed(draw.seed)
    batch.run(until=900)
    for member, draw in zip(batch.members, draws):
        solo = t.fork()
        solo.reseed(draw.seed)
        solo.run(until=900)
        assert np.array_equal(member.state.rng.random(4), solo.state.rng.random(4))
        assert [s.kpi for s in member.telemetry.window()] == [s.kpi for s in solo.telemetry.window()]


def test_futures_one_by_one_equal_the_batch() -> None:
    from twin.safety.futures import Trial, run_trials
    from twin.safety.mitigation import parse_mitigation

    t = Twin(load_scenario("b2b4-casc1"))
    t.run(until=720)
    draws = plan_draws(3, 3)
    trials = [Trial(m, d) for m in (parse_mitigation(t, "freeze_te"), None) for d in range(3)]
    batched = run_trials(t, draws, trials, t.now + 900, 300.0, batched=True)
    alone = run_trials(t, draws, trials, t.now + 900, 300.0, batched=False)
    assert [(r[0].values, r[1].values, r[2], r[3], r[4]) for r in batched] == \
        [(r[0].values, r[1].values, r[2], r[3], r[4]) for r in alone]


@pytest.mark.parametrize("workers", [1, 2])
def test_operator_rank_over_several_hypotheses_equals_the_reports_recorded_one_hypothesis_at_a_time(
        workers: int) -> None:
    """Three kept hypotheses (``min_p=0``; one of them cannot take the rollback), their futures in
    one batch: the reports recorded when each hypothesis's twin and futures ran on their own."""
    from twin.belief import operator_scenario
    from twin.diagnosis import diagnose
    from twin.safety.operator import operator_rank

    case = json.loads((DATA / "operator_rank_hypotheses_golden.json").read_text())
    sc = load_scenario(case["scenario"])
    t = Twin(sc)
    t.run(until=case["at"])
    d = diagnose(sc, case["at"], twin=t)
    reports = operator_rank(operator_scenario(sc), d.evidence, d, case["candidates"], horizon=1800,
                            draws=case["draws"], k=case["k"], min_p=case["min_p"], workers=workers)
    got = [_portable(json.loads(json.dumps(r.to_dict(), default=str))) for r in reports]
    for r in got:
        r.pop("elapsed_s", None)
    assert [len(r["hypotheses"]) for r in got] == [3, 3, 3]
    assert_same(got, case["reports"])


def test_futures_of_several_presents_in_one_batch_equal_each_present_alone() -> None:
    from twin.belief import Hypothesis, belief_twin, belief_twins, operator_scenario
    from twin.safety.futures import Trial, run_trials
    from twin.safety.mitigation import parse_mitigation

    base = operator_scenario(load_scenario("b2b4-casc1"))
    hyps = [Hypothesis("link_down", {"link": "b4:us-east-us-central"}, 600.0), None]
    presents = belief_twins(base, hyps, 720.0)
    draws = plan_draws(3, 3)
    ms = (parse_mitigation(presents[0], "freeze_te"), None)
    trials = [Trial(m, d, p) for p in range(2) for m in ms for d in range(3)]
    together = run_trials(presents, draws, trials, 720.0 + 900, 300.0, batched=True)
    alone = [r for h in hyps for r in run_trials(belief_twin(base, h, 720.0), draws,
                                                  [Trial(m, d) for m in ms for d in range(3)], 720.0 + 900, 300.0,
                                                  batched=False)]
    assert [(r[0].values, r[1].values, r[2], r[3], r[4]) for r in together] == \
        [(r[0].values, r[1].values, r[2], r[3], r[4]) for r in alone]


def test_presents_must_share_a_time_and_a_world_and_trials_name_one() -> None:
    from twin.errors import SafetyError
    from twin.safety.futures import Trial, run_trials

    a, b = Twin(load_scenario("sockshop-cpu-hog")), Twin(load_scenario("sockshop-cpu-hog"))
    a.run(until=60)
    b.run(until=60)
    draws = plan_draws(0, 1)
    with pytest.raises(SafetyError, match="another world"):
        run_trials([a, b], draws, [Trial(None, 0, 1)], 120.0, 30.0)
    with pytest.raises(SafetyError, match="at 120 s"):
        run_trials([a, _ran(a.fork(), 120.0)], draws, [Trial(None, 0)], 180.0, 30.0)
    with pytest.raises(SafetyError, match=r"Trial.present .*got 2"):
        run_trials([a, a.fork()], draws, [Trial(None, 0, 2)], 120.0, 30.0)


def _ran(t: Twin, until: float) -> Twin:
    t.run(until=until)
    return t
