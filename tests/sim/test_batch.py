"""A batch of twins: every member records exactly what the same twin records alone."""

from __future__ import annotations

import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.errors import SimulationError, TwinError
from twin.physics.services import Carried, Clients, Services, service_step
from twin.sim.batch import TwinBatch

#: Kinds of operator action the property test draws, with how to draw their arguments.
ACTION_KINDS = ("drain_link", "drain_device", "scale_service", "restart_service", "rate_limit",
                "set_retry_budget", "shed_traffic")


def _draw_action(rng: np.random.Generator, twin: Twin) -> tuple[str, dict] | None:
    w = twin.world
    kinds = [k for k in ACTION_KINDS if w.callgraph or not k.endswith("service") and k not in
             ("rate_limit", "set_retry_budget")]
    kind = kinds[int(rng.integers(len(kinds)))]
    if kind == "drain_link":
        return kind, {"link": w.topology.links[int(rng.integers(len(w.topology.links)))]}
    if kind == "drain_device":
        return kind, {"device": w.device_names[int(rng.integers(len(w.device_names)))]}
    if kind == "shed_traffic":
        return kind, {"traffic_class": ("user", "interdc")[int(rng.integers(2))], "fraction": float(rng.uniform(0, 0.5))}
    service = w.services[int(rng.integers(len(w.services)))]
    if kind == "scale_service":
        return kind, {"service": service, "replicas": int(rng.integers(1, 8))}
    if kind == "rate_limit":
        return kind, {"service": service, "rps": float(rng.uniform(50, 2000))}
    if kind == "set_retry_budget":
        return kind, {"service": service, "budget": float(rng.uniform(0, 0.5))}
    return kind, {"service": service}


def _act(twin: Twin, kind: str, args: dict) -> None:
    try:
        twin.act(kind, **args)
    except TwinError:  # an action the twin refuses is refused the same way in and out of a batch
        pass


def _same_telemetry(a: Twin, b: Twin) -> None:
    sa, sb = a.telemetry.window(), b.telemetry.window()
    assert len(sa) == len(sb)
    for x, y in zip(sa, sb):
        assert x.t == y.t
        for bx, by in ((x.link, y.link), (x.service, y.service), (x.device, y.device)):
            assert np.ascontiguousarray(bx).tobytes() == np.ascontiguousarray(by).tobytes()
        assert repr(sorted(x.kpi.items())) == repr(sorted(y.kpi.items()))
        assert list(x.kpi) == list(y.kpi)
        for tx, ty in zip(x.truth, y.truth):  # the exact values too (stacked in a batch)
            assert np.ascontiguousarray(tx).tobytes() == np.ascontiguousarray(ty).tobytes()
        assert (x.traffic is None) == (y.traffic is None)
        if x.traffic is not None:
            assert x.traffic.tobytes() == y.traffic.tobytes()
    assert a.events().to_csv(index=False) == b.events().to_csv(index=False)
    assert a.alerts().to_csv(index=False) == b.alerts().to_csv(index=False)


@pytest.mark.parametrize("name,case", [(n, c) for n in ("b2b4-casc1", "sockshop-cpu-hog", "hotel-memory-leak", "large")
                                       for c in range(2)]
                         # a monitoring outage (lost reads, counters over the gap); samples exported across a plane
                         + [("novel-monitoring-blindspot", 0), ("aws-us-east-1-2021-12-07", 0)])
def test_each_member_equals_its_solo_run(name: str, case: int) -> None:
    rng = np.random.default_rng([case, len(name)])
    sc = load_scenario(name)
    seed = int(rng.integers(1000))
    size = int(rng.integers(2, 9))
    horizon = min(sc.duration, 1800.0 if name == "large" else 2400.0)
    base = Twin(sc, seed=seed)
    base.run(until=float(rng.integers(0, 30)) * sc.tick)
    # per member: a few actions at random tick-aligned times (some mid-tick)
    plans = []
    for _ in range(size):
        times = np.sort(rng.uniform(base.now, horizon, int(rng.integers(0, 4))))
        plans.append([(float(t), _draw_action(rng, base)) for t in times])
    stops = sorted({t for plan in plans for t, _ in plan})
    batch = base.fork_batch(size)
    solos = [base.fork() for _ in range(size)]
    for stop in stops:
        batch.run(until=stop)
        for member, plan in zip(batch.members, plans):
            for t, (kind, args) in plan:
                if t == stop:
                    _act(member, kind, args)
    batch.run(until=horizon)
    for solo, plan in zip(solos, plans):
        for t, (kind, args) in plan:
            solo.run(until=t)
            _act(solo, kind, args)
        solo.run(until=horizon)
    for member, solo in zip(batch.members, solos):
        _same_telemetry(member, solo)


