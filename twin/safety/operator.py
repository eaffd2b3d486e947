"""The pre-check under uncertainty: trial mitigations on the operator's twin, once per likely cause.

The sandbox pre-check (:func:`twin.safety.precheck.rank`) forks the twin that holds the injected
fault: it knows what broke. An operator does not. Here each candidate is trialled on belief
twins (:func:`twin.belief.belief_twin`), one per hypothesis the diagnosis (:mod:`twin.diagnosis`)
finds likely: the top ``k`` with probability at least ``min_p``, their probabilities renormalised
over the kept ones. Under every hypothesis the candidate and doing nothing see the same what-if
draws (:func:`twin.safety.precheck.plan_draws`). Each (hypothesis, draw) pair is one future,
weighted ``P(hypothesis) / draws``:

* harm: the policy's margins say the candidate is worse than doing nothing in that future
  (the rules of the sandbox verdict, applied to one draw);
* no effect: no harm, and it saves less than the policy's ``better_by`` impact-minutes.

``P(harm)`` and ``P(no effect)`` are the weighted shares of such futures; impact-minutes are
summarised by their weighted mean and p10/p90. The policy's ``operator:`` section turns them into
a verdict. A candidate that cannot be taken under a hypothesis (it names a change that hypothesis
does not carry) does nothing there. When no hypothesis is kept the twin cannot tell what broke,
and every candidate is risky.

The hypotheses' twins share one world (:func:`twin.belief.belief_twins`), so every (hypothesis,
candidate, draw) future of a decision runs in one batch (:func:`twin.safety.futures.run_trials`
with one present per hypothesis); with workers, one batch per group of draws.

>>> from twin.diagnosis import diagnose
>>> d, reports = operator_precheck("b2b4-casc1", 840.0, ["freeze_te"], draws=1, horizon=600.0, k=1)
>>> reports[0].worst_hypothesis.label
'config_push chg-4421 b4 inconsistency=multi_prefix clusters=2 @ 10m'
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from twin.errors import SafetyError, TwinError
from twin.safety.mitigation import Mitigation, describe
from twin.safety.policy import Policy, load_policy
from twin.safety.precheck import (
    _ORDER, Candidate, _Session, _workers, crossed_limits, harms, plan_draws, prepare, summarise,
)
from twin.safety.futures import Trial, run_jobs, split_draws
from twin.safety.report import Spread
from twin.units import format_duration, parse_duration

if TYPE_CHECKING:
    from twin.belief import Hypothesis
    from twin.diagnosis import Diagnosis, Evidence
    from twin.scenario import Scenario
    from twin.sim.twin import Twin

__all__ = ["HypothesisRow", "OperatorReport", "WorstCase", "kept_hypotheses", "operator_precheck", "operator_rank",
           "validate_candidates", "weighted_spread"]


@dataclass(frozen=True)
class HypothesisRow:
    """How a candidate fared were one hypothesis the cause."""

    label: str
    probability: float  # renormalised over the kept hypotheses
    p_harm: float
    p_no_effect: float
    impact_minutes: float  # mean over draws
    baseline_impact_minutes: float
    verdict: str  # the sandbox pre-check's verdict, had this hypothesis been known to be true
    applicable: bool  # False: the candidate cannot be taken under this hypothesis (it does nothing)


@dataclass(frozen=True)
class WorstCase:
    """The hypothesis under which the candidate does worst."""

    label: str
    p_harm: float
    impact_delta: float  # mean impact-minutes, candidate minus doing nothing


@dataclass(frozen=True)
class OperatorReport:
    """A pre-check of one mitigation against doing nothing, under the diagnosis's hypotheses."""

    mitigation: Mapping[str, Any]
    label: str
    verdict: str
    explanation: str
    reasons: tuple[str, ...]
    p_harm: float | None  # None: no hypothesis kept, nothing was trialled
    p_no_effect: float | None
    impact: Spread | None  # impact-minutes, weighted over (hypothesis, draw)
    baseline_impact: Spread | None
    worst_hypothesis: WorstCase | None
    hypotheses: tuple[HypothesisRow, ...]
    unexplained: float  # the posterior's "none of these" mass
    dropped: float  # posterior mass of hypotheses not kept (beyond k, under min_p, not expressible)
    at: float
    horizon: float
    draws: int
    figures: Mapping[str, Spread]
    baseline: Mapping[str, Spread]
    preapproved: bool
    policy: Mapping[str, Any]
    mode: str = "operator"
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def auto_approvable(self) -> bool:
        return self.preapproved and self.verdict == "safe"

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["mitigation"] = {"tool": self.mitigation["tool"], "args": dict(self.mitigation.get("args", {}))}
        out["auto_approvable"] = self.auto_approvable
        return out


