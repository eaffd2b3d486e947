"""``twin diagnose`` as a user meets it: the posterior, the evidence per cause, the next test,
user hypotheses, and clear errors (exit 2, no traceback) for what cannot be diagnosed."""

from __future__ import annotations

import pytest
import yaml
from typer.testing import CliRunner

from twin.belief import base_data
from twin.cli import _register, app, main
from twin.scenario import load_scenario

runner = CliRunner()
_register()


def _fails(capsys, *args: str) -> str:
    """Run through the CLI's entry point (which turns user mistakes into exit 2) and return stderr."""
    with pytest.raises(SystemExit) as exc:
        main(["diagnose", *args])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    return err


def test_it_prints_the_posterior_the_evidence_and_the_next_test():
    res = runner.invoke(app, ["diagnose", "b2b4-casc1", "--at", "14m", "--top", "3"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "config_push chg-4421 b4" in res.output and "explains" in res.output and "next test:" in res.output


def test_a_users_hypothesis_is_simulated_and_ranked_with_the_rest():
    res = runner.invoke(app, ["diagnose", "sockshop-cpu-hog", "--at", "15m", "--top", "40",
                              "--hypothesis", "replica_crash orders count=2 @ 5m"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "replica_crash orders count=2 @ 5m" in res.output


@pytest.mark.parametrize("text, words", [
    ("link_down b4:us-east-us-centrl @ 10m", ["unknown entity 'b4:us-east-us-centrl'", "b4:us-east-us-central"]),
    ("lnk_down b4:us-east-us-central @ 10m", ["unknown fault kind 'lnk_down'", "link_down", "cpu_hog"]),
    ("link_down b4:us-east-us-central", ["expected 'KIND ENTITY"]),
    ("link_down b4:us-east-us-central @ soon", ["time 'soon'"]),
    ("link_degraded b4:us-east-us-central loss=3 @ 10m", ["loss"]),
    ("cpu_hog service=nope share=0.5 @ 10m", ["unknown service 'nope'", "frontend"]),
])
def test_a_bad_hypothesis_names_what_is_wrong_and_what_is_allowed(capsys, text, words):
    err = _fails(capsys, "b2b4-casc1", "--at", "14m", "--hypothesis", text)
    assert all(w in err for w in words), err


def test_an_at_past_the_run_is_an_error(capsys):
    assert "outside the run" in _fails(capsys, "b2b4-casc1", "--at", "5h")


def test_before_the_first_alert_it_cannot_tell_and_says_so():
    res = runner.invoke(app, ["diagnose", "b2b4-casc1", "--at", "3m"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "cannot tell" in res.output and "none of these: 1.00" in res.output


def test_without_monitors_on_the_faulty_layer_it_cannot_tell(tmp_path):
    data = base_data(load_scenario("sockshop-cpu-hog"))  # the operator's view: no faults
    data["faults"] = [{"id": "dark", "kind": "monitoring_outage", "at": 0, "params": {"scope": "services"}},
                      {"id": "hog", "kind": "cpu_hog", "at": 300, "params": {"service": "catalogue", "share": 0.95}}]
    path = tmp_path / "dark.yaml"
    path.write_text(yaml.safe_dump(data))
    res = runner.invoke(app, ["diagnose", str(path), "--at", "15m"], terminal_width=200)
    assert res.exit_code == 0, res.output
    assert "cannot tell" in res.output
