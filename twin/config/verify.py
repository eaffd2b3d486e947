"""Verify a configuration change before it is pushed: one interface, two back-ends.

* **embedded** (always): the change checked in the twin's own model. For each WAN plane,
  reachability between all site pairs before and after (networkx over usable links with OSPF
  costs; BGP sessions and export filters decide whether a site's prefix is learned; inbound ACLs
  on the shortest path drop traffic), and what traffic the change blocks or moves, in Gbps
  scaled to the latest telemetry. Rendered configurations are also checked for undefined
  references (ACLs, prefix-lists, route-maps).
* **Batfish** (when ``TWIN_BATFISH_HOST`` names a service): before/after snapshots of the
  rendered configurations through pybatfish: parse status, init issues, undefined references,
  differential reachability. A Batfish result is only ever reported when Batfish answered.
"""

from __future__ import annotations

import os
import re
import socket
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import networkx as nx

from twin.config.change import ConfigChange, apply_change, config_diff, parse_change
from twin.config.render import RouterConfig, base_configs, render_all
from twin.physics.configs import acl_drops, best_announcer, igp_weight, pinned_path, site_prefix
from twin.sim.network import usable_links
from twin.model.topology import router_name
from twin.model.world import CLASSES

if TYPE_CHECKING:
    from twin.sim.twin import Twin

__all__ = ["BATFISH_PORT", "VerifyResult", "batfish_check", "embedded_check", "undefined_references", "verify"]

BATFISH_PORT = 9996


@dataclass(frozen=True)
class VerifyResult:
    change: str
    diff: str
    embedded: dict[str, Any]
    batfish_status: str  # "Batfish: not configured" | "Batfish: unreachable at HOST" | "Batfish: passed" | ...
    batfish: dict[str, Any] | None = None
    blocked_gbps: float = 0.0
    moved_gbps: float = 0.0
    summary: str = ""

    @property
    def ok(self) -> bool:
        return self.blocked_gbps == 0 and not self.embedded.get("undefined_references")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["ok"] = self.ok
        return out


_REF = re.compile(r"(?:ip access-group|route-map|prefix-list) (\S+)")


def undefined_references(configs: dict[str, str]) -> list[str]:
    """``router: kind NAME`` for every ACL / prefix-list / route-map used but not defined."""
    out = []
    for router, text in configs.items():
        defined = set(re.findall(r"^ip access-list extended (\S+)", text, re.MULTILINE))
        defined |= set(re.findall(r"^ip prefix-list (\S+)", text, re.MULTILINE))
        defined |= set(re.findall(r"^route-map (\S+)", text, re.MULTILINE))
        for line in text.splitlines():
            s = line.strip()
            if s.startswith(("ip access-list", "ip prefix-list", "route-map ")):
                continue
            for name in _REF.findall(s):
                if name not in defined:
                    out.append(f"{router}: {name}")
    return sorted(set(out))


def _paths(twin: Twin, configs: dict[str, RouterConfig]) -> dict[tuple[str, int], list[int] | None]:
    """(plane, pair index) -> router path, or None when unreachable, for every site pair: the
    same route selection the twin forwards by (:mod:`twin.physics.configs`), over usable links."""
    topo, w = twin.world.topology, twin.world
    usable = usable_links(w, twin.state)
    prefixes = site_prefix(topo)
    out: dict[tuple[str, int], list[int] | None] = {}
    for plane in topo.planes:
        g = topo.plane_graph(plane, usable)
        for _a, _b, edge in g.edges(data=True):
            edge["weight"] = igp_weight(configs, topo, edge["link"])
        paths = dict(nx.all_pairs_dijkstra_path(g, weight="weight"))
        dist = dict(nx.all_pairs_dijkstra_path_length(g, weight="weight"))
        announcers = [topo.node_index[n] for n, c in configs.items()
                      if c.plane == plane and any(t.active and t.match == "any" for t in c.policy)]
        for k, (src, dst) in enumerate(w.pairs):
            s, d = router_name(plane, src), router_name(plane, dst)
            if s not in configs or d not in configs:
                continue
            si, di = topo.node_index[s], topo.node_index[d]
            prefix = prefixes[dst]
            via = best_announcer(topo, configs, si, di, prefix, dist.get(si, {}), announcers)
            if via is None:
                out[(plane, k)] = None
                continue
            path = paths[si][via] + paths[via][di][1:] if via != di else paths[si][di]
            pinned = pinned_path(topo, configs, g, path, prefix, paths)
            out[(plane, k)] = None if pinned is None or acl_drops(configs, topo, pinned, prefix) else pinned
    return out


