"""Acceptance 4: unknown kinds and entities are rejected naming them and the allowed values; a bad
policy file is rejected naming the file and the field."""

import pytest

from twin.errors import PolicyError, SafetyError, TwinError
from twin.safety import load_policy, precheck, rank


@pytest.mark.parametrize("bad, named, allowed", [
    ("reboot_the_internet", "reboot_the_internet", "drain_link"),
    ({"tool": "teleport", "args": {}}, "teleport", "freeze_te"),
    ("drain_link b7:nowhere", "b7:nowhere", "b2:us-east-us-central"),
    ({"tool": "drain_device", "args": {"device": "r2d2"}}, "r2d2", "b2-us-east"),
    ("override_te b9", "b9", "b4"),
    ({"tool": "drain_link", "args": {"wire": "x"}}, "wire", "link"),
])
def test_unknown_kind_or_entity_is_rejected(casc12, bad, named, allowed):
    with pytest.raises(SafetyError) as err:
        precheck(casc12, bad, draws=1, horizon=60)
    assert named in str(err.value) and allowed in str(err.value)
    assert isinstance(err.value, TwinError)


def test_rank_validates_before_simulating(casc12):
    with pytest.raises(SafetyError, match="nope"):
        rank(casc12, ["freeze_te", "nope"], draws=1, horizon=60)


@pytest.mark.parametrize("text, field, hint", [
    ("thresholds: {peak_loss: -0.1}\n", "thresholds.peak_loss", "non-negative"),
    ("thresholds: {peak_loss: lots}\n", "thresholds.peak_loss", "non-negative number"),
    ("thresholds: {happiness: 3}\n", "thresholds.happiness", "slo_minutes"),
    ("margins: {impact_minutes: [1]}\n", "margins.impact_minutes", "number"),
    ("statistic: median\n", "statistic", "mean, p90, max"),
    ("preapproved: [yolo]\n", "preapproved[0]", "freeze_te"),
    ("vibes: 1\n", "vibes", "thresholds"),
])
def test_bad_policy_file_names_file_and_field(tmp_path, casc12, text, field, hint):
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(PolicyError) as err:
        load_policy(path)
    assert err.value.source == str(path) and err.value.field == field
    assert str(path) in str(err.value) and field in str(err.value) and hint in str(err.value)
    with pytest.raises(PolicyError):
        precheck(casc12, "freeze_te", draws=1, horizon=60, policy=str(path))


def test_default_policy_loads():
    p = load_policy()
    assert p.thresholds and p.margins and "freeze_te" in p.preapproved


def test_bad_horizon_and_draws(casc12):
    with pytest.raises(SafetyError):
        precheck(casc12, "freeze_te", draws=0)
    with pytest.raises(SafetyError):
        precheck(casc12, "freeze_te", horizon=0)
