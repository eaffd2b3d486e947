"""``twin/Incident-v0`` as a native vector env: N incidents whose twins tick together.

>>> import gymnasium, twin.envs
>>> envs = gymnasium.make_vec("twin/Incident-v0", num_envs=4, vectorization_mode="vector_entry_point",
...                           scenario="b2b4-casc1", max_steps=8)
>>> obs, info = envs.reset(seed=0)
>>> obs["links"].shape, info["action_mask"].shape
((4, 64, 5), (4, 512))
>>> obs, rewards, terminated, truncated, info = envs.step(envs.action_masks().argmax(axis=1))
>>> rewards.shape
(4,)

Member ``i`` is an :class:`~twin.envs.incident.IncidentEnv` (same spaces, rewards and episode
rules), and with reset seed ``s_i`` and the same actions it follows exactly the trajectory of
``IncidentEnv`` reset with ``s_i`` (and of member ``i`` of a ``SyncVectorEnv``: seeds, infos and
autoreset as gymnasium's). What differs is how time passes: a step begins every member's tool call
(validate, run the tool), then advances all the members' twins together to their own ends
(:meth:`twin.sim.batch.TwinBatch.advance`: at each tick time, the members due to tick then share
one call per physics phase), then ends every member's step (result, reward, observation).
Members resetting at once run to their first critical alert together too.

Autoreset: ``NEXT_STEP`` by default (gymnasium 1.x: the step after a done returns the reset
observation with reward 0, terminated and truncated False); ``autoreset_mode="SameStep"``
resets in the step that ended the episode and puts the last observation and info in
``info["final_obs"]``/``info["final_info"]`` (what :class:`twin.envs.sb3.Sb3VecEnv` uses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space, iterate

from twin.envs.incident import IncidentEnv, critical_open
from twin.scenario import Scenario, load_scenario
from twin.sim.batch import TwinBatch
from twin.sim.collect import fewer_collections
from twin.sim.twin import Twin, run_together

__all__ = ["IncidentVectorEnv"]


class IncidentVectorEnv(VectorEnv):
    """``num_envs`` incidents of one scenario stepped together; see the module docstring."""

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, num_envs: int = 1, scenario: str | Path | Scenario = "b2b4-casc1", *,
                 autoreset_mode: AutoresetMode | str = AutoresetMode.NEXT_STEP, warm_resets: bool = True,
                 **env_kwargs: Any) -> None:
        if int(num_envs) < 1:
            raise ValueError(f"num_envs must be >= 1, got {num_envs!r}")
        try:
            mode = AutoresetMode(autoreset_mode)
        except ValueError:
            allowed = ", ".join(m.value for m in AutoresetMode if m != AutoresetMode.DISABLED)
            raise ValueError(f"autoreset_mode must be one of {allowed}, got {autoreset_mode!r}") from None
        if mode == AutoresetMode.DISABLED:
            raise ValueError("autoreset_mode: Disabled is not supported (use NextStep or SameStep)")
        self.autoreset_mode = mode
        #: run each member's next episode's twin ahead in the rounds the others tick anyway
        self.warm_resets = bool(warm_resets)
        self._spares: dict[int, Twin] = {}
        self.metadata = {**self.metadata, "autoreset_mode": mode}
        self.num_envs = int(num_envs)
        sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        # one scenario object: the members' twins share its world, as a batch's members must
        self.envs = [IncidentEnv(sc, **env_kwargs) for _ in range(self.num_envs)]
        first = self.envs[0]
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = None
        self._batch = TwinBatch([e.twin for e in self.envs], run_together)
        self._autoreset = np.zeros(self.num_envs, dtype=np.bool_)
        self._rewards = np.zeros(self.num_envs, dtype=np.float64)
        self._terminations = np.zeros(self.num_envs, dtype=np.bool_)
        self._truncations = np.zeros(self.num_envs, dtype=np.bool_)
        self._obs: list[dict[str, np.ndarray]] = [{} for _ in range(self.num_envs)]

    # -- gymnasium API -------------------------------------------------------------------------
    @fewer_collections()
    def reset(self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None):
        """Reset every member (or those in ``options["reset_mask"]``); an int seed gives member i
        ``seed + i``, as ``SyncVectorEnv`` does."""
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, (int, np.integer)):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
            if len(seeds) != self.num_envs:
                raise ValueError(f"seed: {len(seeds)} seeds for num_envs={self.num_envs}")
        mask = np.ones(self.num_envs, dtype=np.bool_)
        if options is not None and "reset_mask" in options:
            mask = np.asarray(options["reset_mask"])
            if mask.shape != (self.num_envs,) or mask.dtype != np.bool_ or not mask.any():
                raise ValueError(f"options['reset_mask'] must be a bool array of shape ({self.num_envs},) with a True,"
                                 f" got {options['reset_mask']!r}")
        members = [i for i in range(self.num_envs) if mask[i]]
        self._terminations[mask] = self._truncations[mask] = self._autoreset[mask] = False
        infos: dict[str, Any] = {}
        for i, info in zip(members, self._reset_members(members, [seeds[i] for i in members])):
            infos = self._add_info(infos, info, i)
        return self._stacked_obs(), infos

    @fewer_collections()
    def step(self, actions: Any):
        actions = list(iterate(self.action_space, actions))
        if len(actions) != self.num_envs:
            raise ValueError(f"actions: {len(actions)} actions for num_envs={self.num_envs}")
        resetting = [i for i in range(self.num_envs) if self._autoreset[i]] \
            if self.autoreset_mode == AutoresetMode.NEXT_STEP else []
        skip = set(resetting)
        stepping = [i for i in range(self.num_envs) if i not in skip]
        infos: dict[str, Any] = {}
        outcomes = dict(zip(stepping, self._step_members(stepping, [actions[i] for i in stepping], resetting)))
        for i in resetting:
            self._rewards[i], self._terminations[i], self._truncations[i] = 0.0, False, False
        for i in range(self.num_envs):
            if i in outcomes:
                self._obs[i], self._rewards[i], self._terminations[i], self._truncations[i], info = outcomes[i]
            else:
                info = self._reset_infos.pop(i)
            infos = self._add_info(infos, info, i)
        done = [i for i in stepping if self._terminations[i] or self._truncations[i]]
        if self.autoreset_mode == AutoresetMode.SAME_STEP and done:
            for i in done:
                infos = self._add_info(infos, {"final_obs": self._obs[i], "final_info": outcomes[i][4]}, i)
            # the reset's info replaces the step's (as SyncVectorEnv's does, key by key)
            for i, info in zip(done, self._reset_members(done, [None] * len(done))):
                infos = self._add_info(infos, info, i)
        self._autoreset = np.logical_or(self._terminations, self._truncations)
        if self.autoreset_mode == AutoresetMode.SAME_STEP:
            self._autoreset[:] = False
        return (self._stacked_obs(), self._rewards.copy(), self._terminations.copy(), self._truncations.copy(), infos)

    def action_masks(self) -> np.ndarray:
        """Every member's current mask, (num_envs, n_actions) booleans (for MaskablePPO)."""
        return np.stack([e.action_masks() for e in self.envs])

    def _add_info(self, vector_infos: dict[str, Any], env_info: dict[str, Any], env_num: int) -> dict[str, Any]:
        """gymnasium's ``VectorEnv._add_info`` (the same keys, arrays, masks and key order),
        without the fresh mask array it builds per key and member only to drop when one exists."""
        n = self.num_envs
        for key, value in env_info.items():
            if key == "final_obs":
                array = vector_infos.get(key)
                if array is None:
                    array = np.full(n, fill_value=None, dtype=object)
                array[env_num] = value
            elif isinstance(value, dict):
                array = self._add_info(vector_infos.get(key, {}), value, env_num)
            else:
                array = vector_infos.get(key)
                if array is None:
                    if type(value) in (int, float, bool) or issubclass(type(value), np.number):
                        array = np.zeros(n, dtype=type(value))
                    elif isinstance(value, np.ndarray):
                        array = np.zeros((n, *value.shape), dtype=value.dtype)
                    else:
                        array = np.full(n, fill_value=None, dtype=object)
                array[env_num] = value
            vector_infos[key] = array
            mask = vector_infos.get(f"_{key}")
            if mask is None:
                mask = vector_infos[f"_{key}"] = np.zeros(n, dtype=np.bool_)
            mask[env_num] = True
        return vector_infos

    def close_extras(self, **kwargs: Any) -> None:
        self.envs = []

    # -- the members together ------------------------------------------------------------------
    def _reset_members(self, members: list[int], seeds: list[int | None]) -> list[dict[str, Any]]:
        """Reset ``members``: fresh twins, run together to their first critical alerts."""
        for i, seed in zip(members, seeds):
            self.envs[i]._reset_twin(seed, self._spares.pop(i, None))
        self._advance({}, members)
        infos = []
        for i in members:
            self._obs[i], info = self.envs[i]._reset_done()
            infos.append(info)
            self._warm(i)
        return infos

    def _step_members(self, members: list[int], actions: list[Any], resetting: list[int]) -> list[tuple]:
        """Step ``members`` (and, at the same time, reset ``resetting``: their reset infos wait in
        ``_reset_infos``)."""
        begun = [self.envs[i]._begin_step(a) for i, a in zip(members, actions)]
        for i in resetting:
            self.envs[i]._reset_twin(None, self._spares.pop(i, None))
        self._advance({i: s.until for i, s in zip(members, begun)}, resetting)
        self._reset_infos: dict[int, dict[str, Any]] = {}
        for i in resetting:
            self._obs[i], self._reset_infos[i] = self.envs[i]._reset_done()
            self._warm(i)
        return [self.envs[i]._end_step(s) for i, s in zip(members, begun)]

    def _warm(self, i: int) -> None:
        """Start member ``i``'s next episode's twin (its seed is known now): it rides along in the
        rounds the members tick anyway, so a reset finds it part of the way to its first alert."""
        if self.warm_resets:
            env = self.envs[i]
            self._spares[i] = Twin(env.scenario, seed=env._next_twin_seed())

    def _advance(self, untils: dict[int, float], resetting: list[int]) -> None:
        """Bring member ``i`` to ``untils[i]`` and each resetting member to its first critical
        alert, all together, in rounds of at most one tick each. A resetting member (and a spare
        twin, while others move) goes a tick a round and stops at the tick its first critical
        alert opens, as ``IncidentEnv`` does alone; a twin run in legs records what it records in
        one run."""
        envs = self.envs
        # a spare that reached its first critical alert already is where the reset stops
        live = [i for i in resetting if envs[i].twin.now < envs[i].time_limit and not critical_open(envs[i].twin)]
        pending = [i for i in untils if envs[i].twin.now < untils[i]]
        spares = [(i, t) for i, t in self._spares.items() if t.now < envs[i].time_limit and not critical_open(t)]
        while live or pending:
            movers, targets = [], []
            for i in live:
                t = envs[i].twin
                movers.append(t)
                targets.append(min(t.now + envs[i].scenario.tick, envs[i].time_limit))
            for i in pending:
                t = envs[i].twin
                movers.append(t)
                targets.append(min(untils[i], t.now + envs[i].scenario.tick))
            for i, t in spares:
                movers.append(t)
                targets.append(min(t.now + envs[i].scenario.tick, envs[i].time_limit))
            self._batch.members = movers
            self._batch.advance(targets)
            live = [i for i in live if not critical_open(envs[i].twin) and envs[i].twin.now < envs[i].time_limit]
            pending = [i for i in pending if envs[i].twin.now < untils[i]]
            spares = [(i, t) for i, t in spares if t.now < envs[i].time_limit and not critical_open(t)]

    def _stacked_obs(self) -> dict[str, np.ndarray]:
        """The members' observations batched: the encoder's keys from one stack of the members'
        flat observations (each member's latest, which ``_obs`` holds), split into contiguous
        copies; any other key (the posterior) stacked on its own."""
        first = self.envs[0]
        flats = np.stack([e._obs_flat for e in self.envs])
        out = {k: np.ascontiguousarray(v) for k, v in first.encoder.split(flats).items()}
        for k in self._obs[0].keys() - out.keys():
            out[k] = np.stack([o[k] for o in self._obs])
        return {k: out[k] for k in self._obs[0]}
