"""``twin replay``, ``twin evaluate`` and ``twin export``."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import typer
from rich.console import Console
from rich.table import Table

from twin.cli import app
from twin.errors import ReplayError
from twin.scenario import load_scenario, scenario_paths
from twin.units import format_duration

console = Console()

#: Columns of the evaluation table: (Score field, header, how to show the mean).
_COLUMNS = (
    ("mitigated", "mitigated", "{:.0%}"),
    ("ttm_min", "TTM (min)", "{:.1f}"),
    ("ttm_ratio", "TTM / ops", "{:.2f}"),
    ("excess_impact_minutes", "excess impact-min", "{:.1f}"),
    ("new_alerts", "new alerts", "{:.1f}"),
    ("harmful_applied", "harmful applied", "{:.1f}"),
    ("steps", "steps", "{:.0f}"),
)


def _t(seconds: float | None) -> str:
    return "-" if seconds is None else format_duration(seconds)


def _reference(name: str, seed: int | None):
    from twin.replay import load_replay, no_action_run, reference_run, replay_paths

    if name in replay_paths():
        rep = load_replay(name)
        return rep, reference_run(rep, seed)
    return None, no_action_run(name, seed)


def _timeline_rows(run) -> list[tuple[float, str]]:
    rows = [(a["start"], f"{a['kind']} {a['args'] or ''}".strip()) for a in run.actions]
    return rows


@app.command("replay")
def replay_cmd(
    name: str = typer.Argument(..., help="replay name (replays/NAME.yaml), a replay path, or a scenario name"),
    agent: str = typer.Option(None, "--agent", help="let this agent handle the incident instead of the operators"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
    out: Path = typer.Option(None, "--out", help="directory for scores (JSON) and a timeline plot (PNG)"),
) -> None:
    """Re-enact the operators' timeline (or let an agent act) and score it against the operators."""
    from twin.replay import load_replay, replay_paths, replay_with_agent, score

    path = Path(name)
    is_replay = name in replay_paths() or path.suffix in (".yaml", ".yml")
    rep = load_replay(name) if is_replay else None
    scenario = rep.scenario if rep else name
    sc = load_scenario(scenario)
    from twin.replay import no_action_run, reference_run

    ref = reference_run(rep, seed) if rep else no_action_run(sc, seed)
    ops_tool = rep.timeline[-1].tool if rep else None
    run = replay_with_agent(sc, agent, seed) if agent else ref
    s_ref = score(ref, sc, ref, ops_tool)
    s_run = score(run, sc, ref, ops_tool) if agent else s_ref
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


def _select(spec: str) -> list[str]:
    names = []
    for name, path in scenario_paths().items():
        sc = load_scenario(path)
        if sc.ground_truth is None:
            continue  # a synthetic network without an incident has nothing to score
        names.append((name, sc.category))
    if spec in ("all", ""):
        return [n for n, _ in names]
    if spec in ("historical", "novel", "synthetic"):
        return [n for n, c in names if c == spec]
    wanted = [s.strip() for s in spec.split(",") if s.strip()]
    known = scenario_paths()
    for w in wanted:
        if w not in known:
            raise ReplayError("--scenarios", w, f"unknown scenario (known: {', '.join(known)})")
    return wanted


def _ci(values: list[float]) -> tuple[float, float]:
    """Mean and the half-width of a 95% confidence interval (t distribution)."""
    vals = [v for v in values if v is not None and not (isinstance(v, float) and math.isnan(v))]
    if not vals:
        return float("nan"), float("nan")
    m = float(np.mean(vals))
    if len(vals) < 2:
        return m, float("nan")
    t975 = {2: 12.71, 3: 4.30, 4: 3.18, 5: 2.78, 6: 2.57, 7: 2.45, 8: 2.36, 9: 2.31, 10: 2.26}.get(len(vals), 1.96)
    return m, float(t975 * np.std(vals, ddof=1) / math.sqrt(len(vals)))


