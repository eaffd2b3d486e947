"""Where a single env step's time goes, with plain clocks (no profiler distortion).

cProfile charges every Python call, so it over-weights the env's glue around the twin. This
script wraps the step's parts in ``perf_counter`` and counts only inside ``env.step`` (resets
excluded): the ticks and their stages, the control-plane steps, the tools, the observation. It
then records every call from Python into a compiled kernel over the same steps and times each
again alone, warm: through numba's dispatcher and at its compiled entry point, which says how
much of a tick the compiled code is (the rest is the Python around it).

b2b4-casc1, a random agent over valid actions (seed 0), after warm-up steps.

    python bench/profile_step.py [--steps 3000] [--scenario b2b4-casc1] [--no-kernels]
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
import types
from collections import defaultdict
from contextlib import ExitStack
from unittest import mock

import gymnasium as gym
import numpy as np
from numba.core.registry import CPUDispatcher

import twin.envs  # noqa: F401  (registers the ids)
from twin.envs.observation import ObservationEncoder
from twin.sim import monitors as mon
from twin.sim import twin as tw
from twin.tools.toolbox import Toolbox

#: (object, attribute, label): the parts timed inside a step; a tick's stages are indented.
PARTS = (
    (tw, "network_steps", "  tick: network"),
    (mon.Monitors, "sample", "  tick: monitors' sample"),
    (tw.Twin, "_services", "  tick: services"),
    (mon.Monitors, "evaluate", "  tick: monitors' evaluate"),
    (tw.Twin, "_tick_jobs", "  tick: jobs (routing, demand draws)"),
    (Toolbox, "begin", "tools"),
    (ObservationEncoder, "encode_flat", "observation"),
    (tw.Twin, "run", "Twin.run (all of it)"),
)
#: The Twin's step of one process wake-up (labelled by the process's kind), and its tick.
PROCESS_STEP = (tw.Twin, "_step")
TICK = (tw.Twin, "_tick")


class Steps:
    """A random agent's steps on one env, with a flag telling wrappers a step is in progress."""

    def __init__(self, scenario: str) -> None:
        self.env = gym.make("twin/Incident-v0", scenario=scenario)
        self.rng = np.random.default_rng(0)
        _, self.info = self.env.reset(seed=0)
        self.seed, self.inside, self.wall = 0, False, 0.0

    def run(self, n: int) -> None:
        for _ in range(n):
            action = int(self.rng.choice(np.flatnonzero(self.info["action_mask"])))
            self.inside = True
            t0 = time.perf_counter()
            _, _, terminated, truncated, self.info = self.env.step(action)
            self.wall += time.perf_counter() - t0
            self.inside = False
            if terminated or truncated:
                self.seed += 1
                _, self.info = self.env.reset(seed=self.seed)


def split(scenario: str, steps: int) -> None:
    """The step's parts: µs a step, share of the step, µs a call, calls a step."""
    run = Steps(scenario)
    spent: dict[str, float] = defaultdict(float)
    calls: dict[str, int] = defaultdict(int)

    def timed(real, label: str):
        def wrapper(*args, **kw):
            t0 = time.perf_counter()
            try:
                return real(*args, **kw)
            finally:
                if run.inside:
                    spent[label] += time.perf_counter() - t0
                    calls[label] += 1
        return wrapper

    step_owner, step_attr = PROCESS_STEP
    real_step = getattr(step_owner, step_attr)

    def process_step(self, name):  # each process wake-up by kind: tick, health, te, action, ...
        t0 = time.perf_counter()
        try:
            return real_step(self, name)
        finally:
            if run.inside:
                label = "process: " + name.partition(":")[0]
                spent[label] += time.perf_counter() - t0
                calls[label] += 1

    with ExitStack() as stack:
        for obj, attr, label in PARTS:
            stack.enter_context(mock.patch.object(obj, attr, timed(getattr(obj, attr), label)))
        stack.enter_context(mock.patch.object(step_owner, step_attr, process_step))
        run.run(300)
        spent.clear(), calls.clear()
        run.wall = 0.0
        run.run(steps)
    print(f"{scenario}: {steps} steps, {run.wall / steps * 1e6:.0f} us a step with the clocks on, "
          f"{calls['process: tick'] / steps:.2f} ticks a step")
    print(f"  {'part':<38} {'us/step':>8} {'share':>6} {'us/call':>8} {'calls/step':>10}")
    for label in sorted(spent, key=lambda k: -spent[k]):
        print(f"  {label:<38} {spent[label] / steps * 1e6:8.1f} {spent[label] / run.wall:6.1%} "
              f"{spent[label] / calls[label] * 1e6:8.1f} {calls[label] / steps:10.2f}")


