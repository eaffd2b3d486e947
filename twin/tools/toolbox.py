"""The toolbox: one twin, one registry, and calls that validate, run, cost simulated time, and never raise.

The toolbox is the wall between the two worlds. The twin behind it is the sandbox (it holds the
injected faults and the ground truth); an agent gets the toolbox and, through it, only what an
operator has: tool calls, the monitors' samples and alerts, the change log and events, the
network model without its faults (:attr:`Toolbox.world`), its own actions, and the operator-mode
diagnosis and pre-check. The sandbox twin is not an attribute of the toolbox: it sits in a
private side table that only the sandbox's own code (episode runner, gym env, scoring) reads,
through :func:`sandbox_of`.

>>> from twin import Twin
>>> from twin.tools import Toolbox
>>> box = Toolbox(Twin("b2b4-casc1", seed=0))
>>> box.call("list_alerts", {}).ok
True
>>> box.call("drain_link", {"link": "nowhere"}).error.startswith("unknown link")
True
"""

from __future__ import annotations

import copy
import dataclasses
import math
import weakref
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from twin.errors import known_list
from twin.tools.base import Tool, ToolResult
from twin.tools.registry import ToolRegistry, default_registry

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["BAD_CALL_S", "OPERATOR_EVENTS", "PendingCall", "PrecheckRecord", "Toolbox", "entity_names", "prechecks_of",
           "sandbox_of"]

#: Event kinds an operator's tooling shows (change management, TE, health checks, routing, actions).
OPERATOR_EVENTS = ("change", "deploy", "te", "health", "routing", "action", "rollback", "autoscaler", "dns")

# toolbox -> the sandbox twin behind it; kept off the toolbox so no attribute leads there
_SANDBOX: weakref.WeakKeyDictionary[Toolbox, Twin] = weakref.WeakKeyDictionary()


# toolbox -> the pre-checks its agent asked for, each with a fork of the sandbox at that moment,
# so scoring can put the same question to the oracle afterwards (sandbox side only)
_PRECHECKS: weakref.WeakKeyDictionary[Toolbox, list[PrecheckRecord]] = weakref.WeakKeyDictionary()


@dataclasses.dataclass(frozen=True)
class PrecheckRecord:
    """One operator-mode pre-check an agent asked for, and the sandbox as it was then."""

    at: float
    candidate: Any
    report: Any
    sandbox: Twin
    horizon: float
    draws: int


class PendingCall(NamedTuple):
    """A tool call that has run but whose simulated time has not yet passed (:meth:`Toolbox.begin`):
    the twin is to reach ``until`` before :meth:`Toolbox.finish` records the result."""

    name: str
    args: dict[str, Any]
    t_start: float
    until: float
    kind: str | None  # the tool's kind (None for a bad call)
    data: dict[str, Any]
    summary: str
    error: str | None = None
    allowed: tuple[str, ...] | None = None


def prechecks_of(box: Toolbox) -> list[PrecheckRecord]:
    """The pre-checks ``box``'s agent asked for (sandbox side: for scoring against the oracle)."""
    return list(_PRECHECKS.get(box, ()))


def sandbox_of(box: Toolbox) -> Twin:
    """The sandbox twin behind ``box``: for the episode runner, the gym env and scoring only.
    Agents and tools never call this (a test checks that)."""
    return _SANDBOX[box]

#: Simulated seconds a malformed call costs (an operator fumbling a command is not free).
BAD_CALL_S = 5.0
_SHOW_ENUM_UP_TO = 64  # entity lists longer than this are left out of prompt schemas


def entity_names(twin: Twin, kind: str) -> list[str]:
    """Names of one entity kind that exist in ``twin`` (monitor-visible names only)."""
    from twin.sim.actions import entity_names as action_entities
    from twin.telemetry.alerts import default_rules

    if kind == "entity":
        w = twin.world
        return [*w.topology.links, *w.device_names, *w.services]
    if kind == "alert":
        names = [r.name for r in default_rules(np.zeros(0), np.zeros(0), 0.0)]
        return names + [r.name for r in twin.scenario.alerts if r.name not in names]
    return action_entities(twin.world, twin.state, kind)