def weighted_spread(values: Sequence[float], weights: Sequence[float]) -> Spread:
    """Mean, p10, p90, min and max of ``values`` drawn with probabilities ``weights``.

    >>> weighted_spread([0.0, 10.0], [0.75, 0.25]).mean
    2.5
    """
    v, w = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    keep = w > 0
    v, w = v[keep], w[keep]
    if v.size == 0:
        return Spread(0.0, 0.0, 0.0, 0.0, 0.0)
    w = w / w.sum()
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)

    def quantile(q: float) -> float:  # the smallest value whose cumulative weight reaches q
        return float(v[min(int(np.searchsorted(cum, q - 1e-12)), v.size - 1)])

    return Spread(float(np.dot(v, w)), quantile(0.1), quantile(0.9), float(v[0]), float(v[-1]))


def kept_hypotheses(diagnosis: Diagnosis, k: int = 3, min_p: float = 0.02) -> tuple[list[tuple[Hypothesis, float]], float]:
    """The top ``k`` hypotheses holding at least ``min_p`` of the posterior, with their raw
    probabilities, and the "none of these" mass."""
    unexplained = sum(s.probability for s in diagnosis.ranked if s.hypothesis is None)
    named = [s for s in diagnosis.ranked if s.hypothesis is not None and s.probability >= min_p]
    named.sort(key=lambda s: -s.probability)
    return [(s.hypothesis, float(s.probability)) for s in named[:k]], float(unexplained)


# -- the futures: every (hypothesis, candidate, draw) future of the decision as one batch ---------------------------
def _run_futures(twins: list[Twin], session: _Session, prepared: list[list[Candidate | None]], workers: int,
                 progress: Callable[[int], None] | None) -> list[list[list[tuple]]]:
    """Per hypothesis, per candidate, per draw: the futures' results. The hypotheses' twins are
    presents of one world (:func:`twin.belief.belief_twins`), so all their futures run as one
    batch (with ``workers > 1``, one batch per group of draws). A candidate a hypothesis's twin
    cannot take (None) is doing nothing there, its failure chosen on its own future."""
    groups = split_draws(session.draws, workers)
    keys = [[(h, c, d) for h, cands in enumerate(prepared) for c in range(len(cands)) for d in g] for g in groups]
    jobs = [(twins, session.draws, [Trial(_mitigation(prepared[h][c]), d, h) for h, c, d in ks], session.end,
             session.policy.settle) for ks in keys]
    out: list[list[list[Any]]] = [[[None] * len(session.draws) for _ in cands] for cands in prepared]
    for ks, results in zip(keys, run_jobs(jobs, workers, progress)):
        for (h, c, d), r in zip(ks, results):
            out[h][c][d] = r
    return out


def _mitigation(c: Candidate | None) -> Mitigation | None:
    return c.mitigation if c is not None else None


# -- verdict ----------------------------------------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def _aggregate(policy: Policy, rows: list[tuple[float, list[Any], bool]]) -> dict[str, Any]:
    """Weighted figures over (hypothesis, draw): ``rows`` holds (P(hypothesis), per-draw summaries,
    whether a config change's check found blocked traffic) per hypothesis."""
    values, base, weights, harm, none = [], [], [], [], []
    for p, summaries, blocked in rows:
        for ds in summaries:
            cv = dict(ds.candidate)
            if blocked is not None:
                cv["blocked_gbps"] = blocked
            bv = dict(ds.baseline, new_alerts=0.0, new_critical_alerts=0.0)
            if blocked is not None:
                bv["blocked_gbps"] = 0.0
            one = {k: Spread.of([v]) for k, v in cv.items()}
            ref = {k: Spread.of([v]) for k, v in bv.items()}
            h = bool(harms(one, ref, policy))
            gain = bv["impact_minutes"] - cv["impact_minutes"]
            values.append(cv)
            base.append(bv)
            weights.append(p / len(summaries))
            harm.append(h)
            none.append(not h and gain < policy.better_by)
    w = np.asarray(weights)
    return {"figures": {k: weighted_spread([v[k] for v in values], w) for k in values[0]},
            "baseline": {k: weighted_spread([v.get(k, 0.0) for v in base], w) for k in base[0]},
            "p_harm": float(np.dot(w, harm) / w.sum()), "p_no_effect": float(np.dot(w, none) / w.sum())}


