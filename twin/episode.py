"""One incident, one agent: run a twin to the first critical alert, let the agent act, measure TTM.

TTM (time to mitigate) is simulated seconds from the first critical alert's start to the
moment the SLOs were restored, counted only once they have then held for ``scenario.settle``
seconds after the agent's first mitigation. An agent that stops early does not stop the clock:
the twin runs on to the horizon so a slow-landing fix is still credited, and a wrong one is not.

>>> from twin.episode import run_episode
>>> from twin.agent_registry import make_agent  # agents installed as ``twin.agents`` entry points
>>> ep = run_episode("b2b4-casc1", make_agent("runbook"), seed=0)
>>> ep.mitigated
True
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from twin.scenario import Scenario, load_scenario
from twin.sim.twin import Twin
from twin.tools import Toolbox, ToolResult
from twin.tools.toolbox import prechecks_of
from twin.units import parse_duration

if TYPE_CHECKING:
    from twin.agent import Agent
    from twin.tools import ToolRegistry

__all__ = ["Episode", "first_critical_alert", "is_mitigated", "restored_at", "run_episode"]


@dataclass
class Episode:
    """What happened in one episode. ``impact`` is in impact-minutes (KPI impact x minutes)."""

    scenario: str
    agent: str
    seed: int
    steps: list[ToolResult]
    mitigated: bool
    ttm: float | None
    detected_at: float | None
    impact: float
    wall_s: float
    tokens: int = 0
    stopped: str = ""  # mitigated | agent_stopped | horizon | max_steps | no_incident
    restored_at: float | None = None
    twin: Twin | None = field(default=None, repr=False, compare=False)
    prechecks: list = field(default_factory=list, repr=False, compare=False)  # sandbox side, for scoring


def first_critical_alert(twin: Twin) -> float | None:
    """Start time of the first critical alert so far (None before any)."""
    alerts = twin.alerts()
    crit = alerts[alerts["severity"] == "critical"]
    return float(crit["start"].min()) if len(crit) else None


def restored_at(twin: Twin, since: float, settle: float | None = None) -> float | None:
    """When the SLOs came back for good: the start of a violation-free stretch of samples after
    ``since`` that reaches the latest sample and lasts at least ``settle`` seconds; else None."""
    settle = twin.scenario.settle if settle is None else float(settle)
    start = None
    last = None
    for s in reversed(twin.telemetry.samples.tail(len(twin.telemetry.samples))):
        if s.t < since or s.kpi.get("slo_violations", 0) > 0:
            break
        start = s.t
        last = s.t if last is None else last
    if start is None or last - start < settle:
        return None
    return start


def is_mitigated(twin: Twin, since: float, settle: float | None = None) -> bool:
    """True once the SLOs have held for ``settle`` seconds (default: the scenario's) after ``since``."""
    return restored_at(twin, since, settle) is not None


def _impact_minutes(twin: Twin) -> float:
    tick = twin.scenario.tick
    return float(sum(s.kpi.get("impact", 0.0) for s in twin.telemetry.samples) * tick / 60.0)


def run_episode(scenario_or_twin: Scenario | Twin | str, agent: Agent, *, seed: int = 0,
                horizon: float | str | None = None, max_steps: int = 200, warmup: float | str | None = None,
                registry: ToolRegistry | None = None) -> Episode:
    """Run ``agent`` on one incident and score it. Deterministic for a given seed.

    The twin runs until the first critical alert (or to ``warmup``), then the agent acts until
    the SLOs are restored and held, ``max_steps`` calls, or ``horizon`` (default: the scenario's
    duration). A given Twin is used as it is (its own seed), from its current time.
    """
    wall0 = time.perf_counter()
    if isinstance(scenario_or_twin, Twin):
        twin = scenario_or_twin
    else:
        sc = load_scenario(scenario_or_twin) if isinstance(scenario_or_twin, str) else scenario_or_twin
        twin = Twin(sc, seed=seed)
    sc = twin.scenario
    end = sc.duration if horizon is None else parse_duration(horizon)
    if warmup is not None:
        twin.run(until=max(twin.now, min(end, parse_duration(warmup))))
    else:
        while first_critical_alert(twin) is None and twin.now < end:
            twin.run(until=min(end, twin.now + sc.tick))
    box = Toolbox(twin, registry)
    agent.reset(box, np.random.default_rng(seed))
    steps: list[ToolResult] = []
    stopped = "no_incident" if first_critical_alert(twin) is None and warmup is None else ""
    restored = None

    def check() -> float | None:
        incident = first_critical_alert(twin)
        if not box.mitigations_applied or incident is None:
            return None  # nothing mitigated yet, or nothing to mitigate
        since = max(box.mitigations_applied[0].t_start, incident)
        return restored_at(twin, since)

    while not stopped:
        if twin.now >= end:
            stopped = "horizon"
        elif len(steps) >= max_steps:
            stopped = "max_steps"
        else:
            call = agent.act(box)
            if call is None:
                stopped = "agent_stopped"
            else:
                steps.append(box.call(*call))
                restored = check()
                if restored is not None:
                    stopped = "mitigated"
    # keep the clock running after the agent is done, so landing (or failing) fixes count honestly
    if stopped in ("agent_stopped", "max_steps"):
        while restored is None and twin.now < end:
            twin.run(until=min(end, twin.now + sc.tick))
            restored = check()
    incident = first_critical_alert(twin)
    ttm = restored - incident if restored is not None and incident is not None else None
    return Episode(scenario=sc.name, agent=getattr(agent, "name", type(agent).__name__), seed=seed, steps=steps,
                   mitigated=restored is not None, ttm=ttm, detected_at=incident, impact=_impact_minutes(twin),
                   wall_s=time.perf_counter() - wall0, tokens=int(getattr(agent, "tokens", 0) or 0),
                   stopped=stopped, restored_at=restored, twin=twin, prechecks=prechecks_of(box))
