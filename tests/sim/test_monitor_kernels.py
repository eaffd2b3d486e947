"""The monitors' kernels against the numpy formulation they replaced (kept here as the oracle):
no transcendental is involved, so every value must be the same, bit for bit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from twin import Twin, load_scenario
from twin.model.world import CLASSES
from twin.sim import monitor_kernels, monitors
from twin.sim.monitors import DEFERRED_WEIGHT


def _truth_numpy(mon, st, net, svc):
    """The solo truth as numpy computed it before the kernel (the oracle)."""
    w, sc = mon.world, mon.scenario
    topo = w.topology
    n_l = topo.n_links
    cap, offered = net.arc_capacity, net.arc_offered
    util = np.divide(offered, cap, out=np.where(offered > 0, 10.0, 0.0), where=cap > 0)
    util = np.minimum(np.maximum(util[0::2], util[1::2]), 10.0)
    link = np.empty((n_l, 5), dtype=np.float32)
    link[:, 0] = util
    link[:, 1] = np.maximum(net.arc_loss[0::2], net.arc_loss[1::2])
    link[:, 2] = np.maximum(net.arc_latency[0::2], net.arc_latency[1::2])
    link[:, 3] = net.arc_carried[0::2] + net.arc_carried[1::2]
    link_up = st.network.link_down == 0
    node_up = st.network.node_down == 0
    link[:, 4] = link_up & node_up[topo.link_a] & node_up[topo.link_b]
    devs = w.devices
    device = np.empty((devs.shape[0], 3), dtype=np.float32)
    device[:, 0] = ~st.control.health_alarm
    through = net.node_gbps[devs]
    cpu_dev = np.minimum(0.1 + 0.2 * through / mon.device_capacity + st.network.node_cpu[devs], 1.0)
    device[:, 1] = np.where(st.network.node_down[devs] > 0, 0.0, cpu_dev)
    device[:, 2] = through
    service = np.zeros((len(w.services), 8), dtype=np.float32)
    kpi = {}
    vol = net.group_wanted
    lost = net.group_wanted - net.group_gbps * (1.0 - net.group_loss)
    deferred_sum = 0.0
    if mon.deferrable.any():
        shed = net.group_wanted * (1.0 - np.tile(st.network.class_limit, lost.size // 2))
        deferred = np.where(np.tile(mon.deferrable, lost.size // 2), np.clip(shed, 0.0, None), 0.0)
        lost = lost - deferred
        deferred_sum = deferred.sum()
        kpi["deferred_gbps"] = float(deferred_sum)
    by_class = vol.reshape(-1, 2).sum(axis=0)
    lost_by_class = lost.reshape(-1, 2).sum(axis=0)
    kpi["user_gbps"], kpi["interdc_gbps"] = float(by_class[0]), float(by_class[1])
    kpi["user_loss"] = float(lost_by_class[0] / max(by_class[0], 1e-9))
    kpi["interdc_loss"] = float(lost_by_class[1] / max(by_class[1], 1e-9))
    for plane in topo.planes:
        idx = mon.plane_links[plane]
        kpi[f"{plane}_utilisation"] = float(util[idx].sum() / idx.size) if idx.size else 0.0
        kpi[f"{plane}_gbps"] = float(link[idx, 3].sum()) if idx.size else 0.0
    violations = int(kpi["user_loss"] > sc.slo.user_loss) + int(kpi["interdc_loss"] > sc.slo.user_loss)
    net_bad = float((lost.sum() + DEFERRED_WEIGHT * deferred_sum) / max(vol.sum(), 1e-9))
    impact = net_bad
    if svc is not None:
        res, cpu, mem_frac, up, entry, customer_err = svc
        service[:, 0] = res.rps
        service[:, 1] = res.p50_ms
        service[:, 2] = res.p99_ms
        service[:, 3] = customer_err
        service[:, 4] = up
        service[:, 5] = cpu
        service[:, 6] = mem_frac
        service[:, 7] = np.maximum(st.services.replicas - up, 0.0)
        bad = (res.p99_ms > mon.slo_p99) | (customer_err > mon.slo_err)
        violations += int(bad.sum())
        slow = np.where(res.p99_ms > mon.slo_p99, 0.5, 0.0)
        weight = entry / max(entry.sum(), 1e-9)
        svc_bad = float((weight * np.clip(customer_err + slow, 0.0, 1.0)).sum())
        kpi["service_bad"] = svc_bad
        impact = 0.5 * (net_bad + svc_bad)
    kpi["net_bad"] = net_bad
    kpi["impact"] = impact
    kpi["slo_violations"] = float(violations)
    return (link, service, device), kpi, by_class.astype(np.float32).reshape(len(CLASSES), 1)


def _same(a, b) -> bool:
    """Equal bit for bit (NaN where the other is NaN too)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.fixture(scope="module")
