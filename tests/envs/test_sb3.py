"""Stable-Baselines3 over the native vector env: SB3's VecEnv contract, and MaskablePPO trains on it."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("stable_baselines3", reason="the rl extra (stable-baselines3) is not installed: pip install -e '.[rl]'")

from stable_baselines3.common.vec_env import DummyVecEnv

from twin.envs.incident import IncidentEnv
from twin.envs.sb3 import Sb3VecEnv, make_sb3_vec_env
from twin.envs.vector import IncidentVectorEnv

N = 3
KWARGS = {"scenario": "b2b4-casc1", "max_steps": 4, "max_targets": 4}


def test_equals_dummy_vec_env_of_single_envs():
    """Observations, rewards, dones, terminal observations and truncation flags as SB3's own
    DummyVecEnv over IncidentEnvs gives them (SB3 resets in the step that ends an episode)."""
    ours = make_sb3_vec_env(N, **KWARGS)
    theirs = DummyVecEnv([lambda: IncidentEnv(**KWARGS) for _ in range(N)])
    ours.seed(5)
    theirs.seed(5)
    a, b = ours.reset(), theirs.reset()
    rng = np.random.default_rng(0)
    dones_seen = 0
    for _ in range(10):
        for k in a:
            assert a[k].tobytes() == b[k].tobytes()
        masks = ours.action_masks()
        assert np.array_equal(masks, np.stack(theirs.env_method("action_masks")))
        actions = np.array([rng.choice(np.flatnonzero(m)) for m in masks])
        ours.step_async(actions)
        theirs.step_async(actions)
        a, ra, da, ia = ours.step_wait()
        b, rb, db, ib = theirs.step_wait()
        assert ra.tobytes() == rb.tobytes() and np.array_equal(da, db)
        for x, y, done in zip(ia, ib, da):
            assert x["TimeLimit.truncated"] == y["TimeLimit.truncated"]
            assert np.array_equal(x["action_mask"], y["action_mask"]) and x["sim_time"] == y["sim_time"]
            assert x["last_result"] == y["last_result"] and x["steps"] == y["steps"]
            if done:
                dones_seen += 1
                for k in y["terminal_observation"]:
                    assert x["terminal_observation"][k].tobytes() == y["terminal_observation"][k].tobytes()
    assert dones_seen >= N


def test_needs_same_step_autoreset():
    with pytest.raises(ValueError, match="autoreset_mode"):
        Sb3VecEnv(IncidentVectorEnv(2, **KWARGS))


def test_maskable_ppo_trains_on_it():
    pytest.importorskip("torch")
    pytest.importorskip("sb3_contrib")
    import torch
    from sb3_contrib import MaskablePPO

    torch.set_num_threads(1)
    venv = make_sb3_vec_env(4, **KWARGS)
    model = MaskablePPO("MultiInputPolicy", venv, n_steps=32, batch_size=64, n_epochs=2, seed=0, device="cpu",
                        verbose=0)
    model.learn(total_timesteps=256)
    assert model.num_timesteps >= 256
    obs = venv.reset()
    actions, _ = model.predict(obs, action_masks=venv.action_masks(), deterministic=True)
    assert venv.action_masks()[np.arange(4), actions].all()  # masked actions are never chosen
