"""Faults in the services running on the network: crashes, CPU hogs, leaks, bad deploys,
retry storms.

Each names a service of the scenario's call graph; the service physics then turns the
changed capacity, error rate or retry behaviour into latency and errors. A fault that comes
with a deploy pushes a release carrying the defect (:mod:`twin.sim.releases`) and records the
deploy in the change log; rolling the deploy back runs the previous release again, and the
defect goes with the release it came in, not because anything looks the fault up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from pydantic import Field

from twin.faults.base import FaultKind, FaultParams
from twin.faults.registry import register_fault
from twin.sim.effects import Effects
from twin.sim.releases import deploy, withdraw

if TYPE_CHECKING:
    from twin.model.world import World

__all__ = ["ReplicaCrash", "CpuHog", "MemoryLeak", "BadDeploy", "RetryStorm", "LoadSurge"]

#: Seconds a crashed replica takes to come back.
RESTART_S = 60.0
#: A process cannot take a service's whole CPU: the service keeps at least this share.
MAX_HOG = 0.95


def service_index(world: World, name: str) -> int:
    """A service's index in the world's per-service arrays."""
    return world.callgraph.index()[name]


class _ServiceParams(FaultParams):
    service: str


@register_fault
class ReplicaCrash(FaultKind):
    """Replicas of a service crash: back after a minute, or (``crashloop``) crashing on; with
    ``deploy`` the crash loop is a build's (a release that crashes as it starts)."""

    name, layer, description = (
        "replica_crash",
        "services",
        "replicas of a service crash (params.count)",
    )
    references = {"service": "service"}

    class Params(_ServiceParams):
        count: float = Field(gt=0)
        crashloop: bool = False
        deploy: bool = False  # the crash loop came with a deploy (needs crashloop)

    @dataclass
    class Undo:
        change: str = ""  # the deploy that brought the crash loop

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        svc = service_index(world, params.service)
        count = min(float(params.count), float(state.services.replicas_up[svc]))
        if params.crashloop and params.deploy:
            rec = deploy(world.services, state, svc, now, crashloop=count)
            undo.change = rec.id
            fx.change(rec, fault_id=fault_id)
        elif params.crashloop:
            state.services.crashloop[svc] += count
        else:
            state.services.replicas_up[svc] -= count
            state.services.replicas_ready_at.append((now + RESTART_S, svc, count, False))
        fx.log(
            "health",
            params.service,
            f"{int(count)} replica(s) of {params.service} restarted unexpectedly",
        )
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        if params.crashloop and params.deploy:
            withdraw(state, service_index(world, params.service), undo.change)
        elif params.crashloop:
            svc = service_index(world, params.service)
            state.services.crashloop[svc] = max(0.0, state.services.crashloop[svc] - float(params.count))
        return Effects()


@register_fault
class CpuHog(FaultKind):
    """A process steals a share of every replica's CPU; with ``grow_per_min`` it takes more each
    minute (a runaway process), up to ``max_share``."""

    name, layer, description = (
        "cpu_hog",
        "services",
        "a process steals params.share of a service's CPU, growing by params.grow_per_min up to params.max_share",
    )
    references = {"service": "service"}

    class Params(_ServiceParams):
        share: float = Field(ge=0, le=1)
        grow_per_min: float = Field(default=0.0, ge=0, le=1)
        max_share: float | None = Field(default=None, ge=0, le=1)  # default: share (no growth)

    @dataclass
    class Undo:
        started: float = 0.0

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        svc = service_index(world, params.service)
        undo.started = now
        state.services.cpu_hog[svc] = min(MAX_HOG, state.services.cpu_hog[svc] + params.share)
        if params.grow_per_min > 0:
            state.services.cpu_hog_growth[svc] += params.grow_per_min / 60.0
            cap = params.share if params.max_share is None else params.max_share
            state.services.cpu_hog_cap[svc] = min(MAX_HOG, max(state.services.cpu_hog_cap[svc], cap))
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        svc = service_index(world, params.service)
        taken = params.share
        if params.grow_per_min > 0:
            cap = params.share if params.max_share is None else params.max_share
            taken = max(params.share, min(params.share + params.grow_per_min * (now - undo.started) / 60.0, cap))
            growth = state.services.cpu_hog_growth[svc] - params.grow_per_min / 60.0
            state.services.cpu_hog_growth[svc] = growth if growth > 1e-12 else 0.0
            if growth <= 1e-12:
                state.services.cpu_hog_cap[svc] = 0.0
        state.services.cpu_hog[svc] = max(0.0, state.services.cpu_hog[svc] - taken)
        return Effects()