def truth_inputs():
    """(monitors, state, network result, services) of real ticks, faults and all, on three scenarios."""
    out = []
    for name, until in (("b2b4-casc1", 1800), ("large", 300), ("novel-drain-trap", 1200), ("hotel-memory-leak", 900)):
        t = Twin(load_scenario(name), seed=3)
        seen = []
        real = monitors._truth_many

        def spy(mon, states, nets, svcs, real=real, seen=seen):
            seen.extend((mon, st.copy(), net, svc) for st, net, svc in zip(states, nets, svcs))
            return real(mon, states, nets, svcs)

        monitors._truth_many = spy
        try:
            t.run(until=until)
        finally:
            monitors._truth_many = real
        out += seen[::7]
    return out


def _check_truth(cases) -> None:
    for mon, st, net, svc in cases:
        want = _truth_numpy(mon, st, net, svc)
        got_r, got_kpi, got_traffic = monitors._truth(mon, st, net, svc)
        assert all(_same(g, x) for g, x in zip(got_r, want[0]))
        assert list(got_kpi) == list(want[1]) and all(_same(got_kpi[k], want[1][k]) for k in want[1])
        assert _same(got_traffic, want[2])


def test_truth_kernel_gives_the_numpy_values_on_real_ticks(truth_inputs):
    _check_truth(truth_inputs)


def test_truth_kernel_gives_the_numpy_values_on_random_inputs(truth_inputs):
    rng = np.random.default_rng(7)
    cases = []
    for mon, st, net, svc in truth_inputs[::3]:
        st = st.copy()
        n_a = net.arc_capacity.size
        cap = net.arc_capacity * rng.uniform(0.5, 2.0, n_a)
        cap[rng.random(n_a) < 0.2] = 0.0  # arcs without capacity, some offered traffic
        net = dataclasses.replace(net, arc_capacity=cap, arc_offered=rng.exponential(50.0, n_a) * (rng.random(n_a) < 0.8),
                           arc_loss=rng.random(n_a) ** 3, arc_carried=rng.exponential(30.0, n_a),
                           group_gbps=net.group_gbps * rng.uniform(0.0, 1.2, net.group_gbps.size),
                           group_loss=rng.random(net.group_loss.size) ** 2,
                           node_gbps=rng.exponential(100.0, net.node_gbps.size))
        st.network.node_down = (rng.random(st.network.node_down.size) < 0.1).astype(np.int64)
        st.network.link_down = (rng.random(st.network.link_down.size) < 0.1).astype(np.int64)
        st.network.class_limit = rng.uniform(0.0, 1.2, 2)
        st.control.health_alarm = rng.random(st.control.health_alarm.size) < 0.2
        if svc is not None:
            n_s = svc[1].size
            svc = (dataclasses.replace(svc[0], p99_ms=svc[0].p99_ms * rng.uniform(0.5, 3.0, n_s)),
                   *svc[1:5], rng.random(n_s) ** 4)
        cases.append((mon, st, net, svc))
    _check_truth(cases)


def test_pairwise_sum_adds_as_numpy_does():
    rng = np.random.default_rng(0)
    for dtype, zero in ((np.float64, -0.0), (np.float32, np.float32(-0.0))):
        for n in [*range(0, 300), 1000, 4097, 6192]:
            x = (rng.standard_normal(n) * 10.0 ** rng.uniform(-3, 3, n)).astype(dtype)
            assert _same(dtype(monitor_kernels.pairwise_sum(x, 0, n, zero)), x.sum())


def _read_numpy(g, v, counters, last, last_t, end, dt):
    """A counting read as numpy formed it before the kernels (the oracle); ``counters`` updated in place."""
    vt = v.T
    for row, (col, den) in zip(counters, g.counts):
        np.add(row, vt[col] if den < 0 else vt[col] * vt[den], out=row)
    delta = counters - last
    seen = v.copy()
    seen[:, g.cidx] = (delta / ((end - last_t) / dt)).T
    if g.rpos.size:
        den = delta[g.rden_pos]
        ratio = v.T[g.rcol].astype(float)
        np.divide(delta[g.rpos], den, out=ratio, where=den > 1e-12)
        seen[:, g.rcol] = ratio.T
    return seen


