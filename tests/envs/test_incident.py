"""twin/Incident-v0: the gymnasium contract, vector envs, seeding, masks and fuzzed actions."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import twin.envs
from twin.envs.incident import IncidentEnv


def _check_without_warnings(env_id: str, **kwargs) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any gymnasium checker warning fails the test
        env = gym.make(env_id, **kwargs)
        check_env(env.unwrapped)
        env.close()


def test_incident_passes_check_env_without_warnings():
    _check_without_warnings("twin/Incident-v0", scenario="b2b4-casc1")


@pytest.mark.slow
@pytest.mark.parametrize("env_id", [i for i in twin.envs.env_ids() if i != "twin/TextIncident-v0"])
def test_every_registered_id_passes_check_env(env_id):
    _check_without_warnings(env_id)


def test_one_id_per_builtin_scenario():
    from gymnasium.envs.registration import registry

    from twin import scenario_paths

    twin.envs.register_envs()  # picks up scenario files added since import
    for name in scenario_paths():
        spec = registry[f"twin/{twin.envs.camel_name(name)}-v0"]
        assert spec.kwargs["scenario"] == name
    assert twin.envs.camel_name("b2b4-casc1") == "B2b4Casc1"


def test_module_prefixed_id_loads_without_import():
    env = gym.make("twin.envs:twin/Incident-v0", max_steps=2)
    assert isinstance(env.unwrapped, IncidentEnv)
    env.close()


def test_observations_are_finite_and_in_space(env):
    obs, info = env.reset(seed=3)
    mask = info["action_mask"]
    assert mask.dtype == np.int8 and mask.shape == (env.action_space.n,)
    rng = np.random.default_rng(0)
    for _ in range(8):
        assert env.observation_space.contains(obs)
        assert all(np.isfinite(v).all() and v.dtype == np.float32 for v in obs.values())
        obs, reward, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        assert np.isfinite(reward)
        if terminated or truncated:
            break
    assert {"action_mask", "sim_time", "last_result"} <= set(info)


def test_episode_starts_at_first_critical_alert(env):
    _, info = env.reset(seed=0)
    twin_ = env.unwrapped.twin
    assert any(a.severity == "critical" for a in twin_.open_alerts())
    assert info["sim_time"] == twin_.now > 0


def _rollout(seed: int, steps: int = 6):
    env = gym.make("twin/Incident-v0", max_steps=steps)
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(42)
    trace = [obs]
    rewards = []
    for _ in range(steps):
        action = int(rng.choice(np.flatnonzero(info["action_mask"])))
        obs, r, terminated, truncated, info = env.step(action)
        trace.append(obs)
        rewards.append(r)
        if terminated or truncated:
            break
    env.close()
    return trace, rewards


def test_same_seed_same_trajectory_and_different_seeds_differ():
    a_obs, a_r = _rollout(5)
    b_obs, b_r = _rollout(5)
    c_obs, c_r = _rollout(6)
    assert a_r == b_r
    for x, y in zip(a_obs, b_obs):
        for key in x:
            np.testing.assert_array_equal(x[key], y[key])
    differs = a_r != c_r or any(not np.array_equal(x[k], y[k]) for x, y in zip(a_obs, c_obs) for k in x)
    assert differs


def test_masked_action_returns_error_and_episode_goes_on(env):
    _, info = env.reset(seed=1)
    bad = int(np.flatnonzero(info["action_mask"] == 0)[0])
    obs, reward, terminated, truncated, info = env.step(bad)
    result = info["last_result"]
    assert result["ok"] is False and result["error"]
    assert reward < 0 and not terminated
    assert env.observation_space.contains(obs)
    good = int(np.flatnonzero(info["action_mask"])[0])
    env.step(good)


def test_effective_mitigation_terminates_and_beats_a_harmful_one():
    def score(first: str, args_slot: int = 0) -> tuple[float, bool]:
        env = IncidentEnv(max_steps=16)
        _, info = env.reset(seed=2)
        wait = env.table.index["wait"] * env.table.max_targets
        action = env.table.index[first] * env.table.max_targets + args_slot
        total, done = 0.0, False
        for i in range(16):
            _, r, terminated, truncated, info = env.step(action if i == 0 else wait)
            total += r
            if terminated or truncated:
                return total, terminated
        return total, done

    good, mitigated = score("freeze_te")
    bad, bad_mitigated = score("drain_link")  # slot 0: b2:us-east-us-central, which the scenario calls harmful
    assert mitigated and not bad_mitigated
    assert good > bad


def test_vector_envs_roll_out():
    for vec_cls in (gym.vector.SyncVectorEnv, gym.vector.AsyncVectorEnv):
        envs = vec_cls([lambda: gym.make("twin/Incident-v0", max_steps=3) for _ in range(2)])
        try:
            _, info = envs.reset(seed=[0, 1])
            rng = np.random.default_rng(0)
            for _ in range(5):
                actions = np.array([rng.choice(np.flatnonzero(m)) for m in info["action_mask"]])
                _, rewards, terminated, truncated, info = envs.step(actions)
                assert rewards.shape == (2,) and np.isfinite(rewards).all()
        finally:
            envs.close()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(st.one_of(st.integers(-10**12, 10**12), st.integers(0, 500), st.floats(allow_nan=True),
                                  st.none(), st.text(max_size=5), st.lists(st.integers(0, 480), max_size=3)),
                        min_size=1, max_size=4))
def test_fuzzed_actions_never_raise(fuzz_env, actions):
    env = fuzz_env
    if env.done:
        env.reset(seed=0)
    for a in actions:
        obs, reward, terminated, truncated, info = env.step(a)
        assert np.isfinite(reward)
        assert env.observation_space.contains(obs)
        if terminated or truncated:
            env.reset(seed=0)


class _Tracked:
    """An IncidentEnv that remembers whether its episode ended (one env reused across examples)."""

    def __init__(self) -> None:
        self.env = IncidentEnv(max_steps=12)
        self.done = True
        self.observation_space = self.env.observation_space

    def reset(self, seed=None):
        self.done = False
        return self.env.reset(seed=seed)

    def step(self, action):
        out = self.env.step(action)
        self.done = out[2] or out[3]
        return out


@pytest.fixture(scope="module")
def fuzz_env():
    return _Tracked()


def test_the_posterior_is_an_optional_observation() -> None:
    """posterior=k adds the diagnosis engine's top-k causes and the none-of-these mass."""
    from gymnasium.utils.env_checker import check_env

    from twin.envs.incident import IncidentEnv
    from twin.faults.registry import fault_kinds

    env = IncidentEnv("b2b4-casc1", posterior=3, max_steps=3)
    obs, _ = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    probs, kinds = obs["posterior"], obs["posterior_kind"]
    assert probs.shape == (4,) and abs(float(probs.sum()) - 1.0) < 1e-4
    assert sorted(fault_kinds())[int(kinds[0]) - 1] == "config_push" and probs[0] > 0.6
    plain, _ = IncidentEnv("b2b4-casc1", max_steps=3).reset(seed=0)
    assert "posterior" not in plain
    check_env(IncidentEnv("b2b4-casc1", posterior=2, max_steps=3), skip_render_check=True)


def test_mitigated_kept_step_by_step_agrees_with_is_mitigated():
    """The env keeps the SLO-clean run as samples arrive; twin.episode walks the history back."""
    from twin.episode import is_mitigated

    env = IncidentEnv("b2b4-casc1", max_steps=64)
    rng = np.random.default_rng(7)
    seen = set()
    for seed in range(3):
        _, info = env.reset(seed=seed)
        for _ in range(64):
            _, _, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
            assert terminated == is_mitigated(env.twin, env.start)
            seen.add(terminated)
            if terminated or truncated:
                break
    assert False in seen
