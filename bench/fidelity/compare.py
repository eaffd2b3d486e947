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

from bench.fidelity.cases import BY_NAME, Case  # noqa: E402

REFERENCE = Path(__file__).resolve().parent / "ns3_reference.json"
METRICS = ("throughput_mbps", "loss", "rtt_ms")
RTT_CASES = ("f-rtt-droptail", "f-rtt-fq")  # tcp0: 1 ms access (short RTT), tcp1: 40 ms


def twin_side(case: Case) -> dict[str, dict[str, float | None]]:
    """The twin's flow-model prediction for ``case``.

    Must return ``{flow_id: {"throughput_mbps": float, "loss": float, "rtt_ms": float|None}}``
    with one entry per ``case.flows`` id, where

    * ``throughput_mbps`` is the flow's steady-state delivered rate in Mbps counted at the IP
      layer (1500-byte packets, headers included: ns-3's ``throughput_mbps``);
    * ``loss`` is the fraction of the flow's sent packets dropped in the network (0..1);
    * ``rtt_ms`` is, for TCP flows, the mean round-trip time (propagation + queueing) in ms,
      and for UDP flows the mean one-way delay in ms (ns-3's ``delay_ms``); None if the
      model has no delay estimate.

    Build the twin's topology from ``case.nodes``/``case.links`` (rate_mbps, delay_ms,
    queue_pkts, qdisc 'droptail' or 'fq') and its demands from ``case.flows`` (kind 'tcp'
    bulk, or 'udp' at rate_mbps), then call the flow model.
    """
    raise NotImplementedError("twin_side: the flow model is not wired in yet")


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
