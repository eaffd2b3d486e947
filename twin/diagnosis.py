"""Diagnosis by simulation: hypotheses are fault injections on the operator's twin, ranked by
how well the monitors they simulate match the monitors the operator saw.

The operator's twin is the scenario without its faults and ground truth (the network model
production would feed in). Evidence is what an operator has at ``at``: the sampled link and
service metrics, the alerts and the change log, extracted by :func:`evidence` and nothing else;
the functions here never read the sandbox. Each hypothesis (a typed fault from the catalogue on
named entities with a start time) is proposed from the evidence alone, by a generic generator:
recent changes (as the faults a change of that kind can carry), alerting links, alerting
services and the services they call, surges of each traffic class and entry service. It is
simulated on the operator's twin up to ``at``; its misfit is the mean squared standardised
residual between simulated and observed monitors (each entity's mean and peak since the
earliest candidate start) (a stated noise model: :data:`SIGMA`) plus the
alerts it fails to reproduce or invents. The posterior is proportional to
``exp(-EVIDENCE_WEIGHT * misfit / 2)``; "none of these" holds the mass of a hypothesis that
misses every monitor by :data:`NONE_MISFIT` on average.

>>> h = Hypothesis("link_down", {"link": "b4:us-east-us-central"}, 600.0)
>>> h.label
'link_down b4:us-east-us-central @ 10m'
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from twin.belief import MAGNITUDES, OPERATOR_SEED, Action, Hypothesis, belief_twin, operator_scenario
from twin.errors import TwinError
from twin.faults.registry import fault_kinds
from twin.scenario import Scenario, load_scenario, parse_scenario
from twin.units import format_duration

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["Diagnosis", "Evidence", "Hypothesis", "diagnose", "evidence", "operator_scenario", "propose"]

#: Noise model: a residual's standard deviation, absolute plus relative to the observed value.
SIGMA = {"utilisation": (0.05, 0.05), "loss": (0.01, 0.1), "error_rate": (0.01, 0.1)}
#: Independent observations the mean misfit stands for (tempers an overconfident posterior).
EVIDENCE_WEIGHT = 12.0
#: Mean squared standardised misfit at which "none of these" is as likely as a hypothesis.
NONE_MISFIT = 4.0
#: Sizes a surge of demand is tried at (marginalised).
SURGES = (1.5, 2.2, 3.0)


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
    changes: list[tuple[str, float, str, str]]  # (id, at, kind, target)
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
        return self.hypothesis.label if self.hypothesis else "none of these"


@dataclass(frozen=True)
class Diagnosis:
    evidence: Evidence
    ranked: list[Scored]

    @property
    def top(self) -> Scored:
        return self.ranked[0]


def _wan_links(t: Twin) -> set[str]:
    return {name for name in t.world.topology.link_index if ":" in name}


def _frames(t: Twin, until: float) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    links = t.metrics("link")
    links = links[links["entity"].isin(_wan_links(t)) & (links["time"] <= until)][["time", "entity", "utilisation", "loss"]]
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
    changes = [(c.id, float(c.at), c.kind, c.target) for c in twin.state.control.changes if c.at <= at]
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


def propose(ev: Evidence, sc: Scenario, tick: float) -> list[Hypothesis]:
    """Candidate causes from the evidence alone: recent changes (as the fault kinds a change
    can carry), alerting links and services, and nothing written per incident."""
    kinds = fault_kinds()
    first = _first_alert(ev)
    if first is None:
        return []
    planes = set(ev.planes)
    # an anomaly starts a sample or two before its alert fires
    onset = max(0.0, math.floor((first - 60.0) / tick) * tick)
    out: list[Hypothesis] = []
    for cid, at, kind, target in ev.changes:
        if at > first or first - at > 3600:
            continue
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
    # the neighbourhood: callees of alerting services (a silent dependency can be the cause)
    hot = {e for e, k in rows if k == "service"}
    rows += sorted({(callee, "service") for caller, callee in ev.calls if caller in hot and callee not in hot})
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
    for cls in ("user", "interdc"):
        for factor in SURGES:
            out.append(Hypothesis("traffic_surge", {"class": cls, "factor": factor}, onset))
    if len(ev.services) and "load_surge" in kinds:
        for svc in ev.entries:
            for factor in SURGES:
                out.append(Hypothesis("load_surge", {"service": svc, "factor": factor}, onset))
    unique, seen_labels = [], set()
    for h in out:
        if h.label not in seen_labels:
            seen_labels.add(h.label)
            unique.append(h)
    return unique


def _simulate(base: dict[str, Any], h: Hypothesis | None, until: float, actions: tuple[Action, ...] = ()) -> Twin | None:
    return belief_twin(base, h, until, actions)


def _z(sim: pd.Series, obs: pd.Series, col: str) -> np.ndarray:
    a, r = SIGMA[col]
    o = obs.to_numpy(dtype=float)
    s = sim.to_numpy(dtype=float)
    ok = np.isfinite(o) & np.isfinite(s)
    return (s[ok] - o[ok]) / (a + r * np.abs(o[ok]))


def _misfit(t: Twin, ev: Evidence, since: float) -> tuple[float, list[str], list[str], list[str]]:
    links, svc, alerts = _frames(t, ev.at)
    z: list[np.ndarray] = []
    for sim, obs, cols in ((links, ev.links, ("utilisation", "loss")), (svc, ev.services, ("error_rate",))):
        if not len(obs):
            continue
        # per entity, the window's mean and peak: robust to a burst landing a sample earlier or
        # later (the phase of OOM kills, flaps) while keeping its size and duration
        o = obs[obs["time"] >= since].groupby("entity")[list(cols)].agg(["mean", "max"])
        m = sim[sim["time"] >= since].groupby("entity")[list(cols)].agg(["mean", "max"]).reindex(o.index)
        for col in cols:
            for stat in ("mean", "max"):
                z.append(_z(m[(col, stat)], o[(col, stat)], col))
    allz = np.concatenate(z) if z else np.zeros(0)
    fit = float(np.mean(allz * allz)) if allz.size else 0.0
    seen = {f"{r['name']}:{r['entity']}" for _, r in ev.alerts.iterrows()}
    # an entity whose monitors have sent nothing since the first alert can neither confirm nor
    # contradict an alert predicted on it (a monitoring gap is not evidence of health)
    silent = set()
    first = _first_alert(ev) or since
    for obs, cols in ((ev.links, ["utilisation"]), (ev.services, ["error_rate"])):
        if len(obs):
            w = obs[obs["time"] >= first]
            quiet = w.groupby("entity")[cols[0]].apply(lambda x: bool(x.isna().all()))
            silent |= set(quiet[quiet].index)
    made = {f"{r['name']}:{r['entity']}" for _, r in alerts.iterrows() if r["entity"] not in silent}
    explained, missed, invented = sorted(seen & made), sorted(seen - made), sorted(made - seen)
    # each alert it cannot explain (or invents) counts as a residual of 3 sigma
    n = max(len(seen | made), 1)
    fit += 9.0 * (len(missed) + len(invented)) / n
    return fit, explained, missed, invented


def diagnose(scenario: Scenario | str, at: float, seed: int | None = None, twin: Twin | None = None) -> Diagnosis:
    """Run the incident (the sandbox: only its monitors are read) to ``at`` and rank causes."""
    from twin.sim.twin import Twin

    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    if at <= 0 or at > sc.duration:
        raise DiagnosisError(f"--at {format_duration(at)} is outside the run (0 to {format_duration(sc.duration)})")
    if twin is None:
        twin = Twin(sc, seed=seed)
        twin.run(until=at)
    ev = evidence(twin, at)
    hyps = propose(ev, sc, sc.tick)
    if not hyps:
        return Diagnosis(ev, [Scored(None, 0.0, 1.0)])
    base = operator_scenario(sc).model_dump(mode="json", by_alias=True, exclude={"path"}, exclude_none=True)
    since = max(0.0, min(h.at for h in hyps) - 120.0)
    scored: list[tuple[Hypothesis | None, float, list[str], list[str], list[str]]] = []
    for h in hyps:
        t = _simulate(base, h, at, ev.actions)
        if t is not None:
            scored.append((h, *_misfit(t, ev, since)))
    logw = [-0.5 * EVIDENCE_WEIGHT * s[1] for s in scored] + [-0.5 * EVIDENCE_WEIGHT * NONE_MISFIT]
    top = max(logw)
    w = np.exp(np.array(logw) - top)
    p = w / w.sum()
    # one entry per cause: its probability summed over sizes, shown with its best-fitting size
    causes: dict[tuple[Any, ...], Scored] = {}
    for (h, fit, ex, mi, inv), pi in zip(scored, p[:-1]):
        prev = causes.get(h.cause)
        total = float(pi) + (prev.probability if prev else 0.0)
        best = (h, fit, ex, mi, inv) if prev is None or fit < prev.misfit else (prev.hypothesis, prev.misfit,
                                                                                prev.explained, prev.missed, prev.invented)
        causes[h.cause] = Scored(best[0], best[1], total, best[2], best[3], best[4])
    ranked = list(causes.values())
    ranked.append(Scored(None, NONE_MISFIT, float(p[-1])))
    ranked.sort(key=lambda s: -s.probability)
    return Diagnosis(ev, ranked)
