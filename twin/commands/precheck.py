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


ORACLE = "oracle (sandbox truth: scoring and labels only)"


def precheck_cmd(
    scenario: str = typer.Argument(..., help="scenario name or YAML path"),
    at: str = typer.Option("12m", "--at", help="simulated time at which to trial the mitigations"),
    mitigation: list[str] = typer.Option(None, "--mitigation", "-m",
                                         help='a mitigation, e.g. "drain_link b2:us-east-us-central" (repeatable)'),
    candidates: Path = typer.Option(None, "--candidates", help="YAML file with a list of mitigations"),
    draws: int = typer.Option(None, "--draws", help="what-if draws per candidate (default 4; 8 with --oracle)"),
    horizon: str = typer.Option("30m", "--horizon", help="how far to simulate after --at"),
    seed: int = typer.Option(None, "--seed", help="twin seed (default: the scenario's); also seeds the draws"),
    policy: Path = typer.Option(None, "--policy", help="policy YAML (default: twin/safety/default_policy.yaml)"),
    json_out: Path = typer.Option(None, "--json", help="where to write the JSON report (default precheck-SCENARIO.json)"),
    oracle: bool = typer.Option(False, "--oracle", help="trial on the sandbox twin, which knows the injected fault "
                                                        "(for scoring and labels only: no operator has this)"),
    hypotheses: int = typer.Option(3, "--hypotheses", help="operator mode: how many likely causes to trial under"),
) -> None:
    """Rank mitigations by their simulated risk against doing nothing; write a JSON report.

    By default the operator's way: the incident runs to --at only to collect what monitors saw,
    the diagnosis ranks causes, and each candidate is trialled under the likely ones."""
    import json

    from twin import Twin
    from twin.safety import load_policy

    sc = load_scenario(scenario)
    items: list[Any] = list(mitigation or [])
    if candidates is not None:
        items += read_candidates(candidates)
    if not items:
        raise SafetyError("give at least one --mitigation or a --candidates file")
    if draws is not None and draws < 1:
        raise SafetyError(f"--draws must be at least 1, got {draws}")
    if hypotheses < 1:
        raise SafetyError(f"--hypotheses must be at least 1, got {hypotheses}")
    when = _duration(at, "--at")
    if not 0 < when <= sc.duration:
        raise SafetyError(f"--at {at}: must be within the run (after 0s, at most {format_duration(sc.duration)})")
    h = _duration(horizon, "--horizon")
    pol = load_policy(policy)
    n = draws if draws is not None else (8 if oracle else 4)
    rng = seed if seed is not None else sc.seed
    t = Twin(sc, seed=seed)
    t.run(until=when)
    payload: dict[str, Any] = {"scenario": sc.name, "at": t.now, "horizon": h, "draws": n, "seed": seed,
                               "policy": pol.to_dict()}
    if oracle:
        payload.update(_oracle(t, sc.name, items, h, n, pol, rng))
    else:
        payload.update(_operator(t, sc, items, h, n, pol, rng, seed, hypotheses))
    out = json_out or Path(f"precheck-{sc.name}.json")
    out.write_text(json.dumps(payload, indent=2, default=str))
    console.print(f"wrote {out}")


