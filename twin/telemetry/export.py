"""Writing a finished run's telemetry to files: CSV tables, and the RCAEval layout RCA tools read.

The RCA export (:func:`export_telemetry`) holds what monitors saw — sampled, delayed, noisy,
with gaps — each value at its measurement time, the change and event log, the alerts, and a
root-cause record naming the columns and the change-log event of the scenario's root-cause
fault, with that fault's own start time. The columns are derived from the fault's kind and the
entities its params name (:func:`root_cause_record`), never written by hand per scenario.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from twin.faults.registry import fault_kinds
from twin.model.world import CLASSES
from twin.scenario import FaultSpec, Scenario, load_scenario
from twin.sim.twin import Twin
from twin.telemetry.recorder import METRICS, TRAFFIC_METRIC

__all__ = ["export_telemetry", "root_cause_record", "root_cause_entities", "write_outputs", "SYMPTOM"]

#: The metric in which a fault kind first shows on the entities its params name; a kind not
#: listed shows in its entity kind's default (``DEFAULT_SYMPTOM``).
SYMPTOM: dict[str, str] = {
    "cpu_hog": "cpu",
    "memory_leak": "memory",
    "bad_deploy": "error_rate",
    "replica_crash": "unavailable",
    "retry_storm": "rps",
    "load_surge": "rps",
    "link_down": "up",
    "link_flap": "up",
    "link_degraded": "loss",
    "device_failure": "up",
    "route_attraction": "throughput_gbps",
    "latent_protocol_defect": "throughput_gbps",
    "control_plane_jobs_down": "cpu",
    "config_push": "throughput_gbps",
}
DEFAULT_SYMPTOM = {"service": "error_rate", "link": "loss", "device": "throughput_gbps", "traffic": TRAFFIC_METRIC}


def write_outputs(t: Twin, out: Path) -> None:
    """What monitors saw per entity kind, alerts and events of ``t`` as CSV files in ``out``,
    and the sandbox's KPIs (its truth of user impact, not what operators saw) in ``kpis.csv``."""
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("link", "service", "device"):
        t.metrics(kind).to_csv(out / f"metrics_{kind}.csv", index=False)
    t.telemetry.kpis().to_csv(out / "kpis.csv")
    t.alerts().to_csv(out / "alerts.csv", index=False)
    t.events().to_csv(out / "events.csv", index=False)


def root_cause_entities(scenario: Scenario, world: Any, spec: FaultSpec) -> list[tuple[str, str]]:
    """``(entity kind, name)`` of every monitored entity the fault's params name: a service,
    link or device itself; a plane's links; a site's devices and services; the devices
    running a feature; a traffic class's volume (kind ``traffic``)."""
    kind = fault_kinds().get(spec.kind)
    if kind is None:
        return []
    params = spec.params.model_dump(by_alias=True)
    topo = world.topology
    out: list[tuple[str, str]] = []
    for param, ref in kind.references.items():
        value = params.get(param)
        for v in value if isinstance(value, list) else [value]:
            if v is None:
                continue
            if ref in ("service", "link", "device"):
                out.append((ref, v))
            elif ref == "plane":
                out += [("link", name) for name, p in zip(topo.links, topo.link_plane) if p == v]
            elif ref in ("site", "scope") and v in topo.sites:
                out += [("device", topo.nodes[d]) for d in world.devices if topo.node_site[d] == v]
                out += [("service", s) for i, s in enumerate(world.services)
                        if world.service_site[i] == world.site_index[v]]
            elif ref == "feature":
                out += [("device", topo.nodes[int(d)]) for d in world.features.get(v, [])]
            elif ref == "class":
                out.append(("traffic", v))
    return list(dict.fromkeys(out))


def root_cause_record(t: Twin, events: pd.DataFrame, columns: pd.Index) -> dict[str, Any] | None:
    """The root cause as RCA tools are scored on it: the scenario's root-cause fault, its own
    start time, the exported columns of the entities it names (``column``: the one in the
    kind's symptom metric) and the change-log event it rode in on (``event``), if any."""
    gt = t.scenario.ground_truth
    if gt is None:
        return None
    spec = next((f for f in t.scenario.faults if f.id == gt.root_cause.fault), None)
    if spec is None:
        return {"fault": gt.root_cause.fault, "component": gt.root_cause.component, "column": None, "columns": [],
                "entities": [], "event": None, "start": None}
    entities = root_cause_entities(t.scenario, t.world, spec)
    symptom = SYMPTOM.get(spec.kind)
    named = []
    for ekind, name in entities:
        metrics = (TRAFFIC_METRIC,) if ekind == "traffic" else METRICS[ekind]
        first = symptom if symptom in metrics else DEFAULT_SYMPTOM[ekind]
        named += [f"{name}_{first}"] + [f"{name}_{m}" for m in metrics if m != first]
    cols = [c for c in named if c in columns]
    primary = [c for c in cols if any(c == f"{n}_{SYMPTOM.get(spec.kind, DEFAULT_SYMPTOM[k])}" for k, n in entities)]
    record = t.state.faults.records.get(spec.id)
    change = (record.change if record is not None else None) or spec.params.model_dump(by_alias=True).get("change")
    event = None
    if change and len(events):
        hit = events[(events["kind"] == "change") & events["message"].str.contains(change, regex=False)]
        if len(hit):
            row = hit.iloc[0]
            event = {"time": float(row["time"]), "kind": row["kind"], "entity": row["entity"], "message": row["message"]}
    return {
        "fault": spec.id,
        "kind": spec.kind,
        "component": gt.root_cause.component,
        "start": t.state.faults.started.get(spec.id),
        "column": (primary or cols or [None])[0],
        "columns": cols,
        "entities": sorted({n for _, n in entities}),
        "event": event,
    }


def export_telemetry(name: str, out: Path, seed: int | None = None) -> tuple[Path, Path]:
    """RCAEval-style export of one incident left alone: ``data.csv`` (one wide time-indexed table
    of what monitors saw), ``events.csv`` (changes and events), ``alerts.csv``, and
    ``root_cause.json`` (see :func:`root_cause_record`; ``inject_time`` is the root-cause
    fault's own start)."""
    sc = load_scenario(name)
    t = Twin(sc, seed=seed)
    t.run(until=sc.duration)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data.csv"
    wide = t.telemetry.measured_wide(CLASSES)
    wide.to_csv(data)
    events = t.events()
    events.to_csv(out / "events.csv", index=False)
    t.alerts().to_csv(out / "alerts.csv", index=False)
    faults = [{"id": f.id, "kind": f.kind, "at": f.at, "duration": f.duration,
               "params": f.params.model_dump(by_alias=True, exclude_unset=True),
               "started": t.state.faults.started.get(f.id), "phase": t.state.faults.phase.get(f.id)}
              for f in sc.faults]
    gt = sc.ground_truth
    cause = root_cause_record(t, events, wide.columns)
    root = {"scenario": sc.name, "seed": t.seed, "faults": faults,
            "root_cause": cause,
            "ground_truth": gt.root_cause.model_dump() if gt else None,
            "inject_time": cause["start"] if cause else None}
    rc = out / "root_cause.json"
    rc.write_text(json.dumps(root, indent=2, default=str))
    return data, rc
