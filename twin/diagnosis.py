"""Diagnosis by simulation: hypotheses are fault injections on the operator's twin, ranked by
how well the monitors they simulate match the monitors the operator saw.

The operator's twin is the scenario without its faults and ground truth (the network model
production would feed in). Evidence is what an operator has at ``at``: the sampled link and
service metrics, the alerts, the change log (with the config lines each change pushed) and the
operator's own actions, extracted by :func:`evidence` and nothing else; the functions here
never read the sandbox, and :func:`diagnose_evidence` needs none. Each hypothesis (a typed fault
from the catalogue on named entities with a start time) is proposed from the evidence and the
network model alone, by a generic generator: recent changes (as logged, and as the faults a
change of that kind can carry), alerting links, alerting services and the services they call
(deeper behind silent monitors), latent defects of the features enabled on the network, surges
of each traffic class and entry service; plus any ``extra`` hypotheses someone proposes. It is
simulated on the operator's twin up to ``at`` with the operator's actions replayed; its misfit is
the mean squared standardised residual between simulated and observed monitors (each entity's
mean and peak since the earliest candidate start, over the samples monitors did send; a stated
noise model: :data:`SIGMA`) plus the alerts it fails to reproduce or invents. When no single
cause explains every alert, pairs of the best single causes are tried as compound hypotheses
(prior :data:`COMPOUND_PRIOR`); the likeliest causes are re-simulated on :data:`DRAWS` draws of
the operator's twin and their likelihoods averaged (the operator cannot know the incident's
draws). The posterior is proportional to ``prior * exp(-EVIDENCE_WEIGHT * misfit / 2)``; "none
of these" holds the mass of a hypothesis that misses every monitor by :data:`NONE_MISFIT` on
average. Which test tells the survivors apart is :mod:`twin.discriminate`'s job.

>>> h = Hypothesis("link_down", {"link": "b4:us-east-us-central"}, 600.0)
>>> h.label
'link_down b4:us-east-us-central @ 10m'
"""

from __future__ import annotations

import dataclasses
import difflib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.belief import OPERATOR_SEED, Action, Hypothesis, base_data, belief_twins, operator_scenario
from twin.errors import TwinError
from twin.faults.registry import fault_kinds
from twin.scenario import Scenario, load_scenario
from twin.units import format_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["NONE", "Diagnosis", "DiagnosisError", "Evidence", "Hypothesis", "Scored", "diagnose", "diagnose_evidence",
           "evidence", "parse_hypothesis", "silent_entities", "operator_scenario", "propose"]

#: Noise model: a residual's standard deviation, absolute plus relative to the observed value.
SIGMA = {"utilisation": (0.05, 0.05), "loss": (0.01, 0.1), "error_rate": (0.01, 0.1)}
#: Independent observations the mean misfit stands for (tempers an overconfident posterior).
EVIDENCE_WEIGHT = 12.0
#: Mean squared standardised misfit at which "none of these" is as likely as a hypothesis.
NONE_MISFIT = 4.0
#: Sizes a surge of demand is tried at (marginalised).
SURGES = (1.5, 2.2, 3.0)
#: Thresholds (Gbps of a traffic pattern through a device) a latent defect is tried at (marginalised).
DEFECT_THRESHOLDS = (2.0, 5.0, 10.0)
#: Prior weight of each further cause in a compound hypothesis (two faults at once are rarer).
COMPOUND_PRIOR = 0.1
#: Best single causes paired into compounds, and compounds simulated at most.
COMPOUND_POOL, COMPOUNDS = 6, 6
#: Draws of the operator's twin the likeliest causes are simulated on, and how many causes.
DRAWS, REFINE_CAUSES = 4, 3
#: The label (and prior key) of "none of these".
NONE = "none of these"


class DiagnosisError(TwinError):
    """A diagnosis asked for something the scenario or the evidence cannot give."""


