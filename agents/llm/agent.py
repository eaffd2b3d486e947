"""The iterative LLM OCE-helper (form -> test -> plan -> apply) and the one-shot baseline.

``act`` is driven by a generator: each ``yield`` is the next tool call, and the toolbox's
history holds its result when the generator resumes.
"""

from __future__ import annotations

import re

import itertools
from pathlib import Path
from typing import Any, Generator

from agents.llm.backends import LLMBackend, LlamaCppBackend
from agents.llm.context import build_context, quote
from agents.llm.gate import AutoPolicy, Gate
from agents.llm.guard import ask, check_tool_call
from agents.llm.knowledge import load_notes
from agents.llm.modules import (SYSTEM, Candidate, HypothesisFormer, HypothesisTester, MitigationPlanner, _fill,
                                _Proposal)
from agents.llm.schemas import RISKS, tool_call_schema, tools_of_kind
from agents.llm.trace import TRACE_DIR, Trace

__all__ = ["LLMAgent", "OneShotAgent"]

ToolCall = tuple[str, dict[str, Any]]
_episodes = itertools.count()
_shared: dict[str, LLMBackend] = {}


def _default_backend() -> LLMBackend:
    # one loaded model per process: evaluations build many agents
    if "default" not in _shared:
        _shared["default"] = LlamaCppBackend()
    return _shared["default"]


class _Base:
    name = "llm"

    def __init__(self, backend: LLMBackend | None = None, gate: Gate | None = None,
                 knowledge_dir: str | Path | None = None, token_budget: int = 768,
                 trace_dir: str | Path | None = TRACE_DIR, precheck_draws: int = 2, precheck_horizon: float = 1200.0,
                 settle_waits: int = 4) -> None:
        self._backend = backend
        self.gate = gate or AutoPolicy()
        self.knowledge_dir = knowledge_dir
        self.token_budget = token_budget
        self.trace_dir = trace_dir
        self.precheck_draws, self.precheck_horizon, self.settle_waits = precheck_draws, precheck_horizon, settle_waits
        self.trace = Trace(directory=None)
        self.root_cause: dict[str, Any] | None = None
        self.applied: list[Candidate] = []
        self._gen: Generator[ToolCall, None, None] | None = None

    @property
    def backend(self) -> LLMBackend:
        if self._backend is None:
            self._backend = _default_backend()
        return self._backend

    @property
    def tokens(self) -> int:
        return self.trace.tokens

    def reset(self, toolbox: Any, rng: Any = None) -> None:
        label = f"{toolbox.scenario_name}-{self.name}-{next(_episodes)}"
        self.trace = Trace(name=label, directory=self.trace_dir)
        self.root_cause, self.applied = None, []
        self._gen = self._run(toolbox)

    def act(self, toolbox: Any) -> ToolCall | None:
        if self._gen is None:
            self.reset(toolbox)
        try:
            call = next(self._gen)
        except StopIteration:
            self._finish(toolbox)
            return None
        self.trace.log("tool_call", tool=call[0], args=call[1], t=toolbox.now)
        return call

    def say(self, text: str) -> None:
        self.trace.log("narrative", text=text)

    def _finish(self, toolbox: Any) -> None:
        if self.trace.of_kind("finished"):
            return
        self.trace.log("finished", root_cause=self.root_cause, applied=[c.label for c in self.applied],
                       tokens=self.tokens)
        self.trace.write_report(f"{self.name} on {toolbox.scenario_name}")

    def _last(self, toolbox: Any) -> Any:
        res = toolbox.history[-1] if toolbox.history else None
        if res is not None:
            self.trace.log("tool_result", tool=res.tool, ok=res.ok, summary=res.summary, error=res.error, t=res.t_end)
        return res

    def _safe_to_apply(self, c: Candidate, toolbox: Any) -> bool:
        """Defence in depth: whatever the gate said, re-validate and refuse what the pre-check calls harmful."""
        problem = check_tool_call(toolbox, c.tool, c.args, set(tools_of_kind(toolbox, "mitigate")))
        if problem:
            self.trace.log("rejection", purpose="apply", reason=problem, text=c.label)
            self.say(f"Refused {c.label}: {problem}.")
            return False
        if c.precheck is None:
            c.precheck = toolbox.precheck([{"tool": c.tool, "args": c.args}], horizon=self.precheck_horizon,
                                          draws=self.precheck_draws)[0]
        if c.precheck.verdict == "harmful":
            self.trace.log("rejection", purpose="apply", reason="pre-check verdict harmful", text=c.label)
            self.say(f"Refused {c.label}: the pre-check calls it harmful ({c.precheck.explanation})")
            return False
        return True

    def _apply_and_watch(self, c: Candidate, toolbox: Any) -> Generator[ToolCall, None, bool]:
        self.say(f"Applying {c.label} (pre-check: {c.precheck.verdict}).")
        self.trace.log("decision", module="gate", text=f"apply {c.label}", verdict=c.precheck.verdict)
        yield c.tool, dict(c.args)
        res = self._last(toolbox)
        if res is None or not res.ok:
            self.say(f"{c.label} failed: {getattr(res, 'error', '?')}.")
            return False
        self.applied.append(c)
        for _ in range(self.settle_waits):
            yield "wait", {}
            self._last(toolbox)
            if not any(a.severity == "critical" for a in toolbox.open_alerts()):
                self.say(f"After {c.label} no critical alert is open: mitigated.")
                return True
        self.say(f"After {c.label} the incident is not yet mitigated.")
        return False

    def _run(self, toolbox: Any) -> Generator[ToolCall, None, None]:  # pragma: no cover - abstract
        raise NotImplementedError
        yield


