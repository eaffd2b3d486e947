"""Writing a finished run's telemetry to files: CSV tables, and the RCAEval layout RCA tools read."""

from __future__ import annotations

import json
from pathlib import Path

from twin.scenario import load_scenario
from twin.sim.twin import Twin

__all__ = ["export_telemetry", "write_outputs"]


def write_outputs(t: Twin, out: Path) -> None:
    """Metrics per entity kind, KPIs, alerts and events of ``t`` as CSV files in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    for kind in ("link", "service", "device"):
        t.metrics(kind).to_csv(out / f"metrics_{kind}.csv", index=False)
    t.telemetry.kpis().to_csv(out / "kpis.csv")
    t.alerts().to_csv(out / "alerts.csv", index=False)
    t.events().to_csv(out / "events.csv", index=False)


def export_telemetry(name: str, out: Path, seed: int | None = None) -> tuple[Path, Path]:
    """RCAEval-style export: one wide time-indexed CSV of metrics plus the injected root cause."""
    sc = load_scenario(name)
    t = Twin(sc, seed=seed)
    t.run(until=sc.duration)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data.csv"
    t.telemetry.wide().to_csv(data)
    faults = [{"id": f.id, "kind": f.kind, "at": f.at, "duration": f.duration,
               "params": f.params.model_dump(by_alias=True, exclude_unset=True),
               "started": t.state.faults.started.get(f.id), "phase": t.state.faults.phase.get(f.id)}
              for f in sc.faults]
    gt = sc.ground_truth
    root = {"scenario": sc.name, "seed": t.seed, "faults": faults,
            "root_cause": gt.root_cause.model_dump() if gt else None,
            "inject_time": min((f["started"] for f in faults if f["started"] is not None), default=None)}
    rc = out / "root_cause.json"
    rc.write_text(json.dumps(root, indent=2, default=str))
    return data, rc
