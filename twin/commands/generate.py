"""``twin generate``: incidents nobody wrote, with ground truth and difficulty computed by
simulation (:mod:`twin.generator`)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from twin.errors import ScenarioError

__all__ = ["generate_cmd"]

console = Console()


def generate_cmd(
    n: int = typer.Option(100, "--n", min=1, help="incidents to generate"),
    seed: int = typer.Option(0, "--seed", min=0, help="generator seed (same seed, same files byte for byte)"),
    out: Path = typer.Option(Path("gen"), "--out", help="directory for the YAML files and manifest.csv"),
    config: Path = typer.Option(None, "--config", help="generator configuration (YAML): layers, kinds, sizes, difficulty"),
    heldout: bool = typer.Option(False, "--heldout", help="draw from the held-out split (seeds from 1,000,000 on)"),
    workers: int = typer.Option(None, "--workers", min=1, help="processes (default: every core)"),
) -> None:
    """Generate incidents: topologies, traffic, faults and red herrings drawn from a seed; each
    candidate kept only if it violates an SLO that lasts and some toolbox mitigation ends it."""
    from rich.progress import Progress

    from twin.generator import HELDOUT_FROM, generate, load_generator_config

    cfg = load_generator_config(config) if config is not None else None
    if heldout:
        seed += HELDOUT_FROM
    elif seed >= HELDOUT_FROM:
        raise ScenarioError("--seed", "", f"{seed} is in the held-out split (from {HELDOUT_FROM:,}); "
                            "use --heldout with a small seed to draw from it")
    t0 = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating", total=n)
        batch = generate(n, seed, cfg, workers, lambda g: progress.advance(task))
    wall = time.perf_counter() - t0
    batch.write(out)
    rejected = batch.attempts - len(batch.items)
    console.print(f"wrote {len(batch.items)} incidents and manifest.csv to {out}/ in {wall:.1f} s "
                  f"(seed {seed}, split {'heldout' if seed >= HELDOUT_FROM else 'train'}); "
                  f"{batch.attempts} candidates drawn, {rejected} rejected "
                  f"({rejected / max(batch.attempts, 1):.0%})")
    spread = Table(title="spread", box=None)
    for col in ("layer", "kind", "incidents", "easy", "medium", "hard", "rejected candidates"):
        spread.add_column(col, justify="right" if col not in ("layer", "kind") else "left")
    by: dict[tuple[str, str], Counter[str]] = {}
    for g in batch.items:
        gen = g.scenario.generated
        assert gen is not None
        by.setdefault((gen.layer, gen.kind), Counter())[gen.band] += 1
    rej = Counter(r.split(":", 1)[0] for g in batch.items for r in g.rejected)
    for (layer, kind), c in sorted(by.items()):
        spread.add_row(layer, kind, str(sum(c.values())), str(c["easy"]), str(c["medium"]), str(c["hard"]),
                       str(rej.get(f"{layer}/{kind}", 0)))
    console.print(spread)
    reasons = Counter(r.split(": ", 1)[1] for g in batch.items for r in g.rejected)
    for reason, k in reasons.most_common():
        console.print(f"  rejected {k:4d}: {reason}")