@register_fault
class MemoryLeak(FaultKind):
    """Replicas leak memory until killed at their limit; ``deploy``: it came with a deploy."""

    name, layer, description = (
        "memory_leak",
        "services",
        "a service leaks params.mb_per_min per replica until it is killed at its limit",
    )
    references = {"service": "service"}

    class Params(_ServiceParams):
        mb_per_min: float = Field(gt=0)
        deploy: bool = True

    @dataclass
    class Undo:
        change: str = ""  # the deploy the leak came with

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        svc = service_index(world, params.service)
        if params.deploy:
            rec = deploy(world.services, state, svc, now, leak_mb_per_s=params.mb_per_min / 60.0)
            undo.change = rec.id
            fx.change(rec, fault_id=fault_id)
        else:
            state.services.leak_mb_per_s[svc] += params.mb_per_min / 60.0
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        svc = service_index(world, params.service)
        if params.deploy:
            withdraw(state, svc, undo.change)
        else:
            state.services.leak_mb_per_s[svc] = max(0.0, state.services.leak_mb_per_s[svc] - params.mb_per_min / 60.0)
        return Effects()

    def change_ids(self, fault_id, params) -> list[str]:
        return (
            [f"deploy-{params.service}-v2"] if params.deploy else []
        )  # the service's first deploy


@register_fault
class BadDeploy(FaultKind):
    """A deploy makes a service fail a fraction of requests (on top of errors it already had)."""

    name, layer, description = (
        "bad_deploy",
        "services",
        "a deploy makes a service fail params.error_rate of requests",
    )
    references = {"service": "service"}

    class Params(_ServiceParams):
        error_rate: float = Field(ge=0, le=1)
        version: str | None = None  # the deploy's label (default: v<n>)

    @dataclass
    class Undo:
        change: str = ""  # the deploy's change id

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        fx = Effects()
        svc = service_index(world, params.service)
        rec = deploy(world.services, state, svc, now, version=params.version, error_rate=params.error_rate)
        undo.change = rec.id
        fx.change(rec, fault_id=fault_id)
        return fx

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        withdraw(state, service_index(world, params.service), undo.change)
        return Effects()

    def change_ids(self, fault_id, params) -> list[str]:
        return [f"deploy-{params.service}-{params.version or 'v2'}"]


@register_fault
class RetryStorm(FaultKind):
    """A client change (a deploy or config push) makes the clients of a service retry
    ``factor`` times more and drops their retry budget. It injects no failures: a storm follows
    only if something makes their attempts fail (the queue and client model does the rest).
    No shipped scenario needs it; generators use it for "a deploy that removed the budget"."""

    name, layer, description = (
        "retry_storm",
        "services",
        "clients of a service retry params.factor times more, with no retry budget",
    )
    references = {"service": "service"}

    class Params(_ServiceParams):
        factor: float = Field(gt=0)

    @dataclass
    class Undo:
        budget: list[float] = field(
            default_factory=list
        )  # retry budgets of the calls into the service

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        into = world.call_dst == service_index(world, params.service)
        state.services.retry_factor[into] *= params.factor
        undo.budget = state.services.retry_budget[into].tolist()
        state.services.retry_budget[into] = np.inf
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        into = world.call_dst == service_index(world, params.service)
        state.services.retry_factor[into] /= params.factor
        state.services.retry_budget[into] = np.array(undo.budget)
        return Effects()


@register_fault
class LoadSurge(FaultKind):
    """Requests arriving at an entry service multiply."""

    name, layer, description = (
        "load_surge",
        "services",
        "requests at an entry service multiply by params.factor",
    )
    references = {"service": "service"}

    class Params(_ServiceParams):
        factor: float = Field(gt=0)

    def apply(self, world, state, now, fault_id, params, undo) -> Effects:
        state.services.entry_factor[service_index(world, params.service)] *= params.factor
        return Effects()

    def revert(self, world, state, now, fault_id, params, undo) -> Effects:
        state.services.entry_factor[service_index(world, params.service)] /= params.factor
        return Effects()
