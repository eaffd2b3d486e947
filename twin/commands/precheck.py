"""``twin precheck``: trial mitigations on forks of a scenario's twin and rank them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from twin.errors import SafetyError
from twin.scenario import load_scenario
from twin.units import format_duration, parse_duration

__all__ = ["precheck_cmd", "read_candidates"]

console = Console(width=max(Console().width, 130))  # the ranked table needs room; pipes default to 80
_COLOUR = {"safe": "green", "risky": "yellow", "harmful": "red"}


def _duration(value: str, flag: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise SafetyError(f"{flag}: {exc}") from None


def read_candidates(path: Path) -> list[Any]:
    """A YAML list of mitigations: strings (``drain_link X``) or ``{tool, args}`` mappings
    (optionally under a top-level ``candidates:`` key)."""
    if not path.is_file():
        raise SafetyError(f"{path}: candidates file not found")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise SafetyError(f"{path}: not valid YAML: {exc}") from None
    if isinstance(data, dict):
        data = data.get("candidates")
    if not isinstance(data, list) or not data:
        raise SafetyError(f"{path}: expected a list of mitigations (strings or {{tool, args}} mappings)")
    return data


def precheck_cmd(
    scenario: str = typer.Argument(..., help="scenario name or YAML path"),
    at: str = typer.Option("12m", "--at", help="simulated time at which to trial the mitigations"),
    mitigation: list[str] = typer.Option(None, "--mitigation", "-m",
                                         help='a mitigation, e.g. "drain_link b2:us-east-us-central" (repeatable)'),
    candidates: Path = typer.Option(None, "--candidates", help="YAML file with a list of mitigations"),
    draws: int = typer.Option(8, "--draws", help="what-if draws per candidate"),
    horizon: str = typer.Option("30m", "--horizon", help="how far to simulate after --at"),
    seed: int = typer.Option(None, "--seed", help="twin seed (default: the scenario's); also seeds the draws"),
    policy: Path = typer.Option(None, "--policy", help="policy YAML (default: twin/safety/default_policy.yaml)"),
    json_out: Path = typer.Option(None, "--json", help="where to write the JSON report (default precheck-SCENARIO.json)"),
) -> None:
    """Rank mitigations by their simulated risk against doing nothing; write a JSON report."""
    import json

    from twin import Twin
    from twin.safety import load_policy, rank

    sc = load_scenario(scenario)
    items: list[Any] = list(mitigation or [])
    if candidates is not None:
        items += read_candidates(candidates)
    if not items:
        raise SafetyError("give at least one --mitigation or a --candidates file")
    pol = load_policy(policy)
    t = Twin(sc, seed=seed)
    t.run(until=_duration(at, "--at"))
    h = _duration(horizon, "--horizon")
    with Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=console, transient=True) as bar:
        task = bar.add_task(f"pre-checking {len(items)} candidate(s) x {draws} draws", total=len(items) * max(draws, 1))
        reports = rank(t, items, horizon=h, draws=draws, policy=pol, rng=seed if seed is not None else sc.seed,
                       progress=lambda n: bar.advance(task, n))
    base = reports[0].baseline
    table = Table(title=f"{sc.name} at {format_duration(t.now)}: {draws} draws, {format_duration(h)} horizon")
    for col in ("rank", "mitigation", "verdict", "SLO-min", "impact-min", "peak util", "loss", "new alerts", "N-1"):
        table.add_column(col, justify="left" if col in ("mitigation", "verdict") else "right",
                         no_wrap=col in ("mitigation", "SLO-min"))
    table.add_row("-", "do nothing (baseline)", "-", f"{base['slo_minutes'].mean:.1f}",
                  f"{base['impact_minutes'].mean:.1f}", f"{base['peak_utilisation'].mean:.0%}",
                  f"{base['peak_loss'].mean:.1%}", "-", "-")
    for i, r in enumerate(reports, 1):
        f = r.figures
        table.add_row(str(i), r.label, f"[{_COLOUR[r.verdict]}]{r.verdict}[/]",
                      f"{f['slo_minutes'].mean:.1f} ({f['slo_minutes'].p10:.0f}-{f['slo_minutes'].p90:.0f})",
                      f"{f['impact_minutes'].mean:.1f}", f"{f['peak_utilisation'].mean:.0%}", f"{f['peak_loss'].mean:.1%}",
                      f"{f['new_alerts'].mean:.1f}", f"{r.n1_survival:.0%}")
    console.print(table)
    for i, r in enumerate(reports, 1):
        console.print(f"[bold]{i}. {r.label}[/bold] [{_COLOUR[r.verdict]}]{r.verdict}[/]: {r.explanation}")
        if r.auto_approvable:
            console.print("   pre-approved by the policy: may be applied without asking")
    out = json_out or Path(f"precheck-{sc.name}.json")
    payload = {"scenario": sc.name, "at": t.now, "horizon": h, "draws": draws, "seed": seed,
               "policy": pol.to_dict(), "ranking": [r.to_dict() for r in reports]}
    out.write_text(json.dumps(payload, indent=2, default=str))
    console.print(f"wrote {out}")
