"""What an agent is: something that picks the next tool call from what the toolbox has shown it.

Agents act only through a :class:`~twin.tools.Toolbox` (they never read the fault schedule or
the ground truth), and draw randomness only from the generator handed to ``reset``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

if TYPE_CHECKING:
    from twin.tools import Toolbox

__all__ = ["Agent", "ToolCall"]

#: A tool call: the tool's name and its arguments.
ToolCall = tuple[str, dict[str, Any]]


@runtime_checkable
class Agent(Protocol):
    """An incident-handling agent.

    ``reset`` starts a new incident; ``act`` returns the next tool call, or ``None`` to stop
    (the episode then lets the twin run on, so what was done is judged honestly).
    Results of earlier calls are in ``toolbox.history``.
    """

    name: str

    def reset(self, toolbox: Toolbox, rng: np.random.Generator) -> None: ...

    def act(self, toolbox: Toolbox) -> ToolCall | None: ...