def _wilson(values: list[float]) -> str:
    """A success rate with its 95% Wilson score interval, which stays inside [0, 100%]."""
    vals = [v for v in values if v is not None]
    if not vals:
        return "-"
    n, z, p = len(vals), 1.96, float(np.mean(vals))
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{p:.0%} [{max(0.0, centre - half):.0%}-{min(1.0, centre + half):.0%}]"


def _cell(values: list[float], fmt: str, field: str = "") -> str:
    if field == "mitigated":
        return _wilson(values)
    m, h = _ci(values)
    if math.isnan(m):
        return "-"
    half = "" if math.isnan(h) else fmt.format(h).rstrip("%")
    return fmt.format(m) + ("" if not half or float(half) == 0 else "±" + half)


def evaluate(agents: list[str], scenarios: list[str], seeds: int, progress: Any = None) -> list[dict[str, Any]]:
    """Run every agent on every scenario for ``seeds`` seeds; one scored row per run."""
    from twin.replay import replay_with_agent, score

    rows: list[dict[str, Any]] = []
    for name in scenarios:
        sc = load_scenario(name)
        for k in range(seeds):
            seed = sc.seed + k
            rep, ref = _reference(name, seed)
            ops_tool = rep.timeline[-1].tool if rep else None
            ref_score = score(ref, sc, ref, ops_tool).to_dict()
            rows.append({**ref_score, "agent": "operators" if rep else "no action", "category": sc.category,
                         "ttm_min": None if ref.ttm is None else ref.ttm / 60, "_run": ref})
            for agent in agents:
                run = replay_with_agent(sc, agent, seed)
                s = score(run, sc, ref, ops_tool).to_dict()
                rows.append({**s, "agent": agent, "category": sc.category,
                             "ttm_min": None if run.ttm is None else run.ttm / 60, "_run": run})
                if progress is not None:
                    progress()
    return rows


def _num(v: Any) -> float | None:
    if v is None:
        return None
    return float(v)


def summary_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title, box=None)
    table.add_column("scenario", no_wrap=True)
    table.add_column("agent", no_wrap=True)
    for _, header, _ in _COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["agent"]), []).append(r)
    for (scen, agent), rs in groups.items():
        table.add_row(scen, agent, *[_cell([_num(r[f]) for r in rs], fmt, f) for f, _, fmt in _COLUMNS])
    totals: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        ref = r["agent"] in ("operators", "no action")
        totals.setdefault((r["category"], "reference" if ref else r["agent"]), []).append(r)
    for (cat, agent), rs in sorted(totals.items()):
        table.add_row(f"[bold]all {cat}[/bold]", f"[bold]{agent}[/bold]",
                      *[_cell([_num(r[f]) for r in rs], fmt, f) for f, _, fmt in _COLUMNS])
    return table


@app.command("evaluate")
def evaluate_cmd(
    agents: str = typer.Option("random,runbook", "--agents", help="comma-separated agent names"),
    scenarios: str = typer.Option("all", "--scenarios", help="all | historical | novel | NAME,NAME"),
    seeds: int = typer.Option(5, "--seeds", min=1, help="seeds per scenario and agent"),
    out: Path = typer.Option(Path("runs/evaluate"), "--out", help="directory for CSV, JSON and PNG timelines"),
) -> None:
    """Score agents against the operators (or the no-action run) over scenarios and seeds."""
    import pandas as pd
    from rich.progress import Progress

    from agents import make_agent

    names = [a.strip() for a in agents.split(",") if a.strip()]
    for a in names:
        make_agent(a)  # unknown agents fail before anything runs
    chosen = _select(scenarios)
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("evaluating", total=len(chosen) * seeds * len(names))
        rows = evaluate(names, chosen, seeds, lambda: progress.advance(task))
    wide = Console(width=max(console.width, 150))  # the table is wide; never wrap it
    wide.print(summary_table(rows, f"{len(chosen)} scenarios x {len(names)} agents x {seeds} seeds "
                                   "(mean ±95% CI; reference = operators' replay, or no action for novel)"))
    out.mkdir(parents=True, exist_ok=True)
    plain = [{k: v for k, v in r.items() if k != "_run"} for r in rows]
    pd.DataFrame(plain).to_csv(out / "scores.csv", index=False)
    (out / "scores.json").write_text(json.dumps(plain, indent=2, default=str))
    for name in chosen:
        first = [r for r in rows if r["scenario"] == name and r["seed"] == load_scenario(name).seed]
        ref = next(r["_run"] for r in first if r["agent"] in ("operators", "no action"))
        plot_timeline(name, ref, {r["agent"]: r["_run"] for r in first if r["agent"] not in ("operators", "no action")},
                      out / f"{name}.png")
    console.print(f"wrote scores.csv, scores.json and {len(chosen)} timelines to {out}/")