def kernels(scenario: str, steps: int) -> None:
    """Every Python-to-kernel call over ``steps`` steps, each timed again alone (warm)."""
    modules = [m for n, m in list(sys.modules.items()) if n.startswith("twin") and isinstance(m, types.ModuleType)]
    run = Steps(scenario)
    recorded: list[tuple[str, CPUDispatcher, tuple]] = []
    ticks = [0]

    def recording(d: CPUDispatcher):
        name = f"{d.py_func.__module__}.{d.__name__}"

        def wrapper(*args):
            if run.inside:
                recorded.append((name, d, args))
            return d(*args)
        return wrapper

    tick_owner, tick_attr = TICK
    real_tick = getattr(tick_owner, tick_attr)

    def tick(self):
        if run.inside:
            ticks[0] += 1
        return real_tick(self)

    with ExitStack() as stack:
        wrappers: dict[int, object] = {}
        for m in modules:  # every module-level name bound to a kernel (calls look them up there)
            for attr, v in list(vars(m).items()):
                if isinstance(v, CPUDispatcher):
                    w = wrappers.setdefault(id(v), recording(v))
                    stack.enter_context(mock.patch.object(m, attr, w))
        stack.enter_context(mock.patch.object(tick_owner, tick_attr, tick))
        run.run(100)
        recorded.clear()
        ticks[0] = 0
        run.run(steps)
    every = max(1, len(recorded) // 1500)  # a sample of the calls keeps the re-timing short
    per: dict[str, list[float]] = defaultdict(lambda: [0, 0.0, 0.0])
    for name, d, args in recorded[::every]:
        entry = d.overloads[tuple(d.typeof_pyval(a) for a in args)].entry_point
        n = 200
        row = per[name]
        row[0] += 1
        row[1] += timeit.timeit(lambda: d(*args), number=n) / n
        row[2] += timeit.timeit(lambda: entry(*args), number=n) / n
    scale = len(recorded) / len(recorded[::every]) / max(ticks[0], 1)
    print(f"\ncompiled kernels called from Python, {ticks[0]} ticks inside steps: "
          f"{len(recorded) / max(ticks[0], 1):.1f} calls a tick, each timed alone, warm")
    print(f"  {'kernel':<46} {'calls/tick':>10} {'dispatcher us':>13} {'entry point us':>14}")
    total = [0.0, 0.0]
    for name, (c, td, te) in sorted(per.items(), key=lambda kv: -kv[1][1]):
        print(f"  {name:<46} {c * scale:10.2f} {td * scale * 1e6:13.1f} {te * scale * 1e6:14.1f}")
        total[0] += td * scale
        total[1] += te * scale
    print(f"  {'total a tick':<46} {'':>10} {total[0] * 1e6:13.1f} {total[1] * 1e6:14.1f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=3000)
    p.add_argument("--scenario", default="b2b4-casc1")
    p.add_argument("--no-kernels", action="store_true", help="only the step's split")
    a = p.parse_args()
    split(a.scenario, a.steps)
    if not a.no_kernels:
        kernels(a.scenario, min(a.steps, 400))


if __name__ == "__main__":
    main()
