"""A twin's mutable state as plain data: arrays, dicts and numbers, nothing live.

Copying it is the whole cost of a fork (proportional to the size of the network, never to
elapsed time); SimPy processes are rebuilt from the wake times recorded here.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

__all__ = ["TwinState", "ChangeRecord", "FaultRecord"]


@dataclass
class ChangeRecord:
    id: str
    at: float
    kind: str
    target: str
    description: str
    status: str = "applied"  # applied | rolled_back


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


@dataclass
class TwinState:
    now: float
    rng: np.random.Generator
    seq: int = 0
    wake: dict[str, tuple[float, int]] = field(default_factory=dict)
    # network
    link_down: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # count of faults holding it down
    link_drained: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    link_loss: np.ndarray = field(default_factory=lambda: np.zeros(0))
    node_down: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    node_drained: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    node_blackhole: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))  # up, but drops what it forwards
    node_cpu: np.ndarray = field(default_factory=lambda: np.zeros(0))  # extra control-plane CPU load
    site_capacity: dict[str, float] = field(default_factory=dict)
    class_factor: np.ndarray = field(default_factory=lambda: np.ones(2))
    class_limit: np.ndarray = field(default_factory=lambda: np.ones(2))  # rate limit as a fraction of demand
    # control plane
    te_mode: str = "normal"  # normal | frozen
    te_plane_up: dict[str, bool] = field(default_factory=dict)  # the controller's view
    te_override: dict[str, bool] = field(default_factory=dict)
    te_class_plane: dict[str, str] = field(default_factory=dict)  # where the controller placed each class
    te_shift: dict[str, str] = field(default_factory=dict)  # operator-forced class placement
    te_bug: dict[str, int] = field(default_factory=dict)  # plane -> prefix-view threshold read as failure
    te_pending: bool = False
    prefix_views: dict[str, int] = field(default_factory=dict)
    attraction: dict[str, int] = field(default_factory=dict)  # plane -> router attracting all routes
    features_enabled: dict[str, bool] = field(default_factory=dict)
    defects: dict[str, tuple[str, float]] = field(default_factory=dict)  # feature -> (pattern, gbps threshold)
    changes: list[ChangeRecord] = field(default_factory=list)
    automation_halted: bool = False
    # services
    replicas: np.ndarray = field(default_factory=lambda: np.zeros(0))  # desired
    replicas_up: np.ndarray = field(default_factory=lambda: np.zeros(0))
    replicas_ready_at: list[tuple[float, int, float, bool]] = field(default_factory=list)  # (time, service, count, scale-out)
    crashloop: np.ndarray = field(default_factory=lambda: np.zeros(0))
    cpu_hog: np.ndarray = field(default_factory=lambda: np.zeros(0))
    memory_mb: np.ndarray = field(default_factory=lambda: np.zeros(0))
    leak_mb_per_s: np.ndarray = field(default_factory=lambda: np.zeros(0))
    injected_error: np.ndarray = field(default_factory=lambda: np.zeros(0))
    version: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    retry_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))  # per call edge
    retry_budget: np.ndarray = field(default_factory=lambda: np.zeros(0))  # extra attempts per request allowed
    entry_factor: np.ndarray = field(default_factory=lambda: np.zeros(0))
    entry_limit: np.ndarray = field(default_factory=lambda: np.zeros(0))  # max entry rps (inf = none)
    attempt_fail: np.ndarray = field(default_factory=lambda: np.zeros(0))
    # monitors and faults
    monitoring_down: set[str] = field(default_factory=set)
    fault_phase: dict[str, str] = field(default_factory=dict)  # pending | waiting | active | ended | mitigated
    fault_started: dict[str, float] = field(default_factory=dict)
    fault_data: dict[str, FaultRecord] = field(default_factory=dict)
    actions: list[dict[str, Any]] = field(default_factory=list)  # in flight and done
    health_fail: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    health_alarm: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=bool))
    # derived caches, replaced (never mutated) when they change: shared by forks
    routing: Any = None
    known_good: Any = None
    alerts_open: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    alert_pending: dict[str, np.ndarray] = field(default_factory=dict)
    last: dict[str, Any] = field(default_factory=dict)

    def copy(self) -> "TwinState":
        """An independent copy: arrays and containers copied, immutable caches shared."""
        out = copy.copy(self)
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("routing", "known_good", "last"):
                continue
            if isinstance(value, np.ndarray):
                setattr(out, f.name, value.copy())
            elif isinstance(value, np.random.Generator):
                setattr(out, f.name, copy.deepcopy(value))
            elif isinstance(value, (dict, list, set)):
                setattr(out, f.name, copy.deepcopy(value))
        out.last = dict(self.last)
        return out

    def size(self) -> int:
        """Elements held, a measure of a fork's cost (it must not grow with time)."""
        total = 0
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                total += value.size
            elif isinstance(value, (dict, list, set)):
                total += len(value)
        return total
