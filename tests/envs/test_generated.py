"""``twin/Generated-v0``: a generated incident per reset, from the training split unless asked for
the held-out one; the same spaces for every incident, and slots ordered by what alerts."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import twin.envs  # noqa: F401
from twin.envs.incident import IncidentEnv
from twin.generator import HELDOUT_FROM

KW = {"pool": 3, "max_steps": 4, "max_targets": 4}


@pytest.fixture(scope="module")
def env():
    e = gym.make("twin/Generated-v0", **KW)
    e.unwrapped.prefill(3, workers=2)
    return e


def test_check_env_passes(env):
    check_env(env.unwrapped, skip_render_check=True)


def test_a_reset_seed_fixes_the_incident_and_the_observation(env):
    obs1, info1 = env.reset(seed=11)
    obs2, info2 = env.reset(seed=11)
    assert info1["incident"] == info2["incident"]
    assert all(np.array_equal(obs1[k], obs2[k]) for k in obs1)
    names = {env.reset(seed=s)[1]["incident"] for s in range(12)}
    assert len(names) > 1 and all(n.startswith("gen-0-") for n in names)
    assert {"difficulty", "band"} <= set(info1)


def test_the_spaces_are_the_same_for_every_incident(env):
    for s in range(4):
        obs, info = env.reset(seed=s)
        assert env.observation_space.contains(obs)
        assert info["action_mask"].shape == (env.action_space.n,)


def test_slot_zero_is_the_loudest_entity(env):
    """order="alerts": the first row and target slot belong to the entity whose alert came first."""
    obs, info = env.reset(seed=2)
    u = env.unwrapped
    first = sorted(u.toolbox.open_alerts(), key=lambda a: (a.severity != "critical", a.start, a.entity))[0]
    kind = {"link": "links", "service": "services", "device": "devices"}[first.entity_kind]
    assert obs[kind][0, -1] == 1.0  # the row's "alerting" feature
    tool = {"links": "drain_link", "services": "restart_service", "devices": "drain_device"}[kind]
    assert u.table.targets(u.toolbox)[u.table.index[tool]][0] == first.entity


def test_the_heldout_split_never_meets_the_training_one():
    held = gym.make("twin/Generated-v0", split="heldout", **{**KW, "pool": 1})
    obs, info = held.reset(seed=0)
    assert info["incident"].startswith(f"gen-{HELDOUT_FROM}-")
    with pytest.raises(ValueError, match="split must be one of train, heldout"):
        gym.make("twin/Generated-v0", split="test")
    with pytest.raises(ValueError, match="generator_seed must be in"):
        gym.make("twin/Generated-v0", generator_seed=HELDOUT_FROM + 1)


def test_incident_v0_takes_the_alert_order_too():
    e = IncidentEnv("sockshop-cpu-hog", max_steps=2, max_targets=4, order="alerts")
    obs, info = e.reset(seed=0)
    assert e.table.priority and next(iter(e.table.priority)) in {a.entity for a in e.toolbox.open_alerts()}
    with pytest.raises(ValueError, match="order must be one of fixed, alerts"):
        IncidentEnv("sockshop-cpu-hog", order="loud")
