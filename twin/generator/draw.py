"""Drawing one candidate incident: a world from the generators, calibrated, then faults and red herrings.

Everything here is sandbox side (it places faults). The world comes from the generators the
scenario format already has (``topology.generator``: a ring-plus-chords WAN on two planes;
``topology.fabrics``: k-ary fat-trees; ``services``: a built-in call-graph shape or the
Alibaba-like generator), so a generated file is as short as a hand-written one.

Calibration reads the twin, never a table: a short fault-free run gives every link's utilisation
and every service's request rate and p99; the gravity totals are scaled so the planes run at the
drawn utilisation, and the latency SLO is set at twice the slowest service's healthy p99. Faults
are then put "where they matter": a link in proportion to the square of its load, a service in
proportion to its request rate, a fabric link among the uplinks of ToRs that host services.
Whether the result is an incident at all is decided later, by simulation (:mod:`twin.generator.assess`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from twin.generator.config import GeneratorConfig
from twin.model.wan import SITE_NAMES
from twin.scenario import Scenario, parse_scenario

__all__ = ["Baseline", "Draft", "calibrate", "draw_draft", "draw_fault"]

PLANES = ("b2", "b4")
WARMUP_S = 240.0  # the fault-free calibration run


@dataclass
class Baseline:
    """A fault-free world's figures, from its monitors over the calibration run."""

    link_util: dict[str, float]
    link_plane: dict[str, str]
    link_site: dict[str, str]  # the site of the link's first end
    service_rps: dict[str, float]
    service_p99: dict[str, float]
    service_site: dict[str, str]
    service_replicas: dict[str, int]
    service_kind: dict[str, str]  # gateway | app | db | cache
    service_tor: dict[str, str]  # ToR node name, "" outside a fabric
    entries: tuple[str, ...]
    routers: dict[str, float]  # router -> Gbps of the links at it
    aggs: dict[str, float]  # fabric aggregation switch -> Gbps of its links


@dataclass
class Draft:
    """One candidate incident as scenario data, with what the drawing knows about it."""

    data: dict[str, Any]
    layer: str
    kind: str
    entities: list[str] = field(default_factory=list)  # what the root-cause faults act on
    fault_ids: list[str] = field(default_factory=list)  # the root-cause faults (not a monitoring outage)
    herrings: list[str] = field(default_factory=list)  # benign change ids
    baseline: Baseline | None = None


def _u(rng: np.random.Generator, lo: float, hi: float, nd: int = 3) -> float:
    return round(float(rng.uniform(lo, hi)), nd)


