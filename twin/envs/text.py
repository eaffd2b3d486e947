"""``twin/TextIncident-v0``: the same incident episode as text, with tool calls by name, for LLM agents.

>>> from twin.envs.text import TextIncidentEnv
>>> env = TextIncidentEnv(scenario="b2b4-casc1", max_steps=4)
>>> text, info = env.reset(seed=0)
>>> text, reward, terminated, truncated, info = env.step({"tool": "list_alerts", "args": {}})
>>> text, *_ = env.step('query_metric entity="b2:us-east-us-west" metric=loss')

An action is a dict ``{"tool": NAME, "args": {...}}``, its JSON text, or a line ``NAME key=value ...``
(values parsed as JSON where they can be, else taken as strings; ``NAME(key=value, ...)`` works too).
A malformed action comes back as an error text naming the problem and the tools or values allowed;
the episode goes on. The tools are those of the core :class:`IncidentEnv`'s toolbox, so tools
registered through the ``twin.tools`` entry-point group appear here too (``info["tools"]`` holds
their function-calling schemas at reset).
"""

from __future__ import annotations

import json
import re
import shlex
import string
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from twin.envs.incident import IncidentEnv, flat_result
from twin.telemetry.recorder import METRICS
from twin.tools.base import ToolResult

__all__ = ["MAX_CHARS", "TextIncidentEnv", "parse_action"]

MAX_CHARS = 8192
_CHARSET = frozenset(string.printable)
_CALL = re.compile(r"^\s*([A-Za-z_][\w.-]*)\s*\((.*)\)\s*$", re.DOTALL)


def parse_action(action: Any) -> tuple[str, dict[str, Any]] | str:
    """``(tool, args)`` from a dict, JSON text or ``NAME key=value`` line; else an error message."""
    if isinstance(action, (bytes, bytearray)):
        action = action.decode("utf-8", "replace")
    if isinstance(action, str):
        text = action.strip()
        if not text:
            return "empty action: give a tool call such as {\"tool\": \"list_alerts\", \"args\": {}}"
        if text.startswith("{"):
            try:
                action = json.loads(text)
            except json.JSONDecodeError as exc:
                return f"action is not valid JSON: {exc.msg} at character {exc.pos}"
        else:
            return _parse_line(text)
    if isinstance(action, dict):
        name = action.get("tool", action.get("name"))
        args = action.get("args", action.get("arguments", {}))
        if isinstance(args, str):  # function-calling APIs send arguments as JSON text
            try:
                args = json.loads(args) if args.strip() else {}
            except json.JSONDecodeError as exc:
                return f"args is not valid JSON: {exc.msg}"
        if not isinstance(name, str) or not name:
            return "action needs a 'tool' name (a string)"
        if args is None:
            args = {}
        if not isinstance(args, dict):
            return f"'args' must be an object, got {type(args).__name__}"
        return name, args
    return f"action must be a dict {{'tool': ..., 'args': {{...}}}} or a text line, got {type(action).__name__}"


def _parse_line(text: str) -> tuple[str, dict[str, Any]] | str:
    m = _CALL.match(text)
    if m:
        name, rest = m.group(1), m.group(2).replace(",", " ")
    else:
        name, _, rest = text.partition(" ")
    try:
        parts = shlex.split(rest)
    except ValueError as exc:
        return f"cannot split the arguments: {exc}"
    args: dict[str, Any] = {}
    for part in parts:
        key, eq, value = part.partition("=")
        if not eq or not key:
            return f"argument {part!r} is not key=value"
        try:
            args[key] = json.loads(value)
        except json.JSONDecodeError:
            args[key] = value
    return name, args


