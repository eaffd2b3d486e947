"""Labels computed by running candidates against doing nothing (issue 12): the hand labels
become a check on the model, never the answer."""

from __future__ import annotations

from twin.labels import agreement, derive_labels


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
