"""Call graphs: built-in benchmarks, the Alibaba-shaped generator, the dict form and validation."""

from __future__ import annotations

import dataclasses
import statistics

import networkx as nx
import numpy as np
import pytest

from twin.model.callgraph import (
    BUILTIN_CALLGRAPHS,
    SERVICE_KINDS,
    Call,
    CallGraph,
    Service,
    builtin_callgraph,
    callgraph_from_dict,
    generate_callgraph,
)

SIZES = {"hotel-reservation": (10, 12), "sock-shop": (13, 15), "train-ticket": (38, 45)}
MUST_HAVE = {
    "hotel-reservation": {
        "frontend",
        "search",
        "geo",
        "rate",
        "profile",
        "recommendation",
        "user",
        "reservation",
    },
    "sock-shop": {
        "front-end",
        "catalogue",
        "catalogue-db",
        "carts",
        "carts-db",
        "orders",
        "orders-db",
        "payment",
        "shipping",
        "queue-master",
        "rabbitmq",
        "user",
        "user-db",
        "session-db",
    },
    "train-ticket": {
        "ts-ui-dashboard",
        "ts-auth-service",
        "ts-user-service",
        "ts-travel-service",
        "ts-travel2-service",
        "ts-ticketinfo-service",
        "ts-basic-service",
        "ts-station-service",
        "ts-train-service",
        "ts-route-service",
        "ts-price-service",
        "ts-order-service",
        "ts-order-other-service",
        "ts-seat-service",
        "ts-config-service",
        "ts-preserve-service",
        "ts-security-service",
        "ts-contacts-service",
        "ts-food-service",
        "ts-consign-service",
        "ts-payment-service",
        "ts-inside-payment-service",
        "ts-cancel-service",
        "ts-rebook-service",
        "ts-execute-service",
        "ts-notification-service",
        "ts-assurance-service",
        "ts-verification-code-service",
        "ts-route-plan-service",
        "ts-travel-plan-service",
    },
}


def utilisation(cg: CallGraph) -> dict[str, float]:
    """Base-load utilisation, propagated independently of the module under test."""
    g = nx.DiGraph()
    g.add_nodes_from(s.name for s in cg.services)
    g.add_edges_from((c.caller, c.callee, {"fanout": c.fanout}) for c in cg.calls)
    load = dict.fromkeys(g, 0.0)
    for name, rps in cg.entries:
        load[name] += rps
    for u in nx.topological_sort(g):
        for _, v, d in g.out_edges(u, data=True):
            load[v] += load[u] * d["fanout"]
    return {s.name: load[s.name] / (s.replicas * s.capacity_rps) for s in cg.services}


def tiny(**overrides: object) -> CallGraph:
    """A valid three-service graph a -> b -> c, with fields replaced."""
    base = {
        "name": "tiny",
        "services": (
            Service("a", 2, 500.0, 5.0),
            Service("b", 2, 500.0, 5.0),
            Service("c", 2, 500.0, 1.0, kind="db"),
        ),
        "calls": (Call("a", "b"), Call("b", "c")),
        "entries": (("a", 100.0),),
    }
    base.update(overrides)
    return CallGraph(**base)  # type: ignore[arg-type]


# ---- built-in graphs --------------------------------------------------------------------------


def test_builtin_names() -> None:
    assert BUILTIN_CALLGRAPHS == ("hotel-reservation", "sock-shop", "train-ticket")


@pytest.mark.parametrize("name", BUILTIN_CALLGRAPHS)
def test_builtin_is_valid_dag_of_expected_size(name: str) -> None:
    cg = builtin_callgraph(name)
    cg.validate()
    lo, hi = SIZES[name]
    assert cg.name == name
    assert lo <= len(cg.services) <= hi
    assert MUST_HAVE[name] <= {s.name for s in cg.services}
    g = cg.graph()
    assert nx.is_directed_acyclic_graph(g)
    assert g.number_of_nodes() == len(cg.services)
    assert g.number_of_edges() == len(cg.calls)
    assert len(cg.entries) == 1
    entry = cg.entries[0][0]
    assert nx.descendants(g, entry) | {entry} == set(g), "every service is reachable"


