"""Tools from other teams appear in the env's action space and in the text wrapper."""

from __future__ import annotations

import importlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from twin.envs.incident import IncidentEnv
from twin.envs.text import TextIncidentEnv
from twin.tools import Tool, default_registry

PLUGIN = Path(__file__).resolve().parents[1] / "plugins" / "twin_example_tool"


def _echo(twin, args):
    return {"link": args["link"], "t": twin.now}, f"echo {args['link']}"


ECHO = Tool("echo_link", "test", "Echo a link name (a team's extra tool)",
            {"type": "object", "properties": {"link": {"type": "string", "x-entity": "link"}}, "required": ["link"]},
            3.0, _echo, target="link", target_kind="link")


def test_registry_tool_appears_in_action_space_and_is_callable():
    reg = default_registry().copy()
    reg.register(ECHO)
    env = IncidentEnv(max_steps=4, registry=reg)
    base = IncidentEnv(max_steps=4)
    assert "echo_link" in [t.name for t in env.tools]
    assert env.action_space.n == base.action_space.n + env.table.max_targets
    _, info = env.reset(seed=0)
    first = env.table.index["echo_link"] * env.table.max_targets
    assert info["action_mask"][first] == 1
    _, _, _, _, info = env.step(first)
    assert info["last_result"]["ok"] and info["last_result"]["tool"] == "echo_link"
    text_env = TextIncidentEnv(max_steps=4, registry=reg)
    text, info = text_env.reset(seed=0)
    assert "echo_link" in text
    _, _, _, _, info = text_env.step({"tool": "echo_link", "args": {"link": "b2:us-east-us-west"}})
    assert info["last_result"]["ok"]


@pytest.fixture(scope="module")
def installed_plugin():
    import tomllib
    from importlib import metadata

    if not (PLUGIN / "pyproject.toml").exists():
        pytest.skip("tests/plugins/twin_example_tool is not in this checkout")
    name = tomllib.loads((PLUGIN / "pyproject.toml").read_text())["project"]["name"]
    try:
        metadata.distribution(name)
        already = True
    except metadata.PackageNotFoundError:
        already = False
    if not already:
        pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        subprocess.run([*pip, "-e", str(PLUGIN)], check=True)
    sys.path.insert(0, str(PLUGIN))  # an editable install's .pth only takes effect in new interpreters
    importlib.invalidate_caches()
    default_registry(refresh=True)
    yield
    sys.path.remove(str(PLUGIN))
    if not already:  # leave the environment as we found it
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "--quiet", "-y", name], check=False)
    default_registry(refresh=True)


def test_entry_point_tool_appears_in_env_and_text_wrapper(installed_plugin):
    env = IncidentEnv(max_steps=2)
    extra = [t.name for t in env.tools if t.name not in _builtin_names()]
    assert extra, "no entry-point tool found beyond the built-ins"
    _, info = env.reset(seed=0)
    index = env.table.index[extra[0]] * env.table.max_targets
    assert np.asarray(info["action_mask"]).reshape(-1)[index: index + env.table.max_targets].any()
    text, _ = TextIncidentEnv(max_steps=2).reset(seed=0)
    assert extra[0] in text


def _builtin_names() -> set[str]:
    from twin.tools.registry import _builtins

    return set(_builtins().names())
