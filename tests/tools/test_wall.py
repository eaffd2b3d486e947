"""The wall between the two worlds: nothing an agent holds leads to the sandbox or its truth.

The sandbox (a Twin with its faults and ground truth) is for the episode runner, scoring and
the gym's reward. An agent gets a toolbox; from it, by attributes, containers and dataclass
fields, no path may reach a Twin, its state or telemetry (which hold the truth), a fault spec,
a ground truth, or a scenario that still has them. Tool results must not name a fault.
"""

from __future__ import annotations

import dataclasses
import re
import types
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from twin.agent_registry import make_agent
from twin.scenario import FaultSpec, GroundTruthSpec, Scenario, load_scenario, scenario_paths
from twin.sim.state import FaultRecord, TwinState
from twin.sim.twin import Twin
from twin.telemetry.recorder import Telemetry
from twin.tools import Toolbox

FORBIDDEN = (Twin, TwinState, Telemetry, FaultSpec, GroundTruthSpec, FaultRecord)
ROOT = Path(__file__).resolve().parents[2]


def leaks(obj: object, path: str = "toolbox", seen: set[int] | None = None, depth: int = 0) -> list[str]:
    """Paths from ``obj`` to anything of the sandbox (attributes, containers, dataclass fields)."""
    seen = set() if seen is None else seen
    if id(obj) in seen or depth > 40:
        return []
    seen.add(id(obj))
    if isinstance(obj, FORBIDDEN):
        return [f"{path} is a {type(obj).__name__}"]
    if isinstance(obj, Scenario) and (obj.faults or obj.ground_truth is not None or obj.generated is not None):
        return [f"{path} is a scenario with its faults or ground truth"]
    if isinstance(obj, (str, bytes, int, float, bool, type(None), np.ndarray, np.generic, pd.DataFrame, pd.Series,
                        pd.Index, types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
                        types.MethodType, np.random.Generator)):
        return []
    out: list[str] = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += leaks(k, f"{path}[key {k!r}]", seen, depth + 1)
            out += leaks(v, f"{path}[{k!r}]", seen, depth + 1)
        return out
    if isinstance(obj, (list, tuple, set, frozenset)):
        for i, v in enumerate(obj):
            out += leaks(v, f"{path}[{i}]", seen, depth + 1)
        return out
    names = set(getattr(obj, "__dict__", {}))
    for klass in type(obj).__mro__:
        names |= set(getattr(klass, "__slots__", ()))
    if dataclasses.is_dataclass(obj):
        names |= {f.name for f in dataclasses.fields(obj)}
    if hasattr(type(obj), "model_fields"):  # pydantic models: their fields
        names |= set(type(obj).model_fields)
    for name in sorted(names):
        try:
            value = getattr(obj, name)
        except AttributeError:
            continue
        out += leaks(value, f"{path}.{name}", seen, depth + 1)
    return out


def test_the_walker_finds_a_planted_sandbox() -> None:
    """The check can fail: a toolbox-like object holding the twin is caught."""
    t = Twin("b2b4-casc1", seed=0)

    class Leaky:
        def __init__(self) -> None:
            self.nested = {"x": [t]}

    assert leaks(Leaky())
    assert leaks({"sc": t.scenario})


@pytest.mark.parametrize("name", ["b2b4-casc1", "trainticket-retry-storm", "novel-dual-fault"])
def test_nothing_an_agent_holds_leads_to_the_sandbox(name: str) -> None:
    t = Twin(name, seed=0)
    t.run(until=600)
    box = Toolbox(t)
    assert not hasattr(box, "twin")
    assert leaks(box) == []
    from agents.llm import LLMAgent, ScriptedBackend

    agents = {"random": make_agent("random"), "runbook": make_agent("runbook"), "planner": make_agent("planner"),
              "llm": LLMAgent(backend=ScriptedBackend(["{}"] * 8), trace_dir=None)}
    for agent_name, agent in agents.items():
        agent.reset(box, np.random.default_rng(0))
        for _ in range(3):
            call = agent.act(box)
            if call is None:
                break
            box.call(*call)
        assert leaks(agent, agent_name) == []
        assert leaks(box) == []


def _fault_words(sc: Scenario) -> set[str]:
    words = {f.id for f in sc.faults}
    return {w for w in words if len(w) > 3}


@pytest.mark.parametrize("name", sorted(scenario_paths()))
def test_tool_results_never_name_the_injected_fault(name: str) -> None:
    sc = load_scenario(name)
    t = Twin(sc, seed=0)
    t.run(until=min(sc.duration, 900))
    box = Toolbox(t)
    words = _fault_words(sc)
    for tool in box.tools:
        if tool.kind == "mitigate":
            continue
        targets = box.targets(tool.name)[:2] if tool.target else [None]
        for target in targets:
            args = {tool.target: target} if target is not None else {}
            res = box.call(tool.name, args)
            text = res.text(max_chars=100_000) + str(res.data)
            for w in words:
                assert not re.search(rf"\b{re.escape(w)}\b", text), f"{tool.name}{args} names fault {w!r}"
            assert "ground_truth" not in text and "root_cause" not in text


def test_no_agent_code_reaches_for_the_sandbox() -> None:
    """A grep: agents use the toolbox's operator view, never the sandbox behind it."""
    pattern = re.compile(r"\b(toolbox|box|self)\.twin\b|sandbox_of|_SANDBOX|prechecks_of|\.state\.faults|ground_truth|\.truth\b")
    hits = []
    for path in [*(ROOT / "agents").rglob("*.py"), *(ROOT / "twin" / "tools").rglob("*.py")]:
        rel = path.relative_to(ROOT)
        for i, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line) and not line.lstrip().startswith("#"):
                hits.append(f"{rel}:{i}: {line.strip()}")
    allowed = {"twin/tools/toolbox.py"}  # the wall itself
    hits = [h for h in hits if h.split(":")[0] not in allowed and "agents/llm/commands.py" not in h]
    assert hits == []


@pytest.mark.parametrize("name", sorted(scenario_paths()))
def test_the_operator_scenario_carries_no_hindsight(name: str) -> None:
    """The scenario an agent can read has no faults, no ground truth and not the summary line."""
    sc = load_scenario(name)
    box = Toolbox(Twin(sc, seed=0))
    op = box.operator_scenario
    assert op.faults == [] and op.ground_truth is None
    assert op.description != sc.description
    assert box.world.scenario is op
