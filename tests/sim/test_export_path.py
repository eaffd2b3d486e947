"""Monitoring that goes dark through the network: samples lost on a congested export path."""

from __future__ import annotations

import pandas as pd
import pytest

from twin import Twin, load_scenario
from twin.scenario import parse_scenario

AWS = "aws-us-east-1-2021-12-07"
SURGE_AT = 300.0


def _aws(export_via: str | None):
    data = load_scenario(AWS).model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)
    data["monitoring"]["device"]["export_via"] = export_via
    return parse_scenario(data, "aws-variant")


def _lost_share(t: Twin, kind: str) -> pd.Series:
    """Per sample time: the share of ``kind`` entities whose sample is missing."""
    frame = t.metrics(kind)
    value = frame.columns[-1]
    return frame[value].isna().groupby(frame["time"]).mean()


@pytest.fixture(scope="module")
def congested():
    t = Twin(AWS)
    t.run(until="1h")
    return t


def test_no_samples_lost_while_the_export_path_is_clean(congested):
    lost = _lost_share(congested, "device")
    assert (lost[lost.index < SURGE_AT] == 0).all()


def test_samples_are_lost_at_the_export_paths_loss_rate(congested):
    lost = _lost_share(congested, "device")
    during = lost[lost.index > SURGE_AT + 60]
    links = congested.metrics("link")
    bridge_loss = links[links["entity"].str.startswith("bridge:")].groupby("time")["loss"].mean()
    expected = bridge_loss[bridge_loss.index > SURGE_AT + 60].mean()
    assert expected > 0.3
    # about 40 ticks of 3 devices each: the share lost sits near the bridge's loss
    assert during.mean() == pytest.approx(expected, abs=0.1)
    # link monitors export elsewhere: the congestion they report reaches the operators whole
    assert not links["loss"].isna().any()


def test_exporting_over_a_clean_plane_loses_nothing():
    t = Twin(_aws("core"))
    t.run(until="30m")
    assert (_lost_share(t, "device") == 0).all()


def test_export_draws_do_not_shift_the_physics():
    with_export, without = Twin(AWS), Twin(_aws(None))
    with_export.run(until="30m")
    without.run(until="30m")
    assert with_export.telemetry.kpis().equals(without.telemetry.kpis())  # the monitors draw apart
    assert _lost_share(without, "device").eq(0).all()


def test_same_seed_same_gaps_and_forks_agree(congested):
    again = Twin(AWS)
    again.run(until="1h")
    assert congested.metrics("device").equals(again.metrics("device"))
    left = Twin(AWS)
    left.run(until="20m")
    right = left.fork()
    left.run(until="40m")
    right.run(until="40m")
    assert left.metrics("device").equals(right.metrics("device"))


def test_aws_monitoring_gaps_come_from_the_network_not_a_fault():
    sc = load_scenario(AWS)
    assert [f.kind for f in sc.faults] == ["traffic_surge"]
    assert sc.monitoring.device.export_via == "bridge"

