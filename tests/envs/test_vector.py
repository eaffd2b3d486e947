"""The native vector env: gymnasium's vector contract, and each member exactly a single IncidentEnv."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

import twin.envs  # noqa: F401  (registers the ids)
from twin.envs.incident import IncidentEnv
from twin.envs.vector import IncidentVectorEnv

N = 4
KWARGS = {"scenario": "b2b4-casc1", "max_steps": 6}


def _vector(**kw) -> IncidentVectorEnv:
    env = gym.make_vec("twin/Incident-v0", num_envs=N, vectorization_mode="vector_entry_point", **{**KWARGS, **kw})
    assert isinstance(env, IncidentVectorEnv)
    return env


def _same(a, b, path: str = "") -> None:
    """Equal to the bit, dtype and shape (nested info dicts and object arrays included)."""
    if isinstance(a, dict):
        assert set(a) == set(b), (path, set(a) ^ set(b))
        for k in a:
            _same(a[k], b[k], f"{path}/{k}")
        return
    if isinstance(a, tuple):  # a reset's or a step's results
        assert len(a) == len(b)
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
        return
    a, b = np.asarray(a), np.asarray(b)
    assert (a.dtype, a.shape) == (b.dtype, b.shape), path
    if a.dtype == object:  # e.g. final_obs: one dict (or None) per member
        for x, y in zip(a.ravel(), b.ravel()):
            if isinstance(x, dict):
                _same(x, y, path)
            else:
                assert x == y, path
    else:
        assert a.tobytes() == b.tobytes(), path


def _actions(rng: np.random.Generator, masks: np.ndarray, freeze: int) -> np.ndarray:
    """Valid actions, some masked ones, and often the fix (freeze_te) or a wait (member 0 does
    nothing else), so that members end their episodes at different steps, some mitigated, some
    truncated."""
    wait = IncidentEnv(**KWARGS).table.index["wait"] * 16
    out = []
    for i, m in enumerate(masks):
        u = rng.random() * (0.6 if i == 0 else 1.0)
        out.append(freeze if u < 0.2 else wait if u < 0.6 else rng.integers(0, m.size) if u < 0.7 else
                   rng.choice(np.flatnonzero(m)))
    return np.array(out, dtype=np.int64)


def test_spaces_are_the_single_envs_batched():
    env = _vector()
    single = IncidentEnv(**KWARGS)
    assert env.single_observation_space == single.observation_space
    assert env.single_action_space == single.action_space
    assert env.observation_space == batch_space(single.observation_space, N)
    assert env.action_space == batch_space(single.action_space, N)
    assert env.metadata["autoreset_mode"] == AutoresetMode.NEXT_STEP
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert all(v.dtype == np.float32 and v.shape[0] == N for v in obs.values())
    assert info["action_mask"].shape == (N, single.action_space.n) and info["action_mask"].dtype == np.int8
    masks = env.action_masks()
    assert masks.dtype == np.bool_ and np.array_equal(masks, info["action_mask"].astype(bool))
    obs, rewards, terminated, truncated, info = env.step(masks.argmax(axis=1))
    assert env.observation_space.contains(obs)
    assert rewards.dtype == np.float64 and rewards.shape == (N,)
    assert terminated.dtype == truncated.dtype == np.bool_ and terminated.shape == (N,)
    assert set(info["last_result"]) >= {"ok", "tool", "_ok"}


def test_equals_sync_vector_env_step_for_step_with_autoresets():
    """Observations, rewards, flags and infos (keys, masks, dtypes) as gymnasium's SyncVectorEnv of
    IncidentEnvs gives them, through episodes ending at different steps and NextStep autoresets."""
    native = _vector()
    sync = gym.make_vec("twin/Incident-v0", num_envs=N, vectorization_mode="sync", **KWARGS)
    freeze = IncidentEnv(**KWARGS).table.index["freeze_te"] * 16
    a, b = native.reset(seed=7), sync.reset(seed=7)
    _same(a, b)
    rng = np.random.default_rng(1)
    ended = autoreset_seen = apart = fixed = 0
    for _ in range(24):
        actions = _actions(rng, a[-1]["action_mask"], freeze)
        was_done = np.logical_or(a[2], a[3]) if len(a) == 5 else np.zeros(N, dtype=bool)
        a, b = native.step(actions), sync.step(actions)
        _same(a, b)
        obs, rewards, terminated, truncated, _ = a
        for i in np.flatnonzero(was_done):  # NextStep: the step after a done is the reset
            assert rewards[i] == 0.0 and not terminated[i] and not truncated[i]
            autoreset_seen += 1
        done = np.logical_or(terminated, truncated)
        ended += int(done.sum())
        apart += int(done.any() and not done.all())  # members out of step
        fixed += int(terminated.sum())
    assert ended >= N and autoreset_seen >= N and apart and fixed, (ended, autoreset_seen, apart, fixed)


def test_member_i_is_a_single_env_with_its_seed():
    """Member i, reset with seed s_i and given the same actions, follows the single env's
    trajectory (its autoresets are the single env's reset() without a seed)."""
    native = _vector()
    seeds = [11, 3, 40, 5]
    obs, info = native.reset(seed=seeds)
    singles = [IncidentEnv(**KWARGS) for _ in range(N)]
    single_out = [e.reset(seed=s) for e, s in zip(singles, seeds)]
    done = [False] * N
    rng = np.random.default_rng(2)
    freeze = singles[0].table.index["freeze_te"] * 16
    for step in range(14):
        for i in range(N):
            for k in obs:
                assert obs[k][i].tobytes() == single_out[i][0][k].tobytes(), (step, i, k)
        actions = _actions(rng, info["action_mask"], freeze)
        obs, rewards, terminated, truncated, info = native.step(actions)
        for i, e in enumerate(singles):
            if done[i]:
                single_out[i] = e.reset()
                assert rewards[i] == 0.0
                done[i] = False
                continue
            o, r, te, tr, _ = e.step(actions[i])
            single_out[i] = (o, {})
            assert (rewards[i], terminated[i], truncated[i]) == (r, te, tr), (step, i)
            done[i] = te or tr
            assert e.twin.now == native.unwrapped.envs[i].twin.now


def test_determinism_under_seeds():
    def roll(seed: int) -> list:
        env = _vector()
        out = [env.reset(seed=seed)[0]]
        rng = np.random.default_rng(0)
        for _ in range(6):
            masks = env.action_masks()
            o, r, _, _, _ = env.step(np.array([rng.choice(np.flatnonzero(m)) for m in masks]))
            out += [o, r]
        return out

    a, b, c = roll(3), roll(3), roll(4)
    for x, y in zip(a, b):
        _same(x, y)
    assert any(not np.array_equal(x[k], y[k]) for x, y in zip(a[::2], c[::2]) for k in x)


def test_same_step_autoreset_reports_the_final_observation():
    """SameStep: the reset observation comes back in the step that ended the episode, the last
    one in info["final_obs"]; the same episodes as NextStep."""
    same = _vector(autoreset_mode="SameStep")
    nxt = _vector()
    assert same.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    s_obs, s_info = same.reset(seed=5)
    n_obs, n_info = nxt.reset(seed=5)
    rng = np.random.default_rng(3)
    finals = 0
    for _ in range(8):
        actions = _actions(rng, n_info["action_mask"], IncidentEnv(**KWARGS).table.index["freeze_te"] * 16)
        s_obs, s_r, s_te, s_tr, s_info = same.step(actions)
        n_obs, n_r, n_te, n_tr, n_info = nxt.step(actions)
        np.testing.assert_array_equal(s_r, n_r)
        done = np.logical_or(n_te, n_tr)
        for i in np.flatnonzero(done):
            finals += 1
            assert s_info["_final_obs"][i]
            for k in n_obs:
                assert s_info["final_obs"][i][k].tobytes() == n_obs[k][i].tobytes()
        if done.any():  # NextStep's reset step: its observation is SameStep's already
            n_obs, n_r, _, _, n_info = nxt.step(actions)
            for i in np.flatnonzero(done):
                for k in n_obs:
                    assert s_obs[k][i].tobytes() == n_obs[k][i].tobytes()
            break
    assert finals


def test_bad_arguments_name_the_field():
    with pytest.raises(ValueError, match="autoreset_mode"):
        IncidentVectorEnv(2, autoreset_mode="Sometimes")
    with pytest.raises(ValueError, match="num_envs"):
        IncidentVectorEnv(0)
    env = IncidentVectorEnv(2, **KWARGS)
    with pytest.raises(ValueError, match="seed"):
        env.reset(seed=[1, 2, 3])
    with pytest.raises(ValueError, match="reset_mask"):
        env.reset(options={"reset_mask": np.zeros(2, dtype=bool)})


def test_batched_observations_are_contiguous_and_the_members_own():
    """The batch is split from one stack of flat observations: each key a contiguous copy
    (no view into another key's memory), row i equal to member i's own observation."""
    envs = IncidentVectorEnv(3, "b2b4-casc1", max_steps=4)
    obs, info = envs.reset(seed=5)
    obs, *_ = envs.step(envs.action_masks().argmax(axis=1))
    assert list(obs) == list(envs._obs[0])
    for key, batch in obs.items():
        assert batch.flags.c_contiguous
        assert not any(np.shares_memory(batch, other) for k, other in obs.items() if k != key)
        for i in range(3):
            np.testing.assert_array_equal(batch[i], envs._obs[i][key])


def test_add_info_batches_as_gymnasium_does():
    from gymnasium.vector import VectorEnv

    envs = IncidentVectorEnv(3, "b2b4-casc1", max_steps=4)
    _, info = envs.reset(seed=1)
    single = envs.envs[0]._info()
    ours, theirs = {}, {}
    for i, extra in enumerate(({}, {"final_obs": envs._obs[1], "final_info": single}, {})):
        ours = envs._add_info(ours, {**single, **extra}, i)
        theirs = VectorEnv._add_info(envs, theirs, {**single, **extra}, i)

    def same(a, b):
        assert list(a) == list(b)
        for k in a:
            if isinstance(a[k], dict):
                same(a[k], b[k])
            else:
                assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape
                assert all(x is y or np.array_equal(x, y) for x, y in zip(a[k], b[k]))

    same(ours, theirs)
