"""A twin's mutable state as plain data: arrays, dicts and numbers, nothing live.

Copying it is the whole cost of a fork (proportional to the size of the network, never to
elapsed time); SimPy processes are rebuilt from the wake times recorded here.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields, is_dataclass
from typing import Any

import numpy as np

__all__ = ["TwinState", "NetworkState", "ControlState", "ServiceState", "FaultState", "AlertState", "ChangeRecord",
           "FaultRecord"]


@dataclass
class ChangeRecord:
    id: str
    at: float
    kind: str
    target: str
    description: str
    status: str = "applied"  # applied | rolled_back
    # the config lines the change pushed, as change management files them (never why it broke)
    config: tuple[str, ...] = ()


@dataclass
class FaultRecord:
    """What a twin remembers about one scheduled fault while it waits, runs and after it ends.

    ``undo`` is the fault kind's own ``Undo`` dataclass, filled when the fault is applied and
    read when it is reverted; ``deadline`` ends a cascade condition that never held;
    ``change`` is the change a fault rode in on (rolling that change back mitigates it).
    """

    undo: Any = None
    deadline: float = math.inf
    change: str | None = None


#: Values a copy may share: immutable, and nothing in the state edits them in place.
_ATOMS = frozenset({str, int, float, bool, type(None), bytes, np.float64, np.int64, np.bool_})


def clone(value: Any) -> Any:
    """A deep copy of plain state (arrays, dicts, lists, tuples, sets and atoms), several times
    faster than ``copy.deepcopy`` on the state's small containers; anything else (a router's
    config, a fault's undo record) goes through ``copy.deepcopy``. Unlike ``deepcopy`` it keeps
    no memo: one object reached twice inside ``value`` is copied twice (no part of the state
    holds one object in two places and edits it through both)."""
    kind = type(value)
    if kind in _ATOMS:
        return value
    if kind is np.ndarray:
        return value.copy()
    if kind is dict:
        return {k: clone(v) for k, v in value.items()}
    if kind is list:
        return [clone(v) for v in value]
    if kind is tuple:
        return tuple([clone(v) for v in value])
    if kind is set:
        return {clone(v) for v in value}
    if kind is np.random.Generator:
        return copy_rng(value)
    names = _dataclass_fields(kind)
    if names is not None:  # a record: its fields cloned; a frozen one of atoms is shared
        values = [getattr(value, n) for n in names]
        cloned = [clone(v) for v in values]
        frozen = kind.__dataclass_params__.frozen  # type: ignore[attr-defined]
        if frozen and all(a is b for a, b in zip(values, cloned)):
            return value
        out = copy.copy(value)
        for n, v in zip(names, cloned):
            object.__setattr__(out, n, v)
        return out
    return copy.deepcopy(value)


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _dataclass_fields(kind: type) -> tuple[str, ...] | None:
    """A dataclass type's field names (kept per type), or ``None`` for any other type."""
    try:
        return _FIELDS[kind]
    except KeyError:
        names = tuple(f.name for f in fields(kind)) if is_dataclass(kind) else None
        _FIELDS[kind] = names
        return names


def copy_rng(rng: np.random.Generator) -> np.random.Generator:
    """An independent generator that draws what ``rng`` would draw next (its bit generator's
    state copied; a third of ``copy.deepcopy``'s cost)."""
    bits = rng.bit_generator
    other = type(bits)()
    other.state = bits.state
    return np.random.Generator(other)


def _empty(dtype: Any = float) -> Any:
    return field(default_factory=lambda: np.zeros(0, dtype=dtype))


class _Part:
    """Copy and size for a part of the state: arrays and containers copied, caches shared."""

    SHARED: tuple[str, ...] = ()  # replaced (never mutated) when they change: forks share them

    def copy(self):  # noqa: ANN201 - returns its own type
        out = copy.copy(self)
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if f.name in self.SHARED:
                continue
            if isinstance(value, np.ndarray):
                setattr(out, f.name, value.copy())
            elif isinstance(value, (dict, list, set)):
                setattr(out, f.name, clone(value))
        return out

    def size(self) -> int:
        total = 0
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                total += value.size
            elif isinstance(value, (dict, list, set)):
                total += len(value)
        return total


