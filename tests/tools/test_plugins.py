"""Teams add tools without touching twin: an installed package's ``twin.tools`` entry point shows up."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from tests.plugins.installer import installed_plugin
from twin.tools import default_registry
from twin.tools.registry import load_entry_points

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "twin_example_tool"
TOOL = "example_alert_census"



@pytest.fixture(scope="module")
def example_plugin():
    """Install the example plug-in into this venv for the module, then remove it again."""
    with installed_plugin(PLUGIN, "twin-example-tool", "twin_example_tool", lambda: default_registry(refresh=True)) as registry:
        yield registry


def test_plugin_tool_in_default_registry(example_plugin, twin_12m):
    from twin.tools import Toolbox

    assert TOOL in example_plugin.names()
    box = Toolbox(twin_12m.fork())
    assert TOOL in box.names()
    result = box.call(TOOL, {})
    assert result.ok and result.data["by_kind"]["link"] >= 1


def test_plugin_tool_in_cli_listing(example_plugin):
    from typer.testing import CliRunner

    import twin.cli

    twin.cli._register()
    out = CliRunner().invoke(twin.cli.app, ["tools"], env={"COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert TOOL in out.output and "freeze_te" in out.output and "link: link" in out.output


def test_broken_plugin_is_a_warning(monkeypatch):
    from twin.tools import registry

    broken = [EntryPoint("broken", "twin_no_such_module:tools", "twin.tools"),
              EntryPoint("odd", "json:dumps", "twin.tools")]
    monkeypatch.setattr(registry.metadata, "entry_points", lambda group: broken)
    with pytest.warns(RuntimeWarning) as caught:
        reg = load_entry_points(registry.BUILTIN.copy())
    assert sorted(str(w.message).split("'")[1] for w in caught) == ["broken", "odd"]
    assert "list_alerts" in reg.names()
