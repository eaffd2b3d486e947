import subprocess
import sys

import pandas as pd


def twin(*args):
    return subprocess.run([sys.executable, "-m", "twin", *args], capture_output=True, text=True)


def test_scenarios_lists_b2b4():
    proc = twin("scenarios")
    assert proc.returncode == 0 and "b2b4-casc1" in proc.stdout


def test_show_summarises_topology_without_ground_truth():
    proc = twin("show", "b2b4-casc1")
    assert proc.returncode == 0
    assert "b2" in proc.stdout and "fabric at us-east" in proc.stdout
    assert "upgrade-push" not in proc.stdout and "ground_truth" not in proc.stdout


def test_run_writes_outputs_and_prints_cascade(tmp_path):
    proc = twin("run", "b2b4-casc1", "--until", "20m", "--seed", "3", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert out.index("chg-4421") < out.index("marks b4 FAILED") < out.index("PacketLoss")
    for name in ("metrics_link.csv", "metrics_service.csv", "alerts.csv", "events.csv", "kpis.csv"):
        assert (tmp_path / name).exists()
    links = pd.read_csv(tmp_path / "metrics_link.csv")
    assert {"time", "entity", "utilisation", "loss"} <= set(links.columns)


def test_bad_duration_flag():
    proc = twin("run", "b2b4-casc1", "--until", "5x")
    assert proc.returncode == 2 and "--until" in proc.stderr and "Traceback" not in proc.stderr


def test_bad_option_value_is_a_usage_error_not_a_traceback():
    proc = twin("run", "b2b4-casc1", "--seed", "abc")
    assert proc.returncode == 2 and "--seed" in proc.stderr and "Traceback" not in proc.stderr
