"""Labels computed by running candidates against doing nothing (issue 12): the hand labels
become a check on the model, never the answer."""

from __future__ import annotations

import pytest

from twin.labels import agreement, derive_labels, labeller
from twin.replay import replay_paths

from one_action import OneAction


def test_b2b4_fix_is_effective_and_b2_drains_harm():
    labels = {lb.text: lb for lb in derive_labels("b2b4-casc1", horizon=1800)}
    for fix in ("freeze_te", "override_te b4", "rollback_change chg-4421"):  # what the operators could do
        assert labels[fix].label == "effective", labels[fix]
        assert labels[fix].restored_at is not None
    assert labels["drain_link b2:us-east-us-central"].label == "harmful"
    assert labels["unfreeze_te"].label == "no effect"  # the no-op: nothing to unfreeze
    assert agreement(list(labels.values())) == (6, 6)


def test_a_candidate_is_judged_against_the_same_incident_left_alone():
    labels = derive_labels("b2b4-casc1", horizon=1800)
    baselines = {(lb.baseline_restored_at, lb.baseline_impact_minutes) for lb in labels}
    assert len(baselines) == 1  # one counterfactual for every candidate
    (restored, impact), = baselines
    assert impact > 5  # left alone, the incident hurts for a long time


def test_scoring_counts_harm_from_the_derived_labels_not_the_hand_lists():
    from twin import load_scenario
    from twin.replay import no_action_run, replay_with_agent, score

    sc = load_scenario("b2b4-casc1")
    link = "b2:us-east-eu-west"
    assert all(ref.args.get("link") != link for ref in sc.ground_truth.harmful)  # not hand-labelled
    baseline = no_action_run(sc, sc.seed)
    agent = OneAction("drains", "drain_link", {"link": link})  # nobody hand-labelled this link
    s = score(replay_with_agent(sc, agent, sc.seed), sc, baseline, baseline=baseline)
    assert s.harmful_applied == 1 and not s.mitigation_matches and not s.mitigated


def test_labels_command_tables_hand_against_derived(tmp_path):
    import json
    import os
    import subprocess
    import sys

    out = tmp_path / "labels.json"
    proc = subprocess.run([sys.executable, "-m", "twin", "labels", "b2b4-casc1", "--horizon", "30m",
                           "--out", str(out)], capture_output=True, text=True, env={**os.environ, "COLUMNS": "140"})
    assert proc.returncode == 0, proc.stderr
    assert "confirms: 6 of 6" in proc.stdout
    rows = {(r["tool"], tuple(r["args"].values())): r for r in json.loads(out.read_text())["labels"]}
    assert rows[("freeze_te", ())]["derived"] == "effective" and rows[("freeze_te", ())]["hand"] == "effective"
    bad = subprocess.run([sys.executable, "-m", "twin", "labels", "no-such-incident"], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


#: Replays whose post-mortem fix is a sequence no single action reproduces, and why.
SEQUENCES = {
    "trainticket-retry-storm": "the operators limit the entry hard and raise the limit 3 minutes later; held on "
                               "its own the hard limit turns away the users it protects (the whole timeline "
                               "mitigates: test_the_operators_mitigate_earlier_than_doing_nothing)",
}


def _post_mortem_fixes(name: str) -> list[tuple[str, dict]]:
    from twin import load_scenario
    from twin.replay import load_replay

    rep = load_replay(name)
    hand = load_scenario(rep.scenario).ground_truth.effective
    return [(a.tool, dict(a.args)) for a in rep.timeline
            if any(a.tool == r.tool and all(a.args.get(k) == v for k, v in r.args.items()) for r in hand)]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(set(replay_paths()) - set(SEQUENCES)))
def test_the_post_mortems_fix_comes_out_effective(name):
    """The check the hand labels become: what the operators applied, and the post-mortem calls
    the fix, must work on the twin too (applied at detection, against doing nothing)."""
    from twin.replay import load_replay

    fixes = _post_mortem_fixes(name)
    assert fixes, f"{name}: the replay applies none of the scenario's hand-labelled fixes"
    lab = labeller(load_replay(name).scenario)
    derived = {f"{t} {a}": lab.label(t, a).label for t, a in fixes}
    assert any(v in ("effective", "helps") for v in derived.values()), (name, derived)


@pytest.mark.parametrize("name", sorted(SEQUENCES))
def test_a_fix_no_single_action_reproduces_is_listed_with_its_reason(name):
    assert name in replay_paths() and len(SEQUENCES[name]) > 40
