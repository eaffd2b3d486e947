"""The scenario fields of the retry, export-path and DNS mechanisms: bad values name file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from twin import ScenarioError, load_scenario
from twin.scenario import SCENARIO_DIR

AWS = (SCENARIO_DIR / "aws-us-east-1-2021-12-07.yaml").read_text()
META = (SCENARIO_DIR / "meta-2021-10-04.yaml").read_text()
RETRIES = "    interdc: {retries: {max: 3, budget: 0.5, backoff: 1s}}\n"
EXPORT = "  device: {interval: 30s, delay: 10s, noise: 0.02, export_via: bridge}\n"
DNS = "  dns: {servers: [pop-iad, pop-ams], data_centers: [prn, ash, lla], period: 10s, failures: 6}\n"

CASES = [
    ("retries-negative", AWS, RETRIES, RETRIES.replace("max: 3", "max: -1"), "traffic.kinds.interdc.retries.max",
     "greater than or equal to 0"),
    ("retries-misspelt", AWS, RETRIES, RETRIES.replace("budget:", "budgt:"), "traffic.kinds.interdc.retries.budgt",
     "allowed:"),
    ("retries-backoff", AWS, RETRIES, RETRIES.replace("1s", "soon"), "traffic.kinds.interdc.retries.backoff", "soon"),
    ("retries-fabric", AWS, RETRIES, RETRIES + "  fabric: {retries: {max: 2}}\n", "traffic.fabric",
     "traffic.kinds.user, traffic.kinds.interdc"),
    ("export-group", AWS, EXPORT, EXPORT.replace("device:", "router:"), "monitoring.router",
     "allowed:"),
    ("export-plane", AWS, EXPORT, EXPORT.replace("bridge}", "brige}"), "monitoring.device.export_via",
     "unknown plane 'brige' (known: bridge, core)"),
    ("dns-site", META, DNS, DNS.replace("pop-ams]", "pop-amz]"), "control.dns.servers[1]", "unknown site 'pop-amz'"),
    ("dns-dc", META, DNS, DNS.replace("[prn,", "[prm,"), "control.dns.data_centers[0]", "unknown site 'prm'"),
    ("dns-min", META, DNS, DNS.replace("failures: 6", "failures: 6, min_reachable: 4"), "control.dns.min_reachable",
     "allowed: 1..3"),
    ("dns-failures", META, DNS, DNS.replace("failures: 6", "failures: 0"), "control.dns.failures",
     "greater than or equal to 1"),
    ("dns-class", META, DNS, DNS.replace("failures: 6", "failures: 6, classes: [web]"), "control.dns.classes[0]",
     "'user' or 'interdc'"),
]


@pytest.mark.parametrize("name,base,old,new,field,hint", CASES, ids=[c[0] for c in CASES])
def test_bad_mechanism_field_names_file_and_field(tmp_path: Path, name, base, old, new, field, hint):
    assert old in base
    path = tmp_path / f"{name}.yaml"
    path.write_text(base.replace(old, new, 1))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == field, str(info.value)
    assert str(path) in str(info.value) and hint in str(info.value), str(info.value)
