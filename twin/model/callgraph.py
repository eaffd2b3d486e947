"""Service call graphs: the microservice DAGs the twin simulates, built in or generated.

Three built-in graphs follow public benchmarks (DeathStarBench Hotel Reservation, Sock Shop,
Train-Ticket); ``generate_callgraph`` draws graphs shaped like Alibaba's production traces
(Luo et al., SoCC'21): mostly trees, heavy-tailed fan-out, shallow, shared stateful leaves.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields, replace
from functools import cache
from typing import Any

import networkx as nx
import numpy as np

__all__ = [
    "BUILTIN_CALLGRAPHS",
    "CLIENT_FIELDS",
    "DEFAULT_RETRY_BUDGET",
    "SERVICE_KINDS",
    "Call",
    "CallGraph",
    "Service",
    "builtin_callgraph",
    "callgraph_from_dict",
    "generate_callgraph",
    "with_client_policies",
]

#: Retries a client may spend per request by default (a 20% retry budget, as gRPC's default
#: retry throttling and Finagle's RetryBudget allow about that much).
DEFAULT_RETRY_BUDGET = 0.2
#: Client-policy fields of a call edge (scenarios override them in ``services.clients``).
CLIENT_FIELDS: tuple[str, ...] = ("timeout_ms", "retries", "backoff_ms", "retry_budget", "breaker_threshold",
                                  "breaker_window_s", "breaker_cooldown_s", "max_inflight")

SERVICE_KINDS: tuple[str, ...] = ("app", "db", "cache", "queue", "gateway")
BUILTIN_CALLGRAPHS: tuple[str, ...] = ("hotel-reservation", "sock-shop", "train-ticket")


@dataclass(frozen=True)
class Service:
    """One deployable service and its per-replica capacity."""

    name: str
    replicas: int  # initial replicas
    capacity_rps: float  # requests/s one replica serves at 100% CPU
    service_time_ms: float  # mean own processing time at low load, excluding downstream calls
    min_replicas: int = 1
    max_replicas: int = 20
    autoscale: bool = False
    memory_limit_mb: float = 1024.0
    kind: str = "app"  # "app" | "db" | "cache" | "queue" | "gateway"
    queue_limit: int = 1000  # requests one replica queues before it rejects (accept queue + workers)


@dataclass(frozen=True)
class Call:
    """A caller -> callee dependency: each caller request makes ``fanout`` calls on average."""

    caller: str
    callee: str
    fanout: float = 1.0  # mean calls to callee per caller request
    timeout_ms: float = 500.0
    retries: int = 0  # retry attempts on error/timeout
    # the client's policy beyond timeout and retries (defaults: a gRPC-like client)
    backoff_ms: float = 25.0  # first retry's backoff; it doubles per retry
    retry_budget: float = DEFAULT_RETRY_BUDGET  # retries per request allowed (inf: no budget)
    breaker_threshold: float = math.inf  # failure ratio that opens a circuit breaker (inf: none)
    breaker_window_s: float = 30.0
    breaker_cooldown_s: float = 30.0
    max_inflight: float = math.inf  # concurrent attempts allowed (inf: no limit)


@dataclass(frozen=True)
class CallGraph:
    """Services, the calls between them and the entry points that receive outside load."""

    name: str
    services: tuple[Service, ...]
    calls: tuple[Call, ...]
    entries: tuple[tuple[str, float], ...]  # (entry service name, base workload rps)

    def index(self) -> dict[str, int]:
        """Service name -> position in ``services``."""
        return {s.name: i for i, s in enumerate(self.services)}

    def graph(self) -> nx.DiGraph:
        """Directed graph: nodes carry ``service``, edges caller -> callee carry ``call``."""
        g = nx.DiGraph(name=self.name)
        for s in self.services:
            g.add_node(s.name, service=s)
        for i, c in enumerate(self.calls):
            for role, who in (("caller", c.caller), ("callee", c.callee)):
                if who not in g:
                    label = f"calls[{i}] ({c.caller} -> {c.callee})"
                    raise ValueError(self._unknown(label, role, who))
            g.add_edge(c.caller, c.callee, call=c)
        return g

    def order(self) -> list[int]:
        """Service positions in topological order, callers before callees.

        Ties follow the order of ``services`` so the result is stable.
        """
        g = self.graph()
        pos = self.index()
        try:
            names = list(nx.lexicographical_topological_sort(g, key=pos.__getitem__))
        except nx.NetworkXUnfeasible:
            cycle = [u for u, _ in nx.find_cycle(g)]
            path = " -> ".join([*cycle, cycle[0]])
            raise ValueError(
                f"call graph {self.name!r} has a cycle: {path}; calls must form a DAG "
                "(remove or reverse one of these calls)"
            ) from None
        return [pos[n] for n in names]

    def validate(self) -> None:
        """Raise ValueError naming the first bad service, call or entry."""
        where = f"call graph {self.name!r}"
        if not self.services:
            raise ValueError(f"{where} has no services; give at least one")
        counts = Counter(s.name for s in self.services)
        for i, s in enumerate(self.services):
            if not isinstance(s.name, str) or not s.name:
                raise ValueError(
                    f"{where}: services[{i}] has name {s.name!r}; need a non-empty string"
                )
            if counts[s.name] > 1:
                at = [j for j, t in enumerate(self.services) if t.name == s.name]
                raise ValueError(
                    f"{where}: service name {s.name!r} appears {counts[s.name]} times "
                    f"(services{at}); names must be unique"
                )
            _check_service(where, s)
        known = self.index()
        seen: dict[tuple[str, str], int] = {}
        for i, c in enumerate(self.calls):
            label = f"calls[{i}] ({c.caller} -> {c.callee})"
            for role, who in (("caller", c.caller), ("callee", c.callee)):
                if who not in known:
                    raise ValueError(self._unknown(label, role, who))
            if (c.caller, c.callee) in seen:
                raise ValueError(
                    f"{where}: {label} repeats calls[{seen[c.caller, c.callee]}]; "
                    "give each caller -> callee pair once (fanout sets the call rate)"
                )
            seen[c.caller, c.callee] = i
            if not _finite(c.fanout) or c.fanout <= 0:
                raise ValueError(f"{where}: {label} has fanout {c.fanout!r}; allowed: a number > 0")
            if not _finite(c.timeout_ms) or c.timeout_ms <= 0:
                raise ValueError(
                    f"{where}: {label} has timeout_ms {c.timeout_ms!r}; allowed: a number > 0"
                )
            if not _is_int(c.retries) or c.retries < 0:
                raise ValueError(
                    f"{where}: {label} has retries {c.retries!r}; allowed: an integer >= 0"
                )
            _check_client(f"{where}: {label}", c)
        if not self.entries:
            raise ValueError(f"{where} has no entries; give at least one (service, rps) pair")
        entry_seen: set[str] = set()
        for i, entry in enumerate(self.entries):
            if len(entry) != 2:
                raise ValueError(f"{where}: entries[{i}] is {entry!r}; expected (service, rps)")
            svc, rps = entry
            if svc not in known:
                raise ValueError(
                    f"{where}: entries[{i}] names unknown service {svc!r}; "
                    f"known services: {', '.join(known)}"
                )
            if svc in entry_seen:
                raise ValueError(f"{where}: entries[{i}] repeats entry service {svc!r}")
            entry_seen.add(svc)
            if not _finite(rps) or rps < 0:
                raise ValueError(
                    f"{where}: entries[{i}] ({svc}) has rps {rps!r}; allowed: a number >= 0"
                )
        self.order()

    def _unknown(self, label: str, role: str, who: str) -> str:
        known = ", ".join(s.name for s in self.services)
        return (
            f"call graph {self.name!r}: {label} names unknown {role} {who!r}; "
            f"known services: {known}"
        )


def with_client_policies(cg: CallGraph, policies: Sequence[tuple[str | None, str | None, Mapping[str, float]]],
                         queue_limits: Mapping[str, int] | None = None) -> CallGraph:
    """The graph with client policies overridden on the calls each ``(caller, callee, fields)``
    matches (None matches any), in order, and services' per-replica queue limits replaced.

    Raises ValueError naming ``policies[i]`` or the service when a name is unknown or a policy
    matches no call.
    """
    known = cg.index()
    calls = list(cg.calls)
    for i, (caller, callee, values) in enumerate(policies):
        for role, who in (("caller", caller), ("callee", callee)):
            if who is not None and who not in known:
                raise ValueError(f"policies[{i}].{role}: unknown service {who!r}; known services: {', '.join(known)}")
        bad = [k for k in values if k not in CLIENT_FIELDS]
        if bad:
            raise ValueError(f"policies[{i}]: unknown field {bad[0]!r}; allowed: {', '.join(CLIENT_FIELDS)}")
        hits = [j for j, c in enumerate(calls) if caller in (None, c.caller) and callee in (None, c.callee)]
        if not hits:
            raise ValueError(f"policies[{i}]: no call {caller or '*'} -> {callee or '*'} in call graph {cg.name!r}")
        for j in hits:
            fixed = {k: int(v) if k == "retries" else float(v) for k, v in values.items()}
            calls[j] = replace(calls[j], **fixed)
    services = list(cg.services)
    for name, limit in (queue_limits or {}).items():
        if name not in known:
            raise ValueError(f"queue_limit.{name}: unknown service; known services: {', '.join(known)}")
        services[known[name]] = replace(services[known[name]], queue_limit=int(limit))
    out = CallGraph(cg.name, tuple(services), tuple(calls), cg.entries)
    out.validate()
    return out


def _is_int(x: object) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _finite(x: object) -> bool:
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool) and math.isfinite(x)


def _check_client(label: str, c: Call) -> None:
    for attr in ("backoff_ms", "retry_budget", "breaker_window_s", "breaker_cooldown_s"):
        v = getattr(c, attr)
        if not isinstance(v, (int, float, np.number)) or isinstance(v, bool) or math.isnan(v) or v < 0:
            raise ValueError(f"{label} has {attr} {v!r}; allowed: a number >= 0 (.inf: no limit)")
    for attr in ("breaker_threshold", "max_inflight"):
        v = getattr(c, attr)
        if not isinstance(v, (int, float, np.number)) or isinstance(v, bool) or math.isnan(v) or v <= 0:
            raise ValueError(f"{label} has {attr} {v!r}; allowed: a number > 0 (.inf: none)")


def _check_service(where: str, s: Service) -> None:
    label = f"{where}: service {s.name!r}"
    for attr in ("replicas", "min_replicas", "max_replicas", "queue_limit"):
        v = getattr(s, attr)
        if not _is_int(v) or v < 0:
            raise ValueError(f"{label} has {attr} {v!r}; allowed: an integer >= 0")
    if s.max_replicas < 1 or not s.min_replicas <= s.replicas <= s.max_replicas:
        raise ValueError(
            f"{label} has min_replicas={s.min_replicas}, replicas={s.replicas}, "
            f"max_replicas={s.max_replicas}; need min_replicas <= replicas <= max_replicas, "
            "max_replicas >= 1"
        )
    for attr in ("capacity_rps", "service_time_ms", "memory_limit_mb"):
        v = getattr(s, attr)
        if not _finite(v) or v <= 0:
            raise ValueError(f"{label} has {attr} {v!r}; allowed: a number > 0")
    if not isinstance(s.autoscale, bool):
        raise ValueError(f"{label} has autoscale {s.autoscale!r}; allowed: true or false")
    if s.kind not in SERVICE_KINDS:
        raise ValueError(f"{label} has kind {s.kind!r}; allowed: {', '.join(SERVICE_KINDS)}")


def _base_load(cg: CallGraph) -> list[float]:
    """Requests/s reaching each service at base load: load(callee) += load(caller) * fanout."""
    pos = cg.index()
    load = [0.0] * len(cg.services)
    for svc, rps in cg.entries:
        load[pos[svc]] += rps
    out: dict[str, list[Call]] = {}
    for c in cg.calls:
        out.setdefault(c.caller, []).append(c)
    for i in cg.order():
        for c in out.get(cg.services[i].name, ()):
            load[pos[c.callee]] += load[i] * c.fanout
    return load


# ---- built-in graphs -------------------------------------------------------------------------
# Capacities were sized so every service runs at 30-60% CPU at the base entry rate.

# rows: name, replicas, capacity_rps, service_time_ms, kind, memory_limit_mb
_SvcRow = tuple[str, int, int, float, str, int]
# rows: caller, callee, fanout, timeout_ms, retries
_CallRow = tuple[str, str, float, int, int]

_HOTEL_SERVICES: tuple[_SvcRow, ...] = (
    ("frontend", 3, 1500, 2.0, "gateway", 512),
    ("search", 3, 950, 4.0, "app", 512),
    ("geo", 3, 1050, 3.0, "app", 512),
    ("rate", 2, 1150, 3.5, "app", 512),
    ("profile", 3, 1450, 3.0, "app", 512),
    ("recommendation", 2, 650, 5.0, "app", 512),
    ("user", 3, 350, 2.5, "app", 256),
    ("reservation", 2, 1350, 6.0, "app", 512),
    ("memcached-rate", 2, 3450, 0.3, "cache", 1024),
    ("memcached-profile", 2, 6450, 0.3, "cache", 1024),
    ("memcached-reserve", 2, 5550, 0.3, "cache", 1024),
    ("mongodb", 2, 2750, 2.5, "db", 4096),
)
_HOTEL_CALLS: tuple[_CallRow, ...] = (
    ("frontend", "search", 0.6, 800, 1),
    ("frontend", "profile", 0.9, 500, 1),
    ("frontend", "recommendation", 0.3, 500, 1),
    ("frontend", "user", 0.2, 300, 1),
    ("frontend", "reservation", 0.7, 800, 0),
    ("search", "geo", 1.0, 200, 2),
    ("search", "rate", 1.0, 200, 2),
    ("geo", "mongodb", 0.1, 150, 1),
    ("rate", "memcached-rate", 3.0, 100, 1),
    ("rate", "mongodb", 0.2, 150, 1),
    ("profile", "memcached-profile", 3.0, 100, 1),
    ("profile", "mongodb", 0.3, 150, 1),
    ("recommendation", "mongodb", 1.0, 150, 1),
    ("user", "mongodb", 1.0, 150, 1),
    ("reservation", "memcached-reserve", 3.0, 100, 1),
    ("reservation", "mongodb", 0.4, 300, 0),
)

_SOCK_SERVICES: tuple[_SvcRow, ...] = (
    ("front-end", 3, 1600, 3.0, "gateway", 1024),
    ("session-db", 2, 2100, 0.4, "cache", 512),
    ("catalogue", 2, 1250, 4.0, "app", 256),
    ("catalogue-db", 2, 1350, 2.0, "db", 2048),
    ("carts", 2, 950, 8.0, "app", 1024),
    ("carts-db", 2, 1800, 2.5, "db", 2048),
    ("orders", 2, 350, 12.0, "app", 1024),
    ("orders-db", 2, 950, 3.0, "db", 2048),
    ("payment", 2, 300, 5.0, "app", 256),
    ("shipping", 2, 350, 6.0, "app", 512),
    ("rabbitmq", 2, 650, 0.8, "queue", 1024),
    ("queue-master", 2, 400, 10.0, "app", 512),
    ("user", 2, 1700, 4.0, "app", 256),
    ("user-db", 2, 1450, 2.0, "db", 2048),
)
_SOCK_CALLS: tuple[_CallRow, ...] = (
    ("front-end", "session-db", 1.0, 100, 1),
    ("front-end", "catalogue", 0.6, 500, 1),
    ("front-end", "carts", 0.35, 500, 1),
    ("front-end", "user", 0.2, 500, 1),
    ("front-end", "orders", 0.15, 1000, 0),
    ("catalogue", "catalogue-db", 1.0, 300, 1),
    ("carts", "carts-db", 1.5, 300, 1),
    ("orders", "user", 3.0, 300, 2),
    ("orders", "carts", 1.0, 300, 2),
    ("orders", "payment", 1.0, 500, 0),
    ("orders", "shipping", 1.0, 500, 1),
    ("orders", "orders-db", 3.0, 300, 1),
    ("user", "user-db", 1.0, 200, 1),
    ("shipping", "rabbitmq", 2.0, 200, 3),
    ("rabbitmq", "queue-master", 0.5, 1000, 0),
)

_TRAIN_SERVICES: tuple[_SvcRow, ...] = (
    ("ts-ui-dashboard", 4, 1800, 2.0, "gateway", 512),
    ("ts-auth-service", 2, 250, 8.0, "app", 1024),
    ("ts-user-service", 2, 750, 5.0, "app", 1024),
    ("ts-verification-code-service", 2, 450, 3.0, "app", 512),
    ("ts-travel-service", 2, 1850, 12.0, "app", 1024),
    ("ts-travel2-service", 2, 650, 12.0, "app", 1024),
    ("ts-travel-plan-service", 2, 200, 15.0, "app", 1024),
    ("ts-route-plan-service", 2, 200, 10.0, "app", 1024),
    ("ts-ticketinfo-service", 3, 2000, 4.0, "app", 512),
    ("ts-basic-service", 3, 1500, 6.0, "app", 1024),
    ("ts-station-service", 4, 2000, 2.0, "app", 512),
    ("ts-train-service", 4, 1600, 2.0, "app", 512),
    ("ts-route-service", 4, 2000, 3.0, "app", 512),
    ("ts-price-service", 3, 1600, 2.0, "app", 512),
    ("ts-config-service", 4, 1450, 1.5, "app", 512),
    ("ts-seat-service", 4, 1550, 8.0, "app", 1024),
    ("ts-order-service", 4, 1950, 6.0, "app", 1024),
    ("ts-order-other-service", 3, 1700, 6.0, "app", 1024),
    ("ts-preserve-service", 2, 250, 20.0, "app", 1024),
    ("ts-security-service", 2, 200, 5.0, "app", 512),
    ("ts-contacts-service", 3, 450, 3.0, "app", 512),
    ("ts-food-service", 3, 250, 7.0, "app", 1024),
    ("ts-consign-service", 2, 300, 5.0, "app", 512),
    ("ts-assurance-service", 3, 250, 3.0, "app", 512),
    ("ts-notification-service", 3, 250, 4.0, "app", 512),
    ("ts-payment-service", 2, 450, 6.0, "app", 512),
    ("ts-inside-payment-service", 3, 350, 9.0, "app", 1024),
    ("ts-cancel-service", 2, 200, 12.0, "app", 1024),
    ("ts-rebook-service", 2, 200, 15.0, "app", 1024),
    ("ts-execute-service", 2, 200, 8.0, "app", 512),
    ("ts-admin-basic-info-service", 2, 200, 10.0, "app", 512),
    ("ts-admin-order-service", 2, 200, 10.0, "app", 512),
    ("ts-admin-route-service", 2, 200, 8.0, "app", 512),
    ("ts-admin-travel-service", 2, 200, 10.0, "app", 512),
    ("ts-admin-user-service", 2, 200, 8.0, "app", 512),
    ("ts-auth-mongo", 2, 850, 2.0, "db", 2048),
    ("ts-travel-mongo", 2, 2250, 3.0, "db", 4096),
    ("ts-order-mongo", 2, 6650, 3.0, "db", 4096),
    ("ts-basic-mongo", 2, 20050, 1.5, "db", 4096),
    ("ts-payment-mongo", 2, 850, 2.5, "db", 2048),
    ("ts-contacts-mongo", 2, 1200, 2.0, "db", 2048),
    ("ts-food-mongo", 2, 850, 2.0, "db", 2048),
    ("ts-consign-mongo", 2, 700, 2.0, "db", 2048),
)
_TRAIN_CALLS: tuple[_CallRow, ...] = (
    # the gateway's fanouts are the request mix of the UI
    ("ts-ui-dashboard", "ts-auth-service", 0.08, 500, 1),
    ("ts-ui-dashboard", "ts-verification-code-service", 0.08, 300, 1),
    ("ts-ui-dashboard", "ts-travel-service", 0.2, 1000, 0),
    ("ts-ui-dashboard", "ts-travel2-service", 0.1, 1000, 0),
    ("ts-ui-dashboard", "ts-travel-plan-service", 0.05, 1000, 0),
    ("ts-ui-dashboard", "ts-preserve-service", 0.06, 1000, 0),
    ("ts-ui-dashboard", "ts-order-service", 0.1, 500, 1),
    ("ts-ui-dashboard", "ts-order-other-service", 0.05, 500, 1),
    ("ts-ui-dashboard", "ts-inside-payment-service", 0.05, 1000, 0),
    ("ts-ui-dashboard", "ts-cancel-service", 0.05, 1000, 0),
    ("ts-ui-dashboard", "ts-rebook-service", 0.05, 1000, 0),
    ("ts-ui-dashboard", "ts-execute-service", 0.05, 800, 0),
    ("ts-ui-dashboard", "ts-consign-service", 0.05, 500, 1),
    ("ts-ui-dashboard", "ts-food-service", 0.06, 800, 1),
    ("ts-ui-dashboard", "ts-assurance-service", 0.05, 300, 1),
    ("ts-ui-dashboard", "ts-contacts-service", 0.08, 300, 1),
    ("ts-ui-dashboard", "ts-user-service", 0.05, 300, 1),
    ("ts-ui-dashboard", "ts-station-service", 0.05, 300, 1),
    ("ts-ui-dashboard", "ts-admin-basic-info-service", 0.05, 800, 0),
    ("ts-ui-dashboard", "ts-admin-order-service", 0.05, 800, 0),
    ("ts-ui-dashboard", "ts-admin-route-service", 0.05, 800, 0),
    ("ts-ui-dashboard", "ts-admin-travel-service", 0.05, 800, 0),
    ("ts-ui-dashboard", "ts-admin-user-service", 0.05, 800, 0),
    ("ts-auth-service", "ts-verification-code-service", 1.0, 200, 1),
    ("ts-auth-service", "ts-auth-mongo", 1.0, 200, 1),
    ("ts-user-service", "ts-auth-mongo", 1.0, 200, 1),
    ("ts-travel-service", "ts-ticketinfo-service", 1.0, 400, 1),
    ("ts-travel-service", "ts-seat-service", 1.0, 400, 1),
    ("ts-travel-service", "ts-route-service", 0.5, 200, 1),
    ("ts-travel-service", "ts-travel-mongo", 1.0, 300, 1),
    ("ts-travel2-service", "ts-ticketinfo-service", 1.0, 400, 1),
    ("ts-travel2-service", "ts-seat-service", 1.0, 400, 1),
    ("ts-travel2-service", "ts-route-service", 0.5, 200, 1),
    ("ts-travel2-service", "ts-travel-mongo", 1.0, 300, 1),
    ("ts-travel-plan-service", "ts-route-plan-service", 1.0, 800, 0),
    ("ts-travel-plan-service", "ts-seat-service", 2.0, 400, 1),
    ("ts-travel-plan-service", "ts-ticketinfo-service", 2.0, 400, 1),
    ("ts-route-plan-service", "ts-route-service", 1.0, 200, 1),
    ("ts-route-plan-service", "ts-travel-service", 1.0, 600, 0),
    ("ts-route-plan-service", "ts-travel2-service", 1.0, 600, 0),
    ("ts-ticketinfo-service", "ts-basic-service", 1.0, 300, 1),
    ("ts-basic-service", "ts-station-service", 1.5, 150, 2),
    ("ts-basic-service", "ts-train-service", 1.0, 150, 2),
    ("ts-basic-service", "ts-route-service", 1.0, 150, 2),
    ("ts-basic-service", "ts-price-service", 1.0, 150, 2),
    ("ts-seat-service", "ts-config-service", 1.0, 150, 2),
    ("ts-seat-service", "ts-order-service", 0.6, 300, 1),
    ("ts-seat-service", "ts-order-other-service", 0.4, 300, 1),
    ("ts-station-service", "ts-basic-mongo", 1.0, 100, 1),
    ("ts-train-service", "ts-basic-mongo", 1.0, 100, 1),
    ("ts-route-service", "ts-basic-mongo", 1.0, 100, 1),
    ("ts-price-service", "ts-basic-mongo", 1.0, 100, 1),
    ("ts-config-service", "ts-basic-mongo", 1.0, 100, 1),
    ("ts-order-service", "ts-order-mongo", 1.0, 200, 1),
    ("ts-order-other-service", "ts-order-mongo", 1.0, 200, 1),
    ("ts-preserve-service", "ts-security-service", 1.0, 400, 0),
    ("ts-preserve-service", "ts-contacts-service", 1.0, 300, 1),
    ("ts-preserve-service", "ts-travel-service", 1.0, 800, 0),
    ("ts-preserve-service", "ts-seat-service", 1.0, 400, 1),
    ("ts-preserve-service", "ts-order-service", 1.0, 400, 0),
    ("ts-preserve-service", "ts-assurance-service", 1.0, 300, 1),
    ("ts-preserve-service", "ts-food-service", 1.0, 400, 1),
    ("ts-preserve-service", "ts-consign-service", 1.0, 400, 1),
    ("ts-preserve-service", "ts-user-service", 1.0, 300, 1),
    ("ts-preserve-service", "ts-notification-service", 1.0, 500, 0),
    ("ts-security-service", "ts-order-service", 1.0, 300, 1),
    ("ts-security-service", "ts-order-other-service", 1.0, 300, 1),
    ("ts-contacts-service", "ts-contacts-mongo", 1.0, 200, 1),
    ("ts-assurance-service", "ts-contacts-mongo", 1.0, 200, 1),
    ("ts-food-service", "ts-travel-service", 0.5, 600, 0),
    ("ts-food-service", "ts-food-mongo", 2.0, 200, 1),
    ("ts-consign-service", "ts-consign-mongo", 2.0, 200, 1),
    ("ts-inside-payment-service", "ts-payment-service", 1.0, 500, 0),
    ("ts-inside-payment-service", "ts-order-service", 1.0, 300, 1),
    ("ts-inside-payment-service", "ts-order-other-service", 1.0, 300, 1),
    ("ts-inside-payment-service", "ts-payment-mongo", 1.0, 200, 1),
    ("ts-payment-service", "ts-payment-mongo", 1.0, 200, 1),
    ("ts-cancel-service", "ts-order-service", 1.0, 300, 1),
    ("ts-cancel-service", "ts-order-other-service", 1.0, 300, 1),
    ("ts-cancel-service", "ts-inside-payment-service", 1.0, 800, 0),
    ("ts-cancel-service", "ts-user-service", 1.0, 300, 1),
    ("ts-cancel-service", "ts-notification-service", 1.0, 500, 0),
    ("ts-rebook-service", "ts-order-service", 1.0, 300, 1),
    ("ts-rebook-service", "ts-travel-service", 1.0, 800, 0),
    ("ts-rebook-service", "ts-seat-service", 1.0, 400, 1),
    ("ts-rebook-service", "ts-inside-payment-service", 1.0, 800, 0),
    ("ts-rebook-service", "ts-station-service", 1.0, 200, 1),
    ("ts-execute-service", "ts-order-service", 1.0, 300, 1),
    ("ts-execute-service", "ts-order-other-service", 1.0, 300, 1),
    ("ts-admin-basic-info-service", "ts-station-service", 1.0, 300, 1),
    ("ts-admin-basic-info-service", "ts-train-service", 1.0, 300, 1),
    ("ts-admin-basic-info-service", "ts-config-service", 1.0, 300, 1),
    ("ts-admin-basic-info-service", "ts-price-service", 1.0, 300, 1),
    ("ts-admin-basic-info-service", "ts-contacts-service", 1.0, 300, 1),
    ("ts-admin-order-service", "ts-order-service", 1.0, 500, 1),
    ("ts-admin-order-service", "ts-order-other-service", 1.0, 500, 1),
    ("ts-admin-route-service", "ts-route-service", 1.0, 300, 1),
    ("ts-admin-travel-service", "ts-travel-service", 1.0, 800, 0),
    ("ts-admin-travel-service", "ts-travel2-service", 1.0, 800, 0),
    ("ts-admin-user-service", "ts-user-service", 1.0, 300, 1),
)

_BUILTINS: dict[str, tuple[tuple[_SvcRow, ...], tuple[_CallRow, ...], float]] = {
    "hotel-reservation": (_HOTEL_SERVICES, _HOTEL_CALLS, 2000.0),
    "sock-shop": (_SOCK_SERVICES, _SOCK_CALLS, 2000.0),
    "train-ticket": (_TRAIN_SERVICES, _TRAIN_CALLS, 3000.0),
}


def _service_from_row(row: _SvcRow) -> Service:
    name, replicas, capacity, service_ms, kind, memory = row
    return Service(
        name=name,
        replicas=replicas,
        capacity_rps=float(capacity),
        service_time_ms=service_ms,
        autoscale=kind in ("app", "gateway"),  # stateful tiers are scaled by hand
        memory_limit_mb=float(memory),
        kind=kind,
    )


@cache
def builtin_callgraph(name: str) -> CallGraph:
    """One of ``BUILTIN_CALLGRAPHS``; the first service is the single entry."""
    if name not in _BUILTINS:
        raise ValueError(
            f"unknown built-in call graph {name!r}; allowed: {', '.join(BUILTIN_CALLGRAPHS)}"
        )
    rows, call_rows, rps = _BUILTINS[name]
    services = tuple(_service_from_row(r) for r in rows)
    calls = tuple(
        Call(a, b, fanout=f, timeout_ms=float(t), retries=r) for a, b, f, t, r in call_rows
    )
    cg = CallGraph(name=name, services=services, calls=calls, entries=((services[0].name, rps),))
    cg.validate()
    return cg


# ---- generated graphs ------------------------------------------------------------------------

_MAX_DEPTH = 5  # Alibaba graphs are mostly no deeper than 5 hops
_ATTACH_OFFSET = 0.3  # preferential attachment offset: smaller -> heavier-tailed out-degree
_STATEFUL_SHARE = 0.15


def generate_callgraph(
    n_services: int,
    rng: np.random.Generator,
    *,
    name: str = "generated",
    entry_rps: float = 1000.0,
) -> CallGraph:
    """A random call graph of ``n_services`` shaped like Alibaba's production traces.

    Stateless services form a tree grown by depth-limited preferential attachment (heavy-tailed
    out-degree); stateful db/cache leaves hang off one or more of them, so the result is a DAG.
    Capacity is sized for 35-55% utilisation at ``entry_rps``. Only ``rng`` supplies randomness.
    """
    if not _is_int(n_services) or n_services < 1:
        raise ValueError(f"n_services must be an integer >= 1, got {n_services!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
    if not _finite(entry_rps) or entry_rps <= 0:
        raise ValueError(f"entry_rps must be a number > 0, got {entry_rps!r}")
    n = int(n_services)
    n_state = 0 if n < 4 else max(1, round(_STATEFUL_SHARE * n))
    n_app = n - n_state

    depth = [0]
    outdeg = [0]
    edges: list[tuple[int, int]] = []
    for child in range(1, n_app):
        open_ = np.array([d < _MAX_DEPTH for d in depth])
        weight = (np.array(outdeg, dtype=float) + _ATTACH_OFFSET) * open_
        parent = int(rng.choice(child, p=weight / weight.sum()))
        edges.append((parent, child))
        outdeg[parent] += 1
        depth.append(depth[parent] + 1)
        outdeg.append(0)

    width = len(str(n - 1))
    kinds = ["gateway"] + ["app"] * (n_app - 1)
    names = [f"svc-{i:0{width}d}" for i in range(n_app)]
    # stateful leaves sit below app services (not the gateway) and stay within _MAX_DEPTH
    hosts = [i for i in range(1, n_app) if depth[i] < _MAX_DEPTH]
    for j in range(n_state):
        kind = "cache" if rng.random() < 0.4 else "db"
        idx = n_app + j
        kinds.append(kind)
        names.append(f"{kind}-{idx:0{width}d}")
        k = min(len(hosts), int(rng.geometric(0.45)))
        if j == 0:
            k = max(k, min(2, len(hosts)))  # at least one shared leaf, as in the traces
        for parent in sorted(int(p) for p in rng.choice(hosts, size=k, replace=False)):
            edges.append((parent, idx))

    calls: list[Call] = []
    for parent, child in edges:
        stateful = kinds[child] in ("db", "cache")
        # mostly one call; some conditional (0.5) or batched (2-3) calls
        if stateful:
            fanout = float(rng.choice([1.0, 2.0, 3.0], p=[0.6, 0.3, 0.1]))
            timeout = float(rng.choice([100, 150, 200, 300]))
        else:
            fanout = float(rng.choice([0.5, 1.0, 2.0, 3.0], p=[0.15, 0.65, 0.15, 0.05]))
            timeout = max(100.0, round(1000.0 * 0.6 ** depth[parent], -1))  # deeper -> tighter
        retries = int(rng.choice(4, p=[0.5, 0.3, 0.15, 0.05]))
        calls.append(Call(names[parent], names[child], fanout, timeout, retries))

    skeleton = CallGraph(
        name=name,
        services=tuple(
            Service(nm, 1, 1.0, 1.0, kind=k) for nm, k in zip(names, kinds, strict=True)
        ),
        calls=tuple(calls),
        entries=((names[0], float(entry_rps)),),
    )
    load = _base_load(skeleton)
    services = tuple(
        _sized_service(nm, k, ld, rng) for nm, k, ld in zip(names, kinds, load, strict=True)
    )
    cg = CallGraph(name=name, services=services, calls=skeleton.calls, entries=skeleton.entries)
    cg.validate()
    return cg


def _sized_service(name: str, kind: str, load: float, rng: np.random.Generator) -> Service:
    """Draw service time and replicas, then set capacity so utilisation hits a 35-55% target."""
    if kind == "cache":
        service_ms, cap_lo, cap_hi, memory = rng.uniform(0.2, 0.9), 5000.0, 40000.0, 1024.0
    elif kind == "db":
        service_ms, cap_lo, cap_hi = rng.uniform(1.0, 5.0), 1000.0, 10000.0
        memory = float(rng.choice([2048, 4096]))
    else:
        service_ms = float(np.clip(rng.lognormal(math.log(5.0), 0.6), 1.0, 20.0))
        cap_lo, cap_hi = 200.0, 2000.0
        memory = float(rng.choice([256, 512, 1024]))
    target = rng.uniform(0.35, 0.55)
    replicas = int(rng.integers(2, 5))
    # keep per-replica capacity in the kind's plausible band by moving replicas first
    if load / (replicas * target) > cap_hi:
        replicas = math.ceil(load / (target * cap_hi))
    elif load / (replicas * target) < cap_lo:
        replicas = max(1, math.floor(load / (target * cap_lo)))
    replicas = min(replicas, 50)
    return Service(
        name=name,
        replicas=replicas,
        capacity_rps=max(round(load / (replicas * target), 1), 0.1),
        service_time_ms=round(float(service_ms), 2),
        min_replicas=1,
        max_replicas=max(20, 2 * replicas),
        autoscale=kind in ("app", "gateway"),
        memory_limit_mb=memory,
        kind=kind,
    )


# ---- plain-dict form -------------------------------------------------------------------------

_SERVICE_FIELDS = {f.name: f for f in fields(Service)}
_CALL_FIELDS = {f.name: f for f in fields(Call)}
_INT_FIELDS = {"replicas", "min_replicas", "max_replicas", "retries", "queue_limit"}
_FLOAT_FIELDS = {"capacity_rps", "service_time_ms", "memory_limit_mb", "fanout", "timeout_ms", "backoff_ms",
                 "retry_budget", "breaker_threshold", "breaker_window_s", "breaker_cooldown_s", "max_inflight"}


def _record(path: str, raw: object, cls_fields: Mapping[str, Any], required: Sequence[str]) -> dict:
    if not isinstance(raw, Mapping):
        raise ValueError(f"{path}: expected a mapping, got {type(raw).__name__}")
    unknown = [k for k in raw if k not in cls_fields]
    if unknown:
        raise ValueError(f"{path}: unknown field {unknown[0]!r}; allowed: {', '.join(cls_fields)}")
    missing = [k for k in required if k not in raw]
    if missing:
        raise ValueError(f"{path}: missing field {missing[0]!r}; required: {', '.join(required)}")
    out: dict[str, Any] = {}
    for key, value in raw.items():
        out[key] = _coerce(f"{path}.{key}", key, value)
    return out


def _coerce(path: str, key: str, value: Any) -> Any:
    if key in _INT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        if float(value) != int(value):
            raise ValueError(f"{path}: expected an integer, got {value!r}")
        return int(value)
    if key in _FLOAT_FIELDS:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)):
            raise ValueError(f"{path}: expected a number, got {value!r}")
        return float(value)
    if key == "autoscale" and not isinstance(value, bool):
        raise ValueError(f"{path}: expected true or false, got {value!r}")
    if key in ("name", "kind", "caller", "callee") and not isinstance(value, str):
        raise ValueError(f"{path}: expected a string, got {value!r}")
    return value


def _list(d: Mapping[str, Any], key: str, required: bool) -> list[Any]:
    if key not in d:
        if required:
            raise ValueError(f"call graph dict: missing key {key!r}")
        return []
    value = d[key]
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise ValueError(f"{key}: expected a list, got {type(value).__name__}")
    return list(value)


def callgraph_from_dict(d: Mapping[str, Any]) -> CallGraph:
    """Build and validate a graph from its plain form (as loaded from YAML or JSON).

    ``{"name", "services": [{name, replicas, capacity_rps, service_time_ms, ...}],
    "calls": [{caller, callee, fanout, timeout_ms, retries}], "entries": [{service, rps}]}``
    """
    if not isinstance(d, Mapping):
        raise ValueError(f"call graph: expected a mapping, got {type(d).__name__}")
    allowed = ("name", "services", "calls", "entries")
    for key in d:
        if key not in allowed:
            raise ValueError(f"call graph dict: unknown key {key!r}; allowed: {', '.join(allowed)}")
    name = d.get("name", "callgraph")
    if not isinstance(name, str) or not name:
        raise ValueError(f"name: expected a non-empty string, got {name!r}")
    required_svc = ("name", "replicas", "capacity_rps", "service_time_ms")
    services = tuple(
        Service(**_record(f"services[{i}]", raw, _SERVICE_FIELDS, required_svc))
        for i, raw in enumerate(_list(d, "services", True))
    )
    calls = tuple(
        Call(**_record(f"calls[{i}]", raw, _CALL_FIELDS, ("caller", "callee")))
        for i, raw in enumerate(_list(d, "calls", False))
    )
    entries: list[tuple[str, float]] = []
    for i, raw in enumerate(_list(d, "entries", True)):
        path = f"entries[{i}]"
        if isinstance(raw, Mapping):
            fields_ = {"service": None, "rps": None}
            rec = _record(path, raw, fields_, ("service", "rps"))
            svc, rps = rec["service"], rec["rps"]
        elif isinstance(raw, Sequence) and not isinstance(raw, str) and len(raw) == 2:
            svc, rps = raw
        else:
            raise ValueError(f"{path}: expected {{service, rps}}, got {raw!r}")
        if not isinstance(svc, str):
            raise ValueError(f"{path}.service: expected a string, got {svc!r}")
        if isinstance(rps, bool) or not isinstance(rps, (int, float, np.number)):
            raise ValueError(f"{path}.rps: expected a number, got {rps!r}")
        entries.append((svc, float(rps)))
    cg = CallGraph(name=name, services=services, calls=calls, entries=tuple(entries))
    cg.validate()
    return cg
