"""``twin replay``, ``twin evaluate`` and ``twin export`` (wired onto the app by :mod:`twin.cli`)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.agent_registry import default_registry, make_agent
from twin.evaluate import (REFERENCE_AGENTS, agreement_table, band_table, evaluate, generated_scenarios,
                           oracle_agreement, select_scenarios, summary_table)
from twin.plots import plot_timeline
from twin.replay import load_replay, no_action_run, reference_run, replay_paths, replay_with_agent, score
from twin.scenario import load_scenario
from twin.telemetry.export import export_telemetry
from twin.units import format_duration

__all__ = ["evaluate_cmd", "export_cmd", "replay_cmd"]

console = Console()


def _t(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _timeline_rows(run) -> list[tuple[float, str]]:
    rows = [(a["start"], f"{a['kind']} {a['args'] or ''}".strip()) for a in run.actions]
    return rows


def replay_cmd(
    name: str = typer.Argument(..., help="replay name (replays/NAME.yaml), a replay path, or a scenario name"),
    agent: str = typer.Option(None, "--agent", help="let this agent handle the incident instead of the operators"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    out: Path = typer.Option(None, "--out", help="directory for scores (JSON) and a timeline plot (PNG)"),
) -> None:
    """Re-enact the operators' timeline (or let an agent act) and score it against the operators."""
    path = Path(name)
    is_replay = name in replay_paths() or path.suffix in (".yaml", ".yml")
    rep = load_replay(name) if is_replay else None
    scenario = rep.scenario if rep else name
    sc = load_scenario(scenario)
    ref = reference_run(rep, seed) if rep else no_action_run(sc, seed)
    ops_tool = rep.timeline[-1].tool if rep else None
    run = replay_with_agent(sc, make_agent(agent), seed, who=agent) if agent else ref
    baseline = no_action_run(sc, seed) if rep else ref  # the incident left alone
    s_ref = score(ref, sc, ref, ops_tool, baseline)
    s_run = score(run, sc, ref, ops_tool, baseline) if agent else s_ref
    console.print(f"[bold]{sc.name}[/bold] ({sc.category}): {sc.description}")
    if rep:
        console.print(f"source: {rep.source}; published TTM {_t(rep.published_ttm)}"
                      f"{' (assumed)' if rep.ttm_assumed else ''}, x{rep.time_scale:g} on the simulated clock = "
                      f"{_t(rep.expected_ttm)} (tolerance {rep.tolerance:.0%})")
    table = Table("time", "operators" if rep else "reference (no action)", agent or "", box=None)
    rows: dict[float, list[str]] = {}
    for t, what in _timeline_rows(ref):
        rows.setdefault(t, ["", ""])[0] += what
    if agent:
        for t, what in _timeline_rows(run):
            cell = rows.setdefault(t, ["", ""])
            cell[1] += ("; " if cell[1] else "") + what
    for t in sorted(rows):
        table.add_row(_t(t), *rows[t])
    console.print(table)
    scores = Table("score", "operators" if rep else "reference", agent or "", box=None)
    fields = ("detected_at", "mitigated", "ttm", "ttm_ratio", "root_cause_named", "mitigation_matches",
              "impact_minutes", "excess_impact_minutes", "new_alerts", "harmful_attempted", "harmful_applied",
              "steps", "tool_calls", "wall_s", "tokens")
    for f in fields:
        a, b = getattr(s_ref, f), getattr(s_run, f)
        show = (lambda v: _t(v)) if f in ("detected_at", "ttm") else (
            lambda v: "-" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v)))
        scores.add_row(f, show(a), show(b) if agent else "")
    console.print(scores)
    if out:
        out.mkdir(parents=True, exist_ok=True)
        payload = {"scenario": sc.name, "reference": s_ref.to_dict(), "run": s_run.to_dict()}
        (out / f"{sc.name}-{agent or 'operators'}.json").write_text(json.dumps(payload, indent=2, default=str))
        plot_timeline(sc.name, ref, {agent: run} if agent else {}, out / f"{sc.name}.png")
        console.print(f"wrote scores and timeline to {out}/")


def evaluate_cmd(
    agents: str = typer.Option("random,runbook", "--agents", help="comma-separated agent names"),
    scenarios: str = typer.Option("all", "--scenarios", help="all | historical | novel | NAME,NAME"),
    generated: Path = typer.Option(None, "--generated", help="a directory `twin generate` wrote: evaluate on its "
                                   "incidents, with results per difficulty band (replaces --scenarios)"),
    seeds: int = typer.Option(5, "--seeds", min=1, help="seeds per scenario and agent"),
    out: Path = typer.Option(Path("runs/evaluate"), "--out", help="directory for CSV, JSON and PNG timelines"),
) -> None:
    """Score agents against the operators (or the no-action run) over scenarios and seeds."""
    import pandas as pd
    from rich.progress import Progress

    names = [a.strip() for a in agents.split(",") if a.strip()]
    registry = default_registry()
    factories = {a: registry.get(a) for a in names}
    for factory in factories.values():
        factory()  # unknown or unbuildable agents fail before anything runs
    chosen = generated_scenarios(generated) if generated is not None else select_scenarios(scenarios)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(chosen) * seeds * len(names))
        rows = evaluate(factories, chosen, seeds, lambda: progress.advance(task))
    wide = Console(width=max(console.width, 150))  # the table is wide; never wrap it
    title = (f"{len(chosen)} scenarios x {len(names)} agents x {seeds} seeds "
             "(mean ±95% CI; reference = operators' replay, or no action for novel)")
    if generated is not None:  # hundreds of rows per scenario would drown the bands: totals only
        wide.print(summary_table(rows, title, per_scenario=False))
        wide.print(band_table(rows))
    else:
        wide.print(summary_table(rows, title))
    out.mkdir(parents=True, exist_ok=True)
    plain = [{k: v for k, v in r.items() if k != "_run"} for r in rows]
    pd.DataFrame(plain).to_csv(out / "scores.csv", index=False)
    (out / "scores.json").write_text(json.dumps(plain, indent=2, default=str))
    if any(getattr(r.get("_run"), "prechecks", None) for r in rows):
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task("asking the oracle", total=None)
            pairs = oracle_agreement(rows, lambda: progress.advance(task))
        wide.print(agreement_table(pairs))
        pd.DataFrame(pairs).to_csv(out / "precheck_agreement.csv", index=False)
    for name in chosen if generated is None else chosen[:3]:
        sc = load_scenario(name)
        first = [r for r in rows if r["scenario"] == sc.name and r["seed"] == sc.seed]
        ref = next(r["_run"] for r in first if r["agent"] in REFERENCE_AGENTS)
        plot_timeline(sc.name, ref, {r["agent"]: r["_run"] for r in first if r["agent"] not in REFERENCE_AGENTS},
                      out / f"{sc.name}.png")
    console.print(f"wrote scores.csv, scores.json and {len(chosen) if generated is None else min(3, len(chosen))} "
                  f"timelines to {out}/")


def export_cmd(
    name: str = typer.Argument(..., help="scenario name or YAML path"),
    out: Path = typer.Option(..., "--out", help="directory for data.csv and root_cause.json"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
) -> None:
    """Export an incident's telemetry as RCA tools consume it (RCAEval layout)."""
    data, rc = export_telemetry(name, out, seed)
    console.print(f"wrote {data} and {rc}")
