"""Monitors that sample: counters read as interval averages, export delay, seeded noise that
leaves the physics alone, gaps (outages, a congested export path), alerts with hysteresis."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin
from twin.errors import ScenarioError
from twin.scenario import parse_scenario
from twin.telemetry.recorder import METRICS, Sample

TPUT = METRICS["link"].index("throughput_gbps")
LOSS = METRICS["link"].index("loss")
ERR = METRICS["service"].index("error_rate")


def _variant(sc, **monitoring):
    data = sc.model_dump(mode="json", by_alias=True, exclude={"path"})
    data["monitoring"] = monitoring
    return parse_scenario(data, "variant.yaml")


def _run(sc, until, seed=1):
    t = Twin(sc, seed=seed)
    t.run(until=until)
    return t, list(t.telemetry.samples)


def test_a_counter_rate_is_the_average_over_its_sampling_interval(b2b4):
    sc = _variant(b2b4, link={"interval": "60s", "delay": 0, "noise": 0, "jitter": 0}, loss_floor=0)
    t, samples = _run(sc, 1500)
    truth = np.stack([s.truth.link[:, TPUT] for s in samples]).astype(float)
    times = np.array([s.t for s in samples])
    checked = 0
    for s in samples:
        at = s.measured_at["link"]
        if at != s.t or at < 60:
            continue
        window = (times > at - 60 + 1e-9) & (times <= at + 1e-9)  # the ticks since the last read
        assert np.allclose(s.link[:, TPUT], truth[window].mean(axis=0), rtol=1e-4, atol=1e-4)
        checked += 1
    assert checked >= 20
    # across the B4 -> B2 move (about 10m40s) an interval average lies between the instants
    moved = [s for s in samples if s.measured_at["link"] == s.t and 600 < s.t < 780]
    assert any(not np.allclose(s.link[:, TPUT], s.truth.link[:, TPUT], rtol=1e-3) for s in moved)


def test_samples_become_visible_after_their_export_delay(b2b4):
    sc = _variant(b2b4, service={"interval": "20s", "delay": "30s"})
    _, samples = _run(sc, 900)
    lags = np.array([s.t - s.measured_at["service"] for s in samples[5:]])
    assert lags.min() == pytest.approx(30.0) and lags.max() == pytest.approx(40.0)  # delay .. delay + interval - tick


def test_noise_is_seeded_and_leaves_the_physics_alone(b2b4):
    quiet = _variant(b2b4, link={"noise": 0, "jitter": 0}, service={"noise": 0, "jitter": 0}, device={"noise": 0, "jitter": 0},
                     error_floor=0, loss_floor=0)
    _, noisy = _run(b2b4, 900)
    _, again = _run(b2b4, 900)
    _, clean = _run(quiet, 900)
    for a, b, c in zip(noisy, again, clean):
        for kind in ("link", "service", "device"):
            assert np.array_equal(getattr(a.truth, kind), getattr(c.truth, kind))  # physics draws unmoved
            assert np.array_equal(getattr(a, kind), getattr(b, kind), equal_nan=True)  # same seed, same noise
        assert a.kpi == c.kpi
    assert any(not np.array_equal(a.service, c.service) for a, c in zip(noisy, clean))


def test_error_rates_show_a_background_before_any_fault(b2b4):
    _, samples = _run(b2b4, 590)  # the push lands at 10m
    err = np.stack([s.service[:, ERR] for s in samples]).astype(float)
    truth = np.stack([s.truth.service[:, ERR] for s in samples]).astype(float)
    assert truth.max() < 1e-4 and (truth == 0).any()  # next to nothing fails in the physics
    assert (err > 0).all() and err.max() < 0.01  # monitors see the small background real systems have


def test_an_outage_silences_its_scope_and_the_next_read_averages_over_the_gap():
    from twin import load_scenario

    sc = load_scenario("novel-monitoring-blindspot")
    quiet = _variant(sc, service={"noise": 0, "jitter": 0, "delay": 0}, error_floor=0)
    t, samples = _run(quiet, 1500)
    fault = next(f for f in sc.faults if f.kind == "monitoring_outage")
    site = fault.params.scope
    rows = t.world.service_site == t.world.site_index[site]
    start = t.state.faults.started[fault.id]
    dark = [s for s in samples if start + 1 < s.t and t.state.faults.phase[fault.id] != "ended"]
    assert dark and all(np.isnan(s.service[rows]).all() for s in dark)
    assert all(not np.isnan(s.service[~rows]).any() for s in dark)  # the rest still reports
    assert all(not np.isnan(s.truth.service).any() for s in dark)  # the sandbox's truth stays whole


def test_samples_crossing_a_congested_export_path_are_lost(b2b4):
    path = ["b2:us-east-us-central", "b2:us-east-eu-west"]
    sc = _variant(b2b4, device={"export_path": path})
    t, samples = _run(sc, 1800)
    reads = {}
    for s in samples:
        reads[s.measured_at["device"]] = s.device
    before = [v for at, v in reads.items() if at < 600]
    after = [v for at, v in reads.items() if at > 700]
    assert not any(np.isnan(v).all() for v in before)  # B2 is clean before the push
    lost = sum(np.isnan(v).all(axis=1).mean() for v in after) / len(after)
    idx = [t.world.topology.links.index(p) for p in path]
    loss = np.mean([s.truth.link[idx, LOSS] for s in samples if s.t > 700], axis=0)
    expected = 1 - np.prod(1 - loss)
    assert 0.5 * expected < lost < 1.5 * expected and lost > 0.2


def test_unknown_export_path_link_is_named(b2b4):
    sc = _variant(b2b4, link={"export_path": ["b2:nowhere"]})
    with pytest.raises(ScenarioError) as exc:
        Twin(sc)
    assert "monitoring.link.export_path[0]" in str(exc.value) and "b2:nowhere" in str(exc.value)


@pytest.mark.parametrize("monitoring, field", [
    ({"link": {"interval": 0}}, "monitoring.link.interval"),
    ({"service": {"noise": 2}}, "monitoring.service.noise"),
    ({"links": {}}, "monitoring.links"),
])
def test_bad_monitoring_section_names_the_field(b2b4, monitoring, field):
    with pytest.raises(ScenarioError) as exc:
        _variant(b2b4, **monitoring)
    assert field in str(exc.value)


def test_clear_threshold_on_the_wrong_side_is_rejected(b2b4):
    data = b2b4.model_dump(mode="json", by_alias=True, exclude={"path"})
    data["alerts"] = [{"name": "Hot", "entity_kind": "link", "metric": "utilisation", "above": 0.8, "clear": 0.9}]
    with pytest.raises(ScenarioError) as exc:
        parse_scenario(data, "bad.yaml")
    assert "alerts[0].clear" in str(exc.value)


def _feed(t: Twin, losses: list[float], name: str, link: int = 0) -> list[tuple[float, float | None]]:
    """Feed the alert rules one link's loss, one tick at a time; the spans of alert ``name``."""
    st, mon, dt = t.state.copy(), t.monitors, t.scenario.tick
    n = {k: len(v) for k, v in t.telemetry.entities.items()}
    spans: list[tuple[float, float | None]] = []
    for i, loss in enumerate(losses):
        lk = np.zeros((n["link"], 5), dtype=np.float32)
        lk[:, 4] = 1.0
        lk[link, LOSS] = loss
        dev = np.zeros((n["device"], 3), np.float32)
        dev[:, 0] = 1.0
        sample = Sample(i * dt, lk, np.zeros((n["service"], 8), np.float32), dev, {})
        spans += [(a.start, a.end) for a in mon.evaluate(st, i * dt, sample) if a.name == name]
    spans += [(a["start"], None) for a in st.alerts.open.values() if a["name"] == name]
    return spans


