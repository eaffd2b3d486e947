"""Teams add fault kinds without touching twin: an installed package's ``twin.faults`` entry point
becomes a ``kind:`` scenarios can use, checked by the schema and run by the twin."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.plugins.installer import installed_plugin
from twin import ScenarioError, Twin, load_scenario
from twin.faults import fault_kinds

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "twin_example_fault"
SCENARIO = PLUGIN / "twin_example_fault" / "corrupt-link.yaml"
KIND = "link_corruption"


def test_without_the_plugin_the_kind_is_unknown():
    # runs first, before the module's fixture installs the plug-in
    kinds = fault_kinds()
    if KIND in kinds:
        pytest.skip("the example plug-in is installed in this environment")
    with pytest.raises(ScenarioError) as info:
        load_scenario(SCENARIO)
    assert info.value.field == "faults[0].kind"
    assert f"unknown fault kind '{KIND}' (allowed: " in str(info.value) and "link_down" in str(
        info.value
    )


@pytest.fixture(scope="module")
def example_fault():
    """Install the example plug-in into this venv for the module, then remove it again."""
    with installed_plugin(PLUGIN, "twin-example-fault", "twin_example_fault", lambda: fault_kinds(refresh=True)) as registry:
        yield registry


def test_plugin_kind_is_registered(example_fault):
    assert KIND in example_fault
    assert example_fault[KIND].layer == "wan"
    assert "link_down" in example_fault  # built-ins stay


def test_plugin_kind_runs_and_reverts(example_fault):
    sc = load_scenario(SCENARIO)
    t = Twin(sc, seed=0)
    link = t.world.topology.link_index["b4:dc1-dc2"]
    t.run(until="4m")
    assert t.state.faults.phase["optic"] == "pending" and t.state.network.link_loss[link] == 0.0
    t.run(until="6m")
    assert t.state.faults.phase["optic"] == "active"
    assert t.state.network.link_loss[link] == pytest.approx(0.05)
    undo = t.state.faults.records["optic"].undo
    assert type(undo).__module__ == "twin_example_fault" and undo.before == 0.0
    fork = t.fork()  # the fork's undo data is its own
    fork.state.faults.records["optic"].undo.before = 0.5
    assert t.state.faults.records["optic"].undo.before == 0.0
    t.run(until="11m")
    assert t.state.faults.phase["optic"] == "ended" and t.state.network.link_loss[link] == 0.0
    messages = list(t.events()["message"])
    assert any("CRC errors" in m for m in messages) and any(
        "no more CRC errors" in m for m in messages
    )
    assert np.all(t.state.network.link_down == 0)


@pytest.mark.parametrize(
    "edit,field,hint",
    [
        ("rate: 0.05", "rate: 2", "less than or equal to 1"),
        ("rate: 0.05", "ratio: 0.05", "allowed: link, rate"),
        (
            'link: "b4:dc1-dc2"',
            'link: "b4:dc1-dc3"',
            "unknown link 'b4:dc1-dc3' (known: b4:dc1-dc2)",
        ),
    ],
    ids=["range", "misspelt", "entity"],
)
def test_plugin_params_are_checked_by_the_schema(example_fault, tmp_path: Path, edit, field, hint):
    text = SCENARIO.read_text()
    assert edit in text
    path = tmp_path / "bad.yaml"
    path.write_text(text.replace(edit, field, 1))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    name = field.split(":")[0]
    assert info.value.field == f"faults[0].params.{name}"
    assert hint in str(info.value)