@pytest.mark.parametrize("name", ["b2b4-casc1", "sockshop-cpu-hog",
                                  # a monitoring outage from 4m (lost reads, counters over each member's own gap);
                                  # device samples exported across a plane, every group read every tick
                                  "novel-monitoring-blindspot", "aws-us-east-1-2021-12-07"])
def test_members_apart_in_time_equal_their_solo_runs(name: str, monkeypatch) -> None:
    """``TwinBatch.advance``: members at different times, each bound for its own target (a
    vector env's tool calls last different times), some mid-tick, one not moving; an action
    between legs. Each member records what it records alone: the monitors, called once a round
    with one time per member, sample on each member's own phase, stamp its own times and open
    and clear its alerts at its own time."""
    from twin.sim.monitors import Monitors

    times_per_call: list[int] = []
    sample_many = Monitors.sample_many

    def counting(self, states, now, nets, svcs):
        times_per_call.append(len(set(np.atleast_1d(now).tolist())))
        return sample_many(self, states, now, nets, svcs)

    monkeypatch.setattr(Monitors, "sample_many", counting)
    rng = np.random.default_rng(len(name))
    sc = load_scenario(name)
    size = 5
    base = Twin(sc, seed=3)
    base.run(until=4 * sc.tick)
    batch = base.fork_batch(size)
    solos = [base.fork() for _ in range(size)]
    for leg in range(6):
        targets = [m.now + float(rng.choice([0.0, 5.0, sc.tick, 45.0, 2.5 * sc.tick, 300.0])) for m in batch.members]
        batch.advance(targets)
        for solo, until in zip(solos, targets):
            solo.run(until=until)
        assert [m.now for m in batch.members] == targets
        if leg % 2:
            i = int(rng.integers(size))
            drawn = _draw_action(rng, base)
            if drawn is not None:
                _act(batch.members[i], *drawn)
                _act(solos[i], *drawn)
    assert len({m.now for m in batch.members}) > 1
    assert max(times_per_call) > 1, "no round had members at different times"
    assert sum(len(m.alerts()) for m in batch.members) > 0, "no alert opened: their times went untested"
    for member, solo in zip(batch.members, solos):
        _same_telemetry(member, solo)


def test_monitors_refuse_a_wrong_count_of_times() -> None:
    batch = Twin("sockshop-cpu-hog", seed=2).fork_batch(2)
    batch.run(until=60)
    states = [m.state for m in batch.members]
    samples = [m.telemetry.window()[-1] for m in batch.members]
    with pytest.raises(SimulationError, match="now: 3 times for 2 members"):
        batch.members[0].monitors.evaluate_many(states, [60.0, 60.0, 60.0], samples)


def test_advance_refuses_the_past_and_a_wrong_count() -> None:
    batch = Twin("sockshop-cpu-hog", seed=2).fork_batch(2)
    batch.advance([600.0, 300.0])
    with pytest.raises(SimulationError, match="in the past"):
        batch.advance([700.0, 200.0])
    with pytest.raises(SimulationError, match="3 targets for 2 members"):
        batch.advance([700.0, 700.0, 700.0])


def test_batch_leaves_its_parent_alone() -> None:
    parent = Twin("sockshop-cpu-hog", seed=2)
    parent.run(until=300)
    before = len(parent.telemetry.window())
    batch = parent.fork_batch(2)
    batch.run(until=900)
    assert parent.now == 300.0 and len(parent.telemetry.window()) == before
    assert [m.now for m in batch.members] == [900.0, 900.0]


def test_members_diverge_with_different_actions() -> None:
    batch = Twin("sockshop-cpu-hog", seed=2).fork_batch(2)
    batch.members[1].act("scale_service", service=batch.members[1].world.services[0], replicas=1)
    batch.run(until=1200)
    a, b = (m.telemetry.window()[-1].service for m in batch.members)
    assert not np.array_equal(a, b)


