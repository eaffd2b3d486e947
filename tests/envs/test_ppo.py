"""A real client: Stable-Baselines3 PPO trains on twin/Incident-v0 and beats the random policy."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch", reason="the rl extra (torch==2.13.0) is not installed: pip install -e '.[rl]'")
pytest.importorskip("stable_baselines3", reason="the rl extra (stable-baselines3) is not installed: pip install -e '.[rl]'")

import gymnasium as gym

import twin.envs  # noqa: F401

# Short episodes and few target slots keep training to a minute or two on two cores.
ENV_KWARGS = {"scenario": "b2b4-casc1", "max_steps": 8, "max_targets": 4}
EVAL_SEEDS = list(range(1000, 1010))


def _mean_return(policy, seeds, episode_return) -> float:
    env = gym.make("twin/Incident-v0", **ENV_KWARGS)
    returns = [episode_return(env, policy, seed, seed) for seed in seeds]
    env.close()
    return float(np.mean(returns))


@pytest.mark.slow
def test_ppo_beats_random_policy_on_the_same_seeds(episode_return):
    import torch
    from stable_baselines3 import PPO

    torch.set_num_threads(1)
    env = gym.make("twin/Incident-v0", **ENV_KWARGS)
    model = PPO("MultiInputPolicy", env, n_steps=256, batch_size=64, n_epochs=4, learning_rate=1e-3,
                ent_coef=0.01, seed=0, device="cpu", verbose=0)
    model.learn(total_timesteps=3072)

    def random_valid(obs, info, rng):
        return int(rng.choice(np.flatnonzero(info["action_mask"])))

    def trained(obs, info, rng):
        return int(model.predict(obs, deterministic=True)[0])

    random_return = _mean_return(random_valid, EVAL_SEEDS, episode_return)
    ppo_return = _mean_return(trained, EVAL_SEEDS, episode_return)
    # A real margin: the random policy rarely finds a fix in 8 calls; the returns are negative impact-minutes.
    assert ppo_return > random_return + 5.0, (ppo_return, random_return)
