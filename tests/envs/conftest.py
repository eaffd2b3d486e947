"""Fixtures for the gymnasium environments: short episodes keep the suite fast."""

from __future__ import annotations

import pytest


@pytest.fixture()
def env():
    import gymnasium as gym

    import twin.envs  # noqa: F401  (registers the twin/ ids)

    e = gym.make("twin/Incident-v0", scenario="b2b4-casc1", max_steps=8)
    yield e
    e.close()


def _episode_return(env, policy, seed: int, rng_seed: int, options: dict | None = None) -> float:
    """One episode's total reward: ``policy(obs, info, rng)`` picks each action."""
    import numpy as np

    obs, info = env.reset(seed=seed, options=options)
    rng = np.random.default_rng(rng_seed)
    total, done = 0.0, False
    while not done:
        obs, reward, terminated, truncated, info = env.step(policy(obs, info, rng))
        total += reward
        done = terminated or truncated
    return total


@pytest.fixture()
def episode_return():
    """The episode loop the policy tests share (PPO against random on fixed seeds)."""
    return _episode_return
