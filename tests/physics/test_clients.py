"""Network clients that retry: loss on the path becomes offered load next tick (twin.physics.clients)."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin
from twin.physics.clients import RetryPolicy, next_amplification, retry_amplification
from twin.scenario import parse_scenario


def _scenario(retries: dict | None, surge: float = 2.0):
    """Two sites, one 100 Gbps link, 60 Gbps of inter-DC traffic that surges at 5m."""
    kinds = {"interdc": {"retries": retries}} if retries is not None else {}
    return parse_scenario({
        "name": "retry-test", "description": "a surge on one link", "duration": "20m", "tick": "30s", "seed": 3,
        "topology": {"sites": [{"name": "a"}, {"name": "b"}],
                     "planes": [{"name": "wan", "links": [{"a": "a", "b": "b", "capacity_gbps": 100}]}]},
        "traffic": {"planes": {"user": "wan", "interdc": "wan"}, "noise": 0.0, "diurnal": {"amplitude": 0.0},
                    "demands": [{"src": "a", "dst": "b", "class": "interdc", "gbps": 60}], "kinds": kinds},
        "faults": [{"id": "surge", "kind": "traffic_surge", "at": "5m", "params": {"class": "interdc", "factor": surge}}],
    }, "retry-test")


def _settled(retries: dict | None, surge: float = 2.0) -> tuple[float, float]:
    """Offered inter-DC load (Gbps, retries included) and its loss once the surge has settled."""
    t = Twin(_scenario(retries, surge))
    t.run(until="15m")
    kpi = t.telemetry.kpis().iloc[-1]
    return float(kpi["interdc_gbps"]), float(kpi["interdc_loss"])


def test_amplification_is_the_expected_attempts_per_request():
    p = RetryPolicy(max_retries=2)
    assert retry_amplification(np.array([0.0, 0.5, 1.0]), p) == pytest.approx([1.0, 1.75, 3.0])
    assert retry_amplification(np.array([0.5]), RetryPolicy(max_retries=0)) == pytest.approx([1.0])
    assert retry_amplification(np.array([0.9]), RetryPolicy(max_retries=3, budget=0.25)) == pytest.approx([1.25])


def test_backoff_spreads_retries_over_later_ticks():
    loss = np.array([0.5, 0.0])  # (pair 0: user, interdc)
    now = next_amplification(np.ones(2), loss, (RetryPolicy(3, backoff_s=0.0), None), tick_s=30.0)
    slow = next_amplification(np.ones(2), loss, (RetryPolicy(3, backoff_s=60.0), None), tick_s=30.0)
    assert now[0] == pytest.approx(1.875) and now[1] == 1.0
    assert 1.0 < slow[0] < now[0]
    again = next_amplification(slow, loss, (RetryPolicy(3, backoff_s=60.0), None), tick_s=30.0)
    assert slow[0] < again[0] < now[0]


def test_retrying_clients_turn_a_surge_into_more_load_and_more_loss():
    plain_load, plain_loss = _settled(None)
    retry_load, retry_loss = _settled({"max": 3})
    assert plain_loss > 0.1  # 120 Gbps offered on about 97 of payload
    assert retry_load > 1.2 * plain_load
    assert retry_loss > plain_loss + 0.1


def test_a_tight_retry_budget_amplifies_less():
    free_load, free_loss = _settled({"max": 3})
    tight_load, tight_loss = _settled({"max": 3, "budget": 0.05})
    plain_load, _ = _settled(None)
    assert plain_load < tight_load <= plain_load * 1.05 + 1e-6 < free_load
    assert tight_loss < free_loss


def test_no_loss_no_amplification():
    t = Twin(_scenario({"max": 3}, surge=1.2))  # 72 Gbps on 100: no loss
    t.run(until="15m")
    kpi = t.telemetry.kpis()
    assert (kpi["interdc_loss"] == 0).all()
    assert kpi["interdc_gbps"].iloc[-1] == pytest.approx(72.0)
    assert np.all(t.state.network.retry_amp == 1.0)


def test_retries_stop_when_the_surge_ends():
    """Nothing metastable on this link: once the surge is gone, the loss and the retries go too."""
    sc = _scenario({"max": 3})
    sc.faults[0].duration = 300.0
    t = Twin(sc)
    t.run(until="20m")
    kpi = t.telemetry.kpis()
    assert kpi.loc[600.0, "interdc_loss"] > 0.1
    assert kpi["interdc_loss"].iloc[-1] == 0 and kpi["interdc_gbps"].iloc[-1] == pytest.approx(60.0)


def test_aws_retries_come_from_the_clients_not_a_fault():
    t = Twin("aws-us-east-1-2021-12-07")
    assert [f.id for f in t.scenario.faults] == ["scaling-surge"]
    t.run(until="30m")
    amp = t.state.network.retry_amp.reshape(-1, 2)
    assert amp[:, 1].max() > 1.3  # inter-DC clients retry what the congested bridge loses
    assert np.all(amp[:, 0] == 1.0)  # user traffic has no retry policy
