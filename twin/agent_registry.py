"""Agents by name: factories that installed packages declare as ``twin.agents`` entry points.

twin never imports an agent package: the built-in agents (``random``, ``runbook``, ``llm``,
``llm-oneshot``) are declared by the ``agents`` package in ``pyproject.toml`` like any
third-party agent::

    [project.entry-points."twin.agents"]
    my-agent = "my_pkg.agent:MyAgent"

where the object named is a callable (usually the agent class) that takes keyword arguments
and returns an :class:`~twin.agent.Agent`. An entry point is loaded only when its agent is
asked for, so listing agents never imports an LLM stack; a factory that cannot be loaded
(a missing optional dependency) raises :class:`~twin.errors.AgentError` saying why.

>>> from twin.agent_registry import AgentRegistry
>>> reg = AgentRegistry()
>>> reg.register("idle", lambda **kw: None)
>>> reg.names()
['idle']
>>> reg.get("oracle")
Traceback (most recent call last):
...
twin.errors.AgentError: unknown agent 'oracle' (known: idle)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from importlib import metadata
from typing import Any

from twin.agent import Agent
from twin.errors import AgentError, known_list

__all__ = ["ENTRY_POINT_GROUP", "AgentFactory", "AgentRegistry", "default_registry", "load_entry_points",
           "make_agent"]

ENTRY_POINT_GROUP = "twin.agents"

#: Builds a fresh agent from keyword arguments (an agent class is one).
AgentFactory = Callable[..., Agent]


class AgentRegistry:
    """Agent factories by name; an entry point's factory is loaded on first use."""

    def __init__(self) -> None:
        self._entries: dict[str, AgentFactory | metadata.EntryPoint] = {}

    def register(self, name: str, factory: AgentFactory | metadata.EntryPoint) -> None:
        if name in self._entries and self._entries[name] is not factory:
            raise ValueError(f"an agent named {name!r} is already registered")
        self._entries[name] = factory

    def get(self, name: str) -> AgentFactory:
        """The factory registered as ``name``; AgentError for unknown names or broken entry points."""
        try:
            entry = self._entries[name]
        except KeyError:
            raise AgentError(f"unknown agent {name!r} (known: {known_list(self.names()) or 'none'})") from None
        if isinstance(entry, metadata.EntryPoint):
            entry = self._entries[name] = _load(name, entry)
        return entry

    def make(self, name: str, **kw: Any) -> Agent:
        return self.get(name)(**kw)

    def names(self) -> list[str]:
        return list(self._entries)

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


def _load(name: str, ep: metadata.EntryPoint) -> AgentFactory:
    try:
        factory = ep.load()
    except ModuleNotFoundError as exc:
        raise AgentError(f"agent {name!r} needs {exc.name!r}, which is not installed") from None
    except (ImportError, AttributeError) as exc:
        raise AgentError(f"agent {name!r} cannot be loaded from {ep.value}: {exc}") from None
    if not callable(factory):
        raise AgentError(f"agent {name!r}: {ep.value} is not callable")
    return factory


def load_entry_points(registry: AgentRegistry | None = None, group: str = ENTRY_POINT_GROUP) -> AgentRegistry:
    """Add every agent that installed packages declare under ``group`` (not loaded yet)."""
    registry = registry if registry is not None else AgentRegistry()
    for ep in sorted(metadata.entry_points(group=group), key=lambda e: e.name):
        if ep.name not in registry:  # the same distribution seen twice on sys.path
            registry.register(ep.name, ep)
    return registry


@functools.lru_cache(maxsize=1)
def _default() -> AgentRegistry:
    return load_entry_points()


def default_registry(refresh: bool = False) -> AgentRegistry:
    """The agents installed packages declare (cached; ``refresh=True`` rescans them)."""
    if refresh:
        _default.cache_clear()
    return _default()


def make_agent(name: str, **kw: Any) -> Agent:
    """Build an installed agent by name; unknown names raise AgentError listing the known ones."""
    return default_registry().make(name, **kw)
