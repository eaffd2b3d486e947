"""Masked PPO trained on ``twin/Generated-v0`` (the training split) beats the random policy on
held-out generated incidents it never saw. A small budget; ``bench/ppo_generated.py`` is the full run."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the rl extra is not installed: pip install -e '.[rl]'")
pytest.importorskip("sb3_contrib", reason="the rl extra (sb3-contrib) is not installed: pip install -e '.[rl]'")

import gymnasium as gym

import twin.envs  # noqa: F401

KW = {"max_steps": 8, "max_targets": 8}


def _returns(env, policy, n, episode_return):
    return float(np.mean([episode_return(env, policy, 100 + i, i, {"index": i}) for i in range(n)]))


@pytest.mark.slow
def test_masked_ppo_beats_random_on_the_heldout_split(episode_return):
    import torch
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)
    train = gym.make("twin/Generated-v0", pool=24, **KW)
    train.unwrapped.prefill(24)
    held = gym.make("twin/Generated-v0", split="heldout", pool=12, **KW)
    held.unwrapped.prefill(12)
    assert all(held.unwrapped.incident(i).generated.split == "heldout" for i in range(12))
    model = MaskablePPO("MultiInputPolicy", train, n_steps=256, batch_size=64, n_epochs=6, learning_rate=5e-4,
                        ent_coef=0.01, gamma=0.95, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=6144)

    def trained(obs, info, rng):
        return int(model.predict(obs, action_masks=info["action_mask"].astype(bool), deterministic=True)[0])

    def random_valid(obs, info, rng):
        return int(rng.choice(np.flatnonzero(info["action_mask"])))

    ppo, rand = _returns(held, trained, 12, episode_return), _returns(held, random_valid, 12, episode_return)
    assert ppo > rand, (ppo, rand)
