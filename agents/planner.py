"""The planner: a note-free agent that diagnoses, tests and mitigates with the operator's twin alone.

Each round it

1. **diagnoses**: asks the toolbox for the posterior over causes (:mod:`twin.diagnosis`: every
   candidate cause is simulated on the operator's twin and scored against what the monitors saw);
2. **tests**: while the top cause is not clear, runs the test whose outcomes differ most across
   the top causes per simulated second (:func:`twin.diagnosis.next_test`) and updates the posterior;
3. **plans**: turns the top causes into candidate mitigations, generically (each mitigation tool
   whose target names an entity a cause blames, see :func:`candidates_for`), pre-checks them in
   operator mode (each trialled under the top causes times what-if draws, against doing nothing)
   and applies the one with the best expected gain whose probability of harm is under
   :data:`MAX_P_HARM`;
4. **watches** until the critical alerts clear, or goes round again with what it did now part of
   the operator's twin.

No runbook, note or scenario-specific rule is read. Subclasses (the LLM helper) may add
hypotheses and priors (:meth:`PlannerAgent.extra_hypotheses`, :meth:`PlannerAgent.prior`) and
narrate (:meth:`PlannerAgent.say`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.units import format_duration

from twin.belief import Hypothesis

if TYPE_CHECKING:
    from twin.tools import Toolbox

__all__ = ["MAX_P_HARM", "PlannerAgent", "candidates_for", "reweigh"]

#: The highest probability of harm the planner accepts without asking the OCE.
MAX_P_HARM = 0.2
#: Below this posterior the top cause is tested before anything is planned.
CLEAR_P = 0.7
#: SLO-violation minutes a mitigation must save, in expectation, to be worth applying.
MIN_SLO_GAIN = 1.0
#: Minutes of the baseline an operator compares a service's load with (the run's first minutes).
BASELINE_S = 300.0


def _service_baseline_rps(box: Toolbox, service: str) -> float | None:
    names = box.monitored.get("service", ())
    if service not in names:
        return None
    try:
        times, values = box.monitor_array("service", "rps", until=BASELINE_S)
    except (KeyError, ValueError):
        return None
    col = values[:, names.index(service)] if values.size else np.zeros(0)
    col = col[np.isfinite(col)]
    return float(col.mean()) if col.size else None


def _design_replicas(box: Toolbox, service: str) -> int:
    cg = box.world.callgraph
    for s in cg.services if cg is not None else ():
        if s.name == service:
            return int(getattr(s, "replicas", 1))
    return 1


def candidates_for(box: Toolbox, hypotheses: list[Hypothesis]) -> list[dict[str, Any]]:
    """Mitigations that act on what the hypotheses blame: every mitigation tool whose target
    kind (link, device, change, feature, site, service, class, plane) names an entity one of them
    names, with the tool's other arguments set from the operator's own numbers (design replica
    counts, the baseline load the monitors saw). Generic: nothing here is written per incident."""
    out: list[dict[str, Any]] = []
    names = set(box.names())
    changes = {c.id: c for c in box.change_log()}
    deployed = {c.target for c in changes.values() if c.kind == "deploy"}

    def add(tool: str, **args: Any) -> None:
        c = {"tool": tool, "args": args}
        if tool in names and c not in out:
            out.append(c)

    # services whose own monitors alert critically are where the damage shows: the service
    # tools act there too (a storm's victim, a cause's downstream)
    hot = sorted({a.entity for a in box.open_alerts() if a.entity_kind == "service" and a.severity == "critical"})
    pseudo = [Hypothesis("alerting", {"service": s}, 0.0) for s in hot]
    for h in [*hypotheses, *pseudo]:
        for part in h.parts:
            p = part.params
            for name in sorted(part.entities if hasattr(part, "entities") else ()):
                if name in changes and changes[name].status == "applied":
                    add("rollback_change", change=name)
            if "link" in p:
                add("drain_link", link=p["link"])
            if "device" in p:
                add("drain_device", device=p["device"])
            if "feature" in p:
                add("disable_feature", feature=p["feature"])
            sites = p.get("sites") or ([p["site"]] if "site" in p else [])
            for s in sites if isinstance(sites, (list, tuple)) else [sites]:
                add("restart_control_jobs", site=s)
            if "service" in p:
                s = p["service"]
                if s in deployed:
                    add("rollback_deploy", service=s)
                add("restart_service", service=s)
                add("scale_service", service=s, replicas=max(2 * _design_replicas(box, s), 2))
                rps = _service_baseline_rps(box, s)
                if rps and rps > 0:
                    add("rate_limit", service=s, rps=round(rps, 1))
                for caller in sorted({a for a, b in _calls(box) if b == s}):
                    add("set_retry_budget", service=caller, budget=0.1)
                add("set_retry_budget", service=s, budget=0.1)
            if "class" in p:
                add("shed_traffic", traffic_class=p["class"], fraction=0.4)
                add("halt_automation")
            if "plane" in p:
                add("freeze_te")
                for cls in ("user", "interdc"):
                    for other in box.world.topology.planes:
                        if other != p["plane"]:
                            add("shift_traffic", traffic_class=cls, plane=other)
    return out


def reweigh(d: Any, weight: Callable[[Hypothesis], float]) -> Any:
    """The posterior under a prior: each cause's probability times its weight, renormalised
    ("none of these" keeps weight 1). Same as diagnosing with that prior, without re-simulating."""
    ranked = [dataclasses.replace(s, probability=s.probability * (1.0 if s.hypothesis is None
                                                                  else max(float(weight(s.hypothesis)), 0.0)))
              for s in d.ranked]
    total = sum(s.probability for s in ranked) or 1.0
    ranked = sorted((dataclasses.replace(s, probability=s.probability / total) for s in ranked),
                    key=lambda s: -s.probability)
    return dataclasses.replace(d, ranked=ranked)


def _calls(box: Toolbox) -> list[tuple[str, str]]:
    w = box.world
    if w.callgraph is None:
        return []
    names = [s.name for s in w.callgraph.services]
    return [(names[a], names[b]) for a, b in zip(w.call_src, w.call_dst)]


def _critical(box: Toolbox) -> int:
    return sum(a.severity == "critical" for a in box.open_alerts())


class PlannerAgent:
    """Diagnose by simulation, test what discriminates, pre-check under uncertainty, mitigate."""

    name = "planner"

    def __init__(self, draws: int = 2, horizon: float = 1200.0, k: int = 3, max_rounds: int = 5,
                 max_tests: int = 2, max_p_harm: float = MAX_P_HARM) -> None:
        self.draws, self.horizon, self.k = int(draws), float(horizon), int(k)
        self.max_rounds, self.max_tests, self.max_p_harm = int(max_rounds), int(max_tests), float(max_p_harm)
        self.log: list[str] = []
        self.root_cause: dict[str, Any] | None = None
        self.decisions: list[dict[str, Any]] = []
        self._gen: Generator[tuple[str, dict[str, Any]], None, None] | None = None

    # -- hooks for subclasses (the LLM helper) -------------------------------------------------
    def extra_hypotheses(self, box: Toolbox) -> list[Hypothesis]:
        return []

    def prior(self, box: Toolbox) -> Callable[[Hypothesis], float] | None:
        """A prior weight per hypothesis (None: uniform); the posterior is reweighted by it."""
        return None

    def say(self, text: str) -> None:
        self.log.append(text)

    def review(self, box: Toolbox, d: Any) -> Any | None:
        """The OCE's say on the posterior before anything is planned (None: they rejected every
        cause). The planner alone takes the posterior as it is."""
        return d

    # -- the agent protocol -------------------------------------------------------------------
    def reset(self, toolbox: Toolbox, rng: np.random.Generator | None = None) -> None:
        self.log, self.decisions, self.root_cause = [], [], None
        self._gen = self._run(toolbox)

    def act(self, toolbox: Toolbox) -> tuple[str, dict[str, Any]] | None:
        if self._gen is None:
            self.reset(toolbox)
        try:
            return next(self._gen)
        except StopIteration:
            return None

    # -- the loop -------------------------------------------------------------------------------
    def _diagnose(self, box: Toolbox) -> Generator[tuple[str, dict[str, Any]], None, Any]:
        from twin.discriminate import next_test, update

        base = box.operator_scenario
        d = box.diagnose(extra=tuple(self.extra_hypotheses(box)))
        weight = self.prior(box)
        if weight is not None:
            d = reweigh(d, weight)
        for _ in range(self.max_tests):
            if d.top.probability >= CLEAR_P or d.top.hypothesis is None:
                break
            test = next_test(d, box.tools, base, k=self.k)
            if test is None:
                break
            self.say(f"Top causes unclear ({d.top.label}: p={d.top.probability:.2f}); testing with {test.label}, "
                     f"expected information {test.bits:.2f} bits in {format_duration(test.duration_s)}")
            yield test.tool, dict(test.args)
            res = box.history[-1]
            if not res.ok:
                break
            d = update(d, test.tool, test.args, res.data, base)
        return d

    def _run(self, box: Toolbox) -> Generator[tuple[str, dict[str, Any]], None, None]:
        tried: set[str] = set()
        for round_ in range(1, self.max_rounds + 1):
            if _critical(box) == 0 and round_ > 1:
                return
            d = yield from self._diagnose(box)
            d = self.review(box, d)
            if d is None:
                self.say("The OCE rejected every cause; nothing is planned.")
                return
            top = d.weights(self.k)
            shown = "; ".join(f"{h.label} p={p:.2f}" for h, p in top) or "nothing fits"
            self.say(f"Round {round_} at {format_duration(box.now)}: posterior {shown} "
                     f"(none of these {d.unexplained:.2f})")
            if top:
                h0, p0 = top[0]
                self.root_cause = {"statement": h0.label, "component": sorted(h0.entities)[:1] or None,
                                   "probability": p0}
            cands = [c for c in candidates_for(box, [h for h, _ in top]) if _label(c) not in tried]
            if not cands:
                self.say("No mitigation acts on the causes still open; waiting for more evidence.")
                yield "wait", {}
                continue
            reports = box.precheck(cands, diagnosis=d, horizon=self.horizon, draws=self.draws, k=self.k)
            pick = self._choose(cands, reports)
            for c, r in zip(cands, reports):
                self.decisions.append({"round": round_, "at": box.now, "candidate": _label(c), "verdict": r.verdict,
                                       "p_harm": _p(r.p_harm), "gain": _gain(r), "slo_gain": _slo_gain(r), "chosen": c is pick})
            if pick is None:
                self.say("No candidate is both likely to help and unlikely to harm; waiting for more evidence.")
                yield "wait", {}
                continue
            tried.add(_label(pick))
            r = reports[cands.index(pick)]
            self.say(f"Applying {_label(pick)}: P(harm) {_p(r.p_harm):.2f}, expected to save {_slo_gain(r):.1f} "
                     f"SLO-violation minutes and {_gain(r):.1f} impact-minutes ({r.verdict}).")
            yield pick["tool"], dict(pick["args"])
            res = box.history[-1]
            if not res.ok:
                continue
            lands = float(res.data.get("lands_at", box.now))
            clear = 0
            while box.now < lands + 360.0:
                yield "wait", {}
                clear = clear + 1 if _critical(box) == 0 else 0
                if clear >= 2:
                    self.say(f"After {_label(pick)} no critical alert has been open for two minutes.")
                    return

    def _choose(self, cands: list[dict[str, Any]], reports: list[Any]) -> dict[str, Any] | None:
        """The candidate that saves the most SLO-violation minutes (then impact-minutes) in
        expectation, among those whose P(harm) is at most :attr:`max_p_harm` and that save at
        least a minute of SLO violation or the policy's ``better_by`` impact-minutes."""
        ok = []
        for c, r in zip(cands, reports):
            if r.verdict == "harmful" or _p(r.p_harm) > self.max_p_harm:
                continue
            better_by = float((r.policy or {}).get("better_by", 0.5))
            if _slo_gain(r) >= MIN_SLO_GAIN or _gain(r) >= better_by:
                ok.append((c, r))
        if not ok:
            return None
        return max(ok, key=lambda cr: (round(_slo_gain(cr[1]), 1), _gain(cr[1])))[0]


def _gain(report: Any) -> float:
    """Expected impact-minutes saved against doing nothing (0 when nothing could be trialled)."""
    if report.impact is None or report.baseline_impact is None:
        return 0.0
    return float(report.baseline_impact.mean - report.impact.mean)


def _slo_gain(report: Any) -> float:
    """Expected SLO-violation minutes saved against doing nothing."""
    fig, base = report.figures or {}, report.baseline or {}
    if "slo_minutes" not in fig or "slo_minutes" not in base:
        return 0.0
    return float(base["slo_minutes"].mean - fig["slo_minutes"].mean)


def _p(x: float | None) -> float:
    return 1.0 if x is None else float(x)


def _label(c: dict[str, Any]) -> str:
    args = " ".join(str(v) for v in c["args"].values())
    return f"{c['tool']} {args}".strip()
