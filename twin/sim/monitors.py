"""Monitors of a twin: one telemetry sample per tick, and threshold alerts evaluated on it.

:class:`Monitors` is built once per world (rules, SLO thresholds, rules grouped by entity kind
as arrays) and shared by every fork; it holds no state of its own. Open alerts and the
seconds each condition has held live in the twin's state.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from twin.model.world import World
from twin.sim.export_path import lose_exported_samples
from twin.sim.network import NetworkResult
from twin.sim.state import TwinState
from twin.telemetry.alerts import Alert, AlertRule, default_rules
from twin.telemetry.recorder import METRICS, Sample

if TYPE_CHECKING:
    from twin.scenario import Scenario

__all__ = ["Monitors", "RuleGroup"]


class RuleGroup(NamedTuple):
    """The alert rules on one entity kind, as arrays: (entities x rules) evaluated at once."""

    kind: str
    rules: list[AlertRule]
    cols: np.ndarray  # metric column of each rule
    threshold: np.ndarray  # entities x rules
    above: np.ndarray  # per rule: fires above (True) or below the threshold
    for_s: np.ndarray  # per rule: seconds the condition must hold, rounded to whole samples


class Monitors:
    """The monitors of one scenario's world: what a sample holds and which alerts fire."""

    def __init__(self, scenario: "Scenario", world: World, entities: dict[str, tuple[str, ...]]) -> None:
        self.scenario, self.world, self.entities = scenario, world, entities
        self.tick = scenario.tick
        slo = scenario.slo
        self.slo_p99 = np.array([slo.services.get(s, {}).get("p99_ms", slo.p99_ms) for s in world.services])
        self.slo_err = np.array([slo.services.get(s, {}).get("error_rate", slo.error_rate) for s in world.services])
        rules = default_rules(self.slo_p99, self.slo_err, slo.link_loss)
        for r in scenario.alerts:
            above = r.above is not None
            rules.append(AlertRule(r.name, r.entity_kind, r.metric, r.above if above else r.below, above, r.for_,
                                   r.severity))
        self.rules: tuple[AlertRule, ...] = tuple(rules)
        self.groups = self._groups()

    def _groups(self) -> list[RuleGroup]:
        groups = []
        for kind in ("link", "service", "device"):
            rules = [r for r in self.rules if r.entity_kind == kind and r.metric in METRICS[kind]]
            n = len(self.entities[kind])
            if not rules or n == 0:
                continue
            cols = np.array([METRICS[kind].index(r.metric) for r in rules])
            thr = np.stack([np.broadcast_to(np.asarray(r.threshold, dtype=float), (n,)) for r in rules], axis=1)
            above = np.array([r.above for r in rules])
            for_s = np.array([r.for_s + self.tick - 1e-9 if r.for_s > 0 else -np.inf for r in rules])
            groups.append(RuleGroup(kind, rules, cols, thr, above, for_s))
        return groups

    def sample(self, state: TwinState, now: float, net: NetworkResult, svc) -> Sample:
        """What monitors record this tick (masked where monitoring is down)."""
        return _sample(self, state, now, net, svc)

    def evaluate(self, state: TwinState, now: float, sample: Sample) -> list[Alert]:
        """Open and clear alerts in ``state`` on this sample; returns the alerts that cleared."""
        return _evaluate(self, state, now, sample)