def _bar() -> Progress:
    return Progress(TextColumn("[progress.description]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=True)


def _oracle(t: Any, name: str, items: list[Any], h: float, draws: int, pol: Any, rng: int) -> dict[str, Any]:
    """Today's sandbox pre-check: forks of the twin that holds the injected fault."""
    from twin.safety import rank

    with _bar() as bar:
        task = bar.add_task(f"pre-checking {len(items)} candidate(s) x {draws} draws", total=len(items) * draws)
        reports = rank(t, items, horizon=h, draws=draws, policy=pol, rng=rng, progress=lambda k: bar.advance(task, k))
    base = reports[0].baseline
    table = Table(title=f"{name} at {format_duration(t.now)}: {draws} draws, {format_duration(h)} horizon; {ORACLE}")
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
    console.print(f"mode: {ORACLE}")
    console.print(table)
    for i, r in enumerate(reports, 1):
        console.print(f"[bold]{i}. {r.label}[/bold] [{_COLOUR[r.verdict]}]{r.verdict}[/]: {r.explanation}")
        if r.auto_approvable:
            console.print("   pre-approved by the policy: may be applied without asking")
    return {"mode": ORACLE, "ranking": [r.to_dict() for r in reports]}


def _operator(t: Any, sc: Any, items: list[Any], h: float, draws: int, pol: Any, rng: int, seed: int | None,
              k: int) -> dict[str, Any]:
    """The operator's pre-check: evidence from the monitors, a diagnosis, then each candidate
    trialled on belief twins under the likely causes (the sandbox's fault is never read)."""
    from twin.belief import operator_scenario
    from twin.diagnosis import diagnose
    from twin.safety.operator import kept_hypotheses, operator_rank

    from twin.diagnosis import evidence
    from twin.safety.operator import validate_candidates

    base = operator_scenario(sc)
    validate_candidates(base, evidence(t, t.now), items)  # bad input fails before the diagnosis runs
    d = diagnose(sc, t.now, seed, twin=t)
    kept, unexplained = kept_hypotheses(d, k)
    console.print("mode: operator (the sandbox's fault is not read: evidence, diagnosis, belief twins)")
    post = Table(title=f"posterior at {format_duration(t.now)} (top {len(kept)} trialled)", box=None)
    for col in ("p", "cause", "trialled"):
        post.add_column(col, no_wrap=True)
    trialled = {hyp.label for hyp, _ in kept}
    for s in d.ranked[:max(k + 2, 4)]:
        post.add_row(f"{s.probability:.2f}", s.label, "yes" if s.label in trialled else "")
    console.print(post)
    n_hyp = max(len(kept), 1)
    with _bar() as bar:
        task = bar.add_task(f"pre-checking {len(items)} candidate(s) x {n_hyp} cause(s) x {draws} draws",
                            total=len(items) * n_hyp * draws)
        reports = operator_rank(base, d.evidence, d, items, horizon=h, draws=draws, k=k, policy=pol,
                                rng=rng, progress=lambda n: bar.advance(task, n))
    table = Table(title=f"{sc.name} at {format_duration(t.now)}: {len(kept)} cause(s) x {draws} draws, "
                        f"{format_duration(h)} horizon")
    for col in ("rank", "mitigation", "verdict", "P(harm)", "P(no effect)", "impact-min", "do nothing", "worst if"):
        table.add_column(col, justify="left" if col in ("mitigation", "verdict", "worst if") else "right",
                         no_wrap=True, max_width=44 if col == "worst if" else None, overflow="ellipsis")
    for i, r in enumerate(reports, 1):
        if r.impact is None:
            table.add_row(str(i), r.label, f"[{_COLOUR[r.verdict]}]{r.verdict}[/]", "?", "?", "?", "?", "cannot tell")
            continue
        w = r.worst_hypothesis
        table.add_row(str(i), r.label, f"[{_COLOUR[r.verdict]}]{r.verdict}[/]", f"{r.p_harm:.0%}",
                      f"{r.p_no_effect:.0%}", f"{r.impact.mean:.1f} ({r.impact.p10:.0f}-{r.impact.p90:.0f})",
                      f"{r.baseline_impact.mean:.1f}", f"{w.label} ({w.p_harm:.0%} harm)" if w else "-")
    console.print(table)
    for i, r in enumerate(reports, 1):
        console.print(f"[bold]{i}. {r.label}[/bold] [{_COLOUR[r.verdict]}]{r.verdict}[/]: {r.explanation}")
        if r.auto_approvable:
            console.print("   pre-approved by the policy: may be applied without asking")
    posterior = [{"cause": s.label, "probability": s.probability, "misfit": s.misfit,
                  "trialled": s.label in trialled} for s in d.ranked[:max(k + 2, 4)]]
    return {"mode": "operator", "posterior": posterior, "unexplained": unexplained,
            "ranking": [r.to_dict() for r in reports]}
