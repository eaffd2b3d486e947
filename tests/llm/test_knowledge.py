"""Adapting to a new component means adding a note: retrieval of the note changes the chosen mitigation."""

import json
import shutil

from agents.llm import LLMAgent, ScriptedBackend
from agents.llm.knowledge import KNOWLEDGE_DIR, load_notes, retrieve


def _run(box, knowledge_dir):
    agent = LLMAgent(backend=ScriptedBackend(["{}"]), knowledge_dir=knowledge_dir, trace_dir=None, max_rounds=2)
    agent.reset(box)
    for _ in range(40):
        call = agent.act(box)
        if call is None:
            break
        box.call(*call)
    return agent


def test_bm25_ranks_the_te_note_first():
    ranked = retrieve(load_notes(), "TE controller marks b4 FAILED several prefixes LinkCongestion b2")
    assert ranked[0][0].name == "te-controller"


def test_novel_component_solved_only_with_its_note(tmp_path):
    from twin import Twin
    from twin.tools import Toolbox

    # without the TE-controller note the helper has no hypothesis that explains the cascade
    without = tmp_path / "without"
    shutil.copytree(KNOWLEDGE_DIR, without)
    (without / "te-controller.md").unlink()
    t = Twin("b2b4-casc1", seed=0)
    t.run(until=720)
    box = Toolbox(t)
    a = _run(box, without)
    assert not any(r.tool in ("freeze_te", "override_te") for r in box.mitigations_applied)
    # the same incident with the note added
    t2 = Twin("b2b4-casc1", seed=0)
    t2.run(until=720)
    box2 = Toolbox(t2)
    b = _run(box2, KNOWLEDGE_DIR)
    assert b.root_cause and b.root_cause["component"] == "te-controller"
    assert box2.mitigations_applied and box2.mitigations_applied[0].tool in ("override_te", "freeze_te")
    assert (a.root_cause or {}).get("component") != "te-controller"
