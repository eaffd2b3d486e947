"""The LLM OCE-helper on the operator's twin, and the one-shot baseline.

``act`` is driven by a generator: each ``yield`` is the next tool call, and the toolbox's
history holds its result when the generator resumes.
"""

from __future__ import annotations

import dataclasses
import re

import itertools
from pathlib import Path
from typing import Any, Generator

from pydantic import BaseModel, Field

from agents.llm.backends import LLMBackend, LlamaCppBackend
from agents.planner import PlannerAgent, _gain, reweigh
from agents.llm.context import build_context, quote
from agents.llm.gate import AutoPolicy, Gate
from agents.llm.guard import ask, check_tool_call
from agents.llm.knowledge import load_notes
from agents.llm.modules import SYSTEM, Candidate, _Proposal
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


class _UsesModel:
    """The model an agent talks to (loaded on first use, one per process) and its token count."""

    _backend: LLMBackend | None
    trace: Trace

    @property
    def backend(self) -> LLMBackend:
        if self._backend is None:
            self._backend = _default_backend()
        return self._backend

    @property
    def tokens(self) -> int:
        return self.trace.tokens



class _Base(_UsesModel):
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


class _ProposedCause(BaseModel):
    kind: str
    entity: str
    why: str = ""


class _Proposals(BaseModel):
    causes: list[_ProposedCause] = Field(default_factory=list, max_length=3)


class _Prose(BaseModel):
    explanation: str = Field(max_length=400)


#: Fault kinds a model may propose, and the parameter its entity fills (the rest take defaults).
PROPOSABLE = {"link_down": "link", "link_degraded": "link", "device_down": "device", "bad_deploy": "service",
              "cpu_hog": "service", "memory_leak": "service", "replica_crash": "service",
              "latent_protocol_defect": "feature", "traffic_surge": "class", "load_surge": "service"}
_DEFAULTS = {"link_degraded": {"loss": 0.1}, "bad_deploy": {"error_rate": 0.2}, "cpu_hog": {"share": 0.9},
             "memory_leak": {"mb_per_min": 100.0}, "replica_crash": {"count": 1, "crashloop": True},
             "latent_protocol_defect": {"threshold_gbps": 5.0}, "traffic_surge": {"factor": 2.2},
             "load_surge": {"factor": 2.2}}
#: How much the OCE's pick of a cause weighs against the causes they did not pick.
OCE_PRIOR = 10.0


@dataclasses.dataclass(frozen=True)
class _Cause:
    """A cause as the gate shows it to the OCE."""

    hypothesis: Any
    statement: str
    confidence: float
    explanation: str


#: How much a retrieved note's match lifts a cause's prior (notes are priors, not the only source).
NOTE_PRIOR = 3.0