def _decide(policy: Policy, p_harm: float, fig: Mapping[str, Spread], base: Mapping[str, Spread],
            unexplained: float) -> tuple[str, list[str]]:
    op = policy.operator
    if p_harm >= op.harm_probability:
        return "harmful", [f"P(harm) {_pct(p_harm)} at or above the policy's {op.harm_probability:g}"]
    reasons = []
    if p_harm >= op.risk_probability:
        reasons.append(f"P(harm) {_pct(p_harm)} at or above the policy's {op.risk_probability:g}")
    reasons += crossed_limits(fig, base, policy)
    if unexplained >= op.max_unexplained:
        reasons.append(f"\"none of these\" holds {_pct(unexplained)} of the posterior "
                       f"(policy's limit {op.max_unexplained:g}): the twin may not know what broke")
    return ("risky" if reasons else "safe"), reasons


def _explain(what: str, verdict: str, reasons: list[str], agg: Mapping[str, Any], worst: WorstCase, n_hyp: int,
             n_draws: int, horizon: float, unexplained: float, dropped: float) -> str:
    head = {"harmful": "is likely to do harm", "risky": "is risky", "safe": "beats doing nothing"}[verdict]
    imp, ref = agg["figures"]["impact_minutes"], agg["baseline"]["impact_minutes"]
    parts = [f"P(harm) {_pct(agg['p_harm'])}, P(no effect) {_pct(agg['p_no_effect'])} over {n_hyp} "
             f"hypothes{'is' if n_hyp == 1 else 'es'} x {n_draws} draws",
             f"expected impact {imp.mean:.1f} impact-minutes (p10-p90 {imp.p10:.1f}-{imp.p90:.1f}) vs {ref.mean:.1f} "
             f"doing nothing over {format_duration(horizon)}",
             f"worst if the cause is {worst.label} (P(harm) {_pct(worst.p_harm)}, {worst.impact_delta:+.1f} "
             f"impact-minutes)",
             f"the hypotheses trialled hold {_pct(max(0.0, 1.0 - unexplained - dropped))} of the posterior "
             f"({_pct(unexplained)} none of these)"]
    text = f"{what} {head}: " + "; ".join(parts) + "."
    if reasons:
        text += " " + ("Harmful because " if verdict == "harmful" else "Not safe because ") + "; ".join(reasons) + "."
    return text


