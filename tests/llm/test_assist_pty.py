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
    # the helper asks which cause to act on, then which mitigation to apply: answer each prompt
    asked = []
    while True:
        i = child.expect(["Act on which cause", "Apply which", "done at"])
        if i == 2:
            break
        asked.append(i)
        assert len(asked) < 12, "the helper keeps asking"
        child.sendline("1")
    assert 0 in asked and 1 in asked, f"prompts seen: {asked}"
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
