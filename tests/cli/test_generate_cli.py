"""``twin generate`` and ``twin evaluate --generated`` as a user meets them, mistakes included
(exit 2, one line naming the field and the allowed values, no traceback)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from twin.cli import _register, app, main

runner = CliRunner()
_register()


def _fails(capsys, *args: str) -> str:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "Traceback" not in err
    return err


def test_it_writes_the_files_the_manifest_and_the_spread(tmp_path):
    res = runner.invoke(app, ["generate", "--n", "2", "--seed", "2", "--out", str(tmp_path), "--workers", "1"],
                        terminal_width=200)
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gen-2-0000.yaml", "gen-2-0001.yaml", "manifest.csv"]
    assert "candidates drawn" in res.output and "spread" in res.output


def test_a_bad_config_names_the_field(capsys, tmp_path):
    cfg = tmp_path / "gen.yaml"
    cfg.write_text("kinds: [alien]\n")
    err = _fails(capsys, "generate", "--n", "1", "--config", str(cfg))
    assert "kinds" in err and "unknown fault kind 'alien'" in err and "allowed:" in err


def test_the_heldout_seeds_need_the_heldout_flag(capsys):
    err = _fails(capsys, "generate", "--n", "1", "--seed", "1000001")
    assert "held-out split" in err and "--heldout" in err


def test_evaluate_needs_a_directory_of_generated_files(capsys, tmp_path):
    assert "no such directory" in _fails(capsys, "evaluate", "--generated", str(tmp_path / "nope"))
    assert "holds no scenario files" in _fails(capsys, "evaluate", "--generated", str(tmp_path))