def _noise_numpy(g, seen, z):
    """A read's noise as numpy applied it before the kernel (the oracle), in place."""
    n = seen.shape[-2]
    if n < 512:
        factor = g.scale * z
        factor += 1.0
        seen *= factor
    else:
        noisy = np.flatnonzero(g.scale)
        factor = g.scale[noisy] * z[..., noisy]
        factor += 1.0
        seen[..., noisy] *= factor
    if g.floor_idx.size and n < 512:
        seen += g.floor * (z * z)
    elif g.floor_idx.size:
        seen += np.float32(0.0)
        fz = z[..., g.floor_idx]
        seen[..., g.floor_idx] += g.floor[g.floor_idx] * (fz * fz)
    np.minimum(seen, g.upper, out=seen)


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_read_and_noise_kernels_give_the_numpy_values(name, truth_inputs):
    """Counting reads over random spans (some with nothing offered) and the noise on them,
    one member and several stacked, on real exact values and on random ones."""
    rng = np.random.default_rng(11)
    mon = next(m for m, *_ in truth_inputs if m.scenario.name == name)
    reals = [monitors._truth(m, st, net, svc)[0] for m, st, net, svc in truth_inputs if m is mon]
    dt = mon.tick
    for kind in ("link", "service", "device"):
        g = mon.sampling[kind]
        for real in reals[:3]:
            v = getattr(real, kind).copy()
            v[rng.random(v.shape) < 0.2] = 0.0  # nothing offered, no requests: ratios as they are
            rand = (rng.exponential(1.0, v.shape) * (rng.random(v.shape) < 0.9)).astype(np.float32)
            for x in (v, rand):
                n = x.shape[0]
                counters = rng.exponential(100.0, (g.cidx.size, n))
                last = counters * rng.uniform(0.0, 1.0, counters.shape)
                last_t = 300.0 - dt * rng.integers(1, 6, n)
                c_numpy, c_kernel = counters.copy(), counters.copy()
                want = _read_numpy(g, x, c_numpy, last, last_t, 300.0 + dt, dt)
                monitor_kernels.count(c_kernel, x, g.cidx, mon.count_den[kind])
                got = monitor_kernels.read(x, c_kernel, last, last_t, 300.0 + dt, dt, g.cidx, g.rpos, g.rden_pos, g.rcol)
                assert _same(c_kernel, c_numpy) and _same(got, want)
                for members in (1, 3):
                    seen = np.stack([want * np.float32(1 + k) for k in range(members)])
                    seen[rng.random(seen.shape) < 0.05] = np.nan
                    z = rng.standard_normal(seen.shape, dtype=np.float32) * np.float32(3.0)
                    want_noisy = seen.copy()
                    _noise_numpy(g, want_noisy if members > 1 else want_noisy[0], z if members > 1 else z[0])
                    monitors._noise(g, seen, z)
                    assert _same(seen, want_noisy)


def _evaluate_numpy(group, v, pending, calm, is_open, dt):
    """One member's rule-group test as numpy formed it before the kernel (its dense path, the oracle)."""
    values = v[:, group.cols] * group.sign
    hit = values > group.threshold
    new_pending = np.where(hit, pending + dt, 0.0)
    opened = hit & (new_pending >= group.for_s) & ~is_open
    calm_s = np.where(is_open & (values < group.clear), calm + dt, 0.0)
    done = is_open & (calm_s >= group.clear_for_s)
    calm_s[done] = 0.0
    return bool(hit.any()), bool(is_open.any()), new_pending, opened, calm_s, done


@pytest.mark.parametrize("name", ["b2b4-casc1", "large"])
def test_alert_kernel_gives_the_numpy_tests(name, truth_inputs):
    """Held and calm seconds, opened and cleared alerts, one member and several stacked, on
    values around the thresholds (NaN: silent monitors) with random timers and open alerts."""
    rng = np.random.default_rng(13)
    mon = next(m for m, *_ in truth_inputs if m.scenario.name == name)
    dt = mon.tick
    for group in mon.groups:
        n, r = group.threshold.shape
        n_metrics = max(group.cols) + 1
        for members in (1, 4):
            v = np.empty((members, n, n_metrics), dtype=np.float32)
            v[:] = rng.exponential(1.0, v.shape)
            for j, col in enumerate(group.cols):  # near the thresholds, some past them
                v[:, :, col] = group.threshold[:, j] * group.sign[j] * rng.uniform(0.5, 1.5, (members, n))
            v[rng.random(v.shape) < 0.05] = np.nan
            pending = dt * rng.integers(0, 12, (members, n, r)).astype(float)
            calm = dt * rng.integers(0, 12, (members, n, r)).astype(float)
            is_open = rng.random((members, n, r)) < 0.3
            if members > 1:
                is_open[1] = False  # a member with nothing open
                v[2, :, :] = 0.0  # ... and one with nothing past a (positive) threshold
            flags, held, opened, calm_s, cleared = monitor_kernels.evaluate(
                v, group.cols, group.sign, group.threshold, group.for_s, group.clear, group.clear_for_s,
                pending, calm, is_open, dt)
            for k in range(members):
                any_hit, any_open, p, o, c, d = _evaluate_numpy(group, v[k], pending[k], calm[k], is_open[k], dt)
                assert (bool(flags[k, 0]), bool(flags[k, 1])) == (any_hit, any_open)
                if any_hit:
                    assert _same(held[k], p) and _same(opened[k], o)
                if any_open:
                    assert _same(calm_s[k], c) and _same(cleared[k], d)
