"""The runbook (TSG) baseline: match symptoms to a troubleshooting guide, run its checks, apply its fix.

Runbooks are YAML data in ``agents/runbooks/`` (or a directory passed in), one per file::

    name: te-moved-traffic-onto-lossy-plane
    priority: 10                       # higher is tried first
    match:                             # a block, or a list of alternative blocks
      events:                          # each must match a recent event; most recent first
        - {kind: te, message: "TE controller moves \\\\S+ traffic from \\\\S+ to (?P<plane>\\\\S+)"}
      alerts:                          # each must match >= min_count open alerts
        - {name: PacketLoss, entity: "^(?P<plane>[^:]+):", min_count: 2}
      absent_alerts: [DeviceDown]      # none of these may be open
      common_device: false             # the matched link alerts all touch one device -> {device}
    checks:                            # tool calls; ``expect`` gates the runbook on their data
      - {tool: compare_baseline, args: {entity: "{service}"}, expect: {path: metrics.rps.ratio, below: 1.5}}
      - {tool: show_config, args: {device: "{device}"}, expect: {path: features, contains: fast-failover}}
    mitigations:                       # tried in order until the matched alerts clear
      - {tool: halt_automation, verify: false}   # apply the next one at once, without waiting
      - {tool: restart_control_jobs, args: {site: "{item}"}, each: sites}  # once per item of "a,b,c"
      - {tool: freeze_te}
    verify: {wait: 3m}

Named regex groups bind variables (a name bound twice must agree); ``{entity}`` is the first
matched alert's entity; ``common_device`` binds ``{device}`` and must agree with a ``device`` already
bound. Args are formatted with the bindings. The agent sees only tool results.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml

from twin.errors import AgentError
from twin.units import parse_duration

if TYPE_CHECKING:
    from twin.tools import Toolbox, ToolResult

__all__ = ["RUNBOOK_DIR", "Runbook", "RunbookAgent", "load_runbooks"]

RUNBOOK_DIR = Path(__file__).parent / "runbooks"
_WAIT_TOOL_S = 60.0  # the ``wait`` tool's duration
Binding = dict[str, str]
Plan = Generator[tuple[str, dict[str, Any]], "ToolResult", None]


@dataclass(frozen=True)
class Runbook:
    name: str
    description: str
    priority: int
    match: tuple[dict[str, Any], ...]  # alternatives
    checks: tuple[dict[str, Any], ...]
    mitigations: tuple[dict[str, Any], ...]
    verify_wait: float
    source: str = field(default="", compare=False)


def _runbook(raw: Any, source: str) -> Runbook:
    def bad(msg: str) -> AgentError:
        return AgentError(f"{source}: {msg}")

    if not isinstance(raw, dict) or "name" not in raw:
        raise bad("a runbook is a mapping with at least name, match and mitigations")
    unknown = set(raw) - {"name", "description", "priority", "match", "checks", "mitigations", "verify"}
    if unknown:
        raise bad(f"unknown field(s) {sorted(unknown)}")
    match = raw.get("match")
    blocks = match if isinstance(match, list) else [match]
    if not blocks or not all(isinstance(b, dict) for b in blocks):
        raise bad("match must be a mapping or a list of mappings")
    for b in blocks:
        extra = set(b) - {"alerts", "events", "absent_alerts", "common_device"}
        if extra:
            raise bad(f"match: unknown field(s) {sorted(extra)}")
    calls = {}
    for key in ("checks", "mitigations"):
        items = raw.get(key) or []
        if not isinstance(items, list) or not all(isinstance(c, dict) and "tool" in c for c in items):
            raise bad(f"{key} must be a list of {{tool, args}} mappings")
        calls[key] = tuple(items)
    if not calls["mitigations"]:
        raise bad("a runbook needs at least one mitigation")
    try:
        wait = parse_duration((raw.get("verify") or {}).get("wait", "3m"))
    except ValueError as exc:
        raise bad(f"verify.wait: {exc}") from None
    return Runbook(str(raw["name"]), str(raw.get("description", "")), int(raw.get("priority", 0)), tuple(blocks),
                   calls["checks"], calls["mitigations"], wait, source)


def load_runbooks(directory: str | Path | None = None) -> list[Runbook]:
    """Every ``*.yaml`` runbook in ``directory``, highest priority first (then by name)."""
    directory = Path(directory) if directory is not None else RUNBOOK_DIR
    if not directory.is_dir():
        raise AgentError(f"runbook directory {directory} does not exist")
    books = []
    for path in sorted(directory.glob("*.yaml")):
        try:
            raw = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise AgentError(f"{path}: not valid YAML: {exc}") from None
        books.append(_runbook(raw, str(path)))
    return sorted(books, key=lambda b: (-b.priority, b.name))


def _unify(binding: Binding, found: dict[str, str | None]) -> Binding | None:
    out = dict(binding)
    for k, v in found.items():
        if v is None:
            continue
        if k in out and out[k] != v:
            return None
        out[k] = v
    return out


def _match_alerts(block: dict[str, Any], alerts: list[dict], binding: Binding) -> Binding | None:
    open_names = {a["name"] for a in alerts}
    if open_names & set(block.get("absent_alerts") or []):
        return None
    for m in block.get("alerts") or []:
        names = m["name"] if isinstance(m.get("name"), list) else [m.get("name")]
        hits: list[tuple[dict, Binding]] = []
        for a in alerts:
            if names != [None] and a["name"] not in names:
                continue
            found = re.search(m.get("entity", ""), a["entity"])
            b = _unify(binding, found.groupdict()) if found else None
            if b is not None and (not hits or _unify(hits[0][1], found.groupdict()) is not None):
                hits.append((a, b))
        if len(hits) < int(m.get("min_count", 1)):
            return None
        binding = hits[0][1]
        binding.setdefault("entity", hits[0][0]["entity"])
        binding.setdefault("alert", hits[0][0]["name"])
        binding.setdefault("_entities", "\n".join(a["entity"] for a, _ in hits))
    return binding


def _match(block: dict[str, Any], alerts: list[dict], events: list[dict]) -> Binding | None:
    binding: Binding = {}
    for m in block.get("events") or []:
        for e in reversed(events):  # the latest change is the likeliest suspect
            if m.get("kind") and e["kind"] != m["kind"]:
                continue
            found = re.search(m.get("message", ""), e["message"])
            b = _unify(binding, found.groupdict()) if found else None
            if b is not None:
                binding = b
                break
        else:
            return None
    return _match_alerts(block, alerts, binding)


def _get(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def _expect_holds(expect: dict[str, Any] | None, result: ToolResult) -> bool:
    if not expect:
        return True
    value = _get(result.data, expect["path"])
    if value is None:
        return bool(expect.get("if_missing", False))
    if "contains" in expect and (not isinstance(value, (list, str)) or expect["contains"] not in value):
        return False
    return (("below" not in expect or value < expect["below"]) and ("above" not in expect or value > expect["above"])
            and ("equals" not in expect or value == expect["equals"]))


def _fill(args: dict[str, Any] | None, binding: Binding) -> dict[str, Any]:
    return {k: v.format(**binding) if isinstance(v, str) else v for k, v in (args or {}).items()}


class RunbookAgent:
    """Tries each matching runbook in priority order; stops (returns None) when none applies."""

    name = "runbook"

    def __init__(self, runbook_dir: str | Path | None = None, window: str = "1h") -> None:
        self.runbooks = load_runbooks(runbook_dir)
        self.window = window
        self.chosen: str | None = None
        self._plan: Plan | None = None
        self._started = False

    def reset(self, toolbox: Toolbox, rng: np.random.Generator) -> None:
        self.chosen, self._started = None, False
        self._plan = self._run()

    def act(self, toolbox: Toolbox) -> tuple[str, dict[str, Any]] | None:
        if self._plan is None:
            self.reset(toolbox, np.random.default_rng(0))
        try:
            if not self._started:
                self._started = True
                return next(self._plan)
            return self._plan.send(toolbox.history[-1])
        except StopIteration:
            return None

    def _run(self) -> Plan:
        alerts = (yield ("list_alerts", {})).data.get("alerts", [])
        events = (yield ("recent_changes", {"window": self.window})).data.get("events", [])
        for book in self.runbooks:
            binding = yield from self._applies(book, alerts, events)
            if binding is None:
                continue
            self.chosen = book.name
            for mitigation in book.mitigations:
                items = [x for x in binding.get(mitigation["each"], "").split(",") if x] if "each" in mitigation else [""]
                ok = False
                for item in items:
                    result = yield (mitigation["tool"], _fill(mitigation.get("args"), {**binding, "item": item}))
                    ok = ok or result.ok
                if not ok or mitigation.get("verify", True) is False:
                    continue
                for _ in range(max(1, round(book.verify_wait / _WAIT_TOOL_S))):
                    yield ("wait", {})
                now = (yield ("list_alerts", {})).data.get("alerts", [])
                if not any(_match_alerts(b, now, dict(binding)) for b in book.match if b.get("alerts")):
                    return
            return

    def _applies(self, book: Runbook, alerts: list[dict], events: list[dict]) -> Generator[Any, Any, Binding | None]:
        for block in book.match:
            binding = _match(block, alerts, events)
            if binding is None:
                continue
            if block.get("common_device"):
                device = yield from self._common_device(binding.get("_entities", "").split("\n"))
                if device is None or binding.get("device", device) != device:
                    continue
                binding["device"] = device
            for check in book.checks:
                result = yield (check["tool"], _fill(check.get("args"), binding))
                if not result.ok or not _expect_holds(check.get("expect"), result):
                    binding = None
                    break
            if binding is not None:
                return binding
        return None

    def _common_device(self, links: list[str]) -> Generator[Any, Any, str | None]:
        """The one device every alerting link touches (asked of show_neighbourhood), if there is one."""
        common: set[str] | None = None
        for link in [x for x in links if x][:8]:
            result = yield ("show_neighbourhood", {"entity": link})
            devices = set(result.data.get("devices", [])) if result.ok else set()
            common = devices if common is None else common & devices
            if not common:
                return None
        return min(common) if common and len([x for x in links if x]) >= 2 else None
