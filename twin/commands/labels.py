"""``twin labels``: which mitigations work and which harm on one incident, computed on the
sandbox (:mod:`twin.labels`) and set beside the scenario's hand-written labels."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.commands.core import parse_time
from twin.labels import agreement, derive_labels
from twin.scenario import load_scenario
from twin.units import format_duration

__all__ = ["labels_cmd"]

console = Console()


def _t(seconds: float | None) -> str:
    return "never" if seconds is None else format_duration(seconds)


def labels_cmd(
    name: str = typer.Argument(..., help="scenario name or YAML path"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    horizon: str = typer.Option("1h", "--horizon", help="how long each candidate runs after detection"),
    out: Path = typer.Option(None, "--out", help="also write the labels to this JSON file"),
) -> None:
    """Label every candidate mitigation by running it against doing nothing (same seed)."""
    sc = load_scenario(name)
    labels = derive_labels(sc, seed, parse_time(horizon, "--horizon"))
    same, handed = agreement(labels)
    table = Table(box=None)
    table.add_column("mitigation", no_wrap=True)
    for col in ("hand", "derived", "SLOs back", "impact min", "peak loss"):
        table.add_column(col, no_wrap=True)
    for lb in labels:
        mark = "" if not lb.hand or lb.hand == lb.label or (lb.hand, lb.label) == ("effective", "helps") else " *"
        table.add_row(lb.text, lb.hand or "-", lb.label + mark, _t(lb.restored_at),
                      f"{lb.impact_minutes:.1f}", f"{lb.peak_loss:.2f}")
    first = labels[0] if labels else None
    console.print(f"[bold]{sc.name}[/bold]: each candidate applied at detection, against doing nothing")
    if first is not None:
        console.print(f"doing nothing: SLOs back {_t(first.baseline_restored_at)}, "
                      f"impact {first.baseline_impact_minutes:.1f} min, peak loss {first.baseline_peak_loss:.2f}")
    console.print(table)
    console.print(f"hand labels the simulation confirms: {same} of {handed} (* marks a disagreement)")
    if out is not None:
        rows = [{"tool": lb.tool, "args": lb.args, "hand": lb.hand, "derived": lb.label,
                 "restored_at": lb.restored_at, "baseline_restored_at": lb.baseline_restored_at,
                 "impact_minutes": lb.impact_minutes, "baseline_impact_minutes": lb.baseline_impact_minutes,
                 "peak_loss": lb.peak_loss, "baseline_peak_loss": lb.baseline_peak_loss} for lb in labels]
        out.write_text(json.dumps({"scenario": sc.name, "labels": rows}, indent=2))
        console.print(f"wrote {out}")
