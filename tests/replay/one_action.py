"""A test agent that makes one call and then waits: a busy-but-useless agent, or one that
applies exactly the mitigation a test wants scored."""

from __future__ import annotations


class OneAction:
    def __init__(self, name: str, tool: str, args: dict | None = None) -> None:
        self.name, self.tool, self.args = name, tool, dict(args or {})

    def reset(self, toolbox, rng) -> None:
        self.done = False

    def act(self, toolbox):
        if self.done:
            return None
        self.done = True
        return (self.tool, dict(self.args))
