"""``twin/Incident-v0``: one incident as a gymnasium episode, one tool call per step.

>>> import gymnasium, twin.envs
>>> env = gymnasium.make("twin/Incident-v0", scenario="b2b4-casc1", max_steps=8)
>>> obs, info = env.reset(seed=0)
>>> obs, reward, terminated, truncated, info = env.step(int(info["action_mask"].argmax()))

Episode: ``reset`` builds a Twin (its seed drawn from ``self.np_random``, so a reset seed fixes the
trajectory) and runs it until the first critical alert. Each step is one tool call through the
:class:`~twin.tools.Toolbox`, which advances simulated time by the tool's duration.

Action: ``Discrete(n_tools * max_targets)``; index ``tool * max_targets + slot`` (see
:mod:`twin.envs.actions` for why not MultiDiscrete, the slot order and argument defaults).
``info["action_mask"]`` (int8) marks valid pairs; a masked action returns a structured error
result, costs ``BAD_ACTION_S`` of simulated time and ``INVALID_PENALTY``, and the episode goes on.

Reward per step: minus customer impact over the step (sum over the telemetry samples the step
covered of ``kpi["impact"] * tick / 60``: SLO-violation minutes weighted by traffic), minus
``HARM_PENALTY`` when a mitigation makes things worse (impact after it lands exceeds impact before
it by ``HARM_MARGIN``), minus ``STEP_COST``. On truncation the incident is charged as if it went
on at its last impact until ``time_limit``, so stalling with cheap calls never pays.
``terminated`` when :func:`twin.episode.is_mitigated` says SLOs are restored and held for the
scenario's ``settle`` time; ``truncated`` at ``max_steps`` calls or ``time_limit`` seconds.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from twin.envs.actions import ActionTable, default_args
from twin.envs.observation import ObservationEncoder
from twin.scenario import Scenario, load_scenario
from twin.sim.collect import fewer_collections
from twin.sim.twin import Twin
from twin.tools.base import Tool, ToolResult
from twin.tools.registry import ToolRegistry, default_registry
from twin.tools.toolbox import PendingCall, Toolbox

__all__ = ["BAD_ACTION_S", "HARM_MARGIN", "HARM_PENALTY", "INVALID_PENALTY", "ORDERS", "STEP_COST", "IncidentEnv",
           "flat_result"]

STEP_COST = 0.01
HARM_PENALTY = 1.0
HARM_MARGIN = 0.05  # impact is a fraction of traffic harmed; smaller rises are noise
INVALID_PENALTY = 0.1
BAD_ACTION_S = 5.0  # a masked action wastes an operator's few seconds, like a malformed call
DEFAULT_MAX = {"link": 64, "service": 32, "device": 32}
#: How entities fill observation rows and target slots: ``fixed`` (WAN first, then the
#: toolbox's order: slot i is always the same entity of a scenario) or ``alerts`` (entities
#: alerting at detection first, critical before warning, in the order their alerts started:
#: slot 0 is "the loudest entity", which means the same thing on any network).
ORDERS = ("fixed", "alerts")


class IncidentEnv(gym.Env[dict[str, np.ndarray], np.int64]):
    """One incident of one scenario; see the module docstring for the contract."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, scenario: str | Path | Scenario = "b2b4-casc1", max_steps: int = 64,
                 time_limit: float | None = None, max_entities: dict[str, int] | int | None = None,
                 max_targets: int = 16, registry: ToolRegistry | list[Tool] | None = None,
                 render_mode: str | None = None, posterior: int = 0, order: str = "fixed") -> None:
        if order not in ORDERS:
            raise ValueError(f"order must be one of {', '.join(ORDERS)}, got {order!r}")
        self.order = order
        self.scenario = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        self.max_steps = int(max_steps)
        self.time_limit = float(time_limit if time_limit is not None else self.scenario.duration)
        if isinstance(max_entities, int):
            max_entities = {k: max_entities for k in DEFAULT_MAX}
        self.max_entities = {**DEFAULT_MAX, **(max_entities or {})}
        if isinstance(registry, list):
            registry = ToolRegistry(registry)
        self.registry = registry if registry is not None else default_registry()
        self.render_mode = render_mode
        probe = Twin(self.scenario, seed=self.scenario.seed)  # building is cheap; nothing runs
        self.toolbox = Toolbox(probe, self.registry)
        self.tools: list[Tool] = self.toolbox.tools
        self.table = ActionTable(self.tools, max_targets)
        self.encoder = ObservationEncoder(probe, self.tools, self.max_entities, max_targets)
        self.action_space = spaces.Discrete(self.table.n)
        self.posterior_k = int(posterior)
        if self.posterior_k < 0:
            raise ValueError(f"posterior: the number of causes to observe must be >= 0, got {posterior!r}")
        space = self.encoder.space()
        if self.posterior_k:
            from twin.faults.registry import fault_kinds

            self._kinds = sorted(fault_kinds())
            space = spaces.Dict({**space.spaces,
                                 "posterior": spaces.Box(0.0, 1.0, (self.posterior_k + 1,), np.float32),
                                 "posterior_kind": spaces.MultiDiscrete([len(self._kinds) + 1] * self.posterior_k)})
        self.observation_space = space
        self._posterior_key: Any = None
        self._posterior: tuple[np.ndarray, np.ndarray] | None = None
        self.twin = probe
        self._obs_flat: np.ndarray | None = None  # the last observation as the encoder's flat vector
        self._reset_state()

    def _reset_state(self) -> None:
        self.steps = 0
        self.start = self.twin.now
        self.last: ToolResult | None = None
        self.last_slot = -1
        self.pending: list[tuple[int, float]] = []  # (action record index, impact before it)
        self._targets = self.table.targets(self.toolbox)
        self._seen = len(self.twin.telemetry.samples)
        # start of the current run of SLO-clean samples since the episode began (None: in a violation)
        self._clean_since: float | None = None
        for sample in reversed(self.twin.telemetry.samples.tail(self._seen)):
            if sample.t < self.start or sample.kpi.get("slo_violations", 0) > 0:
                break
            self._clean_since = sample.t

    # -- gymnasium API -------------------------------------------------------------------------
    @fewer_collections()
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        self._reset_twin(seed)
        self._run_to_first_critical()
        return self._reset_done()

    @fewer_collections()
    def step(self, action: Any):
        return self._run_step(self._begin_step(action))

    def action_masks(self) -> np.ndarray:
        """The current mask as booleans (the hook sb3-contrib's MaskablePPO looks for)."""
        return self.table.mask(self._targets).astype(bool)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        alerts = ", ".join(f"{a.name}@{a.entity}" for a in self.twin.open_alerts()) or "none"
        last = self.last.text(200) if self.last is not None else "-"
        return f"t={self.twin.now:.0f}s step={self.steps} impact={self._impact():.3f} alerts: {alerts}\nlast: {last}"

    # -- tool calls by name (the text wrapper and scripted agents use this) --------------------
    def call(self, name: str, args: dict[str, Any] | None) -> tuple[dict[str, np.ndarray], float, bool, bool, dict]:
        """Step with a named tool call instead of an index; bad calls come back as error results."""
        slot = -1
        ti = self.table.index.get(name) if isinstance(name, str) else None
        if ti is not None and isinstance(args, dict):
            tool = self.tools[ti]
            try:
                idx = self.table.encode(name, args.get(tool.target) if tool.target else None, self._targets)
            except TypeError:  # an unhashable target value
                idx = None
            slot = idx % self.table.max_targets if idx is not None else -1
        return self._call(name, args if args is not None else {}, slot)

    def _call(self, name: Any, args: Any, slot: int):
        return self._run_step(self._begin_call(name, args, slot))

    def _run_step(self, step: _Step):
        """A single env's step between its halves: its twin alone to the step's end."""
        if self.twin.now < step.until:
            self.twin.run(until=step.until)
        return self._end_step(step)

    # -- a step in two halves: the vector env advances many members' twins in between ----------
    def _reset_twin(self, seed: int | None, spare: Twin | None = None) -> None:
        """A reset's first part: seed, a fresh twin at time 0 (then run to the first critical
        alert). ``spare``: a twin of this scenario already run part of the way, taken if its seed
        is the one drawn (a twin is fixed by its scenario and seed, so it is the twin this reset
        would build, further on)."""
        super().reset(seed=seed)
        twin_seed = int(self.np_random.integers(0, 2**31 - 1))
        if spare is not None and spare.seed == twin_seed and spare.scenario is self.scenario:
            self.twin = spare
        else:
            self.twin = Twin(self.scenario, seed=twin_seed)
        self.toolbox = Toolbox(self.twin, self.registry)
        self._posterior, self._posterior_key = None, None

    def _next_twin_seed(self) -> int:
        """The twin seed the next reset without a seed will draw (the vector env warms it up)."""
        return int(copy.deepcopy(self.np_random).integers(0, 2**31 - 1))

    def _critical_open(self) -> bool:
        return critical_open(self.twin)

    def _reset_done(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """A reset's last part, once the twin is at the first critical alert (or the time limit)."""
        if self.order == "alerts":
            self._prioritise()
        self.encoder.reset(self.twin)
        self._reset_state()
        return self._obs(0.0), self._info()

    def _begin_step(self, action: Any) -> _Step:
        """A step up to the simulated time it takes: the action decoded, its tool run."""
        tool, target, error = self._decode(action)
        if error is not None:
            t0 = self.twin.now
            return _Step(t0 + BAD_ACTION_S, t0, self._impact(), None, error, action, tool, -1, 0)
        assert tool is not None
        slot = int(np.asarray(action).reshape(-1)[0]) % self.table.max_targets
        return self._begin_call(tool.name, default_args(tool, target, self.twin, self.toolbox), slot)

    def _begin_call(self, name: Any, args: Any, slot: int) -> _Step:
        before = self._impact()
        n_actions = len(self.twin.state.actions)
        pending = self.toolbox.begin(name, args)
        return _Step(pending.until, pending.t_start, before, pending, None, None, None, slot, n_actions)

    def _end_step(self, step: _Step):
        """A step's rest, once the twin has reached ``step.until``: result, reward, observation."""
        if step.pending is None:
            return self._finish(self._invalid(step), -1, step.before, None)
        result = self.toolbox.finish(step.pending)
        tool = self.registry.get(step.pending.name) if result.ok else None
        if tool is not None and tool.kind == "mitigate":
            self.pending.extend((i, step.before) for i in range(step.n_actions, len(self.twin.state.actions)))
        return self._finish(result, step.slot if result.ok else -1, step.before, tool)

    def _finish(self, result: ToolResult, slot: int, before: float, tool: Tool | None):
        self.steps += 1
        self.last, self.last_slot = result, slot
        penalty = 0.0 if result.ok else INVALID_PENALTY
        new = self._new_samples()
        reward = -self._impact_minutes(new) - STEP_COST - penalty - HARM_PENALTY * self._harm()
        terminated = self._mitigated()
        truncated = not terminated and (self.steps >= self.max_steps or self.twin.now >= self.time_limit)
        if truncated:  # the incident goes on unmitigated until the time limit
            reward -= self._impact() * max(self.time_limit - self.twin.now, 0.0) / 60.0
        self._targets = self.table.targets(self.toolbox)
        return self._obs(self._impact() - before), float(reward), terminated, truncated, self._info()

    # -- internals -----------------------------------------------------------------------------
    def _decode(self, action: Any) -> tuple[Tool | None, str | None, str | None]:
        try:
            a = int(np.asarray(action).reshape(-1)[0]) if np.ndim(action) else int(action)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None, None, f"action must be an integer in [0, {self.table.n}), got {action!r}"
        return self.table.decode(a, self._targets)

    def _invalid(self, step: _Step) -> ToolResult:
        t0, tool, error = step.t_start, step.tool, step.error
        allowed = tuple(self._targets[self.table.index[tool.name]]) if tool is not None and tool.target else None
        return ToolResult(False, tool.name if tool is not None else "?", {"action": repr(step.action)}, {},
                          f"error: {error}", error=error, allowed=allowed, t_start=t0, t_end=self.twin.now)

    def _prioritise(self) -> None:
        """Rank the entities alerting now (what an operator sees) for ``order="alerts"``."""
        alerts = sorted(self.toolbox.open_alerts(), key=lambda a: (a.severity != "critical", a.start, a.entity))
        priority: dict[str, int] = {}
        for a in alerts:
            priority.setdefault(a.entity, len(priority))
        self.table.priority = priority
        self.encoder = ObservationEncoder(self.twin, self.tools, self.max_entities, self.table.max_targets, priority)

    def _run_to_first_critical(self) -> None:
        twin, tick = self.twin, self.scenario.tick
        while twin.now < self.time_limit:
            twin.run(until=min(twin.now + tick, self.time_limit))
            if critical_open(twin):
                return

    def _impact(self) -> float:
        latest = self.twin.telemetry.latest()
        value = latest.kpi.get("impact", 0.0) if latest is not None else 0.0
        return float(value) if np.isfinite(value) else 0.0

    def _new_samples(self) -> list[Any]:
        """The samples taken since the last step (oldest first); keeps the SLO-clean run current."""
        samples = self.twin.telemetry.samples
        n = len(samples)
        new = samples.tail(n - self._seen) if n > self._seen else []
        self._seen = n
        for sample in new:
            if sample.t < self.start or sample.kpi.get("slo_violations", 0) > 0:
                self._clean_since = None
            elif self._clean_since is None:
                self._clean_since = sample.t
        return new

    def _impact_minutes(self, new: list[Any]) -> float:
        """Impact over the samples taken since the last step, in traffic-weighted minutes."""
        tick = self.scenario.tick
        return float(sum(s.kpi.get("impact", 0.0) for s in new)) * tick / 60.0

    def _harm(self) -> float:
        """Count mitigations that landed (and were sampled since) with impact above where it stood."""
        latest = self.twin.telemetry.latest()
        if latest is None or not self.pending:
            return 0.0
        actions = self.twin.state.actions
        harmed, keep = 0, []
        for i, before in self.pending:
            rec = actions[i]
            if rec["status"] == "done" and latest.t > rec["lands"]:
                harmed += int(self._impact() > before + HARM_MARGIN)
            else:
                keep.append((i, before))
        self.pending = keep
        return float(harmed)

    def _mitigated(self) -> bool:
        """:func:`twin.episode.is_mitigated` since the episode began, from the clean run kept step
        by step (that function walks the whole history back each time)."""
        latest = self.twin.telemetry.latest()
        return (self._clean_since is not None and latest is not None
                and latest.t - self._clean_since >= self.twin.scenario.settle)

    def _obs(self, impact_change: float) -> dict[str, np.ndarray]:
        elapsed = self.twin.now / self.time_limit if self.time_limit > 0 else 1.0
        # kept: the vector env stacks its members' flat observations in one call
        self._obs_flat = self.encoder.encode_flat(self.twin, elapsed, self.last, self.last_slot, self._impact(),
                                                  impact_change)
        obs = self.encoder.split(self._obs_flat)
        if self.posterior_k:
            obs["posterior"], obs["posterior_kind"] = self._observe_posterior()
        return obs

    def _observe_posterior(self) -> tuple[np.ndarray, np.ndarray]:
        """The diagnosis engine's top causes (probabilities, then "none of these"; fault kinds as
        1 + index in the sorted catalogue, 0 for an empty slot), from the agent's toolbox: only
        what the operator sees goes in. Recomputed when the open alerts or the actions change."""
        key = (tuple(sorted((a.name, a.entity, a.severity) for a in self.toolbox.open_alerts())),
               len(self.toolbox.mitigations_applied))
        if self._posterior is None or key != self._posterior_key:
            d = self.toolbox.diagnose()
            k = self.posterior_k
            probs = np.zeros(k + 1, dtype=np.float32)
            kinds = np.zeros(k, dtype=np.int64)
            causes = [s for s in d.ranked if s.hypothesis is not None][:k]
            for i, s in enumerate(causes):
                probs[i] = s.probability
                kinds[i] = 1 + self._kinds.index(s.hypothesis.kind) if s.hypothesis.kind in self._kinds else 0
            probs[k] = d.unexplained
            self._posterior, self._posterior_key = (probs, kinds), key
        return self._posterior[0].copy(), self._posterior[1].copy()

    def _info(self) -> dict[str, Any]:
        return {
            "action_mask": self.table.mask(self._targets),
            "sim_time": self.twin.now,
            "steps": self.steps,
            "impact": self._impact(),
            "last_result": flat_result(self.last),
        }


def critical_open(twin: Twin) -> bool:
    """Whether a critical alert is open (an episode starts at the first)."""
    return any(a["severity"] == "critical" for a in twin.state.alerts.open.values())


class _Step(NamedTuple):
    """A step begun (its tool run, or its action found invalid) whose simulated time has yet to pass."""

    until: float  # where the twin is to be before the step ends
    t_start: float
    before: float  # impact when the step began
    pending: PendingCall | None  # the tool call (None for an invalid action)
    error: str | None  # why the action is invalid
    action: Any
    tool: Tool | None  # the invalid action's tool, if it named one
    slot: int
    n_actions: int  # operator actions on record before the call


def flat_result(result: ToolResult | None) -> dict[str, Any]:
    """A tool result with the same keys and scalar types every step, so vector envs can stack infos:
    ``args``, ``data`` and ``allowed`` travel as JSON text."""
    if result is None:
        return {"ok": False, "tool": "", "summary": "", "error": "", "args": "{}", "data": "{}", "allowed": "[]",
                "t_start": 0.0, "t_end": 0.0}
    return {"ok": bool(result.ok), "tool": result.tool, "summary": result.summary, "error": result.error or "",
            "args": _JSON.encode(result.args), "data": _JSON.encode(result.data),
            "allowed": json.dumps(list(result.allowed)) if result.allowed else "[]",
            "t_start": float(result.t_start), "t_end": float(result.t_end)}


# what ``json.dumps(x, default=str)`` builds on every call, built once
_JSON = json.JSONEncoder(default=str)
