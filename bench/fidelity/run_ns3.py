"""Run the fidelity cases in ns-3 and write ``bench/fidelity/ns3_reference.json``.

    python bench/fidelity/run_ns3.py                 # every case
    python bench/fidelity/run_ns3.py c-udp-capped    # only the named cases (merged into the file)
    python bench/fidelity/run_ns3.py --duration 60 --no-write h-tcp-alone   # stability check

Each case runs in its own process (ns-3 keeps global state), ``--jobs`` at a time.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.fidelity.cases import BY_NAME, CASES, QDISCS  # noqa: E402
from bench.fidelity import ns3_runner  # noqa: E402

OUT = Path(__file__).resolve().parent / "ns3_reference.json"


def _one(args: tuple[str, float, float, int, str]) -> dict:
    name, duration, warmup, seed, tcp = args
    # cppyy prints harmless "Failed to materialize symbols" lines on stderr at import
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    return ns3_runner.run_case(BY_NAME[name], duration, warmup, seed, tcp)


def _fmt(x, spec: str) -> str:
    return "-" if x is None else format(x, spec)


def table(results: dict[str, dict]) -> str:
    lines = [f"{'case':26} {'flow':8} {'kind':4} {'offer':>6} {'thru':>6} {'good':>6} "
             f"{'loss%':>6} {'rtt/owd ms':>10}"]
    for name, r in results.items():
        for fid, f in r["flows"].items():
            lat = f["rtt_ms"] if f["kind"] == "tcp" else f["delay_ms"]
            lines.append(
                f"{name:26} {fid:8} {f['kind']:4} {_fmt(f['offered_mbps'], '6.2f')} "
                f"{f['throughput_mbps']:6.2f} {f['goodput_mbps']:6.2f} "
                f"{100 * f['loss']:6.2f} {_fmt(lat, '10.1f')}")
        for ln, lk in r["links"].items():
            lines.append(f"{name:26} {'link ' + ln:15} {'':6} {lk['throughput_mbps']:6.2f} "
                         f"{'':6} {100 * lk['loss']:6.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("cases", nargs="*", help="case names (default: all)")
    ap.add_argument("--duration", type=float, help="simulated seconds (default: the case's)")
    ap.add_argument("--warmup", type=float, help="seconds before measuring (default: case's)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--tcp", default=ns3_runner.TCP_VARIANT, help="e.g. ns3::TcpCubic")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--no-write", action="store_true", help="print only")
    ap.add_argument("--out", type=Path, default=OUT)
    a = ap.parse_args(argv)

    names = a.cases or [c.name for c in CASES]
    unknown = [n for n in names if n not in BY_NAME]
    if unknown:
        ap.error(f"unknown cases {unknown}; known: {list(BY_NAME)}")

    t0 = time.monotonic()
    jobs = [(n, a.duration or BY_NAME[n].duration_s, a.warmup or BY_NAME[n].warmup_s, a.seed,
             a.tcp) for n in names]
    with ProcessPoolExecutor(max_workers=a.jobs, max_tasks_per_child=1) as pool:
        results = dict(zip(names, pool.map(_one, jobs)))
    wall = time.monotonic() - t0
    print(table(results))
    print(f"\n{len(names)} cases in {wall:.0f} s wall ({a.jobs} at a time)")

    if a.no_write:
        return 0
    doc = {"cases": {}}
    if a.out.exists() and a.cases:
        doc = json.loads(a.out.read_text())
    doc["meta"] = {
        "simulator": "ns-3",
        "ns3_version": ns3_runner.ns3_version(),
        "tcp_variant": a.tcp,
        "tcp_mss_bytes": ns3_runner.TCP_MSS,
        "tcp_socket_buffer_bytes": ns3_runner.SOCKET_BUF,
        "udp_payload_bytes": ns3_runner.UDP_PAYLOAD,
        "queue_discs": QDISCS,
        "fq_settings": ns3_runner.FQ_SETTINGS,
        "device_tx_queue": ns3_runner.DEVICE_QUEUE,
        "duration_s": "per case: cases[*].params.duration_s" if a.duration is None else a.duration,
        "warmup_s": "per case: cases[*].params.warmup_s" if a.warmup is None else a.warmup,
        "seed": a.seed,
        "metrics": {
            "throughput_mbps": "IP bytes received (headers included) / measured window",
            "goodput_mbps": "application bytes received / measured window",
            "loss": "packets dropped in the network / packets sent, in the window",
            "rtt_ms": "TCP: mean data one-way delay + mean ACK one-way delay",
            "delay_ms": "mean one-way delay of data packets",
            "links.throughput_mbps": "IP bytes sent by the queue disc, direction a->b",
        },
    }
    doc["cases"].update(results)
    a.out.write_text(json.dumps(doc, indent=1, sort_keys=False) + "\n")
    print(f"wrote {a.out.relative_to(ROOT) if a.out.is_relative_to(ROOT) else a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
