"""Solo twins against a batch: seconds of wall time per simulated hour, per member.

For each scenario: one twin forked from a warmed-up present run alone for ``--hours``, then a
batch of 8 and of 64 forks of the same present run together (``Twin.fork_batch``); prints the
per-member cost and its ratio to solo, measured in one run. The batch stacks the network
physics (the flow model included), the services model and the monitors' maths (see
``twin/sim/batch.py``); routing builds, control-plane steps and the monitors' per-member
bookkeeping still run per member.

    python bench/bench_batch.py [--hours 0.5] [--sizes 8 64] [--repeat 3] [scenario ...]
"""

from __future__ import annotations

import argparse
import time

from twin import Twin, load_scenario

SCENARIOS = ("b2b4-casc1", "sockshop-cpu-hog", "large")


def per_member(name: str, size: int, hours: float, repeat: int = 1, warm: float = 600.0) -> float:
    """Wall seconds per simulated hour per member (best of ``repeat``): ``size`` = 0 runs one fork alone."""
    return min(_per_member(name, size, hours, warm) for _ in range(repeat))


def _per_member(name: str, size: int, hours: float, warm: float) -> float:
    base = Twin(load_scenario(name), seed=1)
    base.run(until=warm)
    until = warm + 3600.0 * hours
    if size == 0:
        twin = base.fork()
        t0 = time.perf_counter()
        twin.run(until=until)
        return (time.perf_counter() - t0) / hours
    batch = base.fork_batch(size)
    t0 = time.perf_counter()
    batch.run(until=until)
    return (time.perf_counter() - t0) / hours / size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    ap.add_argument("--hours", type=float, default=0.5)
    ap.add_argument("--sizes", type=int, nargs="+", default=[8, 64])
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs (a shared machine is noisy)")
    args = ap.parse_args()
    print(f"{'scenario':20s} {'members':>7s} {'s/sim-h/member':>15s} {'vs solo':>8s}")
    for name in args.scenarios:
        solo = per_member(name, 0, args.hours, args.repeat)
        print(f"{name:20s} {'solo':>7s} {solo:15.3f} {1.0:8.2f}", flush=True)
        for size in args.sizes:
            each = per_member(name, size, args.hours, args.repeat)
            print(f"{name:20s} {size:7d} {each:15.3f} {solo / each:8.2f}x", flush=True)


if __name__ == "__main__":
    main()
