"""Diagnosis speed: a full ranking (every candidate simulated on the operator's twin, compounds,
the likeliest causes on several draws) from evidence already gathered.

Target on the 2-core reference machine: <= 5 s on b2b4-casc1 at 14 minutes. The large scenario
(at 25 minutes, after its link fails) is measured with no target. Prints wall seconds (best of a
few repeats: the machines are shared and noisy), belief twins simulated, how many per second,
the ratio to the target (< 1 meets it), with the worker pool and in-process.
"""

from __future__ import annotations

import os
import time

from twin import Twin, load_scenario
from twin.belief import operator_scenario
from twin.diagnosis import diagnose_evidence, evidence

REPEATS = 3
CASES = (("b2b4-casc1", 840.0, 5.0), ("large", 1500.0, None))


def main() -> None:
    print(f"cores: {os.cpu_count()}")
    print(f"{'case':<24} {'workers':>7} {'wall s':>8} {'twins':>6} {'twins/s':>8} {'target':>7} {'ratio':>6}  top")
    for name, at, target in CASES:
        sc = load_scenario(name)
        t = Twin(sc)
        t.run(until=at)
        ev, base = evidence(t), operator_scenario(sc)
        for workers in (None, 1):
            wall, d = float("inf"), None
            for _ in range(REPEATS if name != "large" else 1):
                t0 = time.perf_counter()
                d = diagnose_evidence(ev, base, workers=workers)
                wall = min(wall, time.perf_counter() - t0)
            ratio = f"{wall / target:6.2f}" if target else "     -"
            tgt = f"{target:7.1f}" if target else "      -"
            print(f"{name + ' @ ' + str(int(at // 60)) + 'm':<24} {'pool' if workers is None else '1':>7} {wall:8.2f} "
                  f"{d.simulated:6d} {d.simulated / wall:8.1f} {tgt} {ratio}  {d.top.label} ({d.top.probability:.2f})")


if __name__ == "__main__":
    main()
