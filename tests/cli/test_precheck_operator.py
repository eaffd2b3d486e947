"""``twin precheck`` in its default, operator mode: evidence, diagnosis, belief twins."""

import json

import pytest
from typer.testing import CliRunner

from twin.cli import _register, app, main

runner = CliRunner()
_register()


def test_operator_mode_prints_posterior_and_probabilities(tmp_path):
    out = tmp_path / "r.json"
    res = runner.invoke(app, ["precheck", "b2b4-casc1", "--at", "14m", "-m", "freeze_te", "-m",
                              "drain_link b2:us-east-us-central", "--draws", "2", "--horizon", "10m",
                              "--json", str(out)])
    assert res.exit_code == 0, res.output
    assert "mode: operator" in res.output and "oracle" not in res.output
    assert "P(harm)" in res.output and "posterior" in res.output and "config_push chg-4421" in res.output
    data = json.loads(out.read_text())
    assert data["mode"] == "operator"
    assert data["posterior"][0]["trialled"] and data["posterior"][0]["cause"].startswith("config_push chg-4421")
    by = {r["label"]: r for r in data["ranking"]}
    assert by["drain_link b2:us-east-us-central"]["verdict"] == "harmful"
    assert by["drain_link b2:us-east-us-central"]["p_harm"] == 1.0
    assert by["freeze_te"]["verdict"] != "harmful" and by["freeze_te"]["p_harm"] == 0.0


@pytest.mark.parametrize("argv, needle", [
    (["-m", "drain_link nowhere"], "nowhere"),
    (["-m", "freeze_te", "--at", "3h"], "--at"),
    (["-m", "freeze_te", "--at", "soon"], "--at"),
    (["-m", "teleport b4"], "teleport"),
])
def test_operator_mode_bad_input_exits_2(capsys, argv, needle):
    with pytest.raises(SystemExit) as exc:
        main(["precheck", "b2b4-casc1", "--draws", "1", *argv])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("twin: error:") and needle in err and len(err.splitlines()) == 1
