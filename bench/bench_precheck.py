"""Pre-check speed: one mitigation (30-minute horizon, 8 draws) and a ranking of 5 candidates.

Targets on the 2-core reference machine: one mitigation <= 1 s and a ranking of five candidates
x 8 draws x 30 minutes <= 1 s on b2b4-casc1 (at 12 minutes, the height of the incident), the
same ranking <= 4 s on the large scenario (at 10 minutes; measured when ``scenarios/large.yaml``
exists). A decision's futures run as one batch of twins (:mod:`twin.safety.futures`); ``pool``
deals the draws among forked processes (the default, every core), ``1`` runs in-process.
Prints wall seconds (best of a few repeats: the machines are shared and noisy; large once) and
the ratio to each target (< 1 meets it). Operator mode (:func:`twin.safety.operator.operator_rank`,
every kept hypothesis's futures as one batch) prints its wall seconds with the pool and in-process;
``--operator`` runs those lines alone, ``--no-large`` skips the large scenario.
"""

from __future__ import annotations

import os
import sys
import time

from twin import Twin, load_scenario, scenario_paths
from twin.belief import operator_scenario
from twin.diagnosis import diagnose
from twin.safety import precheck, rank
from twin.safety.operator import operator_rank

REPEATS = 3
CASC_CANDIDATES = ["freeze_te", "override_te b4", "rollback_change chg-4421", "drain_link b2:us-east-us-central",
                   "drain_device b2-us-central"]


def best(fn, repeats: int = REPEATS) -> float:
    out = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out = min(out, time.perf_counter() - t0)
    return out


def _large_candidates(t: Twin) -> list[str]:
    topo = t.world.topology
    wan = [n for i, n in enumerate(topo.links) if topo.link_plane[i] in topo.planes]
    return ["freeze_te", f"drain_link {wan[0]}", f"drain_link {wan[1]}", "halt_automation", f"override_te {topo.planes[-1]}"]


def main(argv: list[str]) -> None:
    print(f"cores: {os.cpu_count()}")
    if "--operator" not in argv:  # ``--operator``: the operator-mode lines alone
        sandbox()
    operator(large="--no-large" not in argv)


def sandbox() -> None:
    print(f"{'case':<40} {'workers':>7} {'wall s':>8} {'target':>7} {'ratio':>6}")
    cases = [("b2b4-casc1", 720.0, CASC_CANDIDATES, 1.0, 1.0)]
    if "large" in scenario_paths():
        cases.append(("large", 600.0, None, None, 4.0))
    else:
        print("large: scenarios/large.yaml not present, skipped")
    for name, at, cands, t_one, t_rank in cases:
        t = Twin(load_scenario(name))
        t.run(until=at)
        cands = cands or _large_candidates(t)
        repeats = 1 if name == "large" else REPEATS
        for workers in (None, 1):
            label = "pool" if workers is None else "1"
            rows = []
            if t_one is not None:  # one mitigation: measured where it has a target
                rows.append((f"{name}: 1 mitigation x 8 draws", t_one,
                             best(lambda t=t, c=cands, w=workers: precheck(t, c[0], horizon=1800, draws=8, workers=w),
                                  repeats)))
            rows.append((f"{name}: rank 5 candidates x 8 draws", t_rank,
                         best(lambda t=t, c=cands, w=workers: rank(t, c, horizon=1800, draws=8, workers=w), repeats)))
            for case, target, wall in rows:
                print(f"{case:<40} {label:>7} {wall:8.2f} {target:7.1f} {wall / target:6.2f}")


def operator(large: bool = True) -> None:
    print(f"{'operator mode: 5 cand x 4 draws x k=3':<40} {'workers':>7} {'diagnose s':>10} {'rank s':>8} {'causes':>6}")
    # large: after its B4 link fails (19m), so there is something to diagnose
    for name, at in (("b2b4-casc1", 840.0), ("large", 1500.0)):
        if name not in scenario_paths() or (name == "large" and not large):
            continue
        sc = load_scenario(name)
        t = Twin(sc)
        t.run(until=at)
        cands = CASC_CANDIDATES if name == "b2b4-casc1" else _large_candidates(t)
        t0 = time.perf_counter()
        d = diagnose(sc, at, twin=t)
        d_s = time.perf_counter() - t0
        base = operator_scenario(sc)
        for workers in (None, 1):
            repeats = 1 if name == "large" else REPEATS
            walls, causes = [], 0
            for _ in range(repeats):
                t1 = time.perf_counter()
                reports = operator_rank(base, d.evidence, d, cands, horizon=1800, draws=4, k=3, workers=workers)
                walls.append(time.perf_counter() - t1)
                causes = len(reports[0].hypotheses)
            label = "pool" if workers is None else "1"
            print(f"{name + ' at ' + str(int(at // 60)) + 'm':<40} {label:>7} {d_s:10.2f} "
                  f"{min(walls):8.2f} {causes:>6}")


if __name__ == "__main__":
    main(sys.argv[1:])