# -- public API -------------------------------------------------------------------------------------------------
def operator_rank(base: Scenario | Mapping[str, Any], ev: Evidence, diagnosis: Diagnosis, candidates: Iterable[Any], *,
                  horizon: float | str = 1800.0, draws: int = 4, k: int = 3, min_p: float = 0.02,
                  policy: str | Policy | None = None, rng: np.random.Generator | int | None = None,
                  workers: int | None = None, progress: Callable[[int], None] | None = None) -> list[OperatorReport]:
    """Pre-check every candidate under the diagnosis's likely hypotheses; best first.

    ``base``: the operator's scenario (:func:`twin.belief.operator_scenario` or
    :func:`twin.belief.base_data`); ``ev``: what the operator saw, their own actions included;
    ``diagnosis``: the posterior over causes. Raises SafetyError / PolicyError on bad input (a
    candidate the operator's network cannot take under any kept hypothesis, a bad horizon)."""
    from twin.belief import base_data, belief_twins
    from twin.scenario import Scenario

    started = time.perf_counter()
    h_s = parse_duration(horizon) if isinstance(horizon, str) else float(horizon)
    if not h_s > 0 or not math.isfinite(h_s):
        raise SafetyError(f"horizon must be a positive duration, got {horizon!r}")
    if int(draws) < 1:
        raise SafetyError(f"draws must be at least 1, got {draws!r}")
    if int(k) < 1:
        raise SafetyError(f"k (hypotheses to trial) must be at least 1, got {k!r}")
    if not 0.0 <= float(min_p) <= 1.0:
        raise SafetyError(f"min_p must be a probability between 0 and 1, got {min_p!r}")
    pol = load_policy(policy)
    items = list(candidates)
    if not items:
        raise SafetyError("give at least one candidate mitigation")
    data = base_data(base) if isinstance(base, Scenario) else dict(base)
    kept, unexplained = kept_hypotheses(diagnosis, int(k), float(min_p))
    # one world for every hypothesis's twin, so that all their futures can run as one batch
    built = belief_twins(data, [h for h, _ in kept], ev.at, ev.actions) if kept else []
    twins = [(h, p, t) for (h, p), t in zip(kept, built) if t is not None]
    dropped = max(0.0, 1.0 - unexplained - sum(p for _, p, _ in twins))
    prepared, reference = _prepare_all([t for _, _, t in twins], items, data, ev)
    if not twins:
        return [_cannot_tell(c, ev.at, h_s, int(draws), unexplained, dropped, pol, started) for c in reference]
    plan = plan_draws(rng if rng is not None else 0, int(draws))
    n_workers = _workers(workers)
    s = _Session(twins[0][2], h_s, int(draws), pol, 0, workers=n_workers)  # the hypotheses' twins share the present
    s.draws = plan  # every hypothesis sees the same draws
    results = _run_futures([t for _, _, t in twins], s, prepared, n_workers, progress)
    total = sum(p for _, p, _ in twins)
    reports = []
    for c, ref in enumerate(reference):
        rows, hyp_rows = [], []
        for i, (h, p, _) in enumerate(twins):
            cand = prepared[i][c]
            per = results[i][c]
            use = cand or ref
            rep = summarise(s, use.mitigation, per, use.verification if cand else None, use.diff, use.phrase,
                            use.label)
            blocked = float(cand.verification.get("blocked_gbps", 0.0)) if cand and cand.verification else None
            summaries = list(rep.per_draw)
            agg = _aggregate(pol, [(1.0, summaries, blocked)])
            rows.append((p / total, summaries, blocked))
            hyp_rows.append(HypothesisRow(h.label, p / total, agg["p_harm"], agg["p_no_effect"],
                                          agg["figures"]["impact_minutes"].mean,
                                          agg["baseline"]["impact_minutes"].mean, rep.verdict, cand is not None))
        agg = _aggregate(pol, rows)
        worst_row = max(hyp_rows, key=lambda r: (r.p_harm, r.impact_minutes - r.baseline_impact_minutes))
        worst = WorstCase(worst_row.label, worst_row.p_harm, worst_row.impact_minutes - worst_row.baseline_impact_minutes)
        verdict, reasons = _decide(pol, agg["p_harm"], agg["figures"], agg["baseline"], unexplained)
        m = ref.mitigation
        what = ref.phrase or describe(m)
        reports.append(OperatorReport(
            mitigation=m.to_dict(), label=ref.label or m.label, verdict=verdict,
            explanation=_explain(what, verdict, reasons, agg, worst, len(twins), len(plan), h_s, unexplained, dropped),
            reasons=tuple(reasons), p_harm=agg["p_harm"], p_no_effect=agg["p_no_effect"],
            impact=agg["figures"]["impact_minutes"], baseline_impact=agg["baseline"]["impact_minutes"],
            worst_hypothesis=worst, hypotheses=tuple(hyp_rows), unexplained=unexplained, dropped=dropped, at=ev.at,
            horizon=h_s, draws=len(plan), figures=agg["figures"], baseline=agg["baseline"],
            preapproved=m.tool in pol.preapproved, policy=pol.to_dict(), elapsed_s=time.perf_counter() - started))
    return sorted(reports, key=lambda r: (_ORDER[r.verdict], r.impact.mean if r.impact else 0.0, r.p_harm or 0.0))


