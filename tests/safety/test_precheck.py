"""Acceptance 1: on b2b4-casc1 at the height of the incident, freezing TE is safe and beats doing
nothing; draining the overloaded B2 link is harmful and the explanation cites the figures."""

import json
import re

import pytest

from twin.safety import Mitigation, Report, precheck, rank


@pytest.fixture(scope="module")
def ranking(casc12):
    return rank(casc12, ["freeze_te", "drain_link b2:us-east-us-central", {"tool": "override_te", "args": {"plane": "b4"}}],
                draws=8, rng=0)


def _by_label(reports, label):
    return next(r for r in reports if r.label == label)


def test_freeze_te_is_safe_and_better_than_nothing(ranking):
    r = _by_label(ranking, "freeze_te")
    assert r.verdict == "safe", r.explanation
    assert r.figures["impact_minutes"].mean < r.baseline["impact_minutes"].mean
    assert r.figures["slo_minutes"].mean < r.baseline["slo_minutes"].mean
    assert r.preapproved and r.auto_approvable


def test_draining_overloaded_b2_link_is_harmful_and_cites_figures(ranking):
    r = _by_label(ranking, "drain_link b2:us-east-us-central")
    assert r.verdict == "harmful"
    assert "draining b2:us-east-us-central" in r.explanation
    assert re.search(r"B2 loss rises from \d+(\.\d)?% to \d+(\.\d)?%", r.explanation), r.explanation
    assert re.search(r"impact \d+\.\d vs \d+\.\d impact-minutes", r.explanation)
    assert re.search(r"(\d+|no) new alerts?", r.explanation)
    assert r.reasons


def test_rank_orders_safe_before_harmful(ranking):
    verdicts = [r.verdict for r in ranking]
    assert verdicts[-1] == "harmful"
    assert ranking[0].verdict == "safe"
    order = {"safe": 0, "risky": 1, "harmful": 2}
    assert [order[v] for v in verdicts] == sorted(order[v] for v in verdicts)


def test_report_is_frozen_with_json_form(ranking):
    r = ranking[0]
    assert isinstance(r, Report)
    data = json.loads(r.to_json())
    assert data["verdict"] == r.verdict
    assert set(data["figures"]["slo_minutes"]) == {"mean", "p10", "p90", "min", "max"}
    assert len(data["per_draw"]) == 8
    for key in ("user_throughput_p50_mbps", "interdc_fct_p90_ms", "peak_utilisation", "peak_loss", "new_alerts"):
        assert key in data["figures"]
    with pytest.raises(AttributeError):
        r.verdict = "safe"  # type: ignore[misc]


def test_common_random_numbers_make_reports_reproducible(casc12):
    a = precheck(casc12, Mitigation("freeze_te"), draws=3, horizon="10m", rng=5)
    b = precheck(casc12, "freeze_te", draws=3, horizon="10m", rng=5)
    assert a.to_dict()["figures"] == b.to_dict()["figures"]
    assert [d.baseline for d in a.per_draw] == [d.baseline for d in b.per_draw]
    assert a.per_draw[0].demand_factor == 1.0 and a.per_draw[0].delay_s == 0 and a.per_draw[0].failure is None


def test_connection_level_figures_are_worse_under_loss(ranking):
    r = _by_label(ranking, "freeze_te")
    assert r.figures["user_throughput_p50_mbps"].mean > r.baseline["user_throughput_p50_mbps"].mean
    assert r.figures["user_fct_p90_ms"].mean < r.baseline["user_fct_p90_ms"].mean
