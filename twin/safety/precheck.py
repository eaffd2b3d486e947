"""Trial a mitigation on forks of the twin before it touches production.

For each what-if draw ``d`` (common random numbers: the candidate and doing nothing see the
same draw) the pre-check forks the twin, reseeds the fork's generator from the draw, and:

* scales demand (traffic classes and service entry rates) by a lognormal factor, ``exp(N(0, 0.1))``;
* delays the mitigation by 0-5 minutes (it lands later than planned);
* on even draws, fails one further component the mitigation leans on a minute after it lands:
  one of the three WAN links carrying most traffic then (a replica of the service for service
  mitigations). Doing nothing gets the same failure at the same time.

Draw 0 is the nominal case: no variation, no delay, no failure. Each future runs ``horizon``
seconds; figures are read from the fork's telemetry (:mod:`twin.safety.figures`), then an N-1
check fails the busiest WAN link for one tick on a fork of the fork. A policy turns the
figures into a verdict. The twin given is never changed: everything runs on forks.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Self

import numpy as np

from twin.safety.figures import RunFigures
from twin.safety.futures import FAIL_AFTER_S, Trial, run_jobs, split_draws
from twin.safety.mitigation import Mitigation, describe, parse_mitigation
from twin.safety.policy import Policy, load_policy
from twin.safety.report import DrawSummary, Report, Spread
from twin.units import format_duration, parse_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["DEMAND_SIGMA", "FAIL_AFTER_S", "MAX_DELAY_S", "Draw", "new_alerts", "plan_draws", "precheck", "rank"]

DEMAND_SIGMA = 0.1
MAX_DELAY_S = 300.0
_ORDER = {"safe": 0, "risky": 1, "harmful": 2}


@dataclass(frozen=True)
class Draw:
    index: int
    seed: int
    demand: float
    delay: float
    fail: bool
    pick: float  # uniform in [0, 1): which of the candidate components fails


def plan_draws(rng: np.random.Generator | int | None, n: int) -> list[Draw]:
    """``n`` draws from ``rng``; draw 0 is nominal."""
    rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    seeds = rng.integers(0, 2**31 - 1, max(n, 1))
    out = []
    for d in range(max(n, 1)):
        r = np.random.default_rng(int(seeds[d]))
        if d == 0:
            out.append(Draw(0, int(seeds[0]), 1.0, 0.0, False, 0.0))
            continue
        demand = float(np.exp(r.normal(0.0, DEMAND_SIGMA)))
        delay = float(np.round(r.uniform(0.0, MAX_DELAY_S) / 10.0) * 10.0)
        out.append(Draw(d, int(seeds[d]), demand, delay, d % 2 == 0, float(r.random())))
    return out


class _Session:
    """Shared by the candidates of one decision: the draws, the horizon, the policy.

    :meth:`run_many` simulates every (candidate, draw) future of the decision as one batch of
    twins (:mod:`twin.safety.futures`). With ``workers > 1`` the draws are dealt among processes
    forked from this one, each batching its draws' futures; a draw's futures stay in one
    process, so results do not depend on the split.
    """

    def __init__(self, twin: Twin, horizon: float, draws: int, policy: Policy, rng: Any,
                 workers: int | None = None) -> None:
        self.twin, self.horizon, self.policy = twin, horizon, policy
        self.t0 = twin.now
        self.end = self.t0 + horizon
        self.draws = plan_draws(rng, draws)
        self.workers = _workers(workers)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def jobs(self, ms: Sequence[Mitigation | None]) -> tuple[list[list[int]], list[tuple]]:
        """The draws dealt one group per worker, and for each group the
        :func:`~twin.safety.futures.run_trials` arguments of every ``m`` on its draws."""
        groups = split_draws(self.draws, self.workers)
        return groups, [(self.twin, self.draws, [Trial(m, d) for m in ms for d in g], self.end, self.policy.settle)
                        for g in groups]

    def collect(self, n_candidates: int, groups: list[list[int]], results: list[list[tuple]]) -> list[list[tuple]]:
        """Per candidate, per draw (in draw order): the results of the groups' jobs (candidate-major)."""
        out: list[list[Any]] = [[None] * len(self.draws) for _ in range(n_candidates)]
        for g, rs in zip(groups, results):
            for k, r in enumerate(rs):
                out[k // len(g)][g[k % len(g)]] = r
        return out

    def run_many(self, ms: Sequence[Mitigation | None], progress: Callable[[int], None] | None = None) -> list[list[tuple]]:
        """Every draw of every ``m`` in ``ms`` (None: doing nothing); per candidate, in draw order,
        what :func:`~twin.safety.futures.run_trials` returns for it."""
        groups, jobs = self.jobs(ms)
        return self.collect(len(ms), groups, run_jobs(jobs, self.workers, progress))


_SEVERITY = {"info": 0, "warning": 1, "critical": 2}


def new_alerts(candidate: RunFigures, baseline: RunFigures) -> dict[tuple[str, str], str]:
    """Alerts the candidate opens that doing nothing does not: neither the same alert nor one at
    least as severe on the same entity fires in the baseline's window (a link that is down
    when doing nothing is alerting anyway)."""
    worst: dict[str, int] = {}
    for (_, entity), sev in baseline.active.items():
        worst[entity] = max(worst.get(entity, -1), _SEVERITY.get(sev, 0))
    return {k: sev for k, sev in candidate.alerts.items()
            if k not in baseline.active and worst.get(k[1], -1) < _SEVERITY.get(sev, 0)}


def _workers(requested: int | None) -> int:
    """Processes to use: ``requested``, else ``TWIN_PRECHECK_WORKERS``, else every core (1 = in-process)."""
    from twin.parallel import fork_workers

    return fork_workers(requested, "TWIN_PRECHECK_WORKERS")


# -- verdict and explanation ------------------------------------------------------------------
def _pct(x: float) -> str:
    return f"{x:.0%}" if x >= 0.01 or x == 0 else f"{x:.1%}"


def _verdict(fig: Mapping[str, Spread], base: Mapping[str, Spread], policy: Policy) -> tuple[str, list[str]]:
    harm = harms(fig, base, policy)
    if harm:
        return "harmful", harm
    limits = crossed_limits(fig, base, policy)
    return ("safe" if not limits else "risky"), limits


def harms(fig: Mapping[str, Spread], base: Mapping[str, Spread], policy: Policy) -> list[str]:
    """The policy's margins by which the candidate is worse than doing nothing (empty: no harm)."""
    stat = policy.statistic
    harm = []
    gain = base["impact_minutes"].stat(stat) - fig["impact_minutes"].stat(stat)
    names = {"slo_minutes": "SLO-violation minutes", "impact_minutes": "impact-minutes", "peak_loss": "peak loss",
             "new_alerts": "new alerts", "new_critical_alerts": "new critical alerts",
             "blocked_gbps": "Gbps blocked by the change"}
    for name, margin in policy.margins.items():
        if name not in fig:
            continue  # e.g. blocked_gbps, which only a config change has
        c = fig[name].stat(stat)
        b = base[name].stat(stat) if name in base else 0.0
        if c - b > margin and (gain < policy.better_by or name not in ("new_alerts", "new_critical_alerts")):
            harm.append(f"{names.get(name, name)} {c:.3g} vs {b:.3g} doing nothing (margin {margin:g})")
    return harm


def crossed_limits(fig: Mapping[str, Spread], base: Mapping[str, Spread], policy: Policy) -> list[str]:
    """The policy's thresholds the candidate crosses, and too small a saving (empty: safe)."""
    stat = policy.statistic
    limits = []
    gain = base["impact_minutes"].stat(stat) - fig["impact_minutes"].stat(stat)
    for name, limit in policy.thresholds.items():
        value = fig[name].stat(stat) if name in fig else 0.0
        ref = base[name].stat(stat) if name in base else 0.0
        # a line is crossed by the mitigation only where doing nothing stays on the right side of it
        if value > limit + 1e-12 and value > ref + 1e-9:
            limits.append(f"{name.replace('_', ' ')} {value:.3g} above the policy's {limit:g}"
                          + (f" (doing nothing {ref:.3g})" if name in base else ""))
    if gain < policy.better_by:
        limits.append(f"saves {gain:.2f} impact-minutes, less than the policy's {policy.better_by:g}")
    return limits


def _explain(m: Mitigation, verdict: str, reasons: list[str], fig: Mapping[str, Spread], base: Mapping[str, Spread],
             nominal: DrawSummary, new_alerts: Counter, n1: float, n_draws: int, horizon: float,
             phrase: str | None = None) -> str:
    what = phrase or describe(m)
    cp, bp = nominal.candidate_plane_loss, nominal.baseline_plane_loss
    plane = max(cp, key=lambda p: abs(cp[p] - bp.get(p, 0.0))) if cp else None
    parts = []
    moved = plane is not None and abs(cp[plane] - bp.get(plane, 0.0)) >= 0.005
    if verdict == "harmful":
        head = f"{what} moves the loss" if moved and cp[plane] > bp.get(plane, 0.0) else f"{what} is worse than doing nothing"
    elif verdict == "safe":
        head = f"{what} beats doing nothing"
    else:
        head = f"{what} is risky"
    if moved:
        verb = "rises" if cp[plane] > bp[plane] else "falls"
        parts.append(f"{plane.upper()} loss {verb} from {_pct(bp[plane])} to {_pct(cp[plane])} under nominal demand")
    parts.append(f"SLO violated {fig['slo_minutes'].mean:.1f} min vs {base['slo_minutes'].mean:.1f} doing nothing "
                 f"over {format_duration(horizon)} (p90 {fig['slo_minutes'].p90:.1f}, {n_draws} draws)")
    parts.append(f"impact {fig['impact_minutes'].mean:.1f} vs {base['impact_minutes'].mean:.1f} impact-minutes")
    parts.append(f"peak loss after it lands {_pct(fig['peak_loss'].mean)} (doing nothing {_pct(base['peak_loss'].mean)}), "
                 f"peak utilisation {_pct(fig['peak_utilisation'].mean)}")
    if new_alerts:
        crit = sum(1 for k in new_alerts if k.endswith("(critical)"))
        top = ", ".join(f"{label} in {n} of {n_draws} draws" for label, n in new_alerts.most_common(3))
        parts.append(f"{len(new_alerts)} distinct new alert{'s' if len(new_alerts) != 1 else ''}"
                     + (f" ({crit} critical)" if crit else "") + f": {top}")
    else:
        parts.append("no new alerts")
    parts.append(f"survives the next link failure in {round(n1 * n_draws)} of {n_draws} draws")
    text = f"{head}: " + "; ".join(parts) + "."
    if reasons:
        text += " " + ("Harmful because " if verdict == "harmful" else "Not safe because " if verdict == "risky" else "")
        text += "; ".join(reasons) + "."
    return text


# -- public API --------------------------------------------------------------------------------
def _evaluate(session: _Session, candidates: Sequence[Candidate],
              progress: Callable[[int], None] | None) -> list[Report]:
    """Every candidate's report, their futures simulated together."""
    started = time.perf_counter()
    results = session.run_many([c.mitigation for c in candidates], progress)
    return [summarise(session, c.mitigation, r, c.verification, c.diff, c.phrase, c.label, started)
            for c, r in zip(candidates, results)]


def draw_summary(draw: Draw, result: tuple) -> DrawSummary:
    """One draw's figures (candidate and doing nothing) from what :meth:`_Session.run_many` returned for it."""
    fc, fb, failure, n1_ok, _ = result
    new = new_alerts(fc, fb)
    labels = tuple(f"{name} on {entity} ({sev})" for (name, entity), sev in sorted(new.items()))
    cv = dict(fc.values)
    cv["new_alerts"] = float(len(new))
    cv["new_critical_alerts"] = float(sum(1 for s in new.values() if s == "critical"))
    cv["n1_failure_rate"] = 0.0 if n1_ok else 1.0
    return DrawSummary(draw.index, draw.seed, draw.demand, draw.delay, failure, cv, dict(fb.values),
                       fc.plane_loss, fb.plane_loss, labels, n1_ok)


def summarise(session: _Session, m: Mitigation, results: list[tuple],
              verification: Mapping[str, Any] | None = None, diff: str | None = None, phrase: str | None = None,
              label: str | None = None, started: float | None = None) -> Report:
    """The report of ``m`` from its per-draw results (in the session's draw order)."""
    started = time.perf_counter() if started is None else started
    per_draw, cand_vals, base_vals = [], [], []
    alerts_seen: Counter = Counter()
    services: set[str] = set()
    n1 = 0
    for draw, result in zip(session.draws, results):
        summary = draw_summary(draw, result)
        alerts_seen.update(summary.new_alerts)
        services.update(result[0].services)
        n1 += summary.n1_ok
        cand_vals.append(summary.candidate)
        base_vals.append(summary.baseline)
        per_draw.append(summary)
    fig = {k: Spread.of([v[k] for v in cand_vals]) for k in cand_vals[0]}
    base = {k: Spread.of([v.get(k, 0.0) for v in base_vals]) for k in base_vals[0]}
    base["new_alerts"] = base["new_critical_alerts"] = Spread.of([0.0])
    policy = session.policy
    if verification is not None:  # traffic the embedded check finds the change would drop
        fig["blocked_gbps"] = Spread.of([float(verification.get("blocked_gbps", 0.0))])
        base["blocked_gbps"] = Spread.of([0.0])
    verdict, reasons = _verdict(fig, base, policy)
    n_draws = len(session.draws)
    explanation = _explain(m, verdict, reasons, fig, base, per_draw[0], alerts_seen, n1 / n_draws, n_draws,
                           session.horizon, phrase)
    if verification is not None:
        explanation += " " + str(verification.get("summary", ""))
    return Report(
        mitigation=m.to_dict(), label=label or m.label, verdict=verdict, explanation=explanation,
        reasons=tuple(reasons), at=session.t0, horizon=session.horizon, draws=n_draws, figures=fig, baseline=base,
        new_alerts=dict(alerts_seen), services_affected=tuple(sorted(services)), n1_survival=n1 / n_draws,
        preapproved=m.tool in policy.preapproved, per_draw=tuple(per_draw), policy=policy.to_dict(),
        verification=verification, config_diff=diff, elapsed_s=time.perf_counter() - started,
    )


def _session(twin: Twin, horizon: float | str, draws: int, policy: Any, rng: Any,
             workers: int | None = None) -> _Session:
    from twin.errors import SafetyError

    h = parse_duration(horizon) if isinstance(horizon, str) else float(horizon)
    if not h > 0 or not math.isfinite(h):
        raise SafetyError(f"horizon must be a positive duration, got {horizon!r}")
    if int(draws) < 1:
        raise SafetyError(f"draws must be at least 1, got {draws!r}")
    return _Session(twin, h, int(draws), load_policy(policy), 0 if rng is None else rng, workers)


@dataclass(frozen=True)
class Candidate:
    """A candidate as it will be trialled on one twin: the action, and for a config change the
    embedded check's result, the diff and how to name it."""

    mitigation: Mitigation
    verification: Mapping[str, Any] | None = None
    diff: str | None = None
    phrase: str | None = None
    label: str | None = None


def prepare(twin: Twin, candidate: Any) -> Candidate:
    """Parse ``candidate`` (any accepted form, or a config change) against ``twin``.
    Raises SafetyError naming what is wrong."""
    if _is_config(candidate):
        from twin.config.change import parse_change
        from twin.config.verify import verify

        change = parse_change(twin, candidate)
        result = verify(change, twin)
        return Candidate(change.equivalent(twin), result.to_dict(), result.diff, change.phrase, change.label)
    return Candidate(parse_mitigation(twin, candidate))


def precheck(twin: Twin, mitigation: Any, *, horizon: float | str = 1800.0, draws: int = 8,
             policy: str | Policy | None = None, rng: np.random.Generator | int | None = None,
             alternatives: Iterable[Any] | None = None,
             progress: Callable[[int], None] | None = None, workers: int | None = None) -> Report:
    """Trial ``mitigation`` on forks of ``twin`` and compare it with doing nothing.

    ``mitigation``: a :class:`Mitigation`, ``{"tool", "args"}``, a string such as
    ``"drain_link b2:us-east-us-central"``, or a :class:`twin.config.ConfigChange`.
    ``alternatives``, when given, are trialled on the same draws and named in the explanation
    when one of them does better. Raises SafetyError / PolicyError on bad input.

    >>> from twin import Twin
    >>> t = Twin("b2b4-casc1"); t.run(until="12m")
    >>> precheck(t, "freeze_te", draws=2).verdict
    'safe'
    """
    with _session(twin, horizon, draws, policy, rng, workers) as session:
        prepared = [prepare(twin, c) for c in (mitigation, *(alternatives or ()))]
        report, *others = _evaluate(session, prepared, progress)
    if others:
        better = [o for o in others if _key(o) < _key(report)]
        if better:
            best = min(better, key=_key)
            from dataclasses import replace

            report = replace(report, explanation=report.explanation
                             + f" An alternative does better: {best.label} ({best.verdict}, "
                               f"{best.figure('impact_minutes'):.1f} impact-minutes).")
    return report


def _key(r: Report) -> tuple[int, float, float]:
    return (_ORDER[r.verdict], r.figure("impact_minutes"), r.figure("slo_minutes"))


def rank(twin: Twin, candidates: Iterable[Any], *, horizon: float | str = 1800.0, draws: int = 8,
         policy: str | Policy | None = None, rng: np.random.Generator | int | None = None,
         progress: Callable[[int], None] | None = None, workers: int | None = None) -> list[Report]:
    """Pre-check every candidate on the same draws; best first (verdict, then impact-minutes)."""
    prepared = [prepare(twin, c) for c in candidates]  # every candidate checked before anything is simulated
    with _session(twin, horizon, draws, policy, rng, workers) as session:
        reports = _evaluate(session, prepared, progress)
    return sorted(reports, key=_key)


def _is_config(c: Any) -> bool:
    """A configuration change: a ConfigChange, ``"acl_block ..."`` or ``{"tool": "acl_block", ...}``."""
    from twin.config.change import ConfigChange

    if isinstance(c, ConfigChange):
        return True
    if isinstance(c, str):
        return c.split()[:1] != [] and c.split()[0] in ConfigChange.KINDS
    if isinstance(c, Mapping):
        return str(c.get("tool", c.get("kind", ""))) in ConfigChange.KINDS
    return False
