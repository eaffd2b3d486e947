"""``twin assist`` in a real terminal session, driven through a pseudo-terminal."""

import os
import sys
from pathlib import Path

import pytest

pexpect = pytest.importorskip("pexpect")


@pytest.mark.slow
def test_assist_picks_a_suggestion_and_exits(tmp_path):
    twin_cmd = str(Path(sys.executable).with_name("twin"))
    env = {**os.environ, "COLUMNS": "120", "TERM": "xterm"}
    child = pexpect.spawn(twin_cmd, ["assist", "b2b4-casc1", "--seed", "0"], cwd=str(tmp_path), env=env,
                          encoding="utf-8", timeout=900)  # shared 2-core machines: prompts can take minutes
    child.expect("Test which hypothesis")
    child.sendline("1")
    child.expect("Apply which")
    child.sendline("1")
    child.expect("done at")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