@dataclass
class NetworkState(_Part):
    """Links, devices and edge limits as they are. Invariants: ``link_down`` and ``node_down``
    count the faults (and IGP adjacency resets) holding an element down (>= 0; up iff 0); ``routing`` is a cache of the
    forwarding built from this state, ``None`` whenever something it depends on changed;
    ``link_routed`` is what the installed forwarding tables believe, which lags ``link_down``
    by the IGP's timers (traffic sent into a dead link meanwhile is lost)."""

    SHARED = ("routing", "routing_built", "routing_pool")
    link_down: np.ndarray = _empty(np.int64)
    link_drained: np.ndarray = _empty(bool)
    link_loss: np.ndarray = _empty()  # the link's own loss (corruption), 0..1
    node_down: np.ndarray = _empty(np.int64)
    node_drained: np.ndarray = _empty(bool)
    node_blackhole: np.ndarray = _empty(bool)  # up, but drops what it forwards
    node_cpu: np.ndarray = _empty()  # extra control-plane CPU load
    site_capacity: dict[str, float] = field(default_factory=dict)  # site -> share of capacity left
    class_factor: np.ndarray = field(default_factory=lambda: np.ones(2))  # demand multiplier per class
    automation_factor: np.ndarray = field(default_factory=lambda: np.ones(2))  # load automation drives, per class
    class_limit: np.ndarray = field(default_factory=lambda: np.ones(2))  # admitted share of demand per class
    class_resolvable: np.ndarray = field(default_factory=lambda: np.ones(2))  # per class: 0 while its names do not resolve
    retry_amp: np.ndarray = _empty()  # per (pair, class): attempts per request its clients send (empty: no retries)
    routing: Any = None
    routing_built: tuple = ()  # the last routings built, as ((FIB view, placement, config version), routing)
    routing_pool: Any = None  # twin.sim.network.RoutingPool, made on the first build: one per lineage (forks share it)
    config_version: int = 0  # bumped by every config edit
    # configuration state of every WAN router (twin.physics.configs.RouterConfig), and what each
    # change replaced: change id -> the touched routers' configs before it (None: router had none)
    configs: dict[str, Any] = field(default_factory=dict)
    config_before: dict[str, dict[str, Any]] = field(default_factory=dict)
    # the IGP (twin.sim.igp): links as routers last sensed them, as the installed FIBs route
    # them, the installs in flight (time, link, kind), SPF throttle and flap damping
    link_sensed: np.ndarray = _empty(bool)
    link_physical: np.ndarray = _empty(bool)
    link_routed: np.ndarray = _empty(bool)
    igp_events: list[tuple[float, int, str]] = field(default_factory=list)
    igp_seed: int = 0
    igp_draws: int = 0
    spf_wait: float = 0.0  # the SPF throttle's current wait
    spf_last: float = -1e18  # when the last SPF was triggered
    flap_penalty: np.ndarray = _empty()
    flap_updated: np.ndarray = _empty()  # when each penalty was last decayed
    flap_suppressed: np.ndarray = _empty(bool)
    spf_times: dict[str, list[float]] = field(default_factory=dict)  # plane -> recent SPF runs (recompute load)
    igp_cpu: dict[str, float] = field(default_factory=dict)  # plane -> CPU share its routers spend recomputing
    route_cpu: np.ndarray = _empty()  # per node: CPU share spent on the routes it re-announces


@dataclass
class ControlState(_Part):
    """The control plane: the TE controller's view and placement, configuration and change log,
    health checks. Invariants: ``te_class_plane`` names a plane for every traffic class;
    ``known_good`` is the last placement made while every plane looked up (shared, replaced)."""

    SHARED = ("known_good",)
    te_mode: str = "normal"  # normal | frozen
    te_plane_up: dict[str, bool] = field(default_factory=dict)  # the controller's view
    te_override: dict[str, bool] = field(default_factory=dict)
    te_class_plane: dict[str, str] = field(default_factory=dict)  # where the controller placed each class
    te_shift: dict[str, str] = field(default_factory=dict)  # operator-forced class placement
    te_pending: bool = False
    prefix_views: dict[str, int] = field(default_factory=dict)  # plane -> clusters announcing it inconsistently
    features_enabled: dict[str, bool] = field(default_factory=dict)
    defects: dict[str, tuple[str, float]] = field(default_factory=dict)  # feature -> (pattern, gbps threshold)
    changes: list[ChangeRecord] = field(default_factory=list)
    automation_halted: bool = False
    health_fail: np.ndarray = _empty(np.int64)  # consecutive failed checks per device
    health_alarm: np.ndarray = _empty(bool)
    dns_failed: dict[str, int] = field(default_factory=dict)  # POP -> DNS health checks failed in a row
    dns_passed: dict[str, int] = field(default_factory=dict)  # POP -> DNS health checks passed in a row
    dns_announced: dict[str, bool] = field(default_factory=dict)  # POP -> announcing its anycast prefix
    known_good: Any = None


@dataclass(frozen=True)
class Release:
    """A service's deployed build and what it does when it runs (nothing, for a good build)."""

    change: str  # the deploy's change id ("" for the build running at the start)
    label: str
    error_rate: float = 0.0  # share of requests it fails
    leak_mb_per_s: float = 0.0  # memory each replica leaks
    crashloop: float = 0.0  # replicas that crash as they start