def test_fork_n_with_seeds_gives_what_if_draws_each_equal_a_reseeded_solo_fork() -> None:
    parent = Twin("b2b4-casc1", seed=3)
    parent.run(until=300)
    batch = parent.fork(3)
    assert isinstance(batch, TwinBatch) and len(batch) == 3
    drawn = parent.fork_batch(3, seeds=[11, 12, 11])
    drawn.run(until=900)
    alone = parent.fork()
    alone.reseed(12)
    alone.run(until=900)
    _same_telemetry(drawn.members[1], alone)
    _same_telemetry(drawn.members[0], drawn.members[2])  # one seed, one draw
    a, b = (m.telemetry.window()[-1].truth.link for m in drawn.members[:2])
    assert not np.array_equal(a, b)  # two seeds, two draws
    with pytest.raises(SimulationError, match="seeds: 2 seeds for n=3"):
        parent.fork_batch(3, seeds=[1, 2])


def test_run_refuses_the_past_and_split_times() -> None:
    batch = Twin("sockshop-cpu-hog", seed=2).fork_batch(2)
    batch.run(until=600)
    with pytest.raises(SimulationError, match="in the past"):
        batch.run(until=300)
    batch.members[0].run(until=700)
    with pytest.raises(SimulationError, match="different times"):
        batch.run(until=800)
    with pytest.raises(SimulationError, match="n=0"):
        Twin("sockshop-cpu-hog", seed=2).fork_batch(0)


def test_offset_bincount_gives_each_member_its_own_sums() -> None:
    """What the stacked services model relies on: bincount adds a bin's weights in input order,
    so member-major stacking with index offsets reproduces each member's sums bit for bit; and
    elementwise ufuncs give the same bits whatever the array's length or position."""
    rng = np.random.default_rng(7)
    n, m, b = 13, 41, 6
    idx = [rng.integers(0, n, m) for _ in range(b)]
    wts = [rng.lognormal(0, 3, m) for _ in range(b)]
    stacked = np.bincount(np.concatenate([i + k * n for k, i in enumerate(idx)]), weights=np.concatenate(wts),
                          minlength=b * n)
    for k in range(b):
        assert stacked[k * n:(k + 1) * n].tobytes() == np.bincount(idx[k], weights=wts[k], minlength=n).tobytes()
    x = np.concatenate(wts)
    for f in (np.exp, np.log, np.log1p, np.sqrt, np.exp2, lambda v: v ** 2.7, lambda v: np.exp(-v)):
        whole = f(x)
        for k in range(b):
            assert whole[k * m:(k + 1) * m].tobytes() == f(wts[k]).tobytes()


def test_service_step_members_stop_where_each_would_alone() -> None:
    """Two members whose graph iterations converge after different numbers of rounds."""
    clients = Clients.simple([0, 1], [1, 2], retries=2.0, timeout_ms=50.0)
    members = []
    for entry, cap in ((100.0, 1000.0), (900.0, 950.0)):
        svc = Services(np.array([entry, 0.0, 0.0]), np.array([cap] * 3), np.ones(3), np.full(3, 100.0), np.zeros(3))
        members.append((svc, Carried.empty(3, 2)))
    alone = [service_step(s, clients, c, np.zeros(2), np.ones(2), 2) for s, c in members]
    two = Clients.simple([0, 1, 3, 4], [1, 2, 4, 5], retries=2.0, timeout_ms=50.0)
    cat = lambda objs, cls: cls(*(np.concatenate([getattr(o, f) for o in objs]) for f in cls.__dataclass_fields__))  # noqa: E731
    both = service_step(cat([s for s, _ in members], Services), two, cat([c for _, c in members], Carried),
                        np.zeros(4), np.ones(4), 2, members=2)
    for k, res in enumerate(alone):
        assert both.latency_ms[3 * k:3 * k + 3].tobytes() == res.latency_ms.tobytes()
        assert both.attempt_fail[2 * k:2 * k + 2].tobytes() == res.attempt_fail.tobytes()
    with pytest.raises(ValueError, match="members=2"):
        service_step(members[0][0], clients, members[0][1], np.zeros(2), np.ones(2), 2, members=2)


