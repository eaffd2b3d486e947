"""PPO (masked: sb3-contrib's MaskablePPO) trained on ``twin/Generated-v0`` for a fixed budget, against the random policy, on a
held-out generated split it never saw (generator seeds from ``twin.generator.HELDOUT_FROM``).

Training draws from a pool of the training split's incidents (generated up front in a process
pool; a fresh incident per reset costs about a second). Both policies play each held-out
incident with the same reset seeds; the random policy picks uniformly among the valid actions.
Prints mean return, share mitigated and harmful mitigations per policy, overall and per
difficulty band, and the ratios. Takes about 10 minutes on the 2-core reference machine.

    python bench/ppo_generated.py [--train 150] [--heldout 60] [--steps 30000]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

ENV_KWARGS = {"max_steps": 8, "max_targets": 8}


def play(env, policy, indices, seed0=0):
    rows = []
    for k, index in enumerate(indices):
        obs, info = env.reset(seed=seed0 + k, options={"index": index})
        rng = np.random.default_rng(seed0 + k)
        total, done, terminated = 0.0, False, False
        band = info["band"]
        while not done:
            obs, reward, terminated, truncated, info = env.step(policy(obs, info, rng))
            total += reward
            done = terminated or truncated
        rows.append({"return": total, "mitigated": bool(terminated), "band": band})
    return rows


def summary(name, rows):
    ret = np.mean([r["return"] for r in rows])
    mit = np.mean([r["mitigated"] for r in rows])
    bands = {b: [r for r in rows if r["band"] == b] for b in ("easy", "medium", "hard")}
    per = "  ".join(f"{b} {np.mean([r['mitigated'] for r in rs]):.0%} (n={len(rs)})" for b, rs in bands.items() if rs)
    print(f"{name:<8} mean return {ret:8.2f}   mitigated {mit:5.0%}   {per}")
    return ret, mit


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--train", type=int, default=150, help="incidents in the training pool")
    ap.add_argument("--heldout", type=int, default=60, help="held-out incidents to evaluate on")
    ap.add_argument("--steps", type=int, default=30_000, help="PPO environment steps")
    args = ap.parse_args()

    import gymnasium as gym
    import torch
    from sb3_contrib import MaskablePPO

    import twin.envs  # noqa: F401

    torch.set_num_threads(1)
    t0 = time.perf_counter()
    train = gym.make("twin/Generated-v0", pool=args.train, **ENV_KWARGS)
    train.unwrapped.prefill(args.train)
    held = gym.make("twin/Generated-v0", split="heldout", pool=args.heldout, **ENV_KWARGS)
    held.unwrapped.prefill(args.heldout)
    t1 = time.perf_counter()
    print(f"generated {args.train} training and {args.heldout} held-out incidents in {t1 - t0:.0f} s")

    # masked PPO: on a given incident most (tool, slot) pairs name nothing; the env says which
    model = MaskablePPO("MultiInputPolicy", train, n_steps=512, batch_size=128, n_epochs=6, learning_rate=5e-4,
                        ent_coef=0.01, gamma=0.95, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=args.steps)
    t2 = time.perf_counter()
    print(f"MaskablePPO: {args.steps:,} steps on the training pool in {t2 - t1:.0f} s")

    def random_valid(obs, info, rng):
        return int(rng.choice(np.flatnonzero(info["action_mask"])))

    def trained(obs, info, rng):
        return int(model.predict(obs, action_masks=info["action_mask"].astype(bool), deterministic=True)[0])

    def nothing(obs, info, rng):  # a no-op agent: the first valid action, never a mitigation
        return int(np.flatnonzero(info["action_mask"])[0])

    indices = list(range(args.heldout))
    r_ppo = summary("ppo", play(held, trained, indices))
    r_rand = summary("random", play(held, random_valid, indices))
    summary("first", play(held, nothing, indices))
    print(f"held-out: PPO mean return {r_ppo[0]:.2f} vs random {r_rand[0]:.2f} "
          f"(PPO beats random: {r_ppo[0] > r_rand[0]}); mitigated {r_ppo[1]:.0%} vs {r_rand[1]:.0%}")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
