"""Agents are found by name through ``twin.agents`` entry points, loaded only when asked for."""

from importlib.metadata import EntryPoint

import pytest

from agents import AGENTS
from twin.agent_registry import AgentRegistry, default_registry, load_entry_points
from twin.errors import AgentError


def test_the_agents_package_declares_its_agents():
    assert set(AGENTS) <= set(default_registry().names())


def test_entry_points_load_on_first_use_only(monkeypatch):
    eps = [EntryPoint("ghost", "twin_no_such_agent_module:Agent", "twin.agents"),
           EntryPoint("odd", "json:no_such_name", "twin.agents"),
           EntryPoint("plain", "json:loads", "twin.agents")]
    monkeypatch.setattr("twin.agent_registry.metadata.entry_points", lambda group: eps)
    reg = load_entry_points()  # nothing imported yet: a broken plug-in does not stop listing
    assert reg.names() == ["ghost", "odd", "plain"]
    with pytest.raises(AgentError, match="needs 'twin_no_such_agent_module'"):
        reg.get("ghost")
    with pytest.raises(AgentError, match="cannot be loaded from json:no_such_name"):
        reg.get("odd")
    import json

    assert reg.get("plain") is json.loads


def test_names_are_unique():
    reg = AgentRegistry()
    reg.register("a", dict)
    with pytest.raises(ValueError, match="already registered"):
        reg.register("a", list)