@pytest.mark.parametrize("name", BUILTIN_CALLGRAPHS)
def test_builtin_utilisation_at_base_load(name: str) -> None:
    util = utilisation(builtin_callgraph(name))
    bad = {k: round(v, 3) for k, v in util.items() if not 0.30 <= v <= 0.60}
    assert not bad, f"services outside 30-60% utilisation: {bad}"


@pytest.mark.parametrize("name", BUILTIN_CALLGRAPHS)
def test_builtin_parameters_are_plausible(name: str) -> None:
    cg = builtin_callgraph(name)
    kinds = {s.kind for s in cg.services}
    assert {"db"} <= kinds <= set(SERVICE_KINDS)
    for s in cg.services:
        assert 2 <= s.replicas <= 4, s
        assert s.min_replicas <= s.replicas <= s.max_replicas, s
        if s.kind in ("app", "gateway"):
            assert 200 <= s.capacity_rps <= 2000, s
            assert 1 <= s.service_time_ms <= 20, s
        if s.kind == "cache":
            assert s.service_time_ms < 1, s
            assert s.capacity_rps > 2000, s
    for c in cg.calls:
        assert 0 < c.fanout <= 3, c
        assert 100 <= c.timeout_ms <= 1000, c
        assert 0 <= c.retries <= 3, c
    # fractional fanouts are request mixes and cache misses; batching (2-3) is the exception
    assert sum(c.fanout > 1 for c in cg.calls) <= len(cg.calls) / 3


@pytest.mark.parametrize("name", BUILTIN_CALLGRAPHS)
def test_order_puts_callers_first(name: str) -> None:
    cg = builtin_callgraph(name)
    order = cg.order()
    assert sorted(order) == list(range(len(cg.services)))
    rank = {cg.services[i].name: r for r, i in enumerate(order)}
    for c in cg.calls:
        assert rank[c.caller] < rank[c.callee], c
    assert cg.index()[cg.entries[0][0]] == order[0]


def test_index_maps_names_to_positions() -> None:
    cg = builtin_callgraph("sock-shop")
    idx = cg.index()
    assert all(cg.services[i].name == n for n, i in idx.items())
    assert len(idx) == len(cg.services)


def test_graph_carries_service_and_call_attributes() -> None:
    cg = builtin_callgraph("hotel-reservation")
    g = cg.graph()
    assert g.nodes["mongodb"]["service"].kind == "db"
    assert g.edges["frontend", "search"]["call"] == next(
        c for c in cg.calls if (c.caller, c.callee) == ("frontend", "search")
    )
    assert g.in_degree("mongodb") >= 3, "mongodb is a shared backend"


def test_unknown_builtin_lists_allowed_names() -> None:
    with pytest.raises(ValueError) as err:
        builtin_callgraph("bookinfo")
    msg = str(err.value)
    assert "bookinfo" in msg
    assert all(n in msg for n in BUILTIN_CALLGRAPHS)


# ---- generator --------------------------------------------------------------------------------


def test_generator_is_deterministic_per_seed() -> None:
    a = generate_callgraph(60, np.random.default_rng(7))
    b = generate_callgraph(60, np.random.default_rng(7))
    c = generate_callgraph(60, np.random.default_rng(8))
    assert a == b
    assert a != c
    assert [(x.caller, x.callee) for x in a.calls] != [(x.caller, x.callee) for x in c.calls]


@pytest.mark.parametrize("n", [1, 2, 3, 4, 10, 57, 300])
def test_generator_respects_size_and_is_valid_dag(n: int) -> None:
    cg = generate_callgraph(n, np.random.default_rng(n), name="g", entry_rps=500.0)
    cg.validate()
    assert cg.name == "g"
    assert len(cg.services) == n
    assert len({s.name for s in cg.services}) == n
    g = cg.graph()
    assert nx.is_directed_acyclic_graph(g)
    assert cg.entries == ((cg.services[0].name, 500.0),)
    entry = cg.entries[0][0]
    assert g.in_degree(entry) == 0
    assert nx.descendants(g, entry) | {entry} == set(g)
    assert nx.dag_longest_path_length(g) <= 5