@dataclass(frozen=True)
class Evidence:
    """What an operator has at ``at``: monitors' samples, alerts, the change log."""

    scenario: str
    at: float
    links: pd.DataFrame  # time, entity, utilisation, loss (WAN links)
    services: pd.DataFrame  # time, entity, error_rate
    alerts: pd.DataFrame  # name, entity, entity_kind, start
    changes: list[tuple[str, float, str, str, tuple[str, ...]]]  # (id, at, kind, target, config lines pushed)
    planes: tuple[str, ...] = ()  # the topology's planes (the operator knows the network)
    entries: tuple[str, ...] = ()  # the services users call first
    sites: tuple[str, ...] = ()
    calls: tuple[tuple[str, str], ...] = ()  # the call graph's (caller, callee) edges
    actions: tuple[Action, ...] = ()  # the operator's own actions: (started at, kind, args)


@dataclass(frozen=True)
class Scored:
    hypothesis: Hypothesis | None  # None: "none of these"
    misfit: float
    probability: float
    explained: list[str] = field(default_factory=list)  # observed alerts it reproduces
    missed: list[str] = field(default_factory=list)  # observed alerts it does not
    invented: list[str] = field(default_factory=list)  # alerts it predicts that nobody saw

    @property
    def label(self) -> str:
        return self.hypothesis.label if self.hypothesis else NONE


@dataclass(frozen=True)
class Diagnosis:
    """A posterior over causes: one :class:`Scored` per cause (best size shown, mass summed over
    sizes) and "none of these"; ``base`` is the operator's scenario it was simulated on."""

    evidence: Evidence
    ranked: list[Scored]
    base: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)
    simulated: int = 0  # belief twins run to reach it (hypotheses x draws)
    rejected: tuple[str, ...] = ()  # extra hypotheses the network cannot express (unknown entity, bad size)

    @property
    def top(self) -> Scored:
        return self.ranked[0]

    @property
    def unexplained(self) -> float:
        """The mass of "none of these": the evidence is explained by no hypothesis simulated."""
        return sum(s.probability for s in self.ranked if s.hypothesis is None)

    def weights(self, k: int = 3, min_p: float = 0.02) -> list[tuple[Hypothesis, float]]:
        """The ``k`` likeliest causes (each at its best size) with at least ``min_p`` of the
        mass, renormalised over themselves ("none of these" left out): what to act on."""
        kept = [(s.hypothesis, s.probability) for s in self.ranked
                if s.hypothesis is not None and s.probability >= min_p][:k]
        total = sum(p for _, p in kept)
        return [(h, p / total) for h, p in kept] if total > 0 else []


def _wan_links(t: Twin) -> set[str]:
    return {name for name in t.world.topology.link_index if ":" in name}


def _wan_link_frame(t: Twin, until: float) -> pd.DataFrame:
    """The WAN links' utilisation and loss as monitors showed them up to ``until``, long form
    (``t.metrics("link")`` of those links and columns): their rows are taken from each sample
    before stacking, not after (a large fabric's samples are nearly all fabric links)."""
    from twin.telemetry.recorder import METRICS

    names = t.telemetry.entities["link"]
    rows = np.array([i for i, n in enumerate(names) if ":" in n], dtype=np.int64)
    samples = t.telemetry.window(None, until)
    if not samples or not rows.size:
        links = t.metrics("link")
        return links[links["entity"].isin(_wan_links(t)) & (links["time"] <= until)][
            ["time", "entity", "utilisation", "loss"]].reset_index(drop=True)
    cols = [METRICS["link"].index(c) for c in ("utilisation", "loss")]
    block = np.stack([s.link[rows][:, cols] for s in samples]).astype(float).reshape(-1, len(cols))
    return pd.DataFrame({"time": np.repeat([s.t for s in samples], rows.size),
                         "entity": np.tile(np.array([names[i] for i in rows], dtype=object), len(samples)),
                         "utilisation": block[:, 0], "loss": block[:, 1]})


