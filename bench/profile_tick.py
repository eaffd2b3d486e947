"""Where a tick's time goes: one simulated hour of b2b4-casc1 and of large under cProfile.

Prints, per scenario, the wall time of the profiled hour, ticks and the time per tick, then the
top functions by own time (tottime) and by cumulative time (cumtime), in a short table.
Profiling inflates the times (every call is counted); compare tables made by this script only.
One known distortion: ``np.errstate`` blocks show up as ``<'set' of '_contextvars.ContextVar'
objects>`` with tens of microseconds a call under cProfile, about 1 us without it.

Each scenario runs untimed first (compiled kernels load on their first call).
``--stages`` times the tick's stages instead, with plain clocks (no profiler distortion):
routing builds, network physics (flow model inside), services (their model inside), monitors'
truth, sampling and alert evaluation, and the rest of the tick. ``--cpu`` times them by this
thread's CPU time instead of the wall clock: on a shared machine, time spent waiting for a core
then does not count, so tables made minutes apart compare (cache effects of the neighbours stay).

    python bench/profile_tick.py [--top 15] [--hours 1] [--stages [--cpu]] [scenario ...]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from collections import Counter
from contextlib import ExitStack
from unittest import mock

from twin import Twin, load_scenario

SCENARIOS = ("b2b4-casc1", "large")


def _where(func: tuple[str, int, str]) -> str:
    path, line, name = func
    if path == "~":  # a builtin: cProfile names it "<built-in method ...>"
        return name.replace("<built-in method ", "<").replace("<method ", "<")
    parts = path.replace(os.sep, "/").split("/")
    short = "/".join(parts[-2:]) if "site-packages" not in path else parts[-1]
    return f"{short}:{line}({name})"


def table(stats: pstats.Stats, key: str, top: int) -> str:
    """The ``top`` functions by ``key`` ("tottime" or "cumtime") as aligned text."""
    rows = []
    for func, (_cc, ncalls, tt, ct, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        rows.append((tt if key == "tottime" else ct, ncalls, tt, ct, _where(func)))
    rows.sort(key=lambda r: -r[0])
    lines = [f"  {'ncalls':>8} {'tottime':>8} {'cumtime':>8}  function"]
    lines += [f"  {n:8d} {tt:8.3f} {ct:8.3f}  {where}" for _k, n, tt, ct, where in rows[:top]]
    return "\n".join(lines)


def _warm_up(sc) -> None:
    """Run a few simulated minutes first: compiled kernels load (or compile) on their first call."""
    Twin(sc, seed=1).run(until=300.0)


def profile(name: str, hours: float, top: int) -> str:
    sc = load_scenario(name)
    _warm_up(sc)
    twin = Twin(sc, seed=1)
    until = 3600.0 * hours
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    twin.run(until=until)
    prof.disable()
    wall = time.perf_counter() - t0
    ticks = int(round(until / sc.tick))
    stats = pstats.Stats(prof)
    head = (f"== {name}: {hours:g} sim-hour, {ticks} ticks, {wall:.3f} s profiled "
            f"({1e3 * wall / ticks:.2f} ms/tick, {stats.total_calls} calls, "  # type: ignore[attr-defined]
            f"{stats.total_calls / ticks:.0f} calls/tick)")  # type: ignore[attr-defined]
    return "\n".join([head, "-- by tottime", table(stats, "tottime", top),
                      "-- by cumtime", table(stats, "cumtime", top)])


#: (label, module, attribute, nested): the stages ``--stages`` times; nested ones are inside the one above.
STAGES = (
    ("routing builds", "twin.sim.twin", "build_routing", False),
    ("network_steps", "twin.sim.twin", "network_steps", False),
    ("  solve (flow model)", "twin.sim.network", "solve_packed", True),
    ("Twin._services", "twin.sim.twin.Twin", "_services", False),
    ("  service_step", "twin.sim.twin", "service_step", True),
    ("monitors: truth", "twin.sim.monitors", "_truth", False),
    ("monitors: sampling", "twin.sim.monitors", "_observe", False),
    ("monitors: alerts", "twin.sim.monitors", "_evaluate", False),
)


def _timed(fn, label: str, spent: Counter, clock=time.perf_counter):
    def run(*args, **kwargs):
        t0 = clock()
        try:
            return fn(*args, **kwargs)
        finally:
            spent[label] += clock() - t0
    return run


def stages(name: str, hours: float, cpu: bool = False) -> str:
    """Wall time per stage of the tick over ``hours`` simulated hours, as a short table."""
    import importlib

    from twin.sim.twin import Twin as _Twin

    sc = load_scenario(name)
    spent: Counter = Counter()
    clock = time.thread_time if cpu else time.perf_counter
    # warm-up: compiled kernels load (or compile) on their first call, which may come late in the run
    Twin(sc, seed=1).run(until=3600.0 * hours)
    with ExitStack() as stack:
        for label, module, attr, _nested in (*STAGES, ("tick", "twin.sim.twin.Twin", "_tick", False)):
            owner = _Twin if module.endswith(".Twin") else importlib.import_module(module)
            stack.enter_context(mock.patch.object(owner, attr, _timed(getattr(owner, attr), label, spent, clock)))
        twin = Twin(sc, seed=1)
        t0 = clock()
        twin.run(until=3600.0 * hours)
        wall = clock() - t0
    ticks = int(round(3600.0 * hours / sc.tick))
    rest = spent["tick"] - sum(spent[label] for label, _m, _a, nested in STAGES if not nested)
    rows = [(label, spent[label]) for label, *_ in STAGES] + [("rest of the tick", rest),
                                                             ("outside ticks (timers)", wall - spent["tick"])]
    lines = [f"== {name}: {hours:g} sim-hour, {ticks} ticks, {wall:.3f} s {'CPU' if cpu else 'wall'} "
             f"({1e6 * wall / ticks:.0f} us/tick)",
             f"  {'stage':<26} {'ms':>8} {'us/tick':>8}"]
    lines += [f"  {label:<26} {1e3 * t:8.1f} {1e6 * t / ticks:8.0f}" for label, t in rows]
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("scenarios", nargs="*", default=list(SCENARIOS))
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--hours", type=float, default=1.0)
    p.add_argument("--stages", action="store_true", help="time the tick's stages (no profiler) instead")
    p.add_argument("--cpu", action="store_true", help="with --stages: this thread's CPU time, not the wall clock")
    a = p.parse_args()
    for name in a.scenarios:
        print(stages(name, a.hours, a.cpu) if a.stages else profile(name, a.hours, a.top), flush=True)


if __name__ == "__main__":
    main()