@pytest.mark.parametrize("seed", range(5))
def test_generator_out_degree_is_heavy_tailed(seed: int) -> None:
    g = generate_callgraph(300, np.random.default_rng(seed)).graph()
    degrees = [d for _, d in g.out_degree()]
    callers = [d for d in degrees if d > 0]
    assert statistics.median(degrees) <= 1, "most services call nothing or one service"
    assert max(degrees) >= 10 * statistics.median(callers)
    assert max(degrees) >= 20


@pytest.mark.parametrize("seed", range(5))
def test_generator_is_tree_like_with_shared_stateful_leaves(seed: int) -> None:
    cg = generate_callgraph(100, np.random.default_rng(seed))
    g = cg.graph()
    stateful = {s.name for s in cg.services if s.kind in ("db", "cache")}
    assert stateful
    assert all(g.out_degree(n) == 0 for n in stateful)
    shared = {n for n in g if g.in_degree(n) > 1}
    assert shared and shared <= stateful
    assert all(g.in_degree(n) == 1 for n in g if n not in stateful and n != cg.entries[0][0])


@pytest.mark.parametrize("seed", range(5))
def test_generator_utilisation_at_entry_rps(seed: int) -> None:
    cg = generate_callgraph(80, np.random.default_rng(seed), entry_rps=2500.0)
    util = utilisation(cg)
    bad = {k: round(v, 3) for k, v in util.items() if not 0.30 <= v <= 0.60}
    assert not bad, f"services outside 30-60% utilisation: {bad}"


@pytest.mark.parametrize("n", [0, -3, 2.5])
def test_generator_rejects_bad_size(n: object) -> None:
    with pytest.raises(ValueError, match="n_services"):
        generate_callgraph(n, np.random.default_rng(0))  # type: ignore[arg-type]


# ---- validation -------------------------------------------------------------------------------


def test_tiny_graph_is_valid() -> None:
    tiny().validate()


def test_validate_rejects_unknown_callee() -> None:
    cg = tiny(calls=(Call("a", "b"), Call("b", "nowhere")))
    with pytest.raises(ValueError, match=r"unknown callee 'nowhere'.*known services: a, b, c"):
        cg.validate()


def test_validate_rejects_unknown_caller() -> None:
    with pytest.raises(ValueError, match="unknown caller 'ghost'"):
        tiny(calls=(Call("ghost", "b"),)).validate()


def test_validate_rejects_duplicate_names() -> None:
    services = (
        Service("a", 2, 500.0, 5.0),
        Service("b", 2, 500.0, 5.0),
        Service("a", 1, 100.0, 1.0),
    )
    with pytest.raises(ValueError, match=r"'a' appears 2 times"):
        tiny(services=services, calls=(Call("a", "b"),)).validate()


def test_validate_rejects_cycles_naming_them() -> None:
    cg = tiny(calls=(Call("a", "b"), Call("b", "c"), Call("c", "b")))
    with pytest.raises(ValueError, match="cycle") as err:
        cg.validate()
    assert "b -> c -> b" in str(err.value) or "c -> b -> c" in str(err.value)
    with pytest.raises(ValueError, match="cycle"):
        cg.order()


def test_validate_rejects_self_call() -> None:
    with pytest.raises(ValueError, match="cycle: a -> a"):
        tiny(calls=(Call("a", "a"),)).validate()


@pytest.mark.parametrize(
    ("call", "pattern"),
    [
        (Call("a", "b", fanout=0.0), r"fanout 0\.0; allowed: a number > 0"),
        (Call("a", "b", fanout=-1.0), "fanout -1.0"),
        (Call("a", "b", retries=-1), "retries -1; allowed: an integer >= 0"),
        (Call("a", "b", timeout_ms=0.0), "timeout_ms 0.0"),
    ],
)
def test_validate_rejects_bad_call_fields(call: Call, pattern: str) -> None:
    with pytest.raises(ValueError, match=pattern) as err:
        tiny(calls=(call,)).validate()
    assert "calls[0] (a -> b)" in str(err.value)


