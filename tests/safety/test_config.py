"""Acceptance 5: config changes render as IOS diffs and are verified; with no Batfish service
named the report says so plainly and shows the embedded result."""

import os

import pytest

from twin.config import ConfigChange, parse_change, render_all, verify
from twin.errors import SafetyError
from twin.safety import precheck


def test_rendered_configs_are_ios(casc12):
    configs = render_all(casc12)
    assert "b2-us-east" in configs and "b4-asia-east" in configs
    text = configs["b2-us-east"]
    for needle in ("hostname b2-us-east", "router ospf 1", "router bgp 65000", "ip prefix-list SITE-OUT",
                   "route-map EXPORT permit 10", "ip access-list extended EDGE-IN", "ip ospf cost 12",
                   "interface GigabitEthernet0/0"):
        assert needle in text
    assert render_all(casc12) == configs  # deterministic addressing


@pytest.mark.parametrize("change, touched", [
    ("igp_cost b2:us-east-us-central 500", "+ ip ospf cost 500"),
    ("acl_block b2-us-central 172.16.1.0/24", "+ deny ip any 172.16.1.0 0.0.0.255"),
    ("bgp_shutdown b2-us-east b2-us-west", "shutdown"),
    ("prefix_list b2-us-central 172.16.1.0/24", "+ip prefix-list SITE-OUT seq 5 deny 172.16.1.0/24"),
])
def test_config_change_produces_unified_diff(casc12, change, touched, monkeypatch):
    monkeypatch.delenv("TWIN_BATFISH_HOST", raising=False)
    result = verify(change, casc12)
    assert result.diff.startswith("--- before/")
    assert touched in result.diff
    assert result.batfish_status == "Batfish: not configured"


def test_embedded_check_finds_blocked_and_moved_traffic(casc12, monkeypatch):
    monkeypatch.delenv("TWIN_BATFISH_HOST", raising=False)
    blocked = verify("acl_block b2-us-central 172.16.1.0/24", casc12)
    assert blocked.blocked_gbps > 0 and blocked.embedded["pairs_lost"]
    moved = verify("igp_cost b2:us-east-us-central 500", casc12)
    assert moved.blocked_gbps == 0 and moved.moved_gbps > 0
    assert not moved.embedded["undefined_references"]


def test_config_precheck_says_batfish_not_configured(casc12, monkeypatch):
    monkeypatch.delenv("TWIN_BATFISH_HOST", raising=False)
    report = precheck(casc12, "acl_block b2-us-central 172.16.1.0/24", draws=2, horizon="5m")
    assert "Batfish: not configured" in report.explanation
    assert "Embedded check:" in report.explanation
    assert report.verification["batfish_status"] == "Batfish: not configured"
    assert report.verification["batfish"] is None
    assert report.verification["embedded"]["blocked_gbps"] > 0
    assert report.verdict == "harmful"
    assert any("Gbps blocked" in r for r in report.reasons)
    assert report.config_diff


def test_config_change_that_blocks_nothing_is_not_harmful_by_verification(casc12, monkeypatch):
    monkeypatch.delenv("TWIN_BATFISH_HOST", raising=False)
    report = precheck(casc12, "igp_cost b2:us-east-us-central 500", draws=2, horizon="5m")
    assert report.verification["blocked_gbps"] == 0
    assert not any("Gbps blocked" in r for r in report.reasons)
    assert "Batfish: not configured" in report.explanation


def test_unreachable_batfish_is_reported_not_passed(casc12, monkeypatch):
    monkeypatch.setenv("TWIN_BATFISH_HOST", "127.0.0.1")  # nothing listens on 9996 here
    result = verify(ConfigChange("igp_cost", {"link": "b2:us-east-us-central", "cost": 100}), casc12)
    if result.batfish is not None:
        pytest.skip("a Batfish service is listening on 127.0.0.1")
    assert result.batfish_status == "Batfish: unreachable at 127.0.0.1"
    assert "passed" not in result.summary


def test_bad_config_change_is_rejected(casc12):
    with pytest.raises(SafetyError, match="b2-us-east"):
        parse_change(casc12, "acl_block r9 172.16.0.0/24")
    with pytest.raises(SafetyError, match="not an IPv4 prefix"):
        parse_change(casc12, "acl_block b2-us-east nowhere")
    with pytest.raises(SafetyError, match="1-65535"):
        parse_change(casc12, "igp_cost b2:us-east-us-central 0")


@pytest.mark.batfish
@pytest.mark.skipif(not os.environ.get("TWIN_BATFISH_HOST"), reason="TWIN_BATFISH_HOST not set: no Batfish service named")
def test_batfish_backend_against_live_service(casc12):
    result = verify("igp_cost b2:us-east-us-central 500", casc12)
    assert result.batfish is not None, result.batfish_status
    assert result.batfish["parse_failed"] == []
    assert result.batfish["undefined_references"] == 0
