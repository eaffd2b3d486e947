import json

from typer.testing import CliRunner

from twin.cli import _register, app

runner = CliRunner()
_register()


def test_cli_ranks_and_writes_json(tmp_path):
    out = tmp_path / "r.json"
    cands = tmp_path / "c.yaml"
    cands.write_text("- {tool: override_te, args: {plane: b4}}\n")
    res = runner.invoke(app, ["precheck", "b2b4-casc1", "--at", "12m", "--mitigation", "freeze_te", "--mitigation",
                              "drain_link b2:us-east-us-central", "--candidates", str(cands), "--draws", "2",
                              "--horizon", "10m", "--json", str(out), "--oracle"])
    assert res.exit_code == 0, res.output
    assert "do nothing" in res.output and "harmful" in res.output
    assert "oracle (sandbox truth: scoring and labels only)" in res.output
    data = json.loads(out.read_text())
    assert data["mode"] == "oracle (sandbox truth: scoring and labels only)"
    assert len(data["ranking"]) == 3
    assert data["ranking"][-1]["label"] == "drain_link b2:us-east-us-central"


def test_cli_bad_mitigation_exits_2(capsys):
    import pytest

    from twin.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["precheck", "b2b4-casc1", "-m", "drain_link nowhere", "--draws", "1"])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("twin: error:") and "nowhere" in err and len(err.splitlines()) == 1