@dataclass
class ServiceState(_Part):
    """Services and their clients. Invariants: ``replicas_up <= replicas`` except while a scale-in
    lands; per-call-edge arrays (``retry_*``, ``attempt_*``, ``breaker*``, ``fail_ratio``) align with
    the world's call edges; ``backlog`` never exceeds the services' queue limits."""

    replicas: np.ndarray = _empty()  # desired
    replicas_up: np.ndarray = _empty()
    replicas_ready_at: list[tuple[float, int, float, bool]] = field(default_factory=list)  # (time, service, count, scale-out)
    crashloop: np.ndarray = _empty()
    cpu_hog: np.ndarray = _empty()
    memory_mb: np.ndarray = _empty()
    leak_mb_per_s: np.ndarray = _empty()
    injected_error: np.ndarray = _empty()
    version: np.ndarray = _empty(np.int64)  # position of the running release in ``releases``
    releases: list[list[Release]] = field(default_factory=list)  # per service, oldest first (twin.sim.releases)
    release_error: np.ndarray = _empty()  # what the running release does (twin.sim.releases)
    release_leak: np.ndarray = _empty()
    release_crashloop: np.ndarray = _empty()
    cpu_hog_growth: np.ndarray = _empty()  # share of CPU a hog adds per second
    cpu_hog_cap: np.ndarray = _empty()  # the share a growing hog stops at
    retry_factor: np.ndarray = _empty()  # per call edge
    retry_budget: np.ndarray = _empty()  # retries per request allowed, per call edge (inf: none)
    entry_factor: np.ndarray = _empty()
    entry_limit: np.ndarray = _empty()  # max entry rps (inf = none)
    # carried by the queue and client model from tick to tick (twin.physics.services.Carried)
    backlog: np.ndarray = _empty()  # per service: requests queued
    attempt_fail: np.ndarray = _empty()  # per call edge, as below
    attempt_ms: np.ndarray = _empty()
    fail_ratio: np.ndarray = _empty()
    breaker: np.ndarray = _empty(np.int64)
    breaker_until: np.ndarray = _empty()
    served_rps: np.ndarray = _empty()  # per service: last tick's solution (where the next starts)
    latency_ms: np.ndarray = _empty()
    latency_var: np.ndarray = _empty()
    error: np.ndarray = _empty()


@dataclass
class FaultState(_Part):
    """The sandbox's scheduled faults (never shown to agents). Invariant: every scheduled fault
    has a phase, one of pending | waiting | active | ended | mitigated; ``started`` holds the
    ones that became active."""

    phase: dict[str, str] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    records: dict[str, FaultRecord] = field(default_factory=dict)


@dataclass
class AlertState(_Part):
    """Monitors' memory. Invariant: ``open`` holds exactly the alerts whose condition held for
    its rule's ``for`` and has not cleared; ``pending`` the seconds each condition has held."""

    open: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, np.ndarray] = field(default_factory=dict)
    monitoring_down: set[str] = field(default_factory=set)  # scopes whose monitors report nothing
    # sampling monitors (twin.sim.monitors): cumulative counters per entity kind, their value and
    # time at each entity's last good read, samples in flight to the collector, the samples
    # visible now, and the next sampling time per kind; ``rng`` draws noise and lost samples
    # only (physics draws stay on the twin's own generator)
    counters: dict[str, np.ndarray] = field(default_factory=dict)
    last_read: dict[str, np.ndarray] = field(default_factory=dict)
    in_flight: list[tuple[float, str, float, np.ndarray]] = field(default_factory=list)
    visible: dict[str, tuple[float, np.ndarray]] = field(default_factory=dict)
    next_sample: dict[str, float] = field(default_factory=dict)
    # per entity kind: when the sample last evaluated was measured, if it had nothing past a
    # threshold and no alert open (evaluating that sample again changes nothing)
    quiet: dict[str, float] = field(default_factory=dict)
    rng: np.random.Generator | None = None

    def copy(self) -> "AlertState":
        out = super().copy()
        out.rng = None if self.rng is None else copy_rng(self.rng)
        return out


@dataclass
class TwinState:
    """All of a twin's mutable state, in named parts; ``wake`` holds each timer's next wake time
    and scheduling sequence (processes are rebuilt from it on a fork)."""

    now: float
    rng: np.random.Generator
    seq: int = 0
    wake: dict[str, tuple[float, int]] = field(default_factory=dict)
    network: NetworkState = field(default_factory=NetworkState)
    control: ControlState = field(default_factory=ControlState)
    services: ServiceState = field(default_factory=ServiceState)
    faults: FaultState = field(default_factory=FaultState)
    alerts: AlertState = field(default_factory=AlertState)
    actions: list[dict[str, Any]] = field(default_factory=list)  # operator actions in flight and done
    last: dict[str, Any] = field(default_factory=dict)  # last tick's derived values (shared, replaced)

    PARTS = ("network", "control", "services", "faults", "alerts")

    def copy(self) -> "TwinState":
        """An independent copy: arrays and containers copied, immutable caches shared."""
        out = copy.copy(self)
        out.rng = copy_rng(self.rng)
        out.wake = dict(self.wake)
        out.actions = clone(self.actions)
        out.last = dict(self.last)
        for name in self.PARTS:
            setattr(out, name, getattr(self, name).copy())
        return out

    def size(self) -> int:
        """Elements held, a measure of a fork's cost (it must not grow with time)."""
        return len(self.wake) + len(self.actions) + sum(getattr(self, n).size() for n in self.PARTS)