class LLMAgent(_Base):
    """Iterative: form small hypotheses, test the chosen one, plan and pre-check mitigations, apply what the gate allows."""

    name = "llm"

    def __init__(self, backend: LLMBackend | None = None, gate: Gate | None = None,
                 knowledge_dir: str | Path | None = None, token_budget: int = 768, max_rounds: int = 3,
                 **kw: Any) -> None:
        super().__init__(backend, gate, knowledge_dir, token_budget, **kw)
        self.max_rounds = max_rounds

    def _run(self, toolbox: Any) -> Generator[ToolCall, None, None]:
        notes = load_notes(self.knowledge_dir)
        former = HypothesisFormer(self.backend, self.trace, self.token_budget)
        tester = HypothesisTester(self.backend, self.trace, self.token_budget // 2)
        planner = MitigationPlanner(self.backend, self.trace, self.token_budget // 2, self.precheck_horizon,
                                    self.precheck_draws)
        history: list[str] = []
        tried: set[str] = set()
        for round_ in range(1, self.max_rounds + 1):
            ctx = build_context(toolbox, notes, history)
            self.trace.log("context", round=round_, text=ctx.render(self.token_budget),
                           notes=[n.name for n, _ in ctx.notes])
            hyps = former.form(ctx, exclude=tried)
            if not hyps:
                self.say("No retrieved note offers an untested hypothesis; handing back to the OCE.")
                return
            # placeholders are filled by the tester from evidence; until then name them as slots
            top = re.sub(r"\{(\w+)\}", r"<some \1>", hyps[0].statement)
            self.say(f"Round {round_}: {len(hyps)} hypotheses; top: {top} "
                     f"(confidence {hyps[0].confidence:.0%}: {hyps[0].explanation})")
            h = self.gate.choose_hypothesis(hyps)
            if h is None:
                self.say("The OCE rejected every hypothesis.")
                return
            tried.add(h.id)
            plan = tester.plan(h, toolbox, ctx)
            results = []
            for step in plan:
                if toolbox.registry.get(step["tool"]).kind == "mitigate":
                    self.trace.log("rejection", purpose="test", reason="the tester may not run mitigations",
                                   text=step["tool"])
                    continue
                yield step["tool"], dict(step["args"])
                results.append(self._last(toolbox))
            outcome = tester.interpret(h, plan, results)
            statement = _fill(h.statement, outcome.captures)
            self.say(f"Tested \"{statement}\" with {len(results)} tool calls: {outcome.verdict}. "
                     + "; ".join(outcome.evidence))
            self.trace.log("test", hypothesis=h.id, verdict=outcome.verdict, evidence=outcome.evidence,
                           captures=outcome.captures)
            history.append(f"{h.id}: {outcome.verdict} ({'; '.join(outcome.evidence)[:300]})")
            if outcome.verdict != "accepted":
                continue
            self.root_cause = {"statement": statement, "component": h.component, "hypothesis": h.id,
                               "confidence": h.confidence}
            cands = planner.plan(outcome, toolbox, ctx)
            for c in cands:
                rep = c.precheck
                self.say(f"Candidate {c.label} ({'from the ' + h.spec.get('note', 'note') + ' note' if c.source == 'note' else 'proposed by the model'}; "
                         f"model risk {c.llm_risk}): pre-check {getattr(rep, 'verdict', 'failed')}. "
                         f"{getattr(rep, 'explanation', '')}")
            chosen = self.gate.approve(cands, toolbox)
            for why in getattr(self.gate, "refusals", [])[-len(cands):] if chosen is None else []:
                self.trace.log("decision", module="gate", text=f"not applied: {why}")
            if chosen is None:
                self.say("No candidate was approved; nothing applied this round.")
                history.append(f"{h.id}: no mitigation approved")
                continue
            if not self._safe_to_apply(chosen, toolbox):
                continue
            done = yield from self._apply_and_watch(chosen, toolbox)
            if done:
                return
            history.append(f"applied {chosen.label}: not mitigated")


#: Root causes a one-shot answer may name besides the components of the knowledge notes.
GENERIC_CAUSES = ("device failure", "link failure", "traffic surge", "bad deploy", "configuration change", "other")


class OneShotAgent(_Base):
    """The prior-work baseline: sees only the first alert, proposes a root cause and mitigation in one call."""

    name = "llm-oneshot"

    def _run(self, toolbox: Any) -> Generator[ToolCall, None, None]:
        alerts = sorted(toolbox.open_alerts(), key=lambda a: (a.severity != "critical", a.start))
        first = alerts[0].message if alerts else "no alert"
        names = tools_of_kind(toolbox, "mitigate")
        # the root cause is chosen from the known components, not written freely: a tiny model's
        # free text runs past the token limit and leaves unterminated JSON
        causes = sorted({n.component for n in load_notes(self.knowledge_dir) if n.component} | set(GENERIC_CAUSES))
        extra = {"root_cause": {"type": "string", "enum": causes}, "risk": {"type": "string", "enum": list(RISKS)}}
        schema = tool_call_schema(toolbox, names, extra, ("root_cause", "risk"))
        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"{quote('first alert', first)}\n\nName the root cause and one "
                     "mitigation (a tool and its arguments) with its risk."}]

        class _OneShot(_Proposal):
            root_cause: str = ""

        allowed = set(names)
        out = ask(self.backend, messages, _OneShot, schema=schema, trace=self.trace, purpose="one-shot",
                  max_tokens=160, check=lambda p: check_tool_call(toolbox, p.tool, p.args, allowed))
        if out is None:
            self.say("The model gave no valid answer; nothing applied.")
            return
        self.root_cause = {"statement": out.root_cause, "component": None}
        c = Candidate(out.tool, out.args, out.risk, out.rationale, "model")
        c.precheck = toolbox.precheck([{"tool": c.tool, "args": c.args}], horizon=self.precheck_horizon,
                                      draws=self.precheck_draws)[0]
        self.say(f"One shot from \"{first}\": root cause \"{out.root_cause}\"; proposes {c.label} "
                 f"(model risk {c.llm_risk}), pre-check {c.precheck.verdict}.")
        chosen = self.gate.approve([c], toolbox)
        if chosen is None or not self._safe_to_apply(chosen, toolbox):
            self.say(f"Not applied: {'; '.join(getattr(self.gate, 'refusals', [])[-1:]) or 'refused'}.")
            return
        yield from self._apply_and_watch(chosen, toolbox)
