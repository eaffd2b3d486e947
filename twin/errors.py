"""One exception tree for twin: every message carries the offending value and the allowed ones."""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "TwinError",
    "ScenarioError",
    "SimulationError",
    "ToolError",
    "SafetyError",
    "PolicyError",
    "ReplayError",
    "AgentError",
    "known_list",
]


class TwinError(Exception):
    """Base class of every error twin raises on purpose."""


class ScenarioError(TwinError):
    """A scenario file is malformed: names the file, the field path and the allowed values."""

    def __init__(self, source: str, field: str, message: str) -> None:
        self.source = source
        self.field = field
        self.message = message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")


class SimulationError(TwinError):
    """A request to the running twin cannot be honoured (time in the past, unknown entity)."""


class ToolError(TwinError):
    """A tool call is malformed: unknown tool, bad argument, unknown entity."""


class SafetyError(TwinError):
    """A pre-check cannot run as asked (unknown mitigation kind or target)."""


class PolicyError(ScenarioError):
    """A pre-check policy file is malformed."""


class ReplayError(ScenarioError):
    """A replay file is malformed or names unknown scenarios, actions or entities."""


class AgentError(TwinError):
    """An agent cannot be built or run as asked."""


def known_list(values: Iterable[object], limit: int = 12) -> str:
    """The allowed values an error message names: the first ``limit``, then how many in all.

    >>> known_list(["a", "b"])
    'a, b'
    >>> known_list(range(20), limit=3)
    '0, 1, 2, ... (20 in all)'
    >>> known_list([])
    ''
    """
    values = list(values)
    shown = ", ".join(map(str, values[:limit]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")
