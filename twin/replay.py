"""Replays of historical incidents and scoring of any agent against the operators.

A replay file (``replays/NAME.yaml``) holds the operators' timeline as data: when they
detected the incident, each action they took (on the scenario's simulated clock), when
impact ended, the published time to mitigate (TTM) and its source. ``reference_run``
re-enacts that timeline on the twin; ``replay_with_agent`` lets an agent handle the same
incident; ``score`` compares the two. Ground truth is read here and nowhere else.

Time scale: long incidents are compressed so a run stays under six simulated hours; a
replay's ``time_scale`` is simulated seconds per real second, applied to every time in the
file (the timeline is already written on the simulated clock), and the published TTM is
compared as ``published_ttm * time_scale`` within ``tolerance`` (a fraction).
"""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from twin.agent import Agent
from twin.errors import ReplayError, TwinError, known_list
from twin.scenario import Scenario, load_scenario, scenario_paths
from twin.units import parse_duration
from twin.validation import validation_problem
from twin.yamlfile import read_yaml

__all__ = [
    "REPLAY_DIR",
    "Replay",
    "ReplayAction",
    "RunResult",
    "Score",
    "event_order",
    "load_replay",
    "measure",
    "no_action_run",
    "parse_replay",
    "reference_run",
    "replay_paths",
    "replay_with_agent",
    "score",
    "beats_doing_nothing",
]

REPLAY_DIR = Path(__file__).resolve().parent / "data" / "replays"

#: How long impact must stay away before a run counts as mitigated (simulated seconds).
CLEAN_WINDOW = 300.0
#: Alerts opened this long after an agent's mitigation lands count as caused by it.
HARM_WINDOW = 300.0


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _dur(v: Any) -> Any:
    return parse_duration(v) if v is not None else v


class ReplayAction(_Strict):
    at: float
    tool: str
    args: dict[str, Any] = Field(default_factory=dict)
    note: str = ""

    _at = field_validator("at", mode="before")(classmethod(lambda cls, v: _dur(v)))


class Replay(_Strict):
    scenario: str
    source: str
    published_ttm: float  # real seconds, as published
    ttm_assumed: bool = False
    time_scale: float = Field(default=1.0, gt=0, le=1)
    tolerance: float = Field(default=0.1, gt=0, le=1)
    detected_at: float
    mitigated_at: float
    timeline: list[ReplayAction] = Field(min_length=1)
    expect_order: list[str] = Field(default_factory=list)
    assumed: list[str] = Field(default_factory=list)
    notes: str = ""
    path: str = Field(default="", exclude=True)

    _durs = field_validator("published_ttm", "detected_at", "mitigated_at", mode="before")(
        classmethod(lambda cls, v: _dur(v)))

    @property
    def expected_ttm(self) -> float:
        """The published TTM on the scenario's simulated clock."""
        return self.published_ttm * self.time_scale


def replay_paths() -> dict[str, Path]:
    return {p.stem: p for p in sorted(REPLAY_DIR.glob("*.yaml"))} if REPLAY_DIR.is_dir() else {}


def _static_changes(sc: Scenario) -> list[str]:
    """Change ids a run can produce, known before it runs (for validating replay files)."""
    from twin.faults import fault_kind

    ids = [c.id for c in sc.changes]
    for f in sc.faults:
        ids += fault_kind(f.kind).change_ids(f.id, f.params)
    return ids


def _tool_names() -> list[str]:
    from twin.sim.actions import ACTIONS

    names = list(ACTIONS)
    try:  # the agent-facing toolbox adds observation tools
        from twin.tools import default_registry

        names += [n for n in default_registry().names() if n not in names]
    except ImportError:
        pass
    return names


