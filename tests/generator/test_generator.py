"""The generator as its users meet it: every incident it writes is a real incident (an SLO violation
that lasts when nothing is done, ended by a mitigation it lists), the files are the same byte for
byte for a seed, a set spreads over layers and kinds, and difficulty is the documented sum of
computed features. Each check is made by simulating the written file again, not by reading
what the generator claims."""

from __future__ import annotations

import numpy as np
import pytest
import yaml

from twin.belief import operator_scenario
from twin.episode import restored_at
from twin.generator import HELDOUT_FROM, WEIGHTS, GeneratorConfig, GeneratorConfigError, generate, parse_generator_config
from twin.generator.assess import BANDS, HORIZON_S, LASTING_S, assess, band_of, difficulty_of
from twin.generator.draw import draw_draft
from twin.labels import detection_time
from twin.scenario import load_scenario, parse_scenario
from twin.sim.twin import Twin


@pytest.fixture(scope="module")
def batch():
    return generate(12, seed=3, workers=2)


@pytest.fixture(scope="module")
def written(batch, tmp_path_factory):
    out = tmp_path_factory.mktemp("gen")
    batch.write(out)
    return out


def test_every_written_file_loads_and_carries_its_labels(batch, written):
    assert len(batch.items) == 12
    for g in batch.items:
        sc = load_scenario(written / f"{g.name}.yaml")
        assert sc.ground_truth is not None and sc.ground_truth.effective
        assert sc.generated is not None and sc.generated.seed == 3 and sc.generated.split == "train"
        assert sc.category == "synthetic" and sc.faults
    manifest = (written / "manifest.csv").read_text().splitlines()
    assert len(manifest) == 13 and manifest[0].startswith("name,split,layer,kind")


def test_left_alone_each_violates_an_slo_that_lasts(batch):
    for g in batch.items:
        sc = g.scenario
        twin = detection_time(sc, sc.seed)
        at = twin.now
        assert at < sc.duration, f"{g.name}: never detected"
        twin.run(until=min(sc.duration, at + HORIZON_S))
        back = restored_at(twin, at)
        assert back is None or back - at >= LASTING_S, f"{g.name}: ends by itself at {back}"
        assert any(s.kpi["slo_violations"] > 0 for s in twin.telemetry.window(since=at)), g.name


def test_its_listed_mitigation_ends_it(batch):
    """Replayed from the file: the first listed working mitigation (or, for two causes that need
    one each, all of them) applied at detection brings the SLOs back; doing nothing does not."""
    for g in batch.items:
        sc = g.scenario
        start = detection_time(sc, sc.seed)
        at, end = start.now, min(sc.duration, start.now + HORIZON_S)
        nothing = start.fork()
        nothing.run(until=end)
        fixed = start.fork()
        refs = sc.ground_truth.effective if sc.generated.together else sc.ground_truth.effective[:1]
        for ref in refs:
            fixed.act(ref.tool, **ref.args)
        fixed.run(until=end)
        back, base = restored_at(fixed, at), restored_at(nothing, at)
        assert back is not None, f"{g.name}: {refs} did not end it"
        assert base is None or back <= base - sc.tick, g.name


def test_same_seed_same_bytes_whatever_the_number_of_workers(batch):
    again = generate(4, seed=3, workers=1)
    assert [g.text for g in again.items] == [g.text for g in batch.items[:4]]
    other = generate(2, seed=4, workers=1)
    assert other.items[0].text != batch.items[0].text


def test_a_set_spreads_over_layers_and_kinds(batch):
    layers = {g.scenario.generated.layer for g in batch.items}
    kinds = {g.scenario.generated.kind for g in batch.items}
    assert layers == {"wan", "fabric", "services"}
    assert len(kinds) >= 8, kinds


