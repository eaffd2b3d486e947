"""Is a drawn candidate an incident, what ends it, and how hard is it: all computed on the sandbox.

A candidate is **accepted** when, simulated:

1. nothing is violated before its first fault (the world itself is healthy);
2. a critical alert fires (the moment the episode runner and the gym hand over to an agent) with
   at least ``MIN_LEFT_S`` of the run still to go;
3. left alone, the SLO violation lasts: the SLOs are not back within ``LASTING`` of detection;
4. at least one toolbox mitigation, applied at detection, ends it (:class:`twin.labels.Labeller`:
   the SLOs come back, and stay back, earlier than when nothing is done).

Candidates tried (an operator's menu, not answers): the mitigations whose target the root-cause
faults name, those the first three alerting entities at detection suggest, rolling back each
change the faults logged (a red herring's rollback changes nothing), and freezing the TE controller. Each is labelled against doing nothing; the labels are the ground truth.

**Difficulty** is a weighted sum of six computed features, each scaled to [0, 1]
(:data:`WEIGHTS`; bands in :data:`BANDS`):

``cascade_depth``
    control-plane events (TE, health checks, routing, autoscaler, DNS) between the fault and
    detection, over 4: how far the first alert is from the cause.
``blindness``
    1 minus the share of the faulty layer's entities (the links of its plane, the services, the
    devices) whose monitors sent anything between the fault and the end of the run.
``red_herrings``
    benign changes and deploys in the change log before detection, over 3.
``faults``
    simultaneous independent root causes beyond the first (0 or 1).
``scarcity``
    1 / the number of candidate mitigations that work.
``trap_harm``
    the extra impact-minutes, over doing nothing's, of the tempting wrong mitigation (the first
    alert-suggested candidate that does not work and does not act on a root cause), relative to
    doing nothing's impact, capped at 1.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from twin.generator.draw import Draft
from twin.episode import first_critical_alert, restored_at
from twin.labels import Label, Labeller
from twin.scenario import Scenario

__all__ = ["BANDS", "HORIZON_S", "WEIGHTS", "Assessment", "assess", "band_of", "difficulty_of"]

HORIZON_S = 900.0  # labels run this long after detection
LASTING_S = 600.0  # left alone, the violation lasts at least this long after detection
MIN_LEFT_S = 900.0  # detection leaves at least this much of the run
CASCADE_EVENTS = ("te", "health", "routing", "autoscaler", "dns")

WEIGHTS: dict[str, float] = {"cascade_depth": 0.2, "blindness": 0.2, "red_herrings": 0.15, "faults": 0.15,
                             "scarcity": 0.15, "trap_harm": 0.15}
#: (lowest difficulty, band), ascending.
BANDS: tuple[tuple[float, str], ...] = ((0.0, "easy"), (0.2, "medium"), (0.35, "hard"))


def difficulty_of(features: dict[str, float]) -> float:
    return round(sum(w * float(features[k]) for k, w in WEIGHTS.items()), 4)


def band_of(difficulty: float) -> str:
    out = BANDS[0][1]
    for lo, name in BANDS:
        if difficulty >= lo:
            out = name
    return out


@dataclass
class Assessment:
    ok: bool
    reason: str = ""  # why a candidate was rejected
    labels: list[Label] = field(default_factory=list)
    features: dict[str, float] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the features before scaling
    difficulty: float = 0.0
    band: str = ""
    trap: str = ""
    detected_at: float | None = None
    plan: list[Label] = field(default_factory=list)  # two causes: one mitigation each, together, ends it


def _plan(lab: Labeller, per_cause: list[list[Label]]) -> list[Label]:
    """For an incident of several causes that no single mitigation ends: the best-helping
    mitigation of each cause, applied together at detection. Returned when that ends it."""
    best = []
    for labels in per_cause:
        useful = [lb for lb in labels if lb.label in ("effective", "helps")]
        if not useful:
            return []
        best.append(min(useful, key=lambda lb: lb.impact_minutes))
    trial = lab.at_detection.fork()
    for lb in best:
        trial.act(lb.tool, **lb.args)
    trial.run(until=lab.end)
    restored = restored_at(trial, lab.at)
    if restored is None or (lab.base_restored is not None and restored > lab.base_restored - lab.scenario.tick):
        return []
    return best


def _menu(draft: Draft, sc: Scenario, fault_id: str) -> list[tuple[str, dict[str, Any]]]:
    """Mitigations whose target root-cause fault ``fault_id`` names, with arguments from the baseline."""
    base = draft.baseline
    assert base is not None
    out: list[tuple[str, dict[str, Any]]] = []
    for f in sc.faults:
        if f.id != fault_id:
            continue
        p = f.params
        if f.kind in ("link_down", "link_degraded", "link_flap"):
            out.append(("drain_link", {"link": p.link}))
            out += _shifts(sc, p.link.split(":", 1)[0])
        elif f.kind == "device_failure":
            out.append(("drain_device", {"device": p.device}))
            out += _shifts(sc, p.device.split("-", 1)[0])
        elif f.kind == "traffic_surge":
            out += [("shed_traffic", {"traffic_class": p.traffic_class, "fraction": 0.4}), ("halt_automation", {})]
        elif f.kind == "config_push":
            out += [("rollback_change", {"change": p.change or f.id}), ("freeze_te", {})]
        else:
            s = p.service
            out += [("restart_service", {"service": s}), ("rollback_deploy", {"service": s}),
                    ("scale_service", {"service": s, "replicas": 2 * max(1, base.service_replicas.get(s, 1))}),
                    ("rate_limit", {"service": s, "rps": round(0.8 * max(base.service_rps.get(s, 1.0), 1.0), 1)}),
                    ("set_retry_budget", {"service": s, "budget": 0.1})]
    return out


def _shifts(sc: Scenario, plane: str) -> list[tuple[str, dict[str, Any]]]:
    """Moving the traffic a WAN plane carries onto another plane (nothing for a fabric)."""
    others = sorted(set(sc.traffic.planes.values()) - {plane})
    return [("shift_traffic", {"traffic_class": cls, "plane": other})
            for cls, on in sc.traffic.planes.items() if on == plane for other in others]


def _suggested(twin: Any, base: Any) -> list[tuple[str, dict[str, Any], str]]:
    """What the alerts open at detection suggest, in the order they started: (tool, args, entity)."""
    out: list[tuple[str, dict[str, Any], str]] = []
    seen: list[str] = []
    for a in sorted(twin.open_alerts(), key=lambda a: (a.start, a.entity)):
        if a.entity in seen or len(seen) >= 3:
            continue
        seen.append(a.entity)
        if a.entity_kind == "link":
            out.append(("drain_link", {"link": a.entity}, a.entity))
        elif a.entity_kind == "device":
            out.append(("drain_device", {"device": a.entity}, a.entity))
        elif a.entity_kind == "service":
            out.append(("restart_service", {"service": a.entity}, a.entity))
    return out


def _seen_share(twin: Any, draft: Draft, sc: Scenario, since: float) -> float:
    """Share of the faulty layer's entities whose monitors sent a sample after ``since``."""
    base = draft.baseline
    assert base is not None
    entity = draft.entities[0]
    if entity in base.service_rps:
        kind, layer = "service", list(base.service_rps)
    elif entity in base.link_plane or entity in ("b2", "b4", "user", "interdc"):
        plane = base.link_plane.get(entity, {"user": "b2", "interdc": "b4"}.get(entity, entity))
        kind, layer = "link", [n for n, p in base.link_plane.items() if p == plane]
    else:
        kind = "device"
        layer = sorted(base.routers) if entity in base.routers else sorted(base.aggs)
    if not layer:
        return 1.0
    m = twin.metrics(kind)
    column = {"service": "rps", "link": "utilisation", "device": "cpu"}[kind]
    m = m[(m["time"] > since) & m[column].notna()]
    seen = set(m["entity"]) & set(layer)
    return len(seen) / len(layer)


