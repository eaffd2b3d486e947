"""``twin run SCENARIO --agent NAME``: one episode, printed step by step, then TTM and impact."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from twin.agent import Agent
from twin.scenario import Scenario
from twin.telemetry.export import write_outputs
from twin.units import format_duration

__all__ = ["run_with_agent"]


def run_with_agent(sc: Scenario, agent: Agent, seed: int | None, horizon: float, out: Path | None,
                   console: Console) -> None:
    """Run one episode of ``agent`` on ``sc`` and print what it did and how it scored."""
    from twin.episode import run_episode

    seed = sc.seed if seed is None else seed
    ep = run_episode(sc, agent, seed=seed, horizon=horizon)
    if ep.detected_at is not None:
        console.print(f"first critical alert at {format_duration(ep.detected_at)}; {ep.agent} takes over")
    table = Table("time", "tool", "args", "result", box=None)
    for step in ep.steps:
        args = ", ".join(f"{k}={v}" for k, v in step.args.items())
        result = step.summary if step.ok else f"[red]{step.error}[/red]"
        table.add_row(format_duration(step.t_start), step.tool, args, result)
    console.print(table)
    ttm = format_duration(ep.ttm) if ep.ttm is not None else "-"
    console.print(f"stopped: {ep.stopped}; mitigated: {'yes' if ep.mitigated else 'no'}; TTM {ttm}; "
                  f"impact {ep.impact:.1f} impact-minutes; {len(ep.steps)} steps")
    if out and ep.twin is not None:
        write_outputs(ep.twin, out)
        console.print(f"wrote telemetry, alerts and events to {out}/")
