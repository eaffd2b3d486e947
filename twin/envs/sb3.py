"""Stable-Baselines3's ``VecEnv`` over the native vector env, for PPO or sb3-contrib's MaskablePPO.

SB3 resets a finished member in the step that finished it and wants the last observation in
``info["terminal_observation"]``: the native env runs with ``autoreset_mode="SameStep"`` (its
``info["final_obs"]``), so no step is lost to gymnasium's next-step autoreset. Masks come from
``env_method("action_masks")`` (what MaskablePPO calls) or :meth:`Sb3VecEnv.action_masks`.

>>> from twin.envs.sb3 import make_sb3_vec_env
>>> venv = make_sb3_vec_env(4, scenario="b2b4-casc1", max_steps=8)
>>> obs = venv.reset()
>>> obs["links"].shape, venv.action_masks().shape
((4, 64, 5), (4, 512))

Requires the ``rl`` extra (stable-baselines3).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode
from stable_baselines3.common.vec_env.base_vec_env import VecEnv, VecEnvObs, VecEnvStepReturn

from twin.envs.vector import IncidentVectorEnv

__all__ = ["Sb3VecEnv", "make_sb3_vec_env"]


class Sb3VecEnv(VecEnv):
    """An SB3 ``VecEnv`` view of an :class:`IncidentVectorEnv` in ``SameStep`` autoreset mode."""

    def __init__(self, vec_env: IncidentVectorEnv) -> None:
        if vec_env.autoreset_mode != AutoresetMode.SAME_STEP:
            raise ValueError(f"vec_env.autoreset_mode must be {AutoresetMode.SAME_STEP.value} (SB3 resets in the step "
                             f"that ends an episode), got {vec_env.autoreset_mode.value}")
        self.vec_env = vec_env
        super().__init__(vec_env.num_envs, vec_env.single_observation_space, vec_env.single_action_space)
        self._actions: np.ndarray | None = None

    def reset(self) -> VecEnvObs:
        seeds = None if all(s is None for s in self._seeds) else list(self._seeds)
        options = next((o for o in self._options if o), None)
        obs, infos = self.vec_env.reset(seed=seeds, options=options)
        self.reset_infos = [_member(infos, i) for i in range(self.num_envs)]
        self._reset_seeds()
        self._reset_options()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self) -> VecEnvStepReturn:
        if self._actions is None:
            raise RuntimeError("step_wait called without step_async")
        obs, rewards, terminated, truncated, infos = self.vec_env.step(self._actions)
        self._actions = None
        dones = np.logical_or(terminated, truncated)
        out = []
        for i in range(self.num_envs):
            info = _member(infos, i)
            if dones[i]:  # the step's info is gymnasium's final_info; the reset's goes to reset_infos
                final, last = info.pop("final_obs"), info.pop("final_info")
                self.reset_infos[i] = info
                info = {**last, "terminal_observation": final}
            info["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            out.append(info)
        return obs, rewards.astype(np.float32), dones, out

    def action_masks(self) -> np.ndarray:
        return self.vec_env.action_masks()

    def close(self) -> None:
        self.vec_env.close()

    def get_attr(self, attr_name: str, indices: None | int | Iterable[int] = None) -> list[Any]:
        return [getattr(self.vec_env.envs[i], attr_name) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: None | int | Iterable[int] = None) -> None:
        for i in self._get_indices(indices):
            setattr(self.vec_env.envs[i], attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: None | int | Iterable[int] = None,
                   **method_kwargs: Any) -> list[Any]:
        return [getattr(self.vec_env.envs[i], method_name)(*method_args, **method_kwargs)
                for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type, indices: None | int | Iterable[int] = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]

    def get_images(self) -> Sequence[np.ndarray | None]:
        return [None] * self.num_envs


def make_sb3_vec_env(num_envs: int, **kwargs: Any) -> Sb3VecEnv:
    """``Sb3VecEnv(IncidentVectorEnv(num_envs, autoreset_mode="SameStep", **kwargs))``."""
    return Sb3VecEnv(IncidentVectorEnv(num_envs, autoreset_mode=AutoresetMode.SAME_STEP, **kwargs))


def _member(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Member ``i``'s info out of gymnasium's batched infos (values where its ``_key`` mask is set)."""
    out: dict[str, Any] = {}
    for key, value in infos.items():
        if key.startswith("_") or not infos.get(f"_{key}", np.zeros(i + 1, dtype=bool))[i]:
            continue
        out[key] = _member(value, i) if isinstance(value, dict) else value[i]
    return out