def assess(draft: Draft, sc: Scenario) -> Assessment:
    """Accept or reject one candidate; for an accepted one, its labels and difficulty."""
    fault_at = min(float(f.at) for f in sc.faults if f.id in draft.fault_ids)
    lab = Labeller(sc, sc.seed, HORIZON_S)
    det = lab.at_detection
    at = det.now
    early = [s for s in det.telemetry.samples.tail(len(det.telemetry.samples)) if s.t < fault_at]
    if any(s.kpi.get("slo_violations", 0) > 0 for s in early):
        return Assessment(False, "SLOs violated before the fault (an unhealthy world)")
    if first_critical_alert(det) is None or at > sc.duration - MIN_LEFT_S:
        # the episode runner and the gym hand over at the first critical alert: without one in
        # time there is nothing an operator is paged for
        return Assessment(False, "no incident: no critical alert in time")
    if lab.base_restored is not None and lab.base_restored - at < LASTING_S:
        return Assessment(False, "no lasting SLO violation: it ends by itself")
    if not any(s.kpi.get("slo_violations", 0) > 0 for s in lab.base.telemetry.window(since=at)):
        return Assessment(False, "no SLO violation after detection")
    menus = {fid: _menu(draft, sc, fid) for fid in draft.fault_ids}
    labels = [lab.label(t, a) for fid in draft.fault_ids for t, a in menus[fid]]
    suggested = _suggested(det, draft.baseline)
    # rolling back a change the faults made (a red herring's rollback is a no-op by construction)
    changes = [("rollback_change", {"change": c.id}) for c in det.state.control.changes if c.id not in draft.herrings]
    rest = [(t, a) for t, a, _ in suggested] + changes + [("freeze_te", {})]
    labels += [lab.label(t, a) for t, a in rest]
    plan: list[Label] = []
    if not any(lb.label == "effective" for lb in labels):
        plan = _plan(lab, [[lab.label(t, a) for t, a in menus[fid]] for fid in draft.fault_ids])
        if not plan:
            return Assessment(False, "no toolbox mitigation ends it (nor one per cause, together)")
    unique: dict[str, Label] = {}
    for lb in labels:
        unique.setdefault(f"{lb.tool} {sorted(lb.args.items())}", lb)
    labels = list(unique.values())
    events = det.events()
    depth = int(((events["time"] > fault_at) & (events["time"] <= at) & events["kind"].isin(CASCADE_EVENTS)).sum())
    seen = _seen_share(lab.base, draft, sc, fault_at)
    herrings = sum(1 for c in sc.changes if c.id in draft.herrings and float(c.at) <= at)
    n_eff = sum(lb.label == "effective" for lb in labels) or 1  # else the plan is the one way out
    # causes that matter: those with a mitigation of their own that works or helps
    mattering = sum(any(lab.label(t, a).label in ("effective", "helps") for t, a in menus[fid])
                    for fid in draft.fault_ids)
    trap, harm = "", 0.0
    for tool, args, entity in suggested:
        if entity in draft.entities:
            continue
        lb = lab.label(tool, args)
        if lb.label != "effective":
            trap = lb.text
            harm = max(0.0, lb.impact_minutes - lb.baseline_impact_minutes) / max(lb.baseline_impact_minutes, 1.0)
            break
    raw = {"cascade_depth": depth, "observability": round(seen, 3), "red_herrings": herrings,
           "faults": max(1, mattering), "working_mitigations": n_eff, "trap_harm": round(harm, 3)}
    features = {"cascade_depth": min(depth, 4) / 4, "blindness": round(1.0 - seen, 3),
                "red_herrings": round(min(herrings, 3) / 3, 3), "faults": float(min(max(mattering, 1) - 1, 1)),
                "scarcity": round(1.0 / n_eff, 3), "trap_harm": round(min(harm, 1.0), 3)}
    d = difficulty_of(features)
    return Assessment(True, "", labels, features, raw, d, band_of(d), trap, at, plan)