def _frames(t: Twin, until: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    links = _wan_link_frame(t, until)
    if t.world.callgraph is not None:
        svc = t.metrics("service")
        svc = svc[svc["time"] <= until][["time", "entity", "error_rate"]]
    else:
        svc = pd.DataFrame(columns=["time", "entity", "error_rate"])
    alerts = t.alerts()
    alerts = alerts[alerts["start"] <= until][["name", "entity", "entity_kind", "start"]]
    return links.reset_index(drop=True), svc.reset_index(drop=True), alerts.reset_index(drop=True)


def evidence(twin: Twin, at: float | None = None) -> Evidence:
    """Copy what an operator sees of ``twin`` at ``at`` (default: now): monitored metrics,
    alerts and the change log; never the faults or the physics' exact values."""
    at = twin.now if at is None else float(at)
    if at > twin.now:
        raise DiagnosisError(f"--at {format_duration(at)} is past the run (now {format_duration(twin.now)})")
    links, svc, alerts = _frames(twin, at)
    changes = [(c.id, float(c.at), c.kind, c.target, tuple(c.config)) for c in twin.state.control.changes if c.at <= at]
    w = twin.world
    entries = tuple(str(s.name) for s, rps in zip(w.callgraph.services, w.service_arrays["entry_rps"]) if rps > 0) \
        if w.callgraph is not None else ()
    names = [s.name for s in w.callgraph.services] if w.callgraph is not None else []
    calls = tuple((names[a], names[b]) for a, b in zip(w.call_src, w.call_dst))
    actions = tuple((float(a["start"]), str(a["kind"]), dict(a["args"])) for a in twin.state.actions
                    if a["start"] <= at)
    return Evidence(twin.scenario.name, at, links, svc, alerts, changes, tuple(w.topology.planes), entries,
                    tuple(w.topology.sites), calls, actions)


def _first_alert(ev: Evidence) -> float | None:
    return float(ev.alerts["start"].min()) if len(ev.alerts) else None


def _plain(base: Scenario | Mapping[str, Any]) -> dict[str, Any]:
    """The operator's scenario as plain data, with any faults or ground truth stripped."""
    data = dict(base_data(base) if isinstance(base, Scenario) else base)
    data["faults"] = []
    data.pop("ground_truth", None)
    return data


def silent_entities(ev: Evidence) -> set[str]:
    """Entities whose monitors have sent nothing since the first alert (a gap is not health)."""
    out: set[str] = set()
    first = _first_alert(ev) or 0.0
    for obs, col in ((ev.links, "utilisation"), (ev.services, "error_rate")):
        if len(obs):
            w = obs[obs["time"] >= first]
            quiet = w.groupby("entity")[col].apply(lambda x: bool(x.isna().all()))
            out |= set(quiet[quiet].index)
    return out


def propose(ev: Evidence, base: Scenario | Mapping[str, Any]) -> list[Hypothesis]:
    """Candidate causes from the evidence and the operator's network model alone: recent changes
    (as the faults a change of that kind can carry, and as logged with the config it pushed),
    alerting links and services and the services they call (deeper where monitors are silent),
    latent defects of the features enabled on the network, surges; nothing written per incident."""
    data = _plain(base)
    tick = float(data.get("tick", 10.0))
    kinds = fault_kinds()
    first = _first_alert(ev)
    if first is None:
        return []
    planes = set(ev.planes)
    # an anomaly starts a sample or two before its alert fires
    onset = max(0.0, math.floor((first - 60.0) / tick) * tick)
    out: list[Hypothesis] = []
    for cid, at, kind, target, config in ev.changes:
        if at > first or first - at > 3600:
            continue
        if kind == "config_push" and config:  # the change as logged: its config lines, replayed
            out.append(Hypothesis("config_push", {"change": cid, "target": target, "config": list(config)}, at))
        if kind in ("config_push", "maintenance") and target in planes and "config_push" in kinds:
            for clusters in (2, 3):
                out.append(Hypothesis("config_push", {"change": cid, "target": target, "plane": target,
                                                      "inconsistency": "multi_prefix", "clusters": clusters}, at))
        if kind == "maintenance" and target in planes and "link_down" in kinds:  # a command that took the plane down
            out.append(Hypothesis("link_down", {"plane": target, "change": cid}, at))
        named = [x for x in target.split(",") if x]
        if kind == "config_push" and named and set(named) <= set(ev.sites) and "control_plane_jobs_down" in kinds:
            for left in (0.3, 0.6):  # a push to sites' control jobs that took part of their capacity
                out.append(Hypothesis("control_plane_jobs_down", {"sites": named, "capacity_left": left,
                                                                  "change": cid}, at))
        if kind == "deploy" and "bad_deploy" in kinds:
            svc = target
            seen = ev.services[ev.services["entity"] == svc]["error_rate"]
            rate = float(np.clip(seen.max() if len(seen) else 0.1, 0.02, 1.0))
            out.append(Hypothesis("bad_deploy", {"service": svc, "error_rate": round(rate, 2)}, at))
            if "memory_leak" in kinds:
                for mb in (30.0, 100.0, 300.0, 1000.0):  # sizes a decade apart: marginalised
                    out.append(Hypothesis("memory_leak", {"service": svc, "mb_per_min": mb}, at))
    alerting = ev.alerts.drop_duplicates("entity")
    rows = [(a["entity"], a["entity_kind"]) for _, a in alerting.iterrows()]
    # the neighbourhood: callees of alerting services (a silent dependency can be the cause), and
    # behind a callee whose monitors went silent, its own callees (the cause may sit in the dark)
    hot = {e for e, k in rows if k == "service"}
    silent = silent_entities(ev)
    frontier, seen_svc = set(hot), set(hot)
    for _ in range(3):
        nxt = {callee for caller, callee in ev.calls if caller in frontier and callee not in seen_svc}
        rows += sorted((c, "service") for c in nxt)
        seen_svc |= nxt
        frontier = nxt & silent
    for ent, kind in rows:
        if kind == "link" and ":" in ent:
            seen = ev.links[ev.links["entity"] == ent]["loss"]
            loss = float(np.clip(np.nanmax(seen.to_numpy()) if len(seen) else 0.1, 0.01, 0.9))
            out.append(Hypothesis("link_degraded", {"link": ent, "loss": round(loss, 2)}, onset))
            out.append(Hypothesis("link_down", {"link": ent}, onset))
        elif kind == "service":
            for share in (0.5, 0.8, 0.95):
                out.append(Hypothesis("cpu_hog", {"service": ent, "share": share}, onset))
            out.append(Hypothesis("replica_crash", {"service": ent, "count": 1, "crashloop": True}, onset))
    if "latent_protocol_defect" in kinds and any(k in ("link", "device") for _, k in rows):
        # a feature enabled on the network can carry a defect that one traffic pattern triggers
        patterns = sorted({str(d["pattern"]) for d in data.get("traffic", {}).get("demands", []) if d.get("pattern")})
        for feature in sorted((data.get("control") or {}).get("features") or {}):
            for pattern in patterns:
                for gbps in DEFECT_THRESHOLDS:
                    out.append(Hypothesis("latent_protocol_defect",
                                          {"feature": feature, "pattern": pattern, "threshold_gbps": gbps}, onset))
    for cls in ("user", "interdc"):
        # a surge is organic demand, or load that running automation drives (it lasts while
        # the automation runs): the monitors cannot tell them apart, the fixes can
        for driven in (False, True):
            for factor in SURGES:
                params: dict[str, Any] = {"class": cls, "factor": factor}
                if driven:
                    params["automation"] = True
                out.append(Hypothesis("traffic_surge", params, onset))
    if len(ev.services) and "load_surge" in kinds:
        for svc in ev.entries:
            for factor in SURGES:
                out.append(Hypothesis("load_surge", {"service": svc, "factor": factor}, onset))
    return _unique(out)


def _unique(hyps: Sequence[Hypothesis]) -> list[Hypothesis]:
    out, labels = [], set()
    for h in hyps:
        key = (h.label, str(sorted(h.params.items())))
        if key not in labels:
            labels.add(key)
            out.append(h)
    return out


def _z(sim: pd.Series, obs: pd.Series, col: str) -> np.ndarray:
    a, r = SIGMA[col]
    o = obs.to_numpy(dtype=float)
    s = sim.to_numpy(dtype=float)
    ok = np.isfinite(o) & np.isfinite(s)
    return (s[ok] - o[ok]) / (a + r * np.abs(o[ok]))


#: What one simulated hypothesis scored: misfit, alerts explained, missed, invented.
Fit = tuple[float, list[str], list[str], list[str]]


def _misfit(t: Twin, ev: Evidence, since: float, silent: set[str]) -> Fit:
    return _misfits([t], ev, since, silent)[0]


def _misfits(twins: Sequence[Twin], ev: Evidence, since: float, silent: set[str]) -> list[Fit]:
    """Each twin's fit to the evidence. The residuals of all twins come from one merge and one
    grouping (keyed by twin, then entity): a group's mean and peak see its rows in the order a
    twin alone would give them, so each twin scores as it would alone."""
    if not twins:
        return []
    frames = [_frames(t, ev.at) for t in twins]
    z: list[list[np.ndarray]] = [[] for _ in twins]
    for which, obs, cols in ((0, ev.links, ("utilisation", "loss")), (1, ev.services, ("error_rate",))):
        if not len(obs):
            continue
        # per entity, the window's mean and peak: robust to a burst landing a sample earlier or
        # later (the phase of OOM kills, flaps) while keeping its size and duration
        # only over the samples the monitors did send: a gap is no evidence either way
        o = obs[obs["time"] >= since]
        sims = pd.concat([f[which].assign(twin=k) for k, f in enumerate(frames)], ignore_index=True)
        every = pd.concat([o.assign(twin=k) for k in range(len(twins))], ignore_index=True)
        both = every.merge(sims, on=["twin", "time", "entity"], how="left", suffixes=("", "_sim"))
        for col in cols:
            both.loc[both[col].isna(), f"{col}_sim"] = np.nan
        g = both.groupby(["twin", "entity"])
        o_stats = g[list(cols)].agg(["mean", "max"])
        m = g[[f"{c}_sim" for c in cols]].agg(["mean", "max"])
        m.columns = pd.MultiIndex.from_tuples([(c.removesuffix("_sim"), st) for c, st in m.columns])
        at = m.index.get_level_values("twin").to_numpy()
        for k in range(len(twins)):
            rows = at == k
            for col in cols:
                for stat in ("mean", "max"):
                    z[k].append(_z(m[(col, stat)][rows], o_stats[(col, stat)][rows], col))
    seen = {f"{r['name']}:{r['entity']}" for _, r in ev.alerts.iterrows()}
    out = []
    for k, (_, _, alerts) in enumerate(frames):
        allz = np.concatenate(z[k]) if z[k] else np.zeros(0)
        fit = float(np.mean(allz * allz)) if allz.size else 0.0
        # an alert predicted on a silent entity can neither be confirmed nor contradicted
        made = {f"{r['name']}:{r['entity']}" for _, r in alerts.iterrows() if r["entity"] not in silent}
        explained, missed, invented = sorted(seen & made), sorted(seen - made), sorted(made - seen)
        # each alert it cannot explain (or invents) counts as a residual of 3 sigma
        n = max(len(seen | made), 1)
        fit += 9.0 * (len(missed) + len(invented)) / n
        out.append((fit, explained, missed, invented))
    return out


# -- simulating the candidates: batches of belief twins, in a pool of forked workers where there are cores --------
#: Belief twins simulated as one batch at most (their telemetry stays in memory until scored).
BATCH = 48
_JOB: tuple[dict[str, Any], Evidence, float, set[str], int, list[list[Hypothesis]]] | None = None  # inherited by forked workers


def _score(k: int) -> list[Fit | None]:
    """Simulate the job's ``k``-th group of hypotheses together and score each against the evidence."""
    assert _JOB is not None, "scored without a job"
    base, ev, since, silent, seed, groups = _JOB
    twins = belief_twins(base, groups[k], ev.at, ev.actions, seed=seed)
    fits = iter(_misfits([t for t in twins if t is not None], ev, since, silent))
    return [None if t is None else next(fits) for t in twins]


def _workers(requested: int | None) -> int:
    """Processes to use: ``requested``, else ``TWIN_DIAGNOSIS_WORKERS``, else every core (1 = in-process)."""
    from twin.parallel import fork_workers

    return fork_workers(requested, "TWIN_DIAGNOSIS_WORKERS")


def _score_all(hyps: Sequence[Hypothesis], seed: int, base: dict[str, Any], ev: Evidence, since: float,
               workers: int) -> list[Fit | None]:
    """Simulate each hypothesis on the operator's twin drawn from ``seed`` and score it against the
    evidence: in groups of at most :data:`BATCH` run as batches, one group per worker at least."""
    global _JOB
    per = min(max(workers, 1), max(len(hyps), 1))  # groups a whole multiple of the workers: none idles at the end
    parts = -(-max(-(-len(hyps) // BATCH), 1) // per) * per
    groups = [list(hyps[k::parts]) for k in range(parts)]
    _JOB = (base, ev, since, silent_entities(ev), seed, groups)
    try:
        if workers <= 1 or len(groups) < 2:
            scored = [_score(k) for k in range(len(groups))]
        else:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            with ProcessPoolExecutor(min(workers, len(groups)), mp_context=multiprocessing.get_context("fork")) as pool:
                scored = list(pool.map(_score, range(len(groups))))
    finally:
        _JOB = None
    out: list[Fit | None] = [None] * len(hyps)
    for k, fits in enumerate(scored):
        out[k::parts] = fits
    return out


def _marginal(fits: Sequence[Fit]) -> Fit:
    """One hypothesis over several draws of the operator's twin (the operator cannot know the
    incident's draws): its likelihood is the mean of theirs, shown with its best draw's alerts."""
    f = np.array([x[0] for x in fits])
    lik = np.exp(-0.5 * EVIDENCE_WEIGHT * (f - f.min())).mean()
    best = fits[int(np.argmin(f))]
    return (float(f.min() - 2.0 / EVIDENCE_WEIGHT * math.log(lik)), best[1], best[2], best[3])


def _compounds(scored: Sequence[tuple[Hypothesis, Fit]]) -> list[Hypothesis]:
    """Two causes at once, when no single one explains every alert: pairs of the best-fitting
    single causes on different entities whose explained alerts together cover more than either."""
    best: dict[tuple[Any, ...], tuple[Hypothesis, Fit]] = {}
    for h, f in scored:
        if not h.also and (h.cause not in best or f[0] < best[h.cause][1][0]):
            best[h.cause] = (h, f)
    singles = sorted(best.values(), key=lambda x: x[1][0])
    if not singles or not singles[0][1][2]:
        return []  # the best single cause misses nothing: no need for a second
    useful = [(h, f) for h, f in singles if f[1]][:COMPOUND_POOL]
    pairs = []
    for i, (a, fa) in enumerate(useful):
        for b, fb in useful[i + 1:]:
            both = set(fa[1]) | set(fb[1])
            if a.entities & b.entities or both <= set(fa[1]) or both <= set(fb[1]):
                continue
            first, second = (a, b) if a.at <= b.at else (b, a)
            pairs.append((-len(both), fa[0] + fb[0], Hypothesis(first.kind, first.params, first.at, also=(second,))))
    pairs.sort(key=lambda p: (p[0], p[1]))
    return [p[2] for p in pairs[:COMPOUNDS]]


def _prior(h: Hypothesis | None, prior: Mapping[Any, float] | None) -> float:
    label = h.label if h is not None else NONE
    default = 1.0 if h is None else COMPOUND_PRIOR ** len(h.also)
    if prior is None:
        return default
    for key in (label, h.cause if h is not None else NONE):
        if key in prior:
            return float(prior[key])
    return default


def _posterior(ev: Evidence, scored: Sequence[tuple[Hypothesis, Fit]], prior: Mapping[Any, float] | None,
               base: dict[str, Any]) -> Diagnosis:
    # a cause's prior is shared by the sizes it was tried at: trying more sizes adds no mass
    sizes: dict[tuple[Any, ...], int] = {}
    for h, _ in scored:
        sizes[h.cause] = sizes.get(h.cause, 0) + 1
    weights = [_prior(h, prior) / sizes[h.cause] for h, _ in scored] + [_prior(None, prior)]
    if any(w < 0 or not math.isfinite(w) for w in weights):
        raise DiagnosisError("prior: every weight must be a finite number >= 0")
    with np.errstate(divide="ignore"):
        logw = np.log(np.array(weights, dtype=float))
    logw += -0.5 * EVIDENCE_WEIGHT * np.array([f[0] for _, f in scored] + [NONE_MISFIT])
    if not np.isfinite(logw).any():
        raise DiagnosisError("prior: every hypothesis, \"none of these\" included, has weight 0")
    w = np.exp(logw - logw.max())
    p = w / w.sum()
    # one entry per cause: its probability summed over sizes, shown with its best-fitting size
    causes: dict[tuple[Any, ...], Scored] = {}
    for (h, (fit, ex, mi, inv)), pi in zip(scored, p[:-1]):
        prev = causes.get(h.cause)
        total = float(pi) + (prev.probability if prev else 0.0)
        if prev is None or fit < prev.misfit:
            causes[h.cause] = Scored(h, fit, total, ex, mi, inv)
        else:
            causes[h.cause] = dataclasses.replace(prev, probability=total)
    ranked = list(causes.values())
    ranked.append(Scored(None, NONE_MISFIT, float(p[-1])))
    ranked.sort(key=lambda s: -s.probability)
    return Diagnosis(ev, ranked, base)


def diagnose_evidence(ev: Evidence, base: Scenario | Mapping[str, Any], *, extra: Sequence[Hypothesis] = (),
                      prior: Mapping[Any, float] | None = None, workers: int | None = None) -> Diagnosis:
    """Rank causes of what ``ev`` shows, on the operator's twin ``base`` (a scenario without
    faults, e.g. :func:`twin.belief.operator_scenario`, or its plain data): the generated
    candidates plus ``extra`` (proposed by someone else: a model, a user), each simulated with
    the operator's own actions replayed; ``prior`` weighs hypotheses by label or cause (default 1;
    a compound :data:`COMPOUND_PRIOR` per extra part; "none of these" under the key ``NONE``)."""
    data = _plain(base)
    if _first_alert(ev) is None:
        return Diagnosis(ev, [Scored(None, 0.0, 1.0)], data)
    hyps = _unique([*propose(ev, data), *extra])
    n = _workers(workers)
    since = max(0.0, min(h.at for h in hyps) - 120.0) if hyps else 0.0

    def run(batch: Sequence[Hypothesis], seed: int) -> list[tuple[Hypothesis, Fit]]:
        fits = _score_all(batch, seed, data, ev, since, n)
        return [(h, f) for h, f in zip(batch, fits) if f is not None]

    scored = run(hyps, OPERATOR_SEED)
    known = {h.label for h, _ in scored}
    scored += run([h for h in _compounds(scored) if h.label not in known], OPERATOR_SEED)
    # the likeliest causes again on other draws: a cascade that one draw sustains and another
    # does not (flaps, adjacency losses) is judged by how often it reproduces what was seen
    order = sorted(scored, key=lambda x: x[1][0])
    top = list(dict.fromkeys(h.cause for h, _ in order))[:REFINE_CAUSES]
    again = [h for h, _ in scored if h.cause in top]
    fits: dict[int, list[Fit]] = {id(h): [f] for h, f in scored}
    for k in range(1, DRAWS):
        for h, f in run(again, OPERATOR_SEED + k):
            fits[id(h)].append(f)
    runs = sum(len(f) for f in fits.values())
    scored = [(h, _marginal(fits[id(h)])) for h, _ in scored]
    ran = {id(h) for h, _ in scored}
    rejected = tuple(h.label for h in extra if id(h) not in ran and h.label not in {x.label for x, _ in scored})
    return dataclasses.replace(_posterior(ev, scored, prior, data), simulated=runs, rejected=rejected)


def _value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return float(text) if any(c in text for c in ".eE") else int(text)
    except ValueError:
        return text


def parse_hypothesis(text: str, base: Scenario | Mapping[str, Any]) -> Hypothesis:
    """A hypothesis written ``KIND ENTITY... [key=value...] @ TIME``, e.g. ``link_down b4:x-y @ 10m``:
    each entity goes to the fault kind's parameter that names entities of its kind. Raises
    :class:`DiagnosisError` naming the unknown kind, entity or parameter and the allowed values."""
    from twin.faults.base import entity_names, known_list
    from twin.scenario import parse_scenario
    from twin.sim.twin import Twin
    from twin.units import parse_duration

    form = "expected 'KIND ENTITY... [key=value...] @ TIME', e.g. 'link_down b4:dc1-dc2 @ 10m'"
    left, sep, when = text.partition("@")
    words = left.split()
    if not sep or not words or not when.strip():
        raise DiagnosisError(f"--hypothesis {text!r}: {form}")
    kinds = fault_kinds()
    if words[0] not in kinds:
        raise DiagnosisError(f"--hypothesis {text!r}: unknown fault kind {words[0]!r} (allowed: {', '.join(sorted(kinds))})")
    kind = kinds[words[0]]
    try:
        at = parse_duration(when.strip())
    except ValueError as exc:
        raise DiagnosisError(f"--hypothesis {text!r}: time {when.strip()!r}: {exc}") from None
    data = _plain(base)
    world = Twin(parse_scenario(data, "operator's view")).world
    names = {param: entity_names(world, ent) for param, ent in kind.references.items()}
    params: dict[str, Any] = {}
    for word in words[1:]:
        key, eq, value = word.partition("=")
        if eq:
            params[key] = _value(value)
            continue
        param = next((p for p, known in names.items() if word in known), None)
        if param is None:
            by_kind = {kind.references[p]: known for p, known in names.items()}

            def near_first(known: list[str], word: str = word) -> list[str]:  # the likeliest typo fixes lead
                close = difflib.get_close_matches(word, known, n=5, cutoff=0.5)
                return close + sorted(set(known) - set(close))

            allowed = "; ".join(f"{k}: {known_list(near_first(known), 10) or 'none here'}"
                                for k, known in by_kind.items())
            raise DiagnosisError(f"--hypothesis {text!r}: unknown entity {word!r} for {kind.name} "
                                 f"(allowed: {allowed or 'none, it takes key=value parameters only'})")
        if param.endswith("s") and param not in ("class",):  # a list parameter: links, sites
            params.setdefault(param, []).append(word)
        else:
            params[param] = word
    h = Hypothesis(kind.name, params, float(at))
    try:
        parse_scenario({**data, "faults": h.specs()}, "hypothesis")
    except TwinError as exc:
        raise DiagnosisError(f"--hypothesis {text!r}: {exc}") from None
    return h


def diagnose(scenario: Scenario | str, at: float, seed: int | None = None, twin: Twin | None = None,
             *, extra: Sequence[Hypothesis] = (), prior: Mapping[Any, float] | None = None,
             workers: int | None = None) -> Diagnosis:
    """Run the incident (the sandbox: only its monitors are read) to ``at`` and rank causes with
    :func:`diagnose_evidence` on the operator's scenario."""
    from twin.sim.twin import Twin

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if at <= 0 or at > sc.duration:
        raise DiagnosisError(f"--at {format_duration(at)} is outside the run (0 to {format_duration(sc.duration)})")
    if twin is None:
        twin = Twin(sc, seed=seed)
        twin.run(until=at)
    return diagnose_evidence(evidence(twin, at), operator_scenario(sc), extra=extra, prior=prior, workers=workers)