def _fields(res) -> dict[str, bytes]:
    out = {f: getattr(res, f).tobytes() for f in res.__dataclass_fields__ if f != "pattern_node_gbps"}
    out.update({f"pattern:{k}": v.tobytes() for k, v in res.pattern_node_gbps.items()})
    return out


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_network_steps_stacked_equal_each_alone(name: str) -> None:
    """Jobs whose link state, own loss, dead links, retries and draws differ: each job's slice of
    the stacked result is bit-identical to its own call (hot arcs and the flow model included)."""
    from twin.sim.network import NetworkJob, network_params, network_step, network_steps

    rng = np.random.default_rng(11)
    base = Twin(name, seed=4)
    base.run(until=300)
    params = network_params(base.scenario)
    n_links, n_dem = base.world.topology.n_links, base.world.demand_gbps.shape[0]
    jobs = []
    for k in range(5):
        t = base.fork()
        net = t.state.network
        if k >= 1:  # tables that route around a link (a distinct routing per job)
            net.link_routed = net.link_routed.copy()
            net.link_routed[int(rng.integers(n_links))] = False
            net.routing = None
        if k >= 2:
            net.link_loss = np.where(rng.random(n_links) < 0.1, rng.uniform(0, 0.2, n_links), 0.0)
        if k == 4:
            net.retry_amp = rng.uniform(1.0, 1.5, 2 * len(t.world.pairs))
        routing = t.routing()
        if k == 3:  # a link down under tables that still use it: output drops
            used = np.unique(routing.arc_of[routing.flow_group[routing.flow_of] >= 0]) // 2
            net.link_down[int(used[0])] += 1
        jobs.append(NetworkJob(t.state, routing, float(rng.uniform(0.5, 3.0)), rng.lognormal(0, 0.3, n_dem),
                               float(rng.uniform(0.5, 3.0))))
    alone = [network_step(base.world, j.state, j.routing, j.demand_scale, j.noise, j.fabric_scale, params) for j in jobs]
    kept: dict = {}
    for _ in range(2):  # the second call takes the kept stacked arrays
        stacked = network_steps(base.world, jobs, params, kept=kept)
        for a, s in zip(alone, stacked):
            assert _fields(a) == _fields(s)
    assert len({id(j.routing) for j in jobs}) > 1, "the jobs should route differently"


@pytest.mark.parametrize("policy", [{}, {"breaker_threshold": 0.2, "breaker_window_s": 20.0},
                                    {"max_inflight": 30.0}, {"breaker_threshold": 0.3, "max_inflight": 50.0}])
def test_service_step_members_over_many_ticks(policy: dict) -> None:
    """Three members of one chain with different loads, over 30 ticks carrying their own state:
    breakers open and close, concurrency limits bite, and each member stays its solo self. The
    members are apart in time (each edge gets its member's time, as run_together passes members
    that tick at different times)."""
    rng = np.random.default_rng(3)
    n, src, dst = 4, [0, 1, 2], [1, 2, 3]
    m, b = len(src), 3
    clients = Clients.simple(src, dst, retries=3.0, timeout_ms=40.0, backoff_ms=5.0, **policy)
    stacked_clients = Clients.simple([s + k * n for k in range(b) for s in src], [d + k * n for k in range(b) for d in dst],
                                     retries=3.0, timeout_ms=40.0, backoff_ms=5.0, **policy)
    alone = [Carried.empty(n, m) for _ in range(b)]
    together = Carried.empty(b * n, b * m)
    opened = limited = False
    for tick in range(30):
        svcs = [Services(np.array([rng.uniform(100, 1500), 0, 0, 0]), np.full(n, 1000.0) * rng.uniform(0.5, 1.5, n),
                         np.full(n, 2.0), np.full(n, 200.0), np.where(rng.random(n) < 0.2, 0.3, 0.0)) for _ in range(b)]
        loss, lat = [rng.uniform(0, 0.05, m) for _ in range(b)], [rng.uniform(0.1, 20, m) for _ in range(b)]
        nows = [10.0 * tick + 70.0 * k for k in range(b)]
        solo = [service_step(s, clients, c, lo, la, 3, now=t) for s, c, lo, la, t in zip(svcs, alone, loss, lat, nows)]
        both = service_step(Services(*(np.concatenate([getattr(s, f) for s in svcs]) for f in Services.__dataclass_fields__)),
                            stacked_clients, together, np.concatenate(loss), np.concatenate(lat), 3,
                            now=np.repeat(nows, m), members=b)
        for k, res in enumerate(solo):
            for f in ("rps", "latency_ms", "p99_ms", "error_rate", "backlog", "shed", "wasted"):
                assert getattr(both, f)[k * n:(k + 1) * n].tobytes() == getattr(res, f).tobytes(), (tick, f)
            for f in ("attempt_fail", "attempt_ms", "fail_ratio", "breaker", "breaker_until"):
                assert getattr(both.carried, f)[k * m:(k + 1) * m].tobytes() == getattr(res.carried, f).tobytes(), (tick, f)
        alone, together = [r.carried for r in solo], both.carried
        opened |= bool(together.breaker.any())
        limited |= bool((together.attempt_ms * together.served_rps[stacked_clients.src] / 1000.0 > 30.0).any())
    assert opened == ("breaker_threshold" in policy)  # the breakers' code path ran, and did something
    if "max_inflight" in policy:
        assert limited