def embedded_check(twin: Twin, change: ConfigChange) -> dict[str, Any]:
    """Reachability before/after and the traffic the change blocks or moves, in the twin's model."""
    w = twin.world
    base = base_configs(twin)
    after_cfg = apply_change(twin, change, base)
    before, after = _paths(twin, base), _paths(twin, after_cfg)
    latest = twin.telemetry.latest()
    scale = {}
    for c, cls in enumerate(CLASSES):
        base_gbps = float(w.demand_gbps[w.demand_class == c].sum())
        seen = latest.kpi.get(f"{cls}_gbps") if latest is not None else None
        scale[cls] = (seen / base_gbps) if seen is not None and base_gbps > 0 else 1.0
    placement = twin.state.control.te_class_plane
    blocked, moved, lost = 0.0, 0.0, []
    for key in before:
        plane, k = key
        if before[key] is not None and after.get(key) is None:
            lost.append(f"{plane}: {w.pairs[k][0]} -> {w.pairs[k][1]}")
    for j in range(w.demand_gbps.shape[0]):
        cls = CLASSES[int(w.demand_class[j])]
        key = (placement.get(cls, w.class_plane.get(cls)), int(w.demand_pair[j]))
        gbps = float(w.demand_gbps[j]) * scale[cls]
        if key not in before or before[key] is None:
            continue
        if after.get(key) is None:
            blocked += gbps
        elif after[key] != before[key]:
            moved += gbps
    rendered = render_all(twin, after_cfg)
    return {"pairs_checked": len(before), "pairs_reachable_before": sum(v is not None for v in before.values()),
            "pairs_reachable_after": sum(v is not None for v in after.values()), "pairs_lost": lost,
            "blocked_gbps": round(blocked, 3), "moved_gbps": round(moved, 3),
            "undefined_references": undefined_references(rendered)}


def _reachable(host: str, timeout: float = 2.0) -> bool:
    try:
        with socket.create_connection((host, BATFISH_PORT), timeout=timeout):
            return True
    except OSError:
        return False


def batfish_check(host: str, before: dict[str, str], after: dict[str, str]) -> dict[str, Any]:
    """Ask a Batfish service about the before/after snapshots (raises on any failure)."""
    from pybatfish.client.session import Session  # heavy and optional: imported only here

    bf = Session(host=host)
    bf.set_network("twin-precheck")
    with tempfile.TemporaryDirectory() as tmp:
        for name, configs in (("before", before), ("after", after)):
            d = Path(tmp) / name / "configs"
            d.mkdir(parents=True)
            for router, text in configs.items():
                (d / f"{router}.cfg").write_text(text)
            bf.init_snapshot(str(Path(tmp) / name), name=name, overwrite=True)
    parse = bf.q.fileParseStatus().answer(snapshot="after").frame()
    issues = bf.q.initIssues().answer(snapshot="after").frame()
    undefined = bf.q.undefinedReferences().answer(snapshot="after").frame()
    diff = bf.q.differentialReachability().answer(snapshot="after", reference_snapshot="before").frame()
    bad_parse = parse[parse["Status"] != "PASSED"]["File_Name"].tolist() if "Status" in parse else []
    return {"parse_failed": bad_parse, "init_issues": len(issues), "undefined_references": len(undefined),
            "reachability_changes": len(diff),
            "passed": not bad_parse and len(undefined) == 0 and len(diff) == 0}


def verify(change: ConfigChange | str | dict, twin: Twin) -> VerifyResult:
    """Check ``change`` with the embedded model and, when one is named, a Batfish service."""
    change = parse_change(twin, change)
    base = base_configs(twin)
    before, after = render_all(twin, base), render_all(twin, apply_change(twin, change, base))
    diff = config_diff(before, after)
    emb = embedded_check(twin, change)
    host = os.environ.get("TWIN_BATFISH_HOST", "").strip()
    bf: dict[str, Any] | None = None
    if not host:
        status = "Batfish: not configured"
    elif not _reachable(host):
        status = f"Batfish: unreachable at {host}"
    else:
        try:
            bf = batfish_check(host, before, after)
            status = "Batfish: passed" if bf["passed"] else (
                f"Batfish: found issues ({len(bf['parse_failed'])} files failed to parse, "
                f"{bf['undefined_references']} undefined references, {bf['reachability_changes']} reachability changes)")
        except Exception as exc:  # noqa: BLE001  (a Batfish problem of any kind must never read as a pass)
            bf = None
            status = f"Batfish: error at {host} ({type(exc).__name__}: {exc})"
    lost = emb["pairs_lost"]
    summary = (f"Embedded check: {len(lost)} site pair{'s' if len(lost) != 1 else ''} lose reachability"
               + (f" ({', '.join(lost[:4])}{', ...' if len(lost) > 4 else ''})" if lost else "")
               + f"; blocks {emb['blocked_gbps']:.1f} Gbps, moves {emb['moved_gbps']:.1f} Gbps; "
               + (f"undefined references: {', '.join(emb['undefined_references'])}" if emb["undefined_references"]
                  else "no undefined references") + f". {status}"
               + ("" if bf is not None else " (embedded result shown)") + ".")
    return VerifyResult(change.label, diff, emb, status, bf, float(emb["blocked_gbps"]), float(emb["moved_gbps"]),
                        summary)