class LLMAgent(_UsesModel, PlannerAgent):
    """The OCE helper on the operator's twin: the diagnosis engine ranks causes by simulation; the
    model proposes further causes, the knowledge notes lift the prior of the causes they match,
    the engine tests, pre-checks and plans, the gate (the OCE) approves each mitigation, and the
    model explains the choice in prose. Without notes, and with a model that says nothing useful,
    it is the planner with a gate."""

    name = "llm"

    def __init__(self, backend: LLMBackend | None = None, gate: Gate | None = None,
                 knowledge_dir: str | Path | None = None, token_budget: int = 768,
                 trace_dir: str | Path | None = TRACE_DIR, precheck_draws: int = 2, precheck_horizon: float = 1200.0,
                 max_rounds: int = 4, **kw: Any) -> None:
        super().__init__(draws=precheck_draws, horizon=precheck_horizon, max_rounds=max_rounds, **kw)
        self._backend = backend
        self.gate = gate or AutoPolicy()
        self.knowledge_dir = knowledge_dir
        self.token_budget = token_budget
        self.trace_dir = trace_dir
        self.trace = Trace(directory=None)
        self._extra: list[Any] | None = None
        self._notes: list[Any] = []

    def reset(self, toolbox: Any, rng: Any = None) -> None:
        self.trace = Trace(name=f"{toolbox.scenario_name}-{self.name}-{next(_episodes)}", directory=self.trace_dir)
        self._notes = load_notes(self.knowledge_dir)
        self._extra = None
        super().reset(toolbox, rng)

    def act(self, toolbox: Any) -> ToolCall | None:
        call = super().act(toolbox)
        if call is None:
            if not self.trace.of_kind("finished"):
                self.trace.log("finished", root_cause=self.root_cause, tokens=self.tokens)
                self.trace.write_report(f"{self.name} on {toolbox.scenario_name}")
            return None
        self.trace.log("tool_call", tool=call[0], args=call[1], t=toolbox.now)
        return call

    def say(self, text: str) -> None:
        super().say(text)
        self.trace.log("narrative", text=text)

    # -- the model's part ------------------------------------------------------------------------
    def extra_hypotheses(self, box: Any) -> list[Any]:
        """Causes the model proposes from the context (validated: known kinds and entities only)."""
        if self._extra is not None:
            return self._extra
        from twin.belief import Hypothesis

        ctx = build_context(box, [], None)
        alerts = box.alerts()
        onset = max(0.0, float(alerts["start"].min()) - 60.0) if len(alerts) else max(0.0, box.now - 120.0)
        names: dict[str, set[str]] = {k: set(box.entities(k)) for k in ("link", "device", "service", "feature", "class")}
        allowed_entities = sorted(set().union(*names.values()))
        schema = {"type": "object", "properties": {"causes": {"type": "array", "maxItems": 3, "items": {
            "type": "object", "properties": {"kind": {"type": "string", "enum": sorted(PROPOSABLE)},
                                             "entity": {"type": "string", "enum": allowed_entities[:400]},
                                             "why": {"type": "string", "maxLength": 160}},
            "required": ["kind", "entity"]}}}, "required": ["causes"]}

        def check(p: _Proposals) -> str | None:
            for c in p.causes:
                if c.kind not in PROPOSABLE:
                    return f"unknown fault kind {c.kind!r} (allowed: {', '.join(sorted(PROPOSABLE))})"
                if c.entity not in names.get(PROPOSABLE[c.kind], set()):
                    return f"{c.kind} needs a {PROPOSABLE[c.kind]}; {c.entity!r} is not one"
            return None

        messages = [{"role": "system", "content": SYSTEM},
                    {"role": "user", "content": f"{ctx.render(self.token_budget)}\n\nPropose up to three causes "
                     "that could explain these observations: a fault kind and the entity it hits, with a short reason."}]
        out = ask(self.backend, messages, _Proposals, schema=schema, trace=self.trace, purpose="propose causes",
                  max_tokens=160, check=check)
        self._extra = []
        for c in (out.causes if out is not None else []):
            params = {PROPOSABLE[c.kind]: c.entity, **_DEFAULTS.get(c.kind, {})}
            self._extra.append(Hypothesis(c.kind, params, onset))
        if self._extra:
            self.say("The model proposes: " + "; ".join(h.label for h in self._extra) + ".")
        return self._extra

    def prior(self, box: Any) -> Any:
        """Notes retrieved for this incident lift the causes whose label names their component
        or keywords (notes are priors, not the only source of hypotheses)."""
        if not self._notes:
            return None
        ctx = build_context(box, self._notes, None)
        words = {t for note, _ in ctx.notes for w in (*note.keywords, note.component) if w
                 for t in re.split(r"[^a-z0-9]+", w.lower()) if t}
        if not words:
            return None
        self.trace.log("decision", module="prior", text="notes " + ", ".join(n.name for n, _ in ctx.notes))

        def weight(h: Any) -> float:
            tokens = set(re.split(r"[^a-z0-9]+", h.label.lower()))
            return NOTE_PRIOR if tokens & words else 1.0

        return weight

    def review(self, box: Any, d: Any) -> Any | None:
        """The OCE picks the cause to act on among the likeliest; the pick weighs :data:`OCE_PRIOR`
        times the others (the auto policy takes the top one, which changes nothing)."""
        top = d.weights(self.k)
        if not top:
            return d
        shown = []
        for h, p in top:
            fit = next((s for s in d.ranked if s.hypothesis is h), None)
            why = (f"reproduces {len(fit.explained)} of the alerts seen, misses {len(fit.missed)}, "
                   f"invents {len(fit.invented)}") if fit is not None else ""
            shown.append(_Cause(h, h.label, p, why))
        chosen = self.gate.choose_hypothesis(shown)
        if chosen is None:
            return None
        self.trace.log("decision", module="gate", text=f"act on {chosen.statement}")
        if chosen is shown[0]:
            return d
        return reweigh(d, lambda h: OCE_PRIOR if h is chosen.hypothesis else 1.0)

    def _choose(self, cands: list[dict[str, Any]], reports: list[Any]) -> dict[str, Any] | None:
        order = []
        while True:
            pick = super()._choose([c for c in cands if c not in order], [r for c, r in zip(cands, reports)
                                                                           if c not in order])
            if pick is None:
                break
            order.append(pick)
        self.trace.log("candidates", items=[{"tool": c["tool"], "args": c["args"], "verdict": r.verdict,
                                             "p_harm": r.p_harm, "explanation": r.explanation}
                                            for c, r in zip(cands, reports)])
        wrapped = [Candidate(c["tool"], dict(c["args"]), "low", "ranked by the operator-mode pre-check", "engine",
                             reports[cands.index(c)]) for c in order]
        chosen = self.gate.approve(wrapped, None) if wrapped else None
        for why in getattr(self.gate, "refusals", [])[-len(wrapped):] if chosen is None else []:
            self.trace.log("decision", module="gate", text=f"not applied: {why}")
        if chosen is None:
            return None
        self._explain(chosen)
        return {"tool": chosen.tool, "args": dict(chosen.args)}

    def _explain(self, c: Candidate) -> None:
        r = c.precheck
        worst = getattr(r.worst_hypothesis, "label", "?")
        facts = (f"mitigation {c.label}; probability of harm {r.p_harm or 0:.2f}; expected impact-minutes saved "
                 f"{_gain(r):.1f}; worst case if the cause is {worst}")
        out = ask(self.backend, [{"role": "system", "content": SYSTEM},
                                 {"role": "user", "content": f"{quote('pre-check', facts)}\n\nExplain to the on-call "
                                  "engineer in one sentence why this mitigation is proposed."}],
                  _Prose, schema={"type": "object", "properties": {"explanation": {"type": "string", "maxLength": 400}},
                                  "required": ["explanation"]},
                  trace=self.trace, purpose="explain", max_tokens=96)
        if out is not None and out.explanation.strip():
            self.trace.log("narrative", text=f"(model) {out.explanation.strip()}")


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
