"""Fixed-seed single-env episodes keep their exact trajectory (observations, masks, results,
rewards, flags): a digest recorded before the env's per-step work was cut and split for the
vector env. A change here changes every trained policy's inputs: update the digest only on purpose."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest

from twin.envs.incident import IncidentEnv

DIGESTS = {
    ("b2b4-casc1", "fixed"): "f294433780e586860c75695c4d9dc5d3b8bd83b2b40a6044adf89c11b7111457",
    ("b2b4-casc1", "alerts"): "585c02a1192fac16698b16ca9c548edce52feacb741cc6811781093afee9d63c",
    ("novel-monitoring-blindspot", "fixed"): "442087658e3afd84cec148151c4cbadb2658b567c4f34cb799ceec0ad18ebf61",
}


def trajectory_digest(scenario: str, order: str, seeds=(0, 1), steps: int = 24) -> str:
    h = hashlib.sha256()
    for seed in seeds:
        env = IncidentEnv(scenario, max_steps=10, order=order)
        obs, info = env.reset(seed=seed)
        rng = np.random.default_rng(seed + 100)
        for i in range(steps):
            for k in sorted(obs):
                h.update(k.encode())
                h.update(np.ascontiguousarray(obs[k]).tobytes())
            h.update(info["action_mask"].tobytes())
            h.update(json.dumps(info["last_result"], sort_keys=True).encode())
            h.update(repr((info["sim_time"], info["steps"], info["impact"])).encode())
            mask = info["action_mask"]
            # mostly valid actions, every fifth anything (masked ones included)
            a = int(rng.choice(np.flatnonzero(mask))) if i % 5 else int(rng.integers(0, mask.size))
            obs, r, te, tr, info = env.step(a)
            h.update(repr((r, te, tr)).encode())
            if te or tr:
                obs, info = env.reset(seed=seed * 1000 + i)
    return h.hexdigest()


@pytest.mark.parametrize("scenario,order", list(DIGESTS))
def test_fixed_seed_trajectory_is_unchanged(scenario: str, order: str) -> None:
    assert trajectory_digest(scenario, order) == DIGESTS[(scenario, order)]