def parse_replay(data: Any, source: str) -> Replay:
    """Validate a replay given as plain data; raise ReplayError naming file and field."""
    if not isinstance(data, dict):
        raise ReplayError(source, "", "expected a mapping at the top level")
    try:
        rep = Replay.model_validate(data)
    except ValidationError as exc:
        raise ReplayError(source, *validation_problem(exc, Replay)) from None
    rep.path = source
    known = scenario_paths()
    if rep.scenario not in known:
        raise ReplayError(source, "scenario", f"unknown scenario {rep.scenario!r} (known: {', '.join(known)})")
    sc = load_scenario(rep.scenario)
    from twin.sim.actions import ACTIONS, check_action, entity_names
    from twin.sim.twin import Twin

    twin = Twin(sc)
    changes = _static_changes(sc)
    tools = _tool_names()
    for i, act in enumerate(rep.timeline):
        where = f"timeline[{i}]"
        if act.tool not in tools:
            raise ReplayError(source, f"{where}.tool", f"unknown action {act.tool!r} (allowed: {', '.join(tools)})")
        if act.tool not in ACTIONS:
            continue
        spec = ACTIONS[act.tool]
        for name in act.args:
            if name not in spec.params:
                raise ReplayError(source, f"{where}.args.{name}",
                                  f"unknown argument of {act.tool} (allowed: {', '.join(spec.params) or 'none'})")
        for name, ekind in spec.params.items():
            field_path = f"{where}.args.{name}"
            if name not in act.args:
                raise ReplayError(source, field_path, f"required by {act.tool}")
            value = act.args[name]
            if ekind == "change":
                known_names = changes
            elif ekind in ("number", "count", "fraction"):
                try:
                    check_action(twin.world, twin.state, act.tool, {**{k: v for k, v in act.args.items() if spec.params[k] != "change"},
                                                  **{k: changes[0] for k in spec.params if spec.params[k] == "change"}})
                except TwinError as exc:
                    raise ReplayError(source, field_path, str(exc)) from None
                continue
            else:
                known_names = entity_names(twin.world, twin.state, ekind)
            if value not in known_names:
                shown = known_list(known_names, limit=15)
                raise ReplayError(source, field_path, f"unknown {ekind} {value!r} (allowed: {shown or 'none'})")
    times = [a.at for a in rep.timeline]
    if times != sorted(times):
        raise ReplayError(source, "timeline", "actions must be in time order")
    if rep.mitigated_at > sc.duration:
        raise ReplayError(source, "mitigated_at", f"after the scenario's duration ({sc.duration:.0f} s)")
    return rep


def load_replay(path_or_name: str | Path) -> Replay:
    """Load a replay by name (``replays/NAME.yaml``) or path."""
    data, candidate = read_yaml(path_or_name, ReplayError, "replay", replay_paths())
    return parse_replay(data, str(candidate))


# -- runs --------------------------------------------------------------------------------------
@dataclass
class RunResult:
    """What one run of an incident measured (operators', no-action or an agent's)."""

    scenario: str
    who: str
    seed: int
    onset: float | None
    detected_at: float | None
    impact_start: float | None
    mitigated: bool
    mitigated_at: float | None
    ttm: float | None
    impact_minutes: float
    slo_violation_minutes: float
    actions: list[dict[str, Any]]
    steps: int = 0
    tool_calls: int = 0
    wall_s: float = 0.0
    tokens: int = 0
    root_cause: str = ""
    attempted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # every call, refused ones too
    twin: Any = field(default=None, repr=False)
    #: operator-mode pre-checks the agent asked for, each with the sandbox as it was (for scoring)
    prechecks: list[Any] = field(default_factory=list, repr=False)

    def to_dict(self) -> dict[str, Any]:
        from dataclasses import fields as dc_fields

        return {f.name: getattr(self, f.name) for f in dc_fields(self) if f.name not in ("twin", "prechecks")}


def measure(twin: Any, who: str) -> RunResult:
    """Detection, impact and TTM from a finished twin's telemetry (scoring code: reads fault state)."""
    st = twin.state
    onset = min(st.faults.started.values()) if st.faults.started else None
    kpi = twin.telemetry.kpis()
    tick = twin.scenario.tick
    times = kpi.index.to_numpy(dtype=float)
    bad = kpi["slo_violations"].to_numpy() > 0 if len(kpi) else np.zeros(0, bool)
    alerts = twin.alerts()
    detected = None
    impact_start = mitigated_at = None
    if onset is not None:
        later = alerts[alerts["start"] >= onset]
        detected = float(later["start"].min()) if len(later) else None
        hit = np.flatnonzero(bad & (times >= onset))
        if hit.size:
            impact_start = float(times[hit[0]])
            last_bad = float(times[np.flatnonzero(bad)[-1]])
            end = float(times[-1])
            if end - last_bad >= CLEAN_WINDOW:
                mitigated_at = last_bad + tick
    ttm = mitigated_at - impact_start if mitigated_at is not None and impact_start is not None else None
    impact_min = float(kpi["impact"].sum() * tick / 60.0) if len(kpi) else 0.0
    return RunResult(
        scenario=twin.scenario.name, who=who, seed=twin.seed, onset=onset, detected_at=detected,
        impact_start=impact_start, mitigated=mitigated_at is not None, mitigated_at=mitigated_at, ttm=ttm,
        impact_minutes=impact_min, slo_violation_minutes=float(bad.sum() * tick / 60.0),
        actions=[dict(a) for a in st.actions], twin=twin,
    )


