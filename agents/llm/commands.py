"""``twin assist`` (the OCE in the loop, in a terminal), ``twin demo`` (the flagship replay) and
``twin setup-llm`` (rebuild the local model back-end).

These are the LLM helper's commands: ``pyproject.toml`` declares them under the
``twin.commands`` entry point group, and :mod:`twin.cli` adds them to ``twin``. llama.cpp and
the model load only when a command runs, so ``twin --help`` stays fast.
"""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console

from twin.errors import TwinError
from twin.units import format_duration, parse_duration

__all__ = ["assist_cmd", "demo_cmd", "setup_llm_cmd"]

console = Console()


def _backend(model: Path | None):
    """The local model, after a self-check in a child process: a crash there becomes one line."""
    from agents.llm import LlamaCppBackend
    from twin.llama_setup import FIX, self_check

    backend = LlamaCppBackend(model_path=model)
    check = self_check(backend.model_path)
    if not check.ok:
        raise TwinError(f"the local LLM back-end cannot run a tiny completion ({check.reason}); {FIX}")
    return backend


def _drive(agent, box, horizon: float) -> None:
    while box.now < horizon:
        call = agent.act(box)
        if call is None:
            break
        box.call(*call)


def _first_alert(twin, at: float | None) -> None:
    end = twin.scenario.duration
    if at is not None:
        twin.run(until=at)
        return
    while twin.now < end and not any(a.severity == "critical" for a in twin.open_alerts()):
        twin.run(until=min(end, twin.now + twin.scenario.tick))


def assist_cmd(
    scenario: str = typer.Argument(..., help="scenario name or YAML path"),
    model: Path = typer.Option(None, "--model", help="GGUF chat model (default: $TWIN_LLM_MODEL or the embedded SmolLM2)"),
    auto: bool = typer.Option(False, "--auto", help="no prompts: the auto policy decides"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    at: str = typer.Option(None, "--at", help="start helping at this simulated time (default: the first critical alert)"),
    knowledge: Path = typer.Option(None, "--knowledge", help="directory of component notes"),
) -> None:
    """Run a scenario to its first alert, then help the on-call engineer: hypotheses, tests, mitigations."""
    from agents.llm import AutoPolicy, InteractiveGate, LLMAgent
    from twin import Twin, load_scenario
    from twin.tools import Toolbox

    sc = load_scenario(scenario)
    twin = Twin(sc, seed=seed)
    _first_alert(twin, parse_duration(at) if at else None)
    console.print(f"[bold]{sc.name}[/bold] at {format_duration(twin.now)}: {len(twin.open_alerts())} open alerts")
    gate = AutoPolicy() if auto else InteractiveGate(console)
    agent = LLMAgent(backend=_backend(model), gate=gate, knowledge_dir=knowledge)
    box = Toolbox(twin)
    agent.reset(box)
    shown = 0
    while twin.now < sc.duration:
        call = agent.act(box)
        for line in agent.trace.narrative()[shown:]:
            console.print(f"- {line}")
        shown = len(agent.trace.narrative())
        if call is None:
            break
        box.call(*call)
    console.print(f"done at {format_duration(twin.now)}; root cause: "
                  f"{(agent.root_cause or {}).get('statement', 'not found')}; trace: {agent.trace.path}")


def demo_cmd(
    scenario: str = typer.Argument("b2b4-casc1", help="scenario (default: the B2/B4 cascade)"),
    model: Path = typer.Option(None, "--model", help="GGUF chat model"),
    seed: int = typer.Option(None, "--seed"),
    out: Path = typer.Option(Path("runs/demo"), "--out", help="where the timeline plot goes"),
) -> None:
    """Replay an incident with the LLM helper under the auto policy and tell the story."""
    from agents.llm import AutoPolicy, LLMAgent
    from twin import Twin, load_scenario
    from twin.plots import plot_impact
    from twin.tools import Toolbox

    wall0 = time.perf_counter()
    sc = load_scenario(scenario)
    twin = Twin(sc, seed=seed)
    _first_alert(twin, None)
    detected = twin.now
    console.print(f"[bold]{sc.name}[/bold]: {sc.description}")
    console.print(f"First critical alert at {format_duration(detected)}; the helper (embedded model, auto policy) takes over.\n")
    backend = _backend(model)
    agent = LLMAgent(backend=backend, gate=AutoPolicy())
    box = Toolbox(twin)
    agent.reset(box)
    _drive(agent, box, sc.duration)
    for line in agent.trace.narrative():
        console.print(f"- {line}\n")
    mitigated = [a for a in twin.state.actions if a["status"] == "done"]
    ttm = (mitigated[0]["lands"] - detected) if mitigated else None
    ops = None
    try:
        from twin.replay import load_replay

        rep = load_replay(sc.name)
        ops = rep.mitigated_at - rep.detected_at
    except Exception:  # noqa: BLE001 - no replay file for this scenario
        pass
    console.print(f"Time to mitigate: helper {format_duration(ttm) if ttm is not None else 'not mitigated'}"
                  + (f", operators {format_duration(ops)}" if ops is not None else "") + " (simulated time).")
    console.print(f"Model: {getattr(backend, 'model_path', '?')}; {agent.tokens} tokens in "
                  f"{len(agent.trace.of_kind('llm_call'))} calls; {len(agent.trace.of_kind('rejection'))} outputs rejected.")
    twin.run(until=min(sc.duration, max(twin.now, detected + 1800)))
    marks = [(detected, "detected")] + [(a["lands"], a["kind"]) for a in mitigated]
    plot = plot_impact(twin, marks, out / f"{sc.name}-timeline.png")
    console.print(f"Timeline plot: {plot}; transcript: {agent.trace.path}; wall time {time.perf_counter() - wall0:.0f} s")


def setup_llm_cmd() -> None:
    """Rebuild llama-cpp-python for this machine, portably (or with $TWIN_LLAMA_CMAKE_ARGS), then self-check."""
    from agents.llm.backends import default_model_path
    from twin.llama_setup import ARGS_ENV, install, self_check

    info = install()
    kind = "portable" if info.portable else f"custom (${ARGS_ENV})"
    console.print(f"llama-cpp-python {info.version}, {kind} build: {' '.join(info.cmake_args)}")
    check = self_check(default_model_path())
    if not check.ok:
        raise TwinError(f"the rebuilt back-end still fails its self-check: {check.reason}")
    console.print(f"self-check: a completion ran in {check.seconds:.1f} s")
