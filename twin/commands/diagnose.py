"""``twin diagnose``: rank causes of an incident by simulating each on the operator's twin
(:mod:`twin.diagnosis`); only what monitors saw and the change log go in."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from twin.diagnosis import diagnose
from twin.scenario import load_scenario
from twin.commands.core import parse_time
from twin.units import format_duration

__all__ = ["diagnose_cmd"]

console = Console()


def diagnose_cmd(
    name: str = typer.Argument(..., help="scenario name or YAML path"),
    at: str = typer.Option(..., "--at", help="the moment to diagnose, e.g. 14m (simulated time)"),
    seed: int = typer.Option(None, "--seed", help="random seed of the incident (default: the scenario's)"),
    top: int = typer.Option(5, "--top", min=1, help="how many causes to list"),
) -> None:
    """Posterior over causes at --at: each candidate simulated on the operator's twin and
    scored by how well its monitors match the observed ones."""
    sc = load_scenario(name)
    when = parse_time(at, "--at")
    d = diagnose(sc, when, seed)
    ev = d.evidence
    console.print(f"[bold]{sc.name}[/bold] at {format_duration(ev.at)}: {len(ev.alerts)} alerts, "
                  f"{len(ev.changes)} changes in the log; {len(d.ranked) - 1} causes simulated")
    table = Table(box=None)
    for col in ("p", "cause", "misfit", "alerts explained / missed / invented"):
        table.add_column(col, no_wrap=True)
    for s in d.ranked[:top]:
        table.add_row(f"{s.probability:.2f}", s.label, f"{s.misfit:.2f}",
                      f"{len(s.explained)} / {len(s.missed)} / {len(s.invented)}")
    console.print(table)
    if not len(ev.alerts):
        console.print("cannot tell: no alert has fired yet, so there is nothing to explain")
    elif d.top.hypothesis is None:
        console.print("cannot tell: no candidate reproduces what the monitors saw better than "
                      "\"none of these\" (several causes at once, or one the generator does not propose)")
