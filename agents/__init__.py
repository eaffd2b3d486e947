"""Agents that handle incidents through twin's toolbox: baselines and the LLM OCE-helper.

>>> from agents import make_agent, AGENTS
>>> make_agent("random").name
'random'
"""

from __future__ import annotations

from typing import Any

from twin.agent import Agent
from twin.errors import AgentError

__all__ = ["AGENTS", "make_agent"]

#: Agent names ``make_agent`` (and ``twin run --agent``) accepts.
AGENTS: tuple[str, ...] = ("random", "runbook", "llm", "llm-oneshot")


def _llm_agent(name: str, **kw: Any) -> Agent:
    # the LLM stack (llama.cpp, a model file) loads only when an LLM agent is asked for
    try:
        from agents import llm
    except ModuleNotFoundError as exc:
        if exc.name not in ("agents.llm",):
            raise AgentError(f"agent {name!r} needs {exc.name!r}, which is not installed") from None
        raise AgentError(f"agent {name!r} is not available: the agents.llm module is not installed") from None
    if hasattr(llm, "make_agent"):
        return llm.make_agent(name, **kw)
    cls_name = "LLMAgent" if name == "llm" else "OneShotAgent"
    cls = getattr(llm, cls_name, None)
    if cls is None:
        raise AgentError(f"agent {name!r}: agents.llm provides neither make_agent nor {cls_name}")
    return cls(**kw)


def make_agent(name: str, **kw: Any) -> Agent:
    """Build an agent by name; unknown names raise AgentError listing the known ones."""
    if name == "random":
        from agents.random_agent import RandomAgent

        return RandomAgent(**kw)
    if name == "runbook":
        from agents.runbook import RunbookAgent

        return RunbookAgent(**kw)
    if name in ("llm", "llm-oneshot"):
        return _llm_agent(name, **kw)
    raise AgentError(f"unknown agent {name!r} (known: {', '.join(AGENTS)})")