def test_row_sums_equal_each_rows_own_sum() -> None:
    """What the stacked monitors' KPIs rely on: a C-ordered (members, n) array's ``sum(axis=1)``
    and a (members, m, 2) array's ``sum(axis=1)`` give each member the bits of its own 1-D
    ``sum()`` / ``(m, 2).sum(axis=0)``, for short and long rows (pairwise summation included),
    float64 and float32. A fancy-indexed ``x[:, idx]`` is not C-ordered and sums otherwise:
    ``take`` (C-ordered) is what the monitors use."""
    rng = np.random.default_rng(9)
    for it in range(60):
        dtype = (np.float64, np.float32)[it % 2]
        b, n, m = int(rng.integers(1, 40)), int(rng.integers(1, 2000)), int(rng.integers(1, 800))
        a = (rng.standard_normal((b, n)) * 10.0 ** rng.uniform(-8, 8, (b, n))).astype(dtype)
        c = (rng.standard_normal((b, m, 2)) * 10.0 ** rng.uniform(-8, 8, (b, m, 2))).astype(dtype)
        rows, pairs = a.sum(axis=1), c.sum(axis=1)
        idx = np.sort(rng.choice(n, int(rng.integers(1, n + 1)), replace=False))
        picked = a.take(idx, axis=1).sum(axis=1)
        for k in range(b):
            assert rows[k].tobytes() == a[k].sum().tobytes()
            assert pairs[k].tobytes() == c[k].sum(axis=0).tobytes()
            assert picked[k].tobytes() == a[k][idx].sum().tobytes()


@pytest.mark.parametrize("name", ["b2b4-casc1", "sockshop-cpu-hog", "hotel-memory-leak"])
def test_truth_many_equals_each_truth(name: str, monkeypatch) -> None:
    """The monitors' exact values stacked for members whose network and services differ (links
    down, shed classes, scaled services): each member's readings, KPIs and per-class volume
    are bit-identical to its own ``_truth`` (the KPI dict's order included)."""
    import copy

    import twin.sim.monitors as monitors

    rng = np.random.default_rng(len(name))
    base = Twin(name, seed=3)
    base.run(until=600)
    seen: list = []
    truth = monitors._truth

    def capture(mon, st, net, svc):  # a tick's inputs, as they were
        seen.append((copy.deepcopy(st), net, svc))
        return truth(mon, st, net, svc)

    members = [base.fork() for _ in range(4)]
    inputs = []
    for k, m in enumerate(members):
        if k >= 1:
            _act(m, *_draw_action(rng, m))
        if k >= 2:
            _act(m, "shed_traffic", {"traffic_class": "user", "fraction": 0.3})
        m.run(until=600 + 60 * (k + 1))
        monkeypatch.setattr(monitors, "_truth", capture)
        m.run(until=m.now + m.scenario.tick)
        monkeypatch.undo()
        inputs.append(seen[-1])
    states, nets, svcs = (list(x) for x in zip(*inputs))
    mon = members[0].monitors
    together = monitors._truth_many(mon, states, nets, svcs)
    for st, net, svc, (readings, kpi, traffic) in zip(states, nets, svcs, together):
        r0, k0, t0 = truth(mon, st, net, svc)
        for x, y in zip(readings, r0):
            assert x.tobytes() == y.tobytes() and x.shape == y.shape
        assert list(kpi.items()) == list(k0.items()) and repr(kpi) == repr(k0)
        assert traffic.tobytes() == t0.tobytes() and traffic.shape == t0.shape
