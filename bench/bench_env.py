"""Env steps per second on b2b4-casc1 with a random agent over valid actions.

Prints, in one run: reset cost; the single-env step rate (resets excluded) as a ratio to its
2,000 steps/s target; the native vector env (``twin.envs.vector``, 64 members whose twins tick
together) and gymnasium's SyncVectorEnv of 64 single envs, as a trainer sees them (autoresets
included), each as a ratio to the 20,000 env-steps/s vector target and to 2,000; an 8-env
AsyncVectorEnv (two cores here) for comparison. ``--profile`` adds a cProfile of single-env steps,
``--profile-vector`` one of the native vector env's steps (each entry's share of the steps' time).

    python bench/bench_env.py [--steps 2000] [--vector-envs 64] [--envs 8] [--profile] [--profile-vector]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import time

import gymnasium as gym
import numpy as np

import twin.envs  # noqa: F401  (registers the ids)

TARGET = 2000.0
VECTOR_TARGET = 20000.0
KWARGS = {"scenario": "b2b4-casc1"}


def bench_resets(n: int) -> float:
    env = gym.make("twin/Incident-v0", **KWARGS)
    t0 = time.perf_counter()
    for seed in range(n):
        env.reset(seed=seed)
    return (time.perf_counter() - t0) / n


def bench_single(steps: int, profile: bool = False) -> tuple[float, pstats.Stats | None]:
    env = gym.make("twin/Incident-v0", **KWARGS)
    rng = np.random.default_rng(0)
    _, info = env.reset(seed=0)
    stepping, done, seed = 0.0, 0, 0
    prof = cProfile.Profile() if profile else None
    while done < steps:
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        if prof:
            prof.enable()
        t0 = time.perf_counter()
        _, _, terminated, truncated, info = env.step(action)
        stepping += time.perf_counter() - t0
        if prof:
            prof.disable()
        done += 1
        if terminated or truncated:
            seed += 1
            _, info = env.reset(seed=seed)
    return steps / stepping, (pstats.Stats(prof) if prof else None)


def bench_vector(cls, n_envs: int, steps: int, profile: bool = False) -> tuple[float, pstats.Stats | None]:
    if cls is None:  # the native vector env
        envs = gym.make_vec("twin/Incident-v0", num_envs=n_envs, vectorization_mode="vector_entry_point", **KWARGS)
    else:
        envs = cls([lambda: gym.make("twin/Incident-v0", **KWARGS) for _ in range(n_envs)])
    rng = np.random.default_rng(0)
    _, info = envs.reset(seed=list(range(n_envs)))
    prof = cProfile.Profile() if profile else None
    t0 = time.perf_counter()
    calls = max(1, steps // n_envs)
    for _ in range(calls):
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
        if prof:
            prof.enable()
        _, _, _, _, info = envs.step(actions)
        if prof:
            prof.disable()
    rate = calls * n_envs / (time.perf_counter() - t0)
    envs.close()
    return rate, (pstats.Stats(prof) if prof else None)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--vector-envs", type=int, default=64)
    p.add_argument("--vector-steps", type=int, default=6400, help="env-steps for each vector row")
    p.add_argument("--envs", type=int, default=8, help="AsyncVectorEnv's envs")
    p.add_argument("--resets", type=int, default=20)
    p.add_argument("--profile", action="store_true", help="cProfile the single env's steps")
    p.add_argument("--profile-vector", action="store_true", help="cProfile the native vector env's steps (a separate run)")
    a = p.parse_args()
    reset_s = bench_resets(a.resets)
    single, stats = bench_single(a.steps, a.profile)
    native, _ = bench_vector(None, a.vector_envs, a.vector_steps)
    sync, _ = bench_vector(gym.vector.SyncVectorEnv, a.vector_envs, a.vector_steps)
    async_, _ = bench_vector(gym.vector.AsyncVectorEnv, a.envs, a.steps)
    # profiled apart: the profiler's overhead must not enter the rates above
    vstats = bench_vector(None, a.vector_envs, a.vector_steps, profile=True)[1] if a.profile_vector else None
    print(f"reset (to first critical alert): {reset_s * 1e3:8.1f} ms")
    print(f"single env step:                 {1e3 / single:8.2f} ms  {single:8.0f} steps/s  "
          f"ratio to {TARGET:.0f}/s target: {single / TARGET:.3f}")
    for name, rate in ((f"native vector env x{a.vector_envs}", native), (f"SyncVectorEnv x{a.vector_envs}", sync)):
        print(f"{name + ' (with resets):':33s}{rate:8.0f} env-steps/s  ratio to {VECTOR_TARGET:.0f}/s: "
              f"{rate / VECTOR_TARGET:.3f}  to {TARGET:.0f}/s: {rate / TARGET:.3f}")
    print(f"native / SyncVectorEnv:          {native / sync:8.2f}x")
    print(f"AsyncVectorEnv x{a.envs} (with resets): {async_:7.0f} steps/s  ratio to {TARGET:.0f}/s: {async_ / TARGET:.3f}")
    for title, st in (("single env steps", stats), (f"native vector env x{a.vector_envs} steps", vstats)):
        if st is not None:
            print(f"cProfile, {title}, top cumulative (share of the profiled steps' time):")
            print(_top_cumulative(st, 25))


def _top_cumulative(stats: pstats.Stats, n: int) -> str:
    """The ``n`` entries with the most cumulative time, each with its share of the whole profile."""
    entries = stats.stats  # type: ignore[attr-defined]  # {(file, line, name): (cc, nc, tt, ct, callers)}
    total = max(ct for _, _, _, ct, _ in entries.values())  # the outermost call: all the profiled time
    top = sorted(entries.items(), key=lambda kv: kv[1][3], reverse=True)[:n]
    lines = [f"{'share':>6s} {'cum s':>8s} {'own s':>8s} {'calls':>8s}  function"]
    for (file, line, name), (_, nc, tt, ct, _) in top:
        where = f"{file.rsplit('/twin/', 1)[-1]}:{line}" if file != "~" else ""
        lines.append(f"{ct / total:6.1%} {ct:8.3f} {tt:8.3f} {nc:8d}  {name} {where}")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
