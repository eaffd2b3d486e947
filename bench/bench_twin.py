"""Wall seconds per simulated hour, b2b4-casc1 and the large scenario, in one run.

Targets on the 2-core reference machine (the tracker's "batched twin" issue): b2b4-casc1
<= 0.25 s, large <= 0.3 s per simulated hour. Prints the best of a few repeats (the machines
are shared and noisy) and the ratio to each target (< 1 meets it). Where the time goes:
``bench/profile_tick.py``.
"""

from __future__ import annotations

import time

from twin import Twin, load_scenario

TARGETS = {"b2b4-casc1": 0.25, "large": 0.3}
REPEATS = 3


def seconds_per_hour(name: str) -> tuple[float, float]:
    sc = load_scenario(name)
    best_run, best_build = float("inf"), float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        twin = Twin(sc, seed=1)
        t1 = time.perf_counter()
        twin.run(until=3600)
        t2 = time.perf_counter()
        best_build, best_run = min(best_build, t1 - t0), min(best_run, t2 - t1)
    return best_build, best_run


def main() -> None:
    print(f"{'scenario':<12} {'build s':>8} {'s / sim-hour':>13} {'target':>7} {'ratio':>6}  speed-up vs real time")
    for name, target in TARGETS.items():
        build, run = seconds_per_hour(name)
        print(f"{name:<12} {build:8.3f} {run:13.3f} {target:7.2f} {run / target:6.2f}  {3600 / run:,.0f}x")


if __name__ == "__main__":
    main()
