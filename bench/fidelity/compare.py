"""Compare the twin's flow model with the ns-3 reference (``ns3_reference.json``).

    python bench/fidelity/compare.py [CASE ...]

For each case: ns-3 value, twin value and relative error per flow and metric
(throughput_mbps, loss, rtt_ms; for UDP flows rtt_ms is compared with ns-3's one-way
delay), then the short/long-RTT throughput ratio of case f under both queue disciplines.
Needs no ns-3: the reference is read from the JSON file.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fidelity.cases import BY_NAME, PACKET_BYTES, Case  # noqa: E402

REFERENCE = Path(__file__).resolve().parent / "ns3_reference.json"
METRICS = ("throughput_mbps", "loss", "rtt_ms")
RTT_CASES = ("f-rtt-droptail", "f-rtt-fq")  # tcp0: 1 ms access (short RTT), tcp1: 40 ms


#: ns-3's point-to-point links add a 2-byte PPP header to every 1500-byte IP packet.
PPP_HEADER_BYTES = 2
#: ns-3's TCP minimum retransmission timeout (its default MinRto).
NS3_MIN_RTO_MS = 1000.0


def _arcs(case: Case, src: str, dst: str) -> list[int]:
    """Directed arcs (2 * link index, +1 for b -> a) along the flow's path."""
    index = {ln.name: i for i, ln in enumerate(case.links)}
    node, arcs = src, []
    for ln in case.path(src, dst) or []:
        forward = node == ln.a
        arcs.append(2 * index[ln.name] + (0 if forward else 1))
        node = ln.b if forward else ln.a
    return arcs


def twin_side(case: Case) -> dict[str, dict[str, float | None]]:
    """The twin's flow model (:func:`twin.physics.flows.solve`) on ``case``.

    Rates are IP-layer Mbps, as ns-3 counts them: a link carries ``rate * 1500 / 1502`` of IP
    traffic; TCP flows are elastic bulk transfers of one connection with 1500-byte packets,
    UDP flows inelastic at their rate, with the burstiness of their sources (Poisson: 1,
    periodic: 0, uniform jitter j: j^2 / 3). For UDP ``rtt_ms`` is the one-way delay.
    """
    import numpy as np

    from twin.physics.flows import Flows, Links, solve

    rate = np.repeat([ln.rate_mbps for ln in case.links], 2).astype(float)
    packet_bits = PACKET_BYTES * 8
    packet_ms = packet_bits / (rate * 1e6) * 1000.0
    links = Links(
        capacity=rate * PACKET_BYTES / (PACKET_BYTES + PPP_HEADER_BYTES),
        delay_ms=np.repeat([ln.delay_ms for ln in case.links], 2).astype(float),
        buffer_ms=np.repeat([ln.queue_pkts for ln in case.links], 2) * packet_ms,
        packet_ms=packet_ms,
        fair=np.repeat([ln.qdisc == "fq" for ln in case.links], 2),
        aqm_ms=np.zeros(rate.shape[0]),  # CoDel switched off in the reference (QDISCS)
        base_loss=np.zeros(rate.shape[0]),
    )
    paths = [_arcs(case, f.src, f.dst) for f in case.flows]
    f_of = np.array([i for i, p in enumerate(paths) for _ in p], dtype=np.int64)
    a_of = np.array([a for p in paths for a in p], dtype=np.int64)
    tcp = np.array([f.kind == "tcp" for f in case.flows])
    demand = np.array([np.inf if f.kind == "tcp" else float(f.rate_mbps or 0.0) for f in case.flows])
    burst = np.array([1.0 if f.jitter < 0 else f.jitter ** 2 / 3 for f in case.flows])
    flows = Flows.make(f_of, a_of, demand=demand, elastic=tcp, packet=packet_bits / 1e6, burstiness=burst,
                       rto_min_ms=NS3_MIN_RTO_MS)
    sol = solve(links, flows)
    return {f.id: {"throughput_mbps": float(sol.delivered[i]), "loss": float(sol.loss[i]),
                   "rtt_ms": float(sol.rtt_ms[i] if tcp[i] else sol.latency_ms[i])}
            for i, f in enumerate(case.flows)}


def ns3_side(ref_case: dict) -> dict[str, dict[str, float | None]]:
    out = {}
    for fid, f in ref_case["flows"].items():
        rtt = f["rtt_ms"] if f["kind"] == "tcp" else f["delay_ms"]
        out[fid] = {"throughput_mbps": f["throughput_mbps"], "loss": f["loss"], "rtt_ms": rtt}
    return out


def rel_err(ns3: float | None, twin: float | None, metric: str) -> float | None:
    """(twin - ns3) / ns3; for loss, where ns-3 is often ~0, an absolute error instead."""
    if ns3 is None or twin is None:
        return None
    if metric == "loss":
        return twin - ns3
    if ns3 == 0:
        return None if twin == 0 else float("inf")
    return (twin - ns3) / ns3


def _f(x: float | None, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def compare(names: list[str], reference: dict) -> tuple[list[str], dict[str, dict]]:
    lines = [f"{'case':32} {'flow':8} {'metric':16} {'ns-3':>9} {'twin':>9} {'err':>8}"]
    twins: dict[str, dict] = {}
    for name in names:
        ref = reference["cases"].get(name)
        if ref is None:
            lines.append(f"{name:32} (no ns-3 reference: run run_ns3.py {name})")
            continue
        ns3 = ns3_side(ref)
        try:
            twin = twin_side(BY_NAME[name])
        except NotImplementedError as e:
            twin = {}
            lines.append(f"{name:32} twin: {e}")
        twins[name] = twin
        for fid, m in ns3.items():
            for metric in METRICS:
                tv = twin.get(fid, {}).get(metric)
                err = rel_err(m[metric], tv, metric)
                spec = ".4f" if metric == "loss" else ".2f"
                err_s = "-" if err is None else (
                    f"{err:+.4f}" if metric == "loss" else f"{100 * err:+.1f}%")
                lines.append(f"{name:32} {fid:8} {metric:16} {_f(m[metric], '9' + spec)} "
                             f"{_f(tv, '9' + spec)} {err_s:>8}")
    lines.append("")
    lines.append("case f: short-RTT / long-RTT throughput ratio (tcp0 / tcp1)")
    for name in RTT_CASES:
        ref = reference["cases"].get(name)
        if ref is None:
            continue
        r_ns3 = ref["flows"]["tcp0"]["throughput_mbps"] / ref["flows"]["tcp1"]["throughput_mbps"]
        tw = twins.get(name) or {}
        r_twin = None
        if tw.get("tcp0") and tw.get("tcp1") and tw["tcp1"].get("throughput_mbps"):
            r_twin = tw["tcp0"]["throughput_mbps"] / tw["tcp1"]["throughput_mbps"]
        lines.append(f"  {name:30} ns-3 {r_ns3:6.2f}   twin {_f(r_twin, '6.2f')}")
    return lines, twins


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all in the reference)")
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    a = ap.parse_args(argv)
    reference = json.loads(a.reference.read_text())
    meta = reference.get("meta", {})
    print(f"reference: ns-3 {meta.get('ns3_version')}, {meta.get('tcp_variant')}, "
          f"duration {meta.get('duration_s')}, warm-up {meta.get('warmup_s')}")
    names = a.cases or [n for n in reference["cases"] if n in BY_NAME]
    lines, _ = compare(names, reference)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