def plot_timeline(name: str, reference: Any, runs: dict[str, Any], path: Path) -> Path:
    """A PNG of impact, user loss and SLO violations over time, actions marked."""
    import matplotlib

    matplotlib.use("Agg")  # selected here, never at import
    import matplotlib.pyplot as plt

    kpis = ("impact", "user_loss", "slo_violations")
    fig, axes = plt.subplots(len(kpis), 1, figsize=(9, 6.5), sharex=True)
    label_ref = reference.who
    colours = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    for i, (who, run) in enumerate([(label_ref, reference), *runs.items()]):
        k = run.twin.telemetry.kpis()
        minutes = k.index.to_numpy() / 60.0
        for ax, kpi in zip(axes, kpis):
            if kpi in k:
                ax.plot(minutes, k[kpi].to_numpy(), color=colours[i % 5], label=who, lw=1.2)
        for a in run.actions:
            for ax in axes:
                ax.axvline(a["start"] / 60.0, color=colours[i % 5], ls="--" if i else ":", lw=0.8)
            axes[0].annotate(a["kind"], (a["start"] / 60.0, 1.0), xycoords=("data", "axes fraction"),
                             rotation=90, fontsize=6, va="top", color=colours[i % 5])
    for ax, kpi in zip(axes, kpis):
        ax.set_ylabel(kpi)
    axes[-1].set_xlabel("simulated minutes")
    axes[0].legend(loc="upper right", fontsize=7)
    axes[0].set_title(name)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def export_telemetry(name: str, out: Path, seed: int | None = None) -> tuple[Path, Path]:
    """RCAEval-style export: one wide time-indexed CSV of metrics plus the injected root cause."""
    from twin import Twin

    sc = load_scenario(name)
    t = Twin(sc, seed=seed)
    t.run(until=sc.duration)
    out.mkdir(parents=True, exist_ok=True)
    data = out / "data.csv"
    t.telemetry.wide().to_csv(data)
    faults = [{"id": f.id, "kind": f.kind, "at": f.at, "duration": f.duration,
               "params": f.params.model_dump(by_alias=True, exclude_unset=True),
               "started": t.state.fault_started.get(f.id), "phase": t.state.fault_phase.get(f.id)}
              for f in sc.faults]
    gt = sc.ground_truth
    root = {"scenario": sc.name, "seed": t.seed, "faults": faults,
            "root_cause": gt.root_cause.model_dump() if gt else None,
            "inject_time": min((f["started"] for f in faults if f["started"] is not None), default=None)}
    rc = out / "root_cause.json"
    rc.write_text(json.dumps(root, indent=2, default=str))
    return data, rc


@app.command("export")
def export_cmd(
    name: str = typer.Argument(..., help="scenario name or YAML path"),
    out: Path = typer.Option(..., "--out", help="directory for data.csv and root_cause.json"),
    seed: int = typer.Option(None, "--seed", help="random seed (default: the scenario's)"),
) -> None:
    """Export an incident's telemetry as RCA tools consume it (RCAEval layout)."""
    data, rc = export_telemetry(name, out, seed)
    console.print(f"wrote {data} and {rc}")
