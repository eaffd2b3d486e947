"""Notes are priors: retrieval lifts the causes a note names; without notes the engine still diagnoses."""

import json
import shutil

from agents.llm import LLMAgent, ScriptedBackend
from agents.llm.knowledge import KNOWLEDGE_DIR, load_notes, retrieve
from twin.belief import Hypothesis


def _run(box, knowledge_dir, rounds=2):
    agent = LLMAgent(backend=ScriptedBackend(["{}"]), knowledge_dir=knowledge_dir, trace_dir=None, max_rounds=rounds)
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


def _box():
    from twin import Twin
    from twin.tools import Toolbox

    t = Twin("b2b4-casc1", seed=0)
    t.run(until=720)
    return Toolbox(t)


def test_a_note_lifts_the_prior_of_the_causes_it_names(tmp_path):
    box = _box()
    push = Hypothesis("config_push", {"change": "chg-4421", "target": "b4", "plane": "b4"}, 600.0)
    other = Hypothesis("cpu_hog", {"service": "rate", "share": 0.9}, 600.0)
    with_notes = LLMAgent(backend=ScriptedBackend(["{}"]), knowledge_dir=KNOWLEDGE_DIR, trace_dir=None)
    with_notes.reset(box)
    weight = with_notes.prior(box)
    assert weight is not None and weight(push) > weight(other)
    empty = tmp_path / "none"
    empty.mkdir()
    without = LLMAgent(backend=ScriptedBackend(["{}"]), knowledge_dir=empty, trace_dir=None)
    without.reset(box)
    assert without.prior(box) is None


def test_without_notes_the_helper_still_finds_and_fixes_the_push(tmp_path):
    """Notes are not the source of hypotheses: with none, the engine's posterior names the push
    and a pre-approved fix is applied."""
    empty = tmp_path / "none"
    empty.mkdir()
    box = _box()
    a = _run(box, empty)
    assert a.root_cause and "chg-4421" in a.root_cause["statement"]
    assert box.mitigations_applied
    assert box.mitigations_applied[0].tool in ("rollback_change", "freeze_te", "override_te")
