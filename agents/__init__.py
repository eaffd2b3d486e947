"""Agents that handle incidents through twin's toolbox: baselines and the LLM OCE-helper.

They reach twin as plug-ins: ``pyproject.toml`` declares each under the ``twin.agents`` entry
point group (and the LLM helper's commands under ``twin.commands``), so twin finds them by
name without importing this package.

>>> from agents import make_agent, AGENTS
>>> make_agent("random").name
'random'
"""

from __future__ import annotations

from twin.agent_registry import make_agent

__all__ = ["AGENTS", "make_agent"]

#: The agents this package declares as ``twin.agents`` entry points (``twin agents`` lists all installed).
AGENTS: tuple[str, ...] = ("random", "runbook", "llm", "llm-oneshot")