def _mmss(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 60}m{s % 60:02d}s" if s % 60 else f"{s // 60}m"


def _pick(rng: np.random.Generator, names: list[str], weight: np.ndarray | list[float]) -> str:
    w = np.asarray(weight, dtype=float)
    w = np.where(np.isfinite(w) & (w > 0), w, 0.0)
    if not names:
        raise ValueError("nothing to pick from")
    p = w / w.sum() if w.sum() > 0 else np.full(len(names), 1.0 / len(names))
    return names[int(rng.choice(len(names), p=p))]


def draw_world(rng: np.random.Generator, cfg: GeneratorConfig, name: str, te_flaw: bool) -> dict[str, Any]:
    """The network, services, traffic and control plane, before calibration."""
    n_sites = int(rng.integers(cfg.wan_sites[0], cfg.wan_sites[1] + 1))
    sites = list(SITE_NAMES[:n_sites])
    graph = str(rng.choice(cfg.callgraphs))
    services: dict[str, Any] = {"default_site": sites[0]}
    if graph == "generated":
        services["generate"] = int(rng.integers(cfg.services[0], cfg.services[1] + 1))
    else:
        services["callgraph"] = graph
    k = int(rng.choice(cfg.fabric_k))
    fabric = {"site": sites[0], "k": k, "link_gbps": float(rng.choice([10.0, 25.0, 40.0])),
              "utilisation": _u(rng, 0.2, 0.4, 2), "flows_per_tor": 4}
    peak = int(rng.integers(10, 20))
    return {
        "name": name,
        "description": "a generated incident",
        "category": "synthetic",
        "source": "twin generate",
        "duration": f"{cfg.duration_min}m",
        "tick": "10s",
        "settle": "2m",
        "seed": int(rng.integers(0, 2**31 - 1)),
        "topology": {
            "generator": {"sites": n_sites, "planes": list(PLANES), "degree": int(rng.integers(2, 4)),
                          "capacity_gbps": float(rng.choice([100.0, 200.0, 400.0])),
                          "delay_ms_per_hop": float(rng.choice([5.0, 10.0, 15.0]))},
            "fabrics": [fabric],
        },
        "services": services,
        "traffic": {
            "planes": {"user": "b2", "interdc": "b4"},
            "gravity": {"user_gbps": 100.0, "interdc_gbps": 100.0},
            "diurnal": {"amplitude": _u(rng, 0.03, 0.12, 2), "peak_hour": peak, "start_hour": peak - 3},
            "noise": 0.02,
        },
        "control": {
            "te": {"period": "60s", "reaction": "10s", "tunnels": 3, "quantum": 0.125,
                   **({"inconsistent_prefixes": "plane_failed", "inconsistent_clusters": 2} if te_flaw else {})},
            "autoscaler": {"enabled": bool(rng.random() < 0.5)},
        },
        "slo": {"p99_ms": 300.0, "error_rate": 0.02, "user_loss": 0.01},
        "faults": [],
        "changes": [],
    }


def _names(sc: Scenario) -> tuple[Any, list[str]]:
    from twin.model.world import build_world

    w = build_world(sc)
    return w, [s.name for s in w.callgraph.services] if w.callgraph else []


def calibrate(data: dict[str, Any], rng: np.random.Generator, hot: bool = False) -> tuple[dict[str, Any], Baseline]:
    """Scale the gravity totals to drawn plane utilisations and set the latency SLO from a
    fault-free run; return the calibrated data and the world's figures. ``hot`` draws busier
    planes (for a fault that takes capacity away or moves traffic: on a cool network it is absorbed)."""
    from twin.sim.twin import Twin

    sc = parse_scenario(data, data["name"])
    world, names = _names(sc)
    twin = Twin(sc, seed=sc.seed)
    twin.run(until=WARMUP_S)
    links = twin.metrics("link").groupby("entity")["utilisation"].mean()
    topo = world.topology
    target = ({"b2": _u(rng, 0.45, 0.6, 2), "b4": _u(rng, 0.65, 0.85, 2)} if hot
              else {"b2": _u(rng, 0.3, 0.55, 2), "b4": _u(rng, 0.5, 0.8, 2)})
    out = {**data, "traffic": {**data["traffic"], "gravity": dict(data["traffic"]["gravity"])}}
    for plane, key in (("b2", "user_gbps"), ("b4", "interdc_gbps")):
        util = [float(links.get(n, 0.0)) for n, p in zip(topo.links, topo.link_plane) if p == plane]
        peak = max(util) if util else 0.0
        scale = target[plane] / peak if peak > 1e-6 else 1.0
        out["traffic"]["gravity"][key] = round(float(data["traffic"]["gravity"][key]) * scale, 1)
    svc = twin.metrics("service").groupby("entity")[["rps", "p99_ms"]].mean()
    p99 = float(svc["p99_ms"].max()) if len(svc) else 100.0
    out["slo"] = {**data["slo"], "p99_ms": float(max(100.0, 50.0 * np.ceil(2.0 * p99 / 50.0)))}
    util_by = {n: float(links.get(n, 0.0)) for n in topo.links}
    gbps = {n: util_by[n] * float(c) for n, c in zip(topo.links, topo.capacity_gbps)}
    routers: dict[str, float] = {}
    aggs: dict[str, float] = {}
    for i, n in enumerate(topo.links):
        for end in (topo.link_a[i], topo.link_b[i]):
            node = topo.nodes[end]
            if topo.node_kind[end] == "router":
                routers[node] = routers.get(node, 0.0) + gbps[n]
            elif topo.node_kind[end] == "agg":
                aggs[node] = aggs.get(node, 0.0) + gbps[n]
    tor_names: dict[str, str] = {}
    for i, s in enumerate(names):
        site = topo.sites[int(world.service_site[i])]
        t = int(world.service_tor[i])
        ft = world.fabrics.get(site)
        tor_names[s] = topo.nodes[int(ft.tor_node.reshape(-1)[t])] if ft is not None and t >= 0 else ""
    base = Baseline(
        link_util=util_by,
        link_plane=dict(zip(topo.links, topo.link_plane)),
        link_site={n: topo.node_site[int(topo.link_a[i])] for i, n in enumerate(topo.links)},
        service_rps={s: float(svc["rps"].get(s, 0.0)) for s in names},
        service_p99={s: float(svc["p99_ms"].get(s, 0.0)) for s in names},
        service_site={s: topo.sites[int(world.service_site[i])] for i, s in enumerate(names)},
        service_replicas={s.name: int(s.replicas) for s in world.callgraph.services} if world.callgraph else {},
        service_kind={s.name: s.kind for s in world.callgraph.services} if world.callgraph else {},
        service_tor=tor_names,
        entries=tuple(e for e, _ in world.callgraph.entries) if world.callgraph else (),
        routers=routers,
        aggs=aggs,
    )
    return out, base


def _wan_links(base: Baseline, planes: tuple[str, ...] = PLANES) -> tuple[list[str], np.ndarray]:
    names = [n for n, p in base.link_plane.items() if p in planes]
    return names, np.array([base.link_util[n] ** 2 + 1e-3 for n in names])


def _fabric_uplinks(base: Baseline) -> tuple[list[str], np.ndarray]:
    """ToR-to-aggregation links of ToRs that host services, weighted by their load."""
    tors = {t for t in base.service_tor.values() if t}
    names = [n for n, p in base.link_plane.items() if p == "fabric" and n.split("~")[0] in tors]
    return names, np.array([base.link_util[n] + 1e-3 for n in names])


def _service(rng: np.random.Generator, base: Baseline, stateless: bool = False) -> str:
    names = [s for s in base.service_rps if not stateless or base.service_kind.get(s) not in ("db", "cache")]
    return _pick(rng, names, [base.service_rps[s] + 1.0 for s in names])


def draw_fault(rng: np.random.Generator, layer: str, kind: str, base: Baseline, fid: str, at: float,
               change_id: str) -> tuple[dict[str, Any], str]:
    """One fault of ``kind`` on ``layer`` placed where it matters; returns (fault data, entity)."""
    spec: dict[str, Any] = {"id": fid, "kind": kind, "at": _mmss(at)}
    if layer in ("wan", "fabric") and kind in ("link_down", "link_degraded", "link_flap"):
        names, w = _wan_links(base) if layer == "wan" else _fabric_uplinks(base)
        link = _pick(rng, names, w)
        params: dict[str, Any] = {"link": link}
        if kind == "link_degraded":
            params["loss"] = _u(rng, 0.02, 0.2)
        elif kind == "link_flap":
            params["period"] = float(rng.choice([20.0, 30.0, 60.0]))
        spec["params"] = params
        return spec, link
    if kind == "device_failure":
        pool = {r: g for r, g in base.routers.items()} if layer == "wan" else dict(base.aggs)
        names = sorted(pool)
        dev = _pick(rng, names, [pool[n] + 1e-3 for n in names])
        spec["params"] = {"device": dev}
        return spec, dev
    if kind == "traffic_surge":
        cls = str(rng.choice(["user", "interdc"]))
        spec["params"] = {"traffic_class": cls, "factor": _u(rng, 1.6, 3.0, 2), "automation": bool(rng.random() < 0.5)}
        return spec, cls
    if kind == "config_push":
        plane = "b4"
        spec["params"] = {"change": change_id, "target": plane, "plane": plane, "inconsistency": "multi_prefix",
                          "clusters": int(rng.integers(2, 4)),
                          "description": str(rng.choice(["prefix aggregation update on cluster routers",
                                                          "cluster router software upgrade",
                                                          "new route summarisation policy"]))}
        return spec, plane
    if kind == "load_surge":  # requests multiply at the front door
        svc = _pick(rng, list(base.entries), [base.service_rps.get(s, 0.0) + 1.0 for s in base.entries])
    else:
        svc = _service(rng, base, stateless=kind in ("bad_deploy", "retry_storm"))
    params = {"service": svc}
    if kind == "bad_deploy":
        params.update(error_rate=_u(rng, 0.1, 0.6), version=f"v{int(rng.integers(1, 9))}.{int(rng.integers(0, 30))}.0")
    elif kind == "cpu_hog":
        share = _u(rng, 0.6, 0.9)
        params.update(share=share, grow_per_min=_u(rng, 0.0, 0.01, 4), max_share=min(0.97, round(share + 0.05, 3)))
    elif kind == "memory_leak":
        params.update(mb_per_min=float(rng.choice([300.0, 500.0, 800.0])), deploy=bool(rng.random() < 0.6))
    elif kind == "replica_crash":
        reps = max(1, base.service_replicas.get(svc, 2))
        params.update(count=float(max(1, int(rng.integers(1, reps + 1)))), crashloop=bool(rng.random() < 0.5),
                      deploy=bool(rng.random() < 0.5))
    elif kind == "retry_storm":
        params.update(factor=_u(rng, 3.0, 8.0, 2))
    elif kind == "load_surge":
        params.update(factor=_u(rng, 1.2, 1.6, 2))
    spec["params"] = params
    return spec, svc


_HERRINGS = (
    ("config_push", "plane", "update ACLs on {t} edge routers"),
    ("config_push", "plane", "rotate BGP session keys on {t}"),
    ("config_push", "plane", "raise log verbosity on {t} routers"),
    ("maintenance", "plane", "replace optics on one {t} span (redundant path up)"),
    ("deploy", "service", "deploy {t} {v}"),
    ("deploy", "service", "deploy {t} {v} (config only)"),
)


def draw_herrings(rng: np.random.Generator, base: Baseline, n: int, around: float, taken: set[str]) -> list[dict[str, Any]]:
    """``n`` benign changes and deploys in the change log, from 8 minutes before the fault to 2
    after; they change nothing in the network."""
    out = []
    services = sorted(base.service_rps)
    for _ in range(n):
        kind, target_kind, text = _HERRINGS[int(rng.integers(len(_HERRINGS)))]
        target = str(rng.choice(list(PLANES))) if target_kind == "plane" else str(rng.choice(services))
        cid = f"chg-{int(rng.integers(1000, 10000))}"
        while cid in taken:
            cid = f"chg-{int(rng.integers(1000, 10000))}"
        taken.add(cid)
        at = max(30.0, 30.0 * round((around + float(rng.uniform(-480, 120))) / 30.0))
        version = f"v{int(rng.integers(1, 9))}.{int(rng.integers(0, 30))}.{int(rng.integers(1, 9))}"
        out.append({"id": cid, "at": _mmss(at), "kind": kind, "target": target,
                    "description": text.format(t=target, v=version)})
    return sorted(out, key=lambda c: (float(_secs(c["at"])), c["id"]))


def _secs(text: str) -> float:
    from twin.units import parse_duration

    return parse_duration(text)


def _entity_site(entity: str, base: Baseline) -> str | None:
    """The site a fault's entity sits at (None for a whole traffic class or plane)."""
    if entity in base.service_site:
        return base.service_site[entity]
    if entity in base.link_site:
        return base.link_site[entity]
    if "/" in entity:
        return entity.split("/")[0]
    if "-" in entity and entity.split("-", 1)[0] in PLANES:
        return entity.split("-", 1)[1]
    return None


def draw_draft(rng: np.random.Generator, cfg: GeneratorConfig, name: str, layer: str, kind: str) -> Draft:
    """One candidate incident with its root cause on ``layer`` of ``kind``."""
    data = draw_world(rng, cfg, name, te_flaw=kind == "config_push" or bool(rng.random() < 0.3))
    data, base = calibrate(data, rng, hot=layer == "wan" and kind in ("link_down", "config_push"))
    at = 30.0 * int(rng.integers(10, 21))  # 5 to 10 minutes in
    taken: set[str] = set()
    cid = f"chg-{int(rng.integers(1000, 10000))}"
    taken.add(cid)
    fault, entity = draw_fault(rng, layer, kind, base, "f1", at, cid)
    faults, entities, ids = [fault], [entity], ["f1"]
    if kind == "retry_storm":
        # the retry change is latent: a storm needs attempts that fail. A short burst of load at
        # the front door (gone by the time anyone looks) is the trigger; the storm sustains itself
        entry = _pick(rng, list(base.entries), [1.0] * len(base.entries))
        faults.append({"id": "trigger", "kind": "load_surge", "at": _mmss(at + 60.0),
                       "duration": _mmss(30.0 * int(rng.integers(4, 9))),
                       "params": {"service": entry, "factor": _u(rng, 1.8, 3.0, 2)}})
    if cfg.max_faults > 1 and rng.random() < cfg.p_second_fault:
        others = [(lay, k) for lay, k in cfg.combos() if lay != layer]
        if others:
            lay2, kind2 = others[int(rng.integers(len(others)))]
            cid2 = f"chg-{int(rng.integers(1000, 10000))}"
            taken.add(cid2)
            at2 = 30.0 * round((at + float(rng.uniform(-120, 240))) / 30.0)
            f2, e2 = draw_fault(rng, lay2, kind2, base, "f2", max(60.0, at2), cid2)
            if e2 != entity:
                faults.append(f2)
                entities.append(e2)
                ids.append("f2")
    site = _entity_site(entity, base)
    if site is not None and rng.random() < cfg.p_blindspot:
        dark_at = max(30.0, at - 30.0 * int(rng.integers(0, 11)))
        faults.append({"id": "monitoring-dark", "kind": "monitoring_outage", "at": _mmss(dark_at),
                       "params": {"scope": site}})
    n_herrings = int(rng.integers(0, cfg.max_red_herrings + 1))
    changes = draw_herrings(rng, base, n_herrings, at, taken)
    data = {**data, "faults": faults, "changes": changes}
    return Draft(data=data, layer=layer, kind=kind, entities=entities, fault_ids=ids,
                 herrings=[c["id"] for c in changes], baseline=base)