def _run_timeline(sc: Scenario, timeline: list[ReplayAction], seed: int | None, who: str) -> RunResult:
    from twin.sim.actions import ACTIONS
    from twin.sim.twin import Twin

    start = time.perf_counter()
    t = Twin(sc, seed=seed)
    box = None
    for act in timeline:
        t.run(until=max(act.at, t.now))
        if act.tool in ACTIONS:
            t.act(act.tool, **act.args)
        else:  # an observation or test the operators ran: through the toolbox
            from twin.tools import Toolbox

            box = box or Toolbox(t)
            box.call(act.tool, act.args)
    t.run(until=sc.duration)
    res = measure(t, who)
    res.wall_s = time.perf_counter() - start
    res.steps = res.tool_calls = len(timeline)
    return res


def reference_run(replay: Replay | str, seed: int | None = None) -> RunResult:
    """Re-enact the operators' timeline on the twin."""
    rep = load_replay(replay) if isinstance(replay, str) else replay
    return _run_timeline(load_scenario(rep.scenario), rep.timeline, seed, "operators")


def no_action_run(scenario: Scenario | str, seed: int | None = None) -> RunResult:
    """The incident left alone: the reference for incidents without a replay."""
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    return _run_timeline(sc, [], seed, "no action")


def replay_with_agent(replay_or_scenario: Replay | Scenario | str, agent: Agent, seed: int | None = None,
                      max_steps: int = 60, who: str | None = None) -> RunResult:
    """Let ``agent`` (a fresh one: it is reset, not rebuilt) handle the incident; measured the same
    way as the operators' run and labelled ``who`` (default: the agent's name)."""
    from twin.episode import run_episode
    from twin.sim.twin import Twin

    if isinstance(replay_or_scenario, Replay):
        sc = load_scenario(replay_or_scenario.scenario)
    elif isinstance(replay_or_scenario, str):
        sc = load_scenario(replay_or_scenario)
    else:
        sc = replay_or_scenario
    t = Twin(sc, seed=seed)
    start = time.perf_counter()
    ep = run_episode(t, agent, seed=t.seed, horizon=sc.duration, max_steps=max_steps)
    wall = time.perf_counter() - start
    if t.now < sc.duration:
        t.run(until=sc.duration)
    res = measure(t, who or getattr(agent, "name", type(agent).__name__))
    steps = getattr(ep, "steps", [])
    res.steps = len(steps) if hasattr(steps, "__len__") else int(steps)
    res.tool_calls = res.steps
    res.wall_s = float(getattr(ep, "wall_s", wall) or wall)
    res.tokens = int(getattr(ep, "tokens", 0) or 0)
    diagnosis = getattr(agent, "root_cause", None) or getattr(agent, "diagnosis", None) or getattr(ep, "root_cause", None)
    res.root_cause = str(diagnosis or "")
    res.attempted = _attempted_calls(steps)
    res.prechecks = list(getattr(ep, "prechecks", []))
    return res


def _attempted_calls(steps: Any) -> list[tuple[str, dict[str, Any]]]:
    """(tool, args) of every call an episode recorded, refused ones included."""
    out = []
    for s in steps if isinstance(steps, (list, tuple)) else []:
        tool = getattr(s, "tool", None) if not isinstance(s, dict) else s.get("tool")
        args = getattr(s, "args", None) if not isinstance(s, dict) else s.get("args")
        if tool:
            out.append((str(tool), dict(args or {})))
    return out


# -- scoring -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Score:
    scenario: str
    agent: str
    seed: int
    detected: bool
    detected_at: float | None
    root_cause_named: bool
    mitigated: bool
    ttm: float | None
    ttm_ratio: float | None  # agent TTM / operators' TTM (None when either did not mitigate)
    mitigation_matches: bool
    impact_minutes: float
    excess_impact_minutes: float  # beyond the reference run (negative: better than the reference)
    new_alerts: int
    harmful_attempted: int
    harmful_applied: int
    steps: int
    tool_calls: int
    wall_s: float
    tokens: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _matches(tool: str, args: dict[str, Any], ref: Any) -> bool:
    return tool == ref.tool and all(args.get(k) == v for k, v in ref.args.items())


def _named(text: str, root: Any) -> bool:
    text = text.lower()
    if not text:
        return False
    def has(word: str) -> bool:
        return re.search(r"(?<![a-z0-9])" + re.escape(word.lower()) + r"(?![a-z0-9])", text) is not None
    if root.component and has(root.component):
        return True
    hits = sum(has(k) for k in root.keywords)
    return hits >= min(2, len(root.keywords)) if root.keywords else False


def _alerting(alerts: Any, at: float) -> set[str]:
    live = alerts[(alerts["start"] <= at) & (alerts["end"].isna() | (alerts["end"] > at))]
    return set(live["entity"])