def test_difficulty_is_the_documented_weighted_sum(batch):
    for g in batch.items:
        gen = g.scenario.generated
        assert set(gen.features) == set(WEIGHTS)
        assert all(0.0 <= v <= 1.0 for v in gen.features.values())
        assert gen.difficulty == pytest.approx(sum(WEIGHTS[k] * gen.features[k] for k in WEIGHTS), abs=1e-3)
        assert gen.band == band_of(gen.difficulty)
        assert gen.features["scarcity"] == pytest.approx(1.0 / gen.raw["working_mitigations"], abs=1e-3)
        assert gen.features["blindness"] == pytest.approx(1.0 - gen.raw["observability"], abs=1e-3)
    assert difficulty_of({k: 1.0 for k in WEIGHTS}) == pytest.approx(1.0)
    assert [b for _, b in BANDS] == ["easy", "medium", "hard"]


def test_rejections_are_counted(batch):
    assert batch.attempts == len(batch.items) + sum(batch.rejections.values())
    assert all(": " in r for g in batch.items for r in g.rejected)


def test_a_fault_that_does_nothing_is_rejected():
    """The checks are simulations: the same world with its fault made harmless is no incident."""
    cfg = GeneratorConfig(layers=["wan"], kinds=["link_degraded"], p_second_fault=0, p_blindspot=0)
    draft = draw_draft(np.random.default_rng([1, 2, 3]), cfg, "harmless", "wan", "link_degraded")
    draft.data["faults"][0]["params"]["loss"] = 0.0001
    a = assess(draft, parse_scenario(draft.data, "harmless"))
    assert not a.ok and ("no incident" in a.reason or "no lasting" in a.reason or "no SLO" in a.reason), a.reason


def test_a_difficulty_range_is_respected():
    cfg = GeneratorConfig(difficulty=(0.0, 0.2))
    for g in generate(3, seed=8, config=cfg, workers=1).items:
        assert g.scenario.generated.difficulty <= 0.2


def test_the_operator_never_sees_how_it_was_generated(batch):
    sc = batch.items[0].scenario
    op = operator_scenario(sc)
    assert op.generated is None and op.ground_truth is None and not op.faults


@pytest.mark.parametrize("data, field, words", [
    ({"kinds": ["alien"]}, "kinds", "allowed: bad_deploy"),
    ({"difficulty": [0.9, 0.1]}, "", "difficulty"),
    ({"layers": ["fabric"], "kinds": ["bad_deploy"]}, "", "no kind"),
    ({"fabric_k": [5]}, "fabric_k", "even k"),
    ({"colour": "blue"}, "colour", ""),
])
def test_a_bad_configuration_names_the_field_and_the_allowed_values(data, field, words):
    with pytest.raises(GeneratorConfigError) as exc:
        parse_generator_config(data, "my.yaml")
    assert str(exc.value).startswith("my.yaml") and field in str(exc.value) and words in str(exc.value)


def test_the_heldout_split_is_its_own_seed_range():
    held = generate(1, seed=HELDOUT_FROM, workers=1).items[0]
    assert held.scenario.generated.split == "heldout" and held.name.startswith(f"gen-{HELDOUT_FROM}-")
    assert yaml.safe_load(held.text)["generated"]["split"] == "heldout"


def test_a_twin_of_a_generated_incident_is_deterministic(batch):
    sc = batch.items[1].scenario
    a, b = Twin(sc, seed=5), Twin(sc, seed=5)
    a.run(until=900)
    b.run(until=900)
    assert a.metrics("service").equals(b.metrics("service")) and a.metrics("link").equals(b.metrics("link"))


def test_an_agent_on_a_generated_incident_reads_no_labels(batch):
    """Two worlds: the toolbox's scenario drops the ground truth and how the incident was made."""
    from twin.tools import Toolbox

    sc = batch.items[2].scenario
    twin = Twin(sc, seed=0)
    twin.run(until=sc.duration / 2)
    box = Toolbox(twin)
    assert box.operator_scenario.generated is None and box.world.scenario.generated is None
    assert box.operator_scenario.ground_truth is None and not box.operator_scenario.faults
    text = box.call("list_alerts", {}).text(4000) + box.call("recent_changes", {}).text(4000)
    assert box.call("recent_changes", {}).ok
    assert "difficulty" not in text and "generated" not in text and "root cause" not in text
