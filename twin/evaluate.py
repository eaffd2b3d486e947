"""Scoring agents over scenarios and seeds against the operators (or doing nothing).

Each scenario with ground truth is run once per seed as its reference (the operators'
replayed timeline where a replay exists, else no action), then once per agent; every run is
scored against that reference. Agents come as factories, so each run gets a fresh agent and
twin never needs to know how an agent is named or built.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from twin.agent import Agent
from twin.errors import ReplayError
from twin.replay import (Replay, RunResult, load_replay, no_action_run, reference_run, replay_paths,
                         replay_with_agent, score)
from twin.scenario import load_scenario, scenario_paths

__all__ = ["REFERENCE_AGENTS", "band_table", "evaluate", "generated_scenarios", "reference_for", "select_scenarios",
           "summary_table"]

#: How reference runs are labelled in the rows: a replay's operators, or no action.
REFERENCE_AGENTS = ("operators", "no action")

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


def reference_for(name: str, seed: int | None) -> tuple[Replay | None, RunResult]:
    """The replay of scenario ``name`` (if any) and its reference run: the operators', or no action."""
    if name in replay_paths():
        rep = load_replay(name)
        return rep, reference_run(rep, seed)
    return None, no_action_run(name, seed)


def select_scenarios(spec: str) -> list[str]:
    """Scenario names for ``all``, a category (``historical``, ``novel``, ``synthetic``) or ``A,B``."""
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


def generated_scenarios(directory: str | Path) -> list[str]:
    """The scenario files ``twin generate`` wrote in ``directory``, in name order."""
    d = Path(directory)
    if not d.is_dir():
        raise ReplayError("--generated", str(d), "no such directory (write one with `twin generate --out DIR`)")
    paths = sorted(str(p) for p in d.glob("*.yaml"))
    if not paths:
        raise ReplayError("--generated", str(d), "holds no scenario files (*.yaml)")
    return paths


def evaluate(agents: Mapping[str, Callable[[], Agent]], scenarios: list[str], seeds: int,
             progress: Callable[[], Any] | None = None) -> list[dict[str, Any]]:
    """Run every agent (label -> factory) on every scenario for ``seeds`` seeds; one scored row per run.

    Rows carry the Score fields plus ``agent``, ``category``, ``ttm_min`` and ``_run`` (the RunResult).
    """
    rows: list[dict[str, Any]] = []
    for name in scenarios:
        sc = load_scenario(name)
        for k in range(seeds):
            seed = sc.seed + k
            rep, ref = reference_for(name, seed)
            # doing nothing, same seed: "mitigated" means restoring the SLOs earlier than this
            baseline = ref if rep is None else no_action_run(name, seed)
            ops_tool = rep.timeline[-1].tool if rep else None
            ref_score = score(ref, sc, ref, ops_tool, baseline).to_dict()
            gen = sc.generated
            extra = {"band": gen.band, "difficulty": gen.difficulty} if gen is not None else {}
            rows.append({**ref_score, "agent": REFERENCE_AGENTS[0] if rep else REFERENCE_AGENTS[1],
                         "category": sc.category, "ttm_min": None if ref.ttm is None else ref.ttm / 60, **extra,
                         "_run": ref})
            for label, factory in agents.items():
                run = replay_with_agent(sc, factory(), seed, who=label)
                s = score(run, sc, ref, ops_tool, baseline).to_dict()
                rows.append({**s, "agent": label, "category": sc.category,
                             "ttm_min": None if run.ttm is None else run.ttm / 60, **extra, "_run": run})
                if progress is not None:
                    progress()
    return rows


def oracle_agreement(rows: list[dict[str, Any]], progress: Callable[[], Any] | None = None) -> list[dict[str, Any]]:
    """Every operator-mode pre-check the agents asked for, put to the oracle (the same question on
    the sandbox, which knows the fault) at the same moment: one row per (agent, scenario, seed,
    candidate), the first time it was asked. ``harmful`` is the oracle's verdict; the Brier score
    compares the operator mode's P(harm) with it."""
    from twin.safety.precheck import precheck

    out: list[dict[str, Any]] = []
    for r in rows:
        run = r.get("_run")
        seen: set[str] = set()
        for rec in getattr(run, "prechecks", []) or []:
            label = getattr(rec.report, "label", str(rec.candidate))
            if label in seen:
                continue
            seen.add(label)
            oracle = precheck(rec.sandbox, rec.candidate, horizon=rec.horizon, draws=rec.draws, rng=0)
            # None: the operator's twin could not tell what broke, so nothing was trialled
            p = None if rec.report.p_harm is None else float(rec.report.p_harm)
            harmful = oracle.verdict == "harmful"
            out.append({"agent": r["agent"], "scenario": r["scenario"], "seed": r["seed"], "at": rec.at,
                        "candidate": label, "operator": rec.report.verdict, "oracle": oracle.verdict,
                        "p_harm": p, "oracle_harmful": harmful, "agree": rec.report.verdict == oracle.verdict,
                        "brier": None if p is None else (p - float(harmful)) ** 2})
            if progress is not None:
                progress()
    return out