def beats_doing_nothing(run: RunResult, baseline: RunResult | None, tick: float) -> bool:
    """Did the run restore the SLOs earlier than doing nothing would have (same seed)?

    The counterfactual behind "mitigated": an incident that ends by itself is not mitigated by
    whoever happened to be acting when it did, and a run that takes no effective action restores
    the SLOs exactly when doing nothing does.
    """
    if not run.mitigated or run.mitigated_at is None:
        return False
    if baseline is None or not baseline.mitigated or baseline.mitigated_at is None:
        return True
    return run.mitigated_at <= baseline.mitigated_at - tick


def _derived_labels(sc: Scenario, seed: int) -> Any:
    """A function giving an action's derived label on this incident (``twin.labels``); calls
    that are not mitigations (observations, tests) have none."""
    from twin.labels import labeller
    from twin.sim.actions import ACTIONS

    lab = None

    def derived(tool: str, args: dict[str, Any]) -> str:
        nonlocal lab
        if tool not in ACTIONS:
            return ""
        lab = lab or labeller(sc, seed)
        return lab.label(tool, args).label

    return derived


def score(run: RunResult, scenario: Scenario | str, reference: RunResult | None = None,
          operators_tool: str | None = None, baseline: RunResult | None = None) -> Score:
    """Score a run against the scenario's ground truth, a reference run and doing nothing.

    ``baseline`` is the same incident, same seed, left alone: ``mitigated`` (and so TTM) needs
    the run to restore the SLOs earlier than it (see :func:`beats_doing_nothing`). Whether an
    action was harmful or a matching fix comes from its derived label (:mod:`twin.labels`: the
    action run against doing nothing on the sandbox), not from the scenario's hand-written lists.
    """
    sc = load_scenario(scenario) if isinstance(scenario, str) else scenario
    mitigated = beats_doing_nothing(run, baseline, sc.tick)
    gt = sc.ground_truth
    actions = list(run.actions)
    attempted = run.attempted or [(a["kind"], a["args"]) for a in actions]
    applied = [(a["kind"], a["args"]) for a in actions if a.get("status") == "done"]
    derived = _derived_labels(sc, run.seed)
    harm_att = sum(derived(t, a) == "harmful" for t, a in attempted)
    harm_app = sum(derived(t, a) == "harmful" for t, a in applied)
    match = any(derived(t, a) == "effective" for t, a in applied)
    if operators_tool is not None:
        match = match or any(t == operators_tool for t, _ in applied)
    new_alerts = 0
    if run.twin is not None and actions:
        alerts = run.twin.alerts()
        if len(alerts):
            seen: set[tuple[str, str]] = set()
            for a in actions:
                if a.get("status") != "done":
                    continue
                before = _alerting(alerts, a["start"])
                lands = a["lands"]
                fresh = alerts[(alerts["start"] > lands) & (alerts["start"] <= lands + HARM_WINDOW)
                               & ~alerts["entity"].isin(before)]
                for _, r in fresh.iterrows():
                    seen.add((r["name"], r["entity"]))
            new_alerts = len(seen)
    ref_impact = reference.impact_minutes if reference is not None else 0.0
    ttm = run.ttm if mitigated else None
    ratio = None
    if ttm is not None and reference is not None and reference.ttm:
        ratio = ttm / reference.ttm
    named = _named(run.root_cause, gt.root_cause) if gt else False
    return Score(
        scenario=sc.name, agent=run.who, seed=run.seed, detected=run.detected_at is not None,
        detected_at=run.detected_at, root_cause_named=named, mitigated=mitigated, ttm=ttm, ttm_ratio=ratio,
        mitigation_matches=match, impact_minutes=run.impact_minutes,
        excess_impact_minutes=run.impact_minutes - ref_impact, new_alerts=new_alerts,
        harmful_attempted=harm_att, harmful_applied=harm_app, steps=run.steps, tool_calls=run.tool_calls,
        wall_s=run.wall_s, tokens=run.tokens,
    )


# -- the chain of events -----------------------------------------------------------------------
def event_order(twin: Any, patterns: list[str]) -> list[float | None]:
    """First time each pattern shows, in an event message or an alert (``alert:NAME[:entity]``).

    A pattern is a case-insensitive regular expression matched against event messages
    (``kind: message``), or ``alert:NAME`` / ``alert:NAME:ENTITY-REGEX`` for alerts.
    """
    events = twin.events()
    alerts = twin.alerts()
    out: list[float | None] = []
    for pat in patterns:
        if pat.startswith("alert:"):
            _, name, *rest = pat.split(":", 2)
            hit = alerts[alerts["name"] == name]
            if rest:
                hit = hit[hit["entity"].str.contains(rest[0], case=False, regex=True)]
            out.append(float(hit["start"].min()) if len(hit) else None)
        else:
            text = events["kind"] + ": " + events["message"]
            hit = events[text.str.contains(pat, case=False, regex=True)]
            out.append(float(hit["time"].min()) if len(hit) else None)
    return out
