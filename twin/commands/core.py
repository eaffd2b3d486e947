"""``twin scenarios``, ``twin show`` and ``twin run`` (wired onto the app by :mod:`twin.cli`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from twin.agent_registry import make_agent
from twin.errors import ScenarioError
from twin.scenario import load_scenario, scenario_paths
from twin.telemetry.export import write_outputs
from twin.units import format_duration, parse_duration

__all__ = ["parse_time", "run_cmd", "scenarios_cmd", "show_cmd"]

console = Console()


def parse_time(value: str, flag: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise ScenarioError(flag, "", str(exc)) from None


def scenarios_cmd() -> None:
    """List the built-in scenarios with one-line descriptions."""
    table = Table("name", "category", "description", box=None)
    for name, path in scenario_paths().items():
        try:
            sc = load_scenario(path)
            table.add_row(name, sc.category, sc.description)
        except ScenarioError as exc:
            table.add_row(name, "[red]invalid[/red]", str(exc))
    console.print(table)


def show_cmd(scenario: str = typer.Argument(..., help="scenario name or YAML path")) -> None:
    """Summarise a scenario's topology, services, traffic and faults (not its ground truth)."""
    from twin.model.world import build_world

    sc = load_scenario(scenario)
    w = build_world(sc)
    topo = w.topology
    console.print(f"[bold]{sc.name}[/bold] ({sc.category}): {sc.description}")
    if sc.source:
        console.print(f"source: {sc.source}")
    console.print(f"duration {format_duration(sc.duration)}, tick {format_duration(sc.tick)}, seed {sc.seed}")
    kinds = {k: topo.node_kind.count(k) for k in sorted(set(topo.node_kind))}
    console.print(f"sites: {', '.join(topo.sites)}")
    console.print("nodes: " + ", ".join(f"{n} {k}" for k, n in kinds.items()))
    table = Table("plane", "links", "capacity (Gbps)", box=None)
    for plane in (*topo.planes, "fabric", "access"):
        mask = np.array([p == plane for p in topo.link_plane])
        if mask.any():
            table.add_row(plane, str(int(mask.sum())), f"{topo.capacity_gbps[mask].sum():,.0f}")
    console.print(table)
    for site, ft in w.fabrics.items():
        console.print(f"fabric at {site}: k={ft.k} fat-tree, {ft.n_tors} ToRs, {len(ft.hosts)} hosts")
    if w.callgraph:
        cg = w.callgraph
        console.print(f"services: {cg.name}, {len(cg.services)} services, {len(cg.calls)} calls, "
                      f"entry {', '.join(f'{e} {r:.0f} rps' for e, r in cg.entries)}")
        cross = int((w.call_pair >= 0).sum())
        if cross:
            console.print(f"  {cross} calls cross the WAN")
    console.print(f"demands: {len(w.demand_gbps)} ({w.demand_gbps.sum():,.0f} Gbps at base)")
    console.print(f"scheduled changes: {len(sc.changes)}; fault schedule: {len(sc.faults)} entries (hidden from agents)")


def _summary(t) -> None:
    alerts = t.alerts()
    events = t.events()
    console.print("\n[bold]Timeline[/bold] (simulated time)")
    rows = []
    for _, e in events.iterrows():
        if e["kind"] in ("change", "te", "health", "action"):
            rows.append((e["time"], e["kind"], e["message"]))
    first = alerts.sort_values("start").groupby("name", sort=False).head(3)
    for _, a in first.iterrows():
        rows.append((a["start"], "alert", f"{a['severity'].upper()} {a['message']}"))
    rows.sort(key=lambda r: r[0])
    table = Table("time", "what", "detail", box=None)
    for time, kind, msg in rows[:60]:
        table.add_row(format_duration(time), kind, msg)
    console.print(table)
    if len(rows) > 60:
        console.print(f"... {len(rows) - 60} more")
    links = t.metrics("link")
    if len(links):
        worst = links.groupby("entity").agg(util=("utilisation", "max"), loss=("loss", "max")).sort_values(
            ["loss", "util"], ascending=False).head(5)
        table = Table("worst links", "peak utilisation", "peak loss", box=None)
        for name, r in worst.iterrows():
            table.add_row(name, f"{r['util']:.0%}", f"{r['loss']:.1%}")
        console.print(table)
    svcs = t.metrics("service")
    if len(svcs):
        worst = svcs.groupby("entity").agg(p99=("p99_ms", "max"), err=("error_rate", "max")).sort_values(
            ["err", "p99"], ascending=False).head(5)
        table = Table("worst services", "peak p99 (ms)", "peak error rate", box=None)
        for name, r in worst.iterrows():
            table.add_row(name, f"{r['p99']:.0f}", f"{r['err']:.1%}")
        console.print(table)
    kpi = t.telemetry.kpis()
    console.print(f"\nSLO-violation time: {format_duration(float((kpi['slo_violations'] > 0).sum() * t.scenario.tick))}; "
                  f"alerts raised: {len(alerts)}")


def run_cmd(
    scenario: str = typer.Argument(..., help="scenario name or YAML path"),
    until: str = typer.Option(None, "--until", help="simulated time to run to (e.g. 30m, 1h); default: the scenario's duration"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    out: Path = typer.Option(None, "--out", help="directory for telemetry, alerts and events (CSV)"),
    agent: str = typer.Option(None, "--agent", help="an agent to handle the incident (see `twin agents`)"),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="print only the summary line"),
) -> None:
    """Run a scenario with no agent (or with --agent) and summarise what the monitors saw."""
    from rich.progress import Progress

    from twin import Twin

    sc = load_scenario(scenario)
    horizon = parse_time(until, "--until") if until else sc.duration
    if agent:
        from twin.commands.agents_run import run_with_agent

        run_with_agent(sc, make_agent(agent), seed, horizon, out, console)
        return
    t = Twin(sc, seed=seed)
    with Progress(transient=True, console=console, disable=quiet) as progress:
        task = progress.add_task(f"simulating {sc.name}", total=horizon)
        step = max(sc.tick, horizon / 50)
        while t.now < horizon:
            t.run(until=min(horizon, t.now + step))
            progress.update(task, completed=t.now)
    if not quiet:
        _summary(t)
    if out:
        write_outputs(t, out)
        console.print(f"wrote telemetry, alerts and events to {out}/")