_VALIDATORS: dict[int, tuple[Any, Any, dict[tuple, Any]]] = {}


class Toolbox:
    """The agent-facing interface to one twin: every call is checked, timed and recorded."""

    def __init__(self, twin: Twin, registry: ToolRegistry | None = None) -> None:
        _SANDBOX[self] = twin
        from twin.belief import operator_scenario

        #: The scenario as the operator knows it: no faults, no ground truth.
        self.operator_scenario = operator_scenario(twin.scenario)
        #: The network model (topology, call graph, placement, demand) without the faults.
        self.world = dataclasses.replace(twin.world, scenario=self.operator_scenario)
        self._diagnosis: tuple[Any, Any] | None = None
        self._base_data: dict[str, Any] | None = None
        self.registry = registry if registry is not None else default_registry()
        self.history: list[ToolResult] = []
        self.mitigations_applied: list[ToolResult] = []
        self._validators: dict[str, Any] = {}
        self._known: dict[str, frozenset[str]] = {}

    # -- what there is -----------------------------------------------------------------------
    @property
    def tools(self) -> list[Tool]:
        return list(self.registry)

    def names(self) -> list[str]:
        return self.registry.names()

    def entities(self, kind: str) -> list[str]:
        return entity_names(_SANDBOX[self], kind)

    # -- what an operator sees ---------------------------------------------------------------
    @property
    def now(self) -> float:
        """Simulated seconds since the start of the incident's run."""
        return float(_SANDBOX[self].now)

    @property
    def scenario_name(self) -> str:
        return str(self.operator_scenario.name).removesuffix(" (operator's view)")

    @property
    def monitored(self) -> dict[str, tuple[str, ...]]:
        """Entity names per monitored kind (link, service, device)."""
        return dict(_SANDBOX[self].telemetry.entities)

    def monitor_array(self, kind: str, metric: str, since: float | None = None,
                      until: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """``(times, values[time, entity])`` as the monitors sampled them (NaN where they saw nothing)."""
        times, values = _SANDBOX[self].telemetry.array(kind, metric, since, until)
        return times.copy(), values.copy()

    def metrics(self, kind: str = "link", **kw: Any) -> Any:
        """Monitored metrics of one entity kind, long form (a DataFrame)."""
        return _SANDBOX[self].metrics(kind, **kw)

    def alerts(self) -> Any:
        """Every alert so far (open ones have ``end`` = None), a DataFrame."""
        return _SANDBOX[self].alerts()

    def open_alerts(self) -> list[Any]:
        return _SANDBOX[self].open_alerts()

    def events(self, kinds: tuple[str, ...] = OPERATOR_EVENTS) -> list[Any]:
        """The event log an operator's tooling shows (changes, TE, health checks, routing, actions)."""
        return [copy.copy(e) for e in _SANDBOX[self].telemetry.events if e.kind in kinds]

    def change_log(self) -> list[Any]:
        """Change-management records so far (copies)."""
        return [copy.copy(c) for c in _SANDBOX[self].state.control.changes]

    def change_count(self) -> int:
        """How many change records there are so far (``len(change_log())`` without the copies)."""
        return len(_SANDBOX[self].state.control.changes)

    def evidence(self, at: float | None = None) -> Any:
        """What the operator has now (:class:`twin.diagnosis.Evidence`)."""
        from twin.diagnosis import evidence

        return evidence(_SANDBOX[self], at)

    def diagnose(self, extra: Any = (), prior: Any = None) -> Any:
        """The posterior over causes now (:mod:`twin.diagnosis`), from the evidence alone:
        each candidate cause simulated on the operator's twin. ``extra``: further hypotheses
        (e.g. an LLM's); ``prior``: weights by hypothesis label or cause."""
        from twin.diagnosis import diagnose_evidence

        key = (self.now, len(_SANDBOX[self].state.actions), tuple(h.label for h in extra),
               tuple(sorted((prior or {}).items())))
        if self._diagnosis is None or self._diagnosis[0] != key:
            self._diagnosis = (key, diagnose_evidence(self.evidence(), self._base(), extra=tuple(extra), prior=prior))
        return self._diagnosis[1]

    def precheck(self, candidates: Any, *, diagnosis: Any = None, horizon: float | str = 1800.0, draws: int = 4,
                 k: int = 3, policy: Any = None) -> list[Any]:
        """Operator-mode pre-check of ``candidates`` (in the order given): each trialled on the
        operator's twin under the top hypotheses of ``diagnosis`` (default: :meth:`diagnose`)
        times what-if draws, against doing nothing; P(harm), P(no effect), expected impact and a
        verdict per candidate. It never reads the sandbox's faults."""
        from twin.safety.operator import operator_rank
        from twin.units import parse_duration

        items = list(candidates)
        d = self.diagnose() if diagnosis is None else diagnosis
        h = parse_duration(horizon) if isinstance(horizon, str) else float(horizon)
        reports = operator_rank(self._base(), self.evidence(), d, items, horizon=h, draws=draws, k=k,
                                policy=policy, rng=0)
        twin = _SANDBOX[self]
        fork = twin.fork()
        log = _PRECHECKS.setdefault(self, [])
        out = _in_order(items, reports)
        for c, r in zip(items, out):
            log.append(PrecheckRecord(twin.now, c, r, fork, h, int(draws)))
        return out

    def _base(self) -> dict[str, Any]:
        if self._base_data is None:
            from twin.belief import base_data

            self._base_data = base_data(self.operator_scenario)
        return self._base_data

    def targets(self, name: str) -> list[str]:
        """Valid values for a tool's main argument ([] for a tool without one)."""
        t = self.registry.get(name)
        if t.target is None:
            return []
        if t.target_kind is not None:
            return self.entities(t.target_kind)
        return [str(v) for v in t.parameters["properties"][t.target].get("enum", [])]

    def schemas(self) -> list[dict[str, Any]]:
        """Function-calling descriptions for prompts; small entity lists become enums."""
        out = []
        for t in self.tools:
            params = copy.deepcopy(t.parameters)
            for prop in params.get("properties", {}).values():
                kind = prop.pop("x-entity", None)
                if kind is not None:
                    names = self.entities(kind)
                    if 0 < len(names) <= _SHOW_ENUM_UP_TO:
                        prop["enum"] = names
            out.append({"name": t.name, "description": t.description, "parameters": params})
        return out

    # -- calling -----------------------------------------------------------------------------
    def call(self, name: str, args: dict[str, Any] | None = None) -> ToolResult:
        """Validate and run one tool call, then advance the twin by its duration. Never raises."""
        return self.finish(self.begin(name, args))

    def begin(self, name: str, args: dict[str, Any] | None = None) -> PendingCall:
        """The first half of :meth:`call`: validate and run the tool, but leave the twin where it
        is. The twin is to reach ``pending.until`` (alone, or with others through
        ``twin.sim.twin.run_together``) before :meth:`finish`. Never raises."""
        t0 = self.now
        args = {} if args is None else args
        try:
            problem = self._check(name, args)
        except Exception as exc:  # noqa: BLE001 - a validator choking on odd input is still a bad call
            problem = (f"malformed call: {type(exc).__name__}: {exc}", None)
        if problem is not None:
            return self._failed(name, args, problem[0], problem[1], t0)
        tool = self.registry.get(name)
        try:
            data, summary = tool.func(_SANDBOX[self], dict(args))
        except Exception as exc:  # noqa: BLE001 - tools report failures; they never crash an agent loop
            return self._failed(name, args, f"{type(exc).__name__}: {exc}", None, t0)
        return PendingCall(name, dict(args), t0, t0 + float(tool.duration_s), tool.kind, data, summary)

    def finish(self, pending: PendingCall) -> ToolResult:
        """The second half of :meth:`call`: advance the twin to ``pending.until`` if it is not
        there yet, then record the result."""
        if self.now < pending.until:
            self._advance(pending.until - self.now)
        if pending.error is not None:
            result = ToolResult(False, pending.name, pending.args, {}, f"error: {pending.error}", error=pending.error,
                                allowed=pending.allowed, t_start=pending.t_start, t_end=self.now)
        else:
            result = ToolResult(True, pending.name, pending.args, pending.data, pending.summary,
                                t_start=pending.t_start, t_end=self.now)
        self.history.append(result)
        if result.ok and pending.kind == "mitigate":
            self.mitigations_applied.append(result)
        return result

    def _failed(self, name: Any, args: Any, error: str, allowed: list[str] | tuple[str, ...] | None,
                t0: float) -> PendingCall:
        shown_args = dict(args) if isinstance(args, dict) else {"_": repr(args)}
        return PendingCall(str(name), shown_args, t0, t0 + BAD_CALL_S, None, {}, "", error,
                           tuple(map(str, allowed)) if allowed is not None else None)

    def _advance(self, seconds: float) -> None:
        twin = _SANDBOX[self]
        twin.run(until=twin.now + float(seconds))

    def _check(self, name: Any, args: Any) -> tuple[str, list[str] | None] | None:
        """``None`` when the call is well formed, else ``(error, allowed values)``."""
        if not isinstance(name, str) or name not in self.registry:
            return f"unknown tool {name!r}", self.names()
        if not isinstance(args, dict) or not all(isinstance(k, str) for k in args):
            return f"{name}: arguments must be an object with string keys, got {type(args).__name__}", None
        tool = self.registry.get(name)
        props = tool.parameters.get("properties", {})
        err = self._schema_error(tool, args)
        if err is not None:
            return err
        for key, value in args.items():
            kind = props.get(key, {}).get("x-entity")
            if kind is None or self._is_known(kind, value):
                continue
            known = self.entities(kind)
            if value not in known:
                shown = known_list(known)
                return f"unknown {kind} {value!r} for {name}.{key} (known: {shown or 'none'})", known
        return None

    def _is_known(self, kind: str, value: Any) -> bool:
        """Whether ``value`` names an entity of ``kind``: a set per kind, made once (a twin's
        entities are fixed for its lifetime, bar change ids: the log grows, so never "known" here)."""
        if kind == "change":
            return False
        found = self._known.get(kind)
        if found is None:
            found = self._known[kind] = frozenset(self.entities(kind))
        try:
            return value in found
        except TypeError:  # an unhashable value names nothing
            return False

    def _schema_error(self, tool: Tool, args: dict[str, Any]) -> tuple[str, list[str] | None] | None:
        import jsonschema

        plain = _PLAIN.get(tool.name)
        if plain is None or plain[0] is not tool:
            plain = _PLAIN[tool.name] = (tool, _plain_schema(tool.parameters))
        if plain[1] is not None and _plainly_valid(plain[1], args):
            return None
        # compiled once per tool object and shared by every toolbox (episodes build many), with
        # the checks made so far: a pure function of the schema and the arguments
        entry = _VALIDATORS.get(id(tool))
        if entry is None or entry[0] is not tool:
            entry = _VALIDATORS[id(tool)] = (tool, jsonschema.Draft202012Validator(tool.parameters), {})
        _, validator, checked = entry
        key = _args_key(args)
        if key is not None and key in checked:
            return checked[key]
        found = self._schema_check(tool, validator, args)
        if key is not None:
            if len(checked) >= 4096:
                checked.clear()
            checked[key] = found
        return found

    @staticmethod
    def _schema_check(tool: Tool, validator: Any, args: dict[str, Any]) -> tuple[str, list[str] | None] | None:
        import jsonschema

        error = jsonschema.exceptions.best_match(validator.iter_errors(args))
        if error is None:
            return None
        props = tool.parameters.get("properties", {})
        where = ".".join(map(str, error.absolute_path)) or "arguments"
        if error.validator == "enum":
            return f"{tool.name}: {where}: {error.message}", [str(v) for v in error.validator_value]
        if error.validator in ("required", "additionalProperties"):
            return f"{tool.name}: {error.message}", list(props)
        return f"{tool.name}: {where}: {error.message}", None


_SCALARS = (str, int, float, bool, type(None))

# tool name -> (tool, its schema as _plain_schema reads it, or None where it cannot)
_PLAIN: dict[str, tuple[Tool, Any]] = {}
_PLAIN_KEYS = {"type", "properties", "required", "additionalProperties", "description", "title"}
_PLAIN_PROP_KEYS = {"type", "enum", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "pattern",
                    "description", "title", "default", "x-entity"}
_PLAIN_TYPES: dict[str, tuple[type, ...]] = {"string": (str,), "integer": (int,), "number": (int, float),
                                             "boolean": (bool,)}


def _plain_schema(schema: dict[str, Any]) -> tuple[dict[str, tuple], frozenset[str], bool] | None:
    """An object schema of flat scalar properties, read once for :func:`_plainly_valid`: per
    property (types, string enum, bounds, compiled pattern), the required names, and whether
    other names are allowed. None for a schema using anything else (jsonschema checks those)."""
    import re

    if set(schema) - _PLAIN_KEYS or schema.get("type") != "object":
        return None
    props: dict[str, tuple] = {}
    for name, prop in schema.get("properties", {}).items():
        if not isinstance(prop, dict) or set(prop) - _PLAIN_PROP_KEYS or prop.get("type") not in _PLAIN_TYPES:
            return None
        enum = prop.get("enum")
        if enum is not None and not all(type(v) is str for v in enum):
            return None
        bounds = [prop.get(k) for k in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum")]
        if not all(b is None or type(b) in (int, float) for b in bounds):
            return None
        pattern = re.compile(prop["pattern"]) if "pattern" in prop else None
        props[name] = (_PLAIN_TYPES[prop["type"]], frozenset(enum) if enum is not None else None, *bounds, pattern)
    extra = schema.get("additionalProperties", True)
    if extra not in (True, False):
        return None
    return props, frozenset(schema.get("required", ())), extra


def _plainly_valid(plain: tuple[dict[str, tuple], frozenset[str], bool], args: dict[str, Any]) -> bool:
    """True only where ``args`` is certainly valid against the schema :func:`_plain_schema` read
    (exact Python types, finite numbers); False sends the call to jsonschema, for the verdict
    and its message."""
    props, required, extra = plain
    if not required.issubset(args):
        return False
    for name, value in args.items():
        spec = props.get(name)
        if spec is None:
            if not extra:
                return False
            continue
        types, enum, lo, hi, xlo, xhi, pattern = spec
        if type(value) not in types:
            return False
        if enum is not None and value not in enum:
            return False
        if type(value) is float and not math.isfinite(value):
            return False
        if type(value) is not str and type(value) is not bool:
            if (lo is not None and value < lo) or (hi is not None and value > hi) \
                    or (xlo is not None and value <= xlo) or (xhi is not None and value >= xhi):
                return False
        if pattern is not None and (type(value) is not str or pattern.search(value) is None):
            return False
    return True


def _args_key(args: dict[str, Any]) -> tuple | None:
    """A hashable key for flat scalar arguments, types included (JSON Schema tells 1 from True
    and 1.0 from 1 where Python's equality does not); None for anything else."""
    out = []
    for k, v in args.items():
        if type(v) not in _SCALARS:
            return None
        out.append((k, type(v).__name__, v))
    return tuple(out)


def _key(c: Any) -> tuple[str, tuple[tuple[str, str], ...]] | None:
    if isinstance(c, dict) and "tool" in c:
        return str(c["tool"]), tuple(sorted((str(k), str(v)) for k, v in dict(c.get("args") or {}).items()))
    return None


def _in_order(items: list[Any], reports: list[Any]) -> list[Any]:
    """Reports in the order of the candidates asked about (the ranking sorts them)."""
    if len(reports) != len(items):
        raise ValueError(f"pre-check returned {len(reports)} reports for {len(items)} candidates")
    keyed = {_key(dict(r.mitigation)): r for r in reports}
    if len(keyed) == len(items) and all(_key(c) in keyed for c in items):
        return [keyed[_key(c)] for c in items]
    labels = {r.label: r for r in reports}
    if all(isinstance(c, str) and c in labels for c in items):
        return [labels[c] for c in items]
    raise ValueError("pre-check reports could not be matched to the candidates asked about")