def _prepare_all(twins: list[Twin], items: list[Any], data: Mapping[str, Any],
                 ev: Evidence) -> tuple[list[list[Candidate | None]], list[Candidate]]:
    """Each candidate parsed on each belief twin (None where that twin cannot take it), and one
    parse per candidate to name it; a candidate the operator's network cannot take is an error."""
    prepared: list[list[Candidate | None]] = [[] for _ in twins]
    reference: list[Candidate] = []
    fallback: Twin | None = None
    for item in items:
        first: TwinError | None = None
        ref = None
        for i, t in enumerate(twins):
            try:
                c = prepare(t, item)
            except TwinError as exc:
                first, c = first or exc, None
            prepared[i].append(c)
            ref = ref or c
        if ref is None:  # validate on the operator's twin with nothing broken
            if fallback is None:
                from twin.belief import belief_twin

                fallback = belief_twin(data, None, ev.at, ev.actions)
            # the network can take it, no likely hypothesis can: it does nothing under each
            ref = _operator_candidate(fallback, item, ev)
        reference.append(ref)
    return prepared, reference


def _operator_candidate(twin: Twin, item: Any, ev: Evidence) -> Candidate:
    """``item`` parsed on the operator's twin; a rollback of a change the operator saw in the log
    is accepted even where that twin's model does not carry the change (it does nothing there)."""
    try:
        return prepare(twin, item)
    except TwinError:
        m = _rollback_of_logged_change(item, ev)
        if m is None:
            raise
        return Candidate(m)


def _rollback_of_logged_change(item: Any, ev: Evidence) -> Mitigation | None:
    from twin.safety.mitigation import _from_string

    if isinstance(item, Mitigation):
        kind, args = item.tool, dict(item.args)
    elif isinstance(item, str):
        kind, args = _from_string(item)
    elif isinstance(item, Mapping):
        kind, args = str(item.get("tool", "")), dict(item.get("args") or {})
    else:
        return None
    logged = {c[0] for c in ev.changes}
    if kind == "rollback_change" and set(args) == {"change"} and args["change"] in logged:
        return Mitigation(kind, {"change": args["change"]})
    return None


def validate_candidates(base: Scenario | Mapping[str, Any], ev: Evidence, candidates: Iterable[Any]) -> None:
    """Raise SafetyError naming the first candidate the operator's network cannot take (checked on
    the operator's twin with nothing broken, so before any diagnosis runs)."""
    from twin.belief import base_data, belief_twin
    from twin.scenario import Scenario

    data = base_data(base) if isinstance(base, Scenario) else dict(base)
    t = belief_twin(data, None, ev.at, ev.actions)
    for item in candidates:
        _operator_candidate(t, item, ev)


def _cannot_tell(c: Candidate, at: float, horizon: float, draws: int, unexplained: float, dropped: float,
                 policy: Policy, started: float) -> OperatorReport:
    m = c.mitigation
    reason = (f"the twin cannot tell what broke: no hypothesis of the diagnosis is likely enough to trial "
              f"({_pct(unexplained)} of the posterior on \"none of these\")")
    text = (f"{c.phrase or describe(m)} is risky: {reason}, so nothing says how it would compare with doing nothing. "
            f"Find the cause first (twin diagnose), or pre-check it against a named cause with --oracle in the sandbox.")
    return OperatorReport(
        mitigation=m.to_dict(), label=c.label or m.label, verdict="risky", explanation=text, reasons=(reason,),
        p_harm=None, p_no_effect=None, impact=None, baseline_impact=None, worst_hypothesis=None, hypotheses=(),
        unexplained=unexplained, dropped=dropped, at=at, horizon=horizon, draws=draws, figures={}, baseline={},
        preapproved=m.tool in policy.preapproved, policy=policy.to_dict(), elapsed_s=time.perf_counter() - started)


def operator_precheck(scenario: Scenario | str, at: float, candidates: Iterable[Any], *, seed: int | None = None,
                      twin: Twin | None = None, **kwargs: Any) -> tuple[Diagnosis, list[OperatorReport]]:
    """Run the incident (the sandbox: only its monitors are read) to ``at``, diagnose it, and
    :func:`operator_rank` the candidates; draws are seeded from ``seed`` (default: the scenario's)."""
    from twin.belief import operator_scenario
    from twin.diagnosis import diagnose
    from twin.scenario import load_scenario

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    d = diagnose(sc, float(at), seed, twin=twin)
    kwargs.setdefault("rng", seed if seed is not None else sc.seed)
    return d, operator_rank(operator_scenario(sc), d.evidence, d, candidates, **kwargs)