def test_a_loss_wobbling_around_the_threshold_does_not_make_the_alert_flap(b2b4):
    t = Twin(b2b4, seed=0)
    thr = b2b4.slo.link_loss
    wobble = [0.0] * 3 + [1.3 * thr] * 5 + [0.95 * thr, 1.05 * thr] * 20 + [0.2 * thr] * 6
    spans = _feed(t, wobble, "PacketLoss")
    assert len(spans) == 1  # fired once, held through the wobble, cleared once the loss really fell
    start, end = spans[0]
    assert end is not None and end >= (3 + 5 + 40) * t.scenario.tick
    # the same wobble with no hysteresis (clear at the threshold, at once) flaps
    from twin.sim.monitors import Monitors

    data = b2b4.model_dump(mode="json", by_alias=True, exclude={"path"})
    data["alerts"] = [{"name": "Flappy", "entity_kind": "link", "metric": "loss", "above": thr, "for": 0,
                       "clear": thr, "clear_for": 0}]
    flappy = parse_scenario(data, "flappy.yaml")
    t2 = Twin(flappy, seed=0)
    t2.monitors = Monitors(flappy, t2.world, t2.telemetry.entities)
    rule_spans = _feed(t2, wobble, "Flappy")
    assert len(rule_spans) > 10


def test_the_read_after_lost_samples_averages_over_the_gap(b2b4):
    from twin import load_scenario

    sc = _variant(load_scenario("sockshop-cpu-hog"), service={"loss": 0.4, "noise": 0, "jitter": 0, "delay": 0}, error_floor=0)
    _, samples = _run(sc, 1200)
    rps = METRICS["service"].index("rps")
    seen = np.stack([s.service[:, rps] for s in samples]).astype(float)
    truth = np.stack([s.truth.service[:, rps] for s in samples]).astype(float)
    gaps = 0
    for e in range(seen.shape[1]):
        last_good = 0
        for i in range(1, len(samples)):
            if np.isnan(seen[i, e]):
                continue
            assert seen[i, e] == pytest.approx(truth[last_good + 1: i + 1, e].mean(), rel=1e-4, abs=1e-6)
            gaps += i - last_good > 1
            last_good = i
    assert gaps > 50


def test_float32_bound_clips_as_the_double_bound_did():
    """Monitors clip float32 reads against float32 bounds: the same bits as against the doubles."""
    rng = np.random.default_rng(5)
    u = rng.random(20000) * 3200.0
    # reads on both sides of each bound, within a few float32 steps of it
    x = (u + rng.integers(-3, 4, u.size) * np.spacing(u.astype(np.float32))).astype(np.float32)
    x[::7] = np.nan
    via_double = np.minimum(x, u).astype(np.float32)  # float64 maths, cast back: as before
    assert np.minimum(x, u.astype(np.float32)).tobytes() == via_double.tobytes()
