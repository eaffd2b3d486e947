"""``twin diagnose``: rank causes of an incident by simulating each on the operator's twin
(:mod:`twin.diagnosis`); only what monitors saw and the change log go in. Prints the posterior,
the evidence for and against each listed cause, and the test that would best tell them apart."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.table import Table

from twin.belief import operator_scenario
from twin.commands.core import parse_time
from twin.diagnosis import Scored, diagnose, parse_hypothesis
from twin.discriminate import next_test
from twin.scenario import load_scenario
from twin.units import format_duration

__all__ = ["diagnose_cmd"]

console = Console()


def _few(items: list[str], n: int = 4) -> str:
    return ", ".join(items[:n]) + (f" (+{len(items) - n})" if len(items) > n else "")


def _case(s: Scored) -> str:
    parts = [f"explains {_few(s.explained)}" if s.explained else "explains no alert"]
    if s.missed:
        parts.append(f"misses {_few(s.missed)}")
    if s.invented:
        parts.append(f"invents {_few(s.invented)}")
    return "; ".join(parts)


def diagnose_cmd(
    name: str = typer.Argument(..., help="scenario name or YAML path"),
    at: str = typer.Option(..., "--at", help="the moment to diagnose, e.g. 14m (simulated time)"),
    seed: int = typer.Option(None, "--seed", help="random seed of the incident (default: the scenario's)"),
    top: int = typer.Option(5, "--top", min=1, help="how many causes to list"),
    hypothesis: list[str] = typer.Option(None, "--hypothesis", help="a cause of your own, 'KIND ENTITY... "
                                         "[key=value...] @ TIME', e.g. 'link_down b4:dc1-dc2 @ 10m' (repeatable)"),
) -> None:
    """Posterior over causes at --at: each candidate simulated on the operator's twin and
    scored by how well its monitors match the observed ones."""
    sc = load_scenario(name)
    when = parse_time(at, "--at")
    base = operator_scenario(sc)
    extra = [parse_hypothesis(text, base) for text in hypothesis or []]
    d = diagnose(sc, when, seed, extra=extra)
    ev = d.evidence
    console.print(f"[bold]{sc.name}[/bold] at {format_duration(ev.at)}: {len(ev.alerts)} alerts, "
                  f"{len(ev.changes)} changes in the log; {len(d.ranked) - 1} causes simulated")
    if not len(ev.alerts):
        console.print(f"cannot tell: no alert has fired yet, so there is nothing to explain "
                      f"(none of these: {d.unexplained:.2f})", soft_wrap=True)
        return
    table = Table(box=None)
    table.add_column("p", no_wrap=True)
    table.add_column("cause", overflow="fold")
    table.add_column("misfit", no_wrap=True)
    table.add_column("alerts explained/missed/invented", no_wrap=True)
    shown = d.ranked[:top]
    for s in shown:
        table.add_row(f"{s.probability:.2f}", s.label, f"{s.misfit:.2f}",
                      f"{len(s.explained)} / {len(s.missed)} / {len(s.invented)}")
    console.print(table)
    console.print("evidence:")
    for s in shown:
        if s.hypothesis is not None:
            console.print(f"  {s.label}: {_case(s)}", soft_wrap=True)
    if d.top.hypothesis is None:
        console.print(f"cannot tell: no candidate reproduces what the monitors saw better than \"none of these\" "
                      f"({d.unexplained:.2f}; several causes at once, or one the generator does not propose)",
                      soft_wrap=True)
    choice = next_test(d, base=base)
    if choice is None:
        console.print("next test: none of the available tests would read differently under the likeliest causes",
                      soft_wrap=True)
    else:
        says = "; ".join(f"{label} -> {reading}" for label, reading in choice.predictions)
        console.print(f"next test: {choice.label}, {choice.bits:.2f} bits in {choice.duration_s:.0f} s "
                      f"(predicted readings: {says})", soft_wrap=True)