def agreement_table(pairs: list[dict[str, Any]]) -> Table:
    """Per agent: pre-check pairs, verdict agreement with the oracle, harmful agreement, Brier score."""
    t = Table(title="operator-mode pre-check against the oracle (sandbox truth), on the pairs the agents proposed")
    for col in ("agent", "pairs", "verdict agreement", "harmful / not agreement", "Brier of P(harm)",
                "oracle harmful", "cannot tell"):
        t.add_column(col)
    for agent in sorted({p["agent"] for p in pairs}):
        mine = [p for p in pairs if p["agent"] == agent]
        n = len(mine)
        agree = sum(p["agree"] for p in mine) / n
        binary = sum((p["operator"] == "harmful") == p["oracle_harmful"] for p in mine) / n
        scored = [p["brier"] for p in mine if p["brier"] is not None]
        brier = f"{sum(scored) / len(scored):.3f}" if scored else "-"
        t.add_row(agent, str(n), f"{agree:.0%}", f"{binary:.0%}", brier,
                  str(sum(p["oracle_harmful"] for p in mine)), str(n - len(scored)))
    return t


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


def _num(v: Any) -> float | None:
    if v is None:
        return None
    return float(v)


def summary_table(rows: list[dict[str, Any]], title: str, per_scenario: bool = True) -> Table:
    """Means with 95% intervals per (scenario, agent) (unless ``per_scenario`` is false), then per
    (category, agent)."""
    table = Table(title=title, box=None)
    table.add_column("scenario", no_wrap=True)
    table.add_column("agent", no_wrap=True)
    for _, header, _ in _COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["scenario"], r["agent"]), []).append(r)
    for (scen, agent), rs in groups.items() if per_scenario else ():
        table.add_row(scen, agent, *[_cell([_num(r[f]) for r in rs], fmt, f) for f, _, fmt in _COLUMNS])
    totals: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in rows:
        ref = r["agent"] in REFERENCE_AGENTS
        totals.setdefault((r["category"], "reference" if ref else r["agent"]), []).append(r)
    for (cat, agent), rs in sorted(totals.items()):
        table.add_row(f"[bold]all {cat}[/bold]", f"[bold]{agent}[/bold]",
                      *[_cell([_num(r[f]) for r in rs], fmt, f) for f, _, fmt in _COLUMNS])
    return table


def band_table(rows: list[dict[str, Any]]) -> Table:
    """Per agent and difficulty band of generated incidents: runs, success (95% Wilson interval),
    harmful mitigations applied, TTM; then whether success falls as difficulty rises."""
    from twin.generator.assess import BANDS

    bands = [b for _, b in BANDS]
    t = Table(title="generated incidents by difficulty band (mitigated: mean and 95% Wilson interval)", box=None)
    for col in ("agent", *[f"{b} (n)" for b in bands], "harmful applied", "TTM (min)", "falls with difficulty"):
        t.add_column(col, no_wrap=True)
    for agent in dict.fromkeys(r["agent"] for r in rows if "band" in r):
        mine = [r for r in rows if r["agent"] == agent and "band" in r]
        cells, rates = [], []
        for b in bands:
            rs = [float(r["mitigated"]) for r in mine if r["band"] == b]
            cells.append(f"{_wilson(rs)} ({len(rs)})" if rs else "-")
            rates.append(float(np.mean(rs)) if rs else None)
        seen = [x for x in rates if x is not None]
        falls = "yes" if all(a >= b for a, b in zip(seen, seen[1:])) and seen and seen[0] > seen[-1] else (
            "flat" if seen and len(set(seen)) == 1 else "no")
        harm = _cell([_num(r["harmful_applied"]) for r in mine], "{:.2f}")
        ttm = _cell([_num(r["ttm_min"]) for r in mine], "{:.1f}")
        t.add_row(agent, *cells, harm, ttm, falls)
    return t
