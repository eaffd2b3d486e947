"""`twin export` on every shipped scenario: what monitors saw, and a root cause that names a column
of the export or an event of its event log, at the root-cause fault's own start."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from twin.scenario import load_scenario, scenario_paths
from twin.telemetry.export import export_telemetry

WITH_ROOT_CAUSE = [n for n, p in scenario_paths().items() if load_scenario(p).ground_truth is not None]


@pytest.mark.parametrize("name", WITH_ROOT_CAUSE)
def test_exported_root_cause_is_a_column_or_an_event(tmp_path, name):
    sc = load_scenario(name)
    data, rc = export_telemetry(name, tmp_path)
    df = pd.read_csv(data, index_col="time")
    events = pd.read_csv(tmp_path / "events.csv")
    record = json.loads(rc.read_text())
    cause = record["root_cause"]
    # derived from the ground truth's fault and that fault's kind, not written per scenario
    spec = next(f for f in sc.faults if f.id == sc.ground_truth.root_cause.fault)
    assert cause["fault"] == spec.id and cause["kind"] == spec.kind
    started = next(f["started"] for f in record["faults"] if f["id"] == spec.id)
    assert cause["start"] is not None and cause["start"] == started == record["inject_time"]
    assert cause["start"] >= spec.at  # the fault's own start (a cascade condition may hold later)
    column_ok = cause["column"] is not None and cause["column"] in df.columns and set(cause["columns"]) <= set(df.columns)
    event = cause["event"]
    event_ok = event is not None and ((events["time"] == event["time"]) & (events["message"] == event["message"])).any()
    assert column_ok or event_ok, (name, cause)
    params = spec.params.model_dump(by_alias=True)
    for ref in ("service", "link", "device"):
        if isinstance(params.get(ref), str):  # a fault on one named entity points at that entity's column
            assert cause["column"].startswith(params[ref] + "_")
    if column_ok:
        assert cause["column"].rsplit("_", 1)[0].split("_traffic")[0] in cause["entities"] or any(
            cause["column"].startswith(e + "_") for e in cause["entities"])
    # what monitors saw: background errors, not exact zeros, before the fault
    err = [c for c in df.columns if c.endswith("_error_rate")]
    before = df[df.index < cause["start"]]
    if err:
        assert not (before[err] == 0).all().any()


def test_export_command_writes_the_event_log_and_root_cause(tmp_path):
    out = tmp_path / "rca"
    proc = subprocess.run([sys.executable, "-m", "twin", "export", "sockshop-cpu-hog", "--out", str(out)],
                          check=False, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert {"data.csv", "events.csv", "alerts.csv", "root_cause.json"} <= {p.name for p in out.iterdir()}
    cause = json.loads((out / "root_cause.json").read_text())["root_cause"]
    assert cause["column"] == "catalogue_cpu"
