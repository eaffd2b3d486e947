"""Bad scenario files are rejected with one line naming the file and the field path."""

import subprocess
import sys
from pathlib import Path

import pytest

from twin import ScenarioError, load_scenario
from twin.scenario import SCENARIO_DIR

BASE = (SCENARIO_DIR / "b2b4-casc1.yaml").read_text()

CASES = [
    ("misspelt", ("  fabrics:\n", "  fabricz:\n"), "topology.fabricz", "allowed: fabrics"),
    ("negative", ("{a: us-east, b: us-central, capacity_gbps: 600", "{a: us-east, b: us-central, capacity_gbps: -600"),
     "topology.planes[1].links[0].capacity_gbps", "greater than 0"),
    ("missing-site", ("{a: us-central, b: eu-west, capacity_gbps: 400", "{a: us-central, b: eu-wst, capacity_gbps: 400"),
     "topology.planes[1].links[7].b", "unknown site 'eu-wst'"),
    ("class-kind", ("  planes: {user: b2, interdc: b4}\n", "  planes: {user: b2, interdc: b4}\n  kinds: {voice: {elastic: true}}\n"),
     "traffic.kinds.voice", "'user' or 'interdc'"),
    ("queue", ("control:\n", "network: {queue: fifo}\ncontrol:\n"), "network.queue", "'droptail' or 'fq'"),
    ("fault-kind", ("kind: config_push\n    at: 10m", "kind: config_pushh\n    at: 10m"), "faults[0].kind", "allowed:"),
    ("fault-entity", ("      plane: b4\n", "      plane: b5\n"), "faults[0].params.plane", "known: b2, b4"),
    ("fault-param", ("      clusters: 3\n", "      clustrs: 3\n"), "faults[0].params.clustrs", "allowed:"),
    ("fault-param-type", ("      clusters: 3\n", "      clusters: three\n"), "faults[0].params.clusters", "valid integer"),
]


@pytest.mark.parametrize("name,edit,field,hint", CASES, ids=[c[0] for c in CASES])
def test_bad_scenario_names_file_and_field(tmp_path: Path, name, edit, field, hint):
    path = tmp_path / f"{name}.yaml"
    assert edit[0] in BASE
    path.write_text(BASE.replace(edit[0], edit[1], 1))
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert info.value.field == field
    assert str(path) in str(info.value) and hint in str(info.value)


@pytest.mark.parametrize("name,edit,field,hint", CASES[:3], ids=[c[0] for c in CASES[:3]])
def test_cli_rejects_with_exit_2_and_no_traceback(tmp_path: Path, name, edit, field, hint):
    path = tmp_path / f"{name}.yaml"
    path.write_text(BASE.replace(edit[0], edit[1], 1))
    proc = subprocess.run([sys.executable, "-m", "twin", "run", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr + proc.stdout
    lines = [l for l in proc.stderr.splitlines() if l.strip()]
    assert len(lines) == 1 and field in lines[0] and str(path) in lines[0]


def test_unknown_builtin_lists_the_known_ones():
    with pytest.raises(ScenarioError, match="b2b4-casc1"):
        load_scenario("no-such-scenario")
