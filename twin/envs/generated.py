"""``twin/Generated-v0``: a fresh generated incident per reset, so a policy trains on a distribution.

>>> import gymnasium, twin.envs
>>> env = gymnasium.make("twin/Generated-v0", pool=2, max_steps=8)
>>> obs, info = env.reset(seed=0)        # incident 0 or 1 of the training split
>>> info["incident"] in ("gen-0-0000", "gen-0-0001"), info["band"] in ("easy", "medium", "hard")
(True, True)

Each reset draws an incident index from the env's seeded stream and builds incident ``index`` of
the split's generator seed (:func:`twin.generator.generate_one`: deterministic in the seed and
index, rejected and redrawn until it is a real incident). ``pool=N`` draws from the first N
indices only (generation costs about a second per incident, so a long training run may want a
fixed, large pool: each is generated once and kept in memory and, with ``cache_dir``, on disk).
``split="heldout"`` draws from generator seeds from :data:`twin.generator.HELDOUT_FROM` on, which
training must never use; the default ``split="train"`` never reaches them.

Everything else is :class:`twin.envs.incident.IncidentEnv`: the same spaces for every incident
(entity rows and target slots are padded to fixed sizes), the same reward. Entities are ordered
by ``order="alerts"`` by default, so slot 0 is the loudest entity on any network.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from pathlib import Path
from typing import Any

import gymnasium as gym
import yaml

from twin.envs.incident import IncidentEnv
from twin.envs.observation import ObservationEncoder
from twin.scenario import Scenario, parse_scenario
from twin.sim.twin import Twin

__all__ = ["GeneratedIncidentEnv"]

_MEMORY: OrderedDict[tuple[str, int, int], Scenario] = OrderedDict()
_MEMORY_SIZE = 1024
SPLITS = ("train", "heldout")


class GeneratedIncidentEnv(IncidentEnv):
    def __init__(self, config: Any = None, split: str = "train", generator_seed: int = 0, pool: int | None = None,
                 cache_dir: str | Path | None = None, max_steps: int = 16, max_targets: int = 8,
                 max_entities: dict[str, int] | int | None = None, order: str = "alerts", posterior: int = 0,
                 render_mode: str | None = None, registry: Any = None) -> None:
        from twin.generator import HELDOUT_FROM, GeneratorConfig, load_generator_config, parse_generator_config

        if split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {split!r}")
        if isinstance(config, GeneratorConfig):
            self.gen_config = config
        elif isinstance(config, (str, Path)):
            self.gen_config = load_generator_config(config)
        else:
            self.gen_config = parse_generator_config(config or {}, "twin/Generated-v0 config")
        if not 0 <= int(generator_seed) < HELDOUT_FROM:
            raise ValueError(f"generator_seed must be in [0, {HELDOUT_FROM}); choose the split with split=")
        self.split = split
        self.generator_seed = int(generator_seed) + (HELDOUT_FROM if split == "heldout" else 0)
        if pool is not None and int(pool) < 1:
            raise ValueError(f"pool must be a positive number of incidents, got {pool!r}")
        self.pool = None if pool is None else int(pool)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self._config_key = hashlib.sha256(self.gen_config.model_dump_json().encode()).hexdigest()[:16]
        self.index = 0
        first = self.incident(0)
        super().__init__(first, max_steps=max_steps, time_limit=first.duration, max_entities=max_entities,
                         max_targets=max_targets, registry=registry, render_mode=render_mode, posterior=posterior,
                         order=order)

    def incident(self, index: int) -> Scenario:
        """Incident ``index`` of this env's split and configuration (generated once, then kept)."""
        from twin.generator import generate_one

        key = (self._config_key, self.generator_seed, int(index))
        if key in _MEMORY:
            _MEMORY.move_to_end(key)
            return _MEMORY[key]
        path = None
        if self.cache_dir is not None:
            path = self.cache_dir / self._config_key / f"gen-{self.generator_seed}-{int(index):07d}.yaml"
            if path.is_file():
                sc = parse_scenario(yaml.safe_load(path.read_text()), str(path))
                return self._remember(key, sc)
        g = generate_one(self.generator_seed, int(index), self.gen_config)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            (path.parent / "config.json").write_text(json.dumps(self.gen_config.model_dump(mode="json"), indent=1))
            path.write_text(g.text)
        return self._remember(key, g.scenario)

    def prefill(self, n: int, workers: int | None = None) -> None:
        """Generate incidents 0..n-1 of this env's split now, in a process pool (the same files a
        reset would generate one by one), so that training does not wait on generation."""
        from twin.generator import generate

        missing = [i for i in range(n) if (self._config_key, self.generator_seed, i) not in _MEMORY]
        if not missing:
            return
        batch = generate(max(missing) + 1, self.generator_seed, self.gen_config, workers)
        for g in batch.items:
            key = (self._config_key, self.generator_seed, g.index)
            self._remember(key, g.scenario)
            if self.cache_dir is not None:
                path = self.cache_dir / self._config_key / f"gen-{self.generator_seed}-{g.index:07d}.yaml"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(g.text)

    @staticmethod
    def _remember(key: tuple[str, int, int], sc: Scenario) -> Scenario:
        _MEMORY[key] = sc
        while len(_MEMORY) > _MEMORY_SIZE:
            _MEMORY.popitem(last=False)
        return sc

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        gym.Env.reset(self, seed=seed)
        if options and "index" in options:
            self.index = int(options["index"])
        else:
            self.index = int(self.np_random.integers(0, self.pool if self.pool is not None else 2**31 - 1))
        self.scenario = self.incident(self.index)
        self.time_limit = float(self.scenario.duration)
        probe = Twin(self.scenario, seed=self.scenario.seed)  # rows follow this incident's entities
        self.encoder = ObservationEncoder(probe, self.tools, self.max_entities, self.table.max_targets)
        obs, info = super().reset(seed=None, options=options)
        return obs, info

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        gen = self.scenario.generated
        info["incident"] = self.scenario.name
        info["difficulty"] = float(gen.difficulty) if gen is not None else float("nan")
        info["band"] = gen.band if gen is not None else ""
        return info