class TextIncidentEnv(gym.Env[str, Any]):
    """Text observations and named tool calls over an :class:`IncidentEnv` (``self.core``)."""

    metadata = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(self, max_alerts: int = 12, max_rows: int = 5, **kwargs: Any) -> None:
        self.core = IncidentEnv(**kwargs)
        self.max_alerts, self.max_rows = max_alerts, max_rows
        self.observation_space = spaces.Text(MAX_CHARS, charset=string.printable)
        self.action_space = spaces.Text(MAX_CHARS, charset=string.printable)
        self.render_mode = kwargs.get("render_mode")
        self._text = ""

    @property
    def tool_names(self) -> list[str]:
        return [t.name for t in self.core.tools]

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        _, info = self.core.reset(seed=seed, options=options)
        info = dict(info, tools=self.core.toolbox.schemas())
        self._text = self._render(None)
        return self._text, info

    def step(self, action: Any):
        parsed = parse_action(action)
        if isinstance(parsed, str):
            return self._malformed(action, parsed)
        name, args = parsed
        _, reward, terminated, truncated, info = self.core.call(name, args)
        self._text = self._render(self.core.last)
        return self._text, reward, terminated, truncated, info

    def render(self) -> str | None:
        return self._text if self.render_mode == "ansi" else None

    def close(self) -> None:
        self.core.close()

    # -- internals -----------------------------------------------------------------------------
    def _malformed(self, action: Any, error: str):
        """A call that never reached the toolbox: route it as an unknown tool so it costs the same."""
        shown = repr(action)[:200]
        _, reward, terminated, truncated, info = self.core.call(f"<malformed: {shown}>", {})
        last = self.core.last
        assert last is not None
        fixed = ToolResult(False, "?", {"action": shown}, {}, f"error: {error}", error=error,
                           allowed=tuple(self.tool_names), t_start=last.t_start, t_end=last.t_end)
        self.core.last = fixed
        info = dict(info, last_result=flat_result(fixed))
        self._text = self._render(fixed)
        return self._text, reward, terminated, truncated, info

    def _render(self, last: ToolResult | None) -> str:
        core, twin = self.core, self.core.twin
        head = (f"time {twin.now:.0f}s (incident since {core.start:.0f}s), step {core.steps}/{core.max_steps}, "
                f"customer impact {core._impact():.3f}")
        lines = [head]
        alerts = sorted(twin.open_alerts(), key=lambda a: (a.severity != "critical", a.start, a.name, a.entity))
        lines.append(f"open alerts ({len(alerts)}):")
        lines += [f"  [{a.severity}] {a.message} (since {a.start:.0f}s)" for a in alerts[: self.max_alerts]]
        if len(alerts) > self.max_alerts:
            lines.append(f"  ... {len(alerts) - self.max_alerts} more")
        lines += self._sketch()
        if last is None:
            lines.append("tools: " + ", ".join(self.tool_names))
            lines.append('call one as {"tool": NAME, "args": {...}} or NAME key=value ...')
        else:
            lines.append("last call: " + last.text(1500))
        text = "\n".join(lines)
        text = "".join(ch if ch in _CHARSET else "?" for ch in text)
        return text[:MAX_CHARS]

    def _sketch(self) -> list[str]:
        """The worst few links and services right now (a compact metric sketch)."""
        tel = self.core.twin.telemetry
        sample = tel.latest()
        if sample is None:
            return []
        out = []
        for kind, metric, label in (("link", "loss", "links by loss"), ("link", "utilisation", "links by utilisation"),
                                    ("service", "p99_ms", "services by p99_ms"),
                                    ("service", "error_rate", "services by error_rate")):
            values = getattr(sample, kind)
            if values.shape[0] == 0:
                continue
            col = values[:, METRICS[kind].index(metric)].astype(float)
            if np.isnan(col).all():
                out.append(f"{label}: no data (monitoring gap)")
                continue
            order = np.argsort(-np.nan_to_num(col, nan=-np.inf), kind="stable")[: self.max_rows]
            names = tel.entities[kind]
            out.append(f"{label}: " + ", ".join(f"{names[i]}={col[i]:.3g}" for i in order))
        return out