def _sample(mon: Monitors, st: TwinState, now: float, net: NetworkResult, svc) -> Sample:
    w, sc = mon.world, mon.scenario
    topo = w.topology
    n_l = topo.n_links
    # both directions of a link: even and odd arcs (strided maxima beat reshape+reduce)
    cap, offered = net.arc_capacity, net.arc_offered
    util = np.divide(offered, cap, out=np.where(offered > 0, 10.0, 0.0), where=cap > 0)
    util = np.minimum(np.maximum(util[0::2], util[1::2]), 10.0)
    link = np.empty((n_l, 5), dtype=np.float32)
    link[:, 0] = util
    link[:, 1] = np.maximum(net.arc_loss[0::2], net.arc_loss[1::2])
    link[:, 2] = np.maximum(net.arc_latency[0::2], net.arc_latency[1::2])
    link[:, 3] = net.arc_carried[0::2] + net.arc_carried[1::2]
    link[:, 4] = (
        (st.network.link_down == 0) & (st.network.node_down[topo.link_a] == 0) & (st.network.node_down[topo.link_b] == 0)
    )
    devs = w.devices
    device = np.empty((devs.shape[0], 3), dtype=np.float32)
    device[:, 0] = ~st.control.health_alarm
    attached_cap = w.attached_capacity
    through = net.node_gbps[devs]
    # control-plane CPU: a base, a little per forwarded packet (forwarding is in hardware),
    # plus route processing load a fault or churn puts on it
    cpu_dev = np.minimum(
        0.1 + 0.2 * through / np.maximum(attached_cap[devs], 1e-9) + st.network.node_cpu[devs], 1.0
    )
    device[:, 1] = np.where(st.network.node_down[devs] > 0, 0.0, cpu_dev)
    device[:, 2] = through
    n_s = len(w.services)
    service = np.zeros((n_s, 8), dtype=np.float32)
    kpi: dict[str, float] = {}
    vol = net.group_wanted
    # traffic shed at the edge is traffic customers could not send: it counts as lost
    lost = net.group_wanted - net.group_gbps * (1.0 - net.group_loss)
    by_class = vol.reshape(-1, 2).sum(axis=0)  # groups are (pair, class) with class fastest
    lost_by_class = lost.reshape(-1, 2).sum(axis=0)
    kpi["user_gbps"], kpi["interdc_gbps"] = float(by_class[0]), float(by_class[1])
    kpi["user_loss"] = float(lost_by_class[0] / max(by_class[0], 1e-9))
    kpi["interdc_loss"] = float(lost_by_class[1] / max(by_class[1], 1e-9))
    for plane in topo.planes:
        mask = w.plane_masks[plane]
        kpi[f"{plane}_utilisation"] = float(util[mask].mean()) if mask.any() else 0.0
        kpi[f"{plane}_gbps"] = float(link[mask, 3].sum()) if mask.any() else 0.0
    violations = int(kpi["user_loss"] > sc.slo.user_loss) + int(
        kpi["interdc_loss"] > sc.slo.user_loss
    )
    net_bad = float(lost.sum() / max(vol.sum(), 1e-9))
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
        svc_bad = float((weight * np.clip(customer_err + slow, 0, 1)).sum())
        kpi["service_bad"] = svc_bad
        impact = 0.5 * (net_bad + svc_bad)
    kpi["net_bad"] = net_bad
    kpi["impact"] = impact
    kpi["slo_violations"] = float(violations)
    lose_exported_samples(sc, w, st, net, {"links": link, "services": service, "devices": device})
    if "links" in st.alerts.monitoring_down:
        link[:] = np.nan
    if "services" in st.alerts.monitoring_down:
        service[:] = np.nan
    if "devices" in st.alerts.monitoring_down:
        device[:] = np.nan
    for site in sorted(st.alerts.monitoring_down & set(topo.sites)):
        link[[topo.node_site[a] == site for a in topo.link_a]] = np.nan
        service[w.service_site == w.site_index[site]] = np.nan
    return Sample(now, link, service, device, kpi)


def _evaluate(mon: Monitors, st: TwinState, now: float, sample: Sample) -> list[Alert]:
    dt = mon.tick
    names = mon.entities
    closed: list[Alert] = []
    for kind, rules, cols, thr, above, for_s in mon.groups:
        values = getattr(sample, kind)[:, cols].astype(float)
        valid = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            hit = np.where(above, values > thr, values < thr) & valid
        pending = st.alerts.pending.get(kind)
        if pending is None:
            pending = np.zeros(values.shape)
            st.alerts.pending[kind + "/open"] = np.zeros(values.shape, dtype=bool)
        is_open = st.alerts.pending[kind + "/open"]
        pending = np.where(hit, pending + dt, 0.0)
        st.alerts.pending[kind] = pending
        firing = hit & (pending >= for_s)
        opened = firing & ~is_open
        # an alert clears when its condition is false; a silent monitor (NaN) keeps it open
        cleared = is_open & ~hit & valid
        if not (opened.any() or cleared.any()):
            continue
        for i, r in zip(*np.nonzero(opened)):
            rule, entity = rules[r], names[kind][i]
            st.alerts.open[(rule.name, entity)] = dict(
                name=rule.name,
                entity=entity,
                entity_kind=kind,
                severity=rule.severity,
                start=now,
                end=None,
                value=float(values[i, r]),
                message=f"{rule.name}: {entity} {rule.metric}={values[i, r]:.3g} "
                f"{'>' if rule.above else '<'} {thr[i, r]:.3g}",
            )
        for i, r in zip(*np.nonzero(cleared)):
            alert = st.alerts.open.pop((rules[r].name, names[kind][i]))
            alert["end"] = now
            closed.append(Alert(**alert))
        st.alerts.pending[kind + "/open"] = (is_open | opened) & ~cleared
    return closed
