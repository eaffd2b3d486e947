"""Deploys as state: each service runs one release out of the stack it was deployed through.

A release carries what its build does when it runs: an error rate on requests, a memory leak,
replicas that crash as they start. A deploy pushes a release (and returns its change record);
a rollback pops the running one, so the previous release runs again and its behaviour, not a
fault's, is what the service physics sees next tick. A good build carries no defects, so
rolling back a healthy deploy changes nothing.

>>> import numpy as np
>>> from twin.sim.state import TwinState
>>> st = TwinState(now=0.0, rng=np.random.default_rng(0))
>>> start_releases(st, 2)
>>> rec = deploy(("cart", "pay"), st, 1, 60.0, error_rate=0.3)
>>> rec.id, float(st.services.release_error[1])
('deploy-pay-v2', 0.3)
>>> rollback(st, 1).label, float(st.services.release_error[1])
('v2', 0.0)
>>> rollback(st, 1) is None  # the build running at the start stays
True
"""

from __future__ import annotations

import numpy as np

from twin.sim.state import ChangeRecord, Release, TwinState

__all__ = ["deploy", "rollback", "start_releases", "withdraw"]


def start_releases(state: TwinState, n_services: int) -> None:
    """Every service runs its initial build (v1), which carries no defects."""
    svc = state.services
    svc.releases = [[Release("", "v1")] for _ in range(n_services)]
    svc.version = np.ones(n_services, dtype=np.int64)
    svc.release_error = np.zeros(n_services)
    svc.release_leak = np.zeros(n_services)
    svc.release_crashloop = np.zeros(n_services)


def _run_top(state: TwinState, i: int) -> None:
    svc = state.services
    top = svc.releases[i][-1]
    svc.release_error[i] = top.error_rate
    svc.release_leak[i] = top.leak_mb_per_s
    svc.release_crashloop[i] = top.crashloop
    svc.version[i] = len(svc.releases[i])


def deploy(services: tuple[str, ...], state: TwinState, i: int, now: float, version: str | None = None,
           error_rate: float = 0.0, leak_mb_per_s: float = 0.0, crashloop: float = 0.0) -> ChangeRecord:
    """Push a release of service ``i``; it runs from now on. Returns the deploy's change record."""
    stack = state.services.releases[i]
    name = services[i]
    label = version or f"v{len(stack) + 1}"
    change = f"deploy-{name}-{label}"
    stack.append(Release(change, label, float(error_rate), float(leak_mb_per_s), float(crashloop)))
    _run_top(state, i)
    return ChangeRecord(change, now, "deploy", name, f"deploy {name} {label}")


def rollback(state: TwinState, i: int) -> Release | None:
    """Pop service ``i``'s running release (the previous one runs again); None when only the
    initial build is left."""
    stack = state.services.releases[i]
    if len(stack) <= 1:
        return None
    gone = stack.pop()
    _run_top(state, i)
    return gone


def withdraw(state: TwinState, i: int, change: str) -> None:
    """Take the release that ``change`` deployed out of service ``i``'s stack, wherever it is (a
    scheduled fault that ends); nothing if a rollback already removed it."""
    stack = state.services.releases[i]
    kept = [r for r in stack if not r.change or r.change != change]
    if len(kept) != len(stack):
        stack[:] = kept
        _run_top(state, i)
