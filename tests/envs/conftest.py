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