def test_validate_rejects_duplicate_call() -> None:
    with pytest.raises(ValueError, match=r"calls\[1\] \(a -> b\) repeats calls\[0\]"):
        tiny(calls=(Call("a", "b"), Call("a", "b", fanout=2.0))).validate()


def test_validate_rejects_unknown_entry() -> None:
    with pytest.raises(ValueError, match="unknown service 'z'"):
        tiny(entries=(("z", 10.0),)).validate()


def test_validate_rejects_missing_entry() -> None:
    with pytest.raises(ValueError, match="no entries"):
        tiny(entries=()).validate()


@pytest.mark.parametrize(
    ("service", "pattern"),
    [
        (Service("c", 2, 500.0, 1.0, kind="mainframe"), "kind 'mainframe'; allowed: app, db"),
        (Service("c", 0, 500.0, 1.0), "min_replicas <= replicas"),
        (Service("c", 2, 0.0, 1.0), "capacity_rps 0.0"),
        (Service("c", 2, 500.0, -1.0), "service_time_ms -1.0"),
    ],
)
def test_validate_rejects_bad_service_fields(service: Service, pattern: str) -> None:
    services = (Service("a", 2, 500.0, 5.0), Service("b", 2, 500.0, 5.0), service)
    with pytest.raises(ValueError, match=pattern) as err:
        tiny(services=services).validate()
    assert "service 'c'" in str(err.value)


# ---- dict form --------------------------------------------------------------------------------


def as_dict(cg: CallGraph) -> dict:
    return {
        "name": cg.name,
        "services": [dataclasses.asdict(s) for s in cg.services],
        "calls": [dataclasses.asdict(c) for c in cg.calls],
        "entries": [{"service": s, "rps": r} for s, r in cg.entries],
    }


@pytest.mark.parametrize("name", BUILTIN_CALLGRAPHS)
def test_from_dict_round_trips_builtins(name: str) -> None:
    cg = builtin_callgraph(name)
    assert callgraph_from_dict(as_dict(cg)) == cg


def test_from_dict_applies_defaults_and_coerces_numbers() -> None:
    cg = callgraph_from_dict(
        {
            "name": "mini",
            "services": [
                {"name": "web", "replicas": 2, "capacity_rps": 400, "service_time_ms": 3},
                {
                    "name": "db",
                    "replicas": 1,
                    "capacity_rps": 2000,
                    "service_time_ms": 1,
                    "kind": "db",
                },
            ],
            "calls": [{"caller": "web", "callee": "db", "fanout": 2}],
            "entries": [{"service": "web", "rps": 300}],
        }
    )
    assert cg.services[0] == Service("web", 2, 400.0, 3.0)
    assert cg.calls == (Call("web", "db", 2.0, 500.0, 0),)
    assert cg.entries == (("web", 300.0),)
    assert isinstance(cg.services[0].capacity_rps, float)


def test_from_dict_rejects_unknown_and_missing_fields() -> None:
    d = as_dict(tiny())
    d["services"][1]["cpu"] = 2
    with pytest.raises(ValueError, match=r"services\[1\]: unknown field 'cpu'; allowed: name"):
        callgraph_from_dict(d)
    d = as_dict(tiny())
    del d["calls"][0]["callee"]
    with pytest.raises(ValueError, match=r"calls\[0\]: missing field 'callee'"):
        callgraph_from_dict(d)
    d = as_dict(tiny())
    d["services"][0]["replicas"] = "two"
    with pytest.raises(ValueError, match=r"services\[0\]\.replicas: expected an integer"):
        callgraph_from_dict(d)


def test_from_dict_validates() -> None:
    d = as_dict(tiny())
    d["calls"].append({"caller": "c", "callee": "a"})
    with pytest.raises(ValueError, match="cycle"):
        callgraph_from_dict(d)
