"""Teams add tools without touching twin: an installed package's ``twin.tools`` entry point shows up."""

from __future__ import annotations

import importlib
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from twin.tools import default_registry
from twin.tools.registry import load_entry_points

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "twin_example_tool"
TOOL = "example_alert_census"


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", "--disable-pip-version-check", "-q", *args],
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def example_plugin():
    """Install the example plugin into this venv for the module, then remove it again."""
    done = _pip("install", "--no-deps", "--no-build-isolation", "-e", str(PLUGIN))
    if done.returncode != 0:
        pytest.fail(f"could not install the example plugin: {done.stderr[-2000:]}")
    # an editable install's .pth only runs at interpreter start; make the package importable now
    sys.path.insert(0, str(PLUGIN))
    importlib.invalidate_caches()
    try:
        yield default_registry(refresh=True)
    finally:
        _pip("uninstall", "-y", "twin-example-tool")
        sys.path.remove(str(PLUGIN))
        sys.modules.pop("twin_example_tool", None)
        importlib.invalidate_caches()
        default_registry(refresh=True)


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
