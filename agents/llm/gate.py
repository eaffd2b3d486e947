"""The OCE gate: who approves each step. A policy for unattended runs, or a person at a terminal.

Whatever the gate says, the agent re-validates an approved mitigation against the toolbox and
refuses one the pre-check calls harmful.
"""

from __future__ import annotations

import json
from typing import Any, Protocol, runtime_checkable

__all__ = ["Gate", "AutoPolicy", "InteractiveGate"]


@runtime_checkable
class Gate(Protocol):
    def choose_hypothesis(self, hypotheses: list[Any]) -> Any | None: ...

    def approve(self, candidates: list[Any], toolbox: Any) -> Any | None: ...


class AutoPolicy:
    """Auto-pick the top hypothesis; apply only pre-approved kinds the pre-check calls safe; never harmful."""

    def __init__(self, preapproved: tuple[str, ...] | None = None) -> None:
        if preapproved is None:
            from twin.safety.policy import load_policy

            preapproved = tuple(load_policy().preapproved)
        self.preapproved = tuple(preapproved)
        self.refusals: list[str] = []

    def choose_hypothesis(self, hypotheses: list[Any]) -> Any | None:
        return hypotheses[0] if hypotheses else None

    def approve(self, candidates: list[Any], toolbox: Any) -> Any | None:
        for c in candidates:
            verdict = getattr(c.precheck, "verdict", None)
            if verdict == "safe" and c.tool in self.preapproved:
                return c
            self.refusals.append(f"{c.label}: " + ("not a pre-approved kind" if c.tool not in self.preapproved
                                                   else f"pre-check verdict {verdict or 'missing'}"))
        return None


class InteractiveGate:
    """Rich prompts: each suggestion with confidence, explanation and risk; pick a number, edit, or reject."""

    def __init__(self, console: Any = None) -> None:
        from rich.console import Console

        self.console = console or Console()

    def _ask(self, prompt: str) -> str:
        from rich.prompt import Prompt

        return Prompt.ask(prompt, console=self.console, default="1").strip()

    def choose_hypothesis(self, hypotheses: list[Any]) -> Any | None:
        if not hypotheses:
            return None
        self.console.print("\n[bold]Likeliest causes (simulated on the operator's twin)[/bold]")
        for i, h in enumerate(hypotheses, 1):
            self.console.print(f"  [{i}] {h.statement} - confidence {h.confidence:.0%}\n      {h.explanation}")
        answer = self._ask("Act on which cause? (number, r to reject all)")
        if answer.isdigit() and 1 <= int(answer) <= len(hypotheses):
            return hypotheses[int(answer) - 1]
        return None

    def approve(self, candidates: list[Any], toolbox: Any) -> Any | None:
        if not candidates:
            self.console.print("No mitigation to suggest.")
            return None
        self.console.print("\n[bold]Mitigations[/bold]")
        for i, c in enumerate(candidates, 1):
            rep = c.precheck
            verdict = getattr(rep, "verdict", "not pre-checked")
            self.console.print(f"  [{i}] {c.label} - model risk {c.llm_risk}, pre-check [bold]{verdict}[/bold]\n"
                               f"      {c.rationale}\n      {getattr(rep, 'explanation', '')}")
        answer = self._ask("Apply which? (number, e<number> to edit its arguments as JSON, r to reject)")
        if answer.lower().startswith("e") and answer[1:].isdigit() and 1 <= int(answer[1:]) <= len(candidates):
            c = candidates[int(answer[1:]) - 1]
            raw = self._ask(f"arguments for {c.tool} as JSON")
            try:
                args = json.loads(raw)
            except json.JSONDecodeError as exc:
                self.console.print(f"not JSON ({exc.msg}); nothing applied")
                return None
            from dataclasses import replace

            return replace(c, args=args, precheck=None, source="edited by the OCE")
        if answer.isdigit() and 1 <= int(answer) <= len(candidates):
            return candidates[int(answer) - 1]
        self.console.print("Rejected; nothing applied.")
        return None
