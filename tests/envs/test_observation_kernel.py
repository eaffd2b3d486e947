"""The observation's entity blocks come from one compiled kernel (``twin.envs.observation._features``);
they must be, byte for byte, what the array formulation below gives: each feature its reading over
its divisor, the unavailable share, columns with no baseline 0, NaN 0, clipped to [0, 10], and the
row of an entity its monitors did not see -1 (a monitoring outage in novel-monitoring-blindspot)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

import twin.envs  # noqa: F401  (registers the ids)
from twin.envs.observation import _COLUMN, _KEYS, _SHARE, FEATURES, HIGH


def _numpy_entity_blocks(enc, twin) -> np.ndarray:
    """The reference: the encoder's work buffer up to the elapsed cell, in numpy."""
    sample = twin.telemetry.latest()
    work = enc._blank.copy()
    cells = []
    for (name, entity), alert in twin.state.alerts.open.items():
        cells.extend(enc._cells(name, entity, alert["entity_kind"]))
    if cells:
        work[cells] = 1.0
    gaps = []
    with np.errstate(divide="ignore", invalid="ignore"):
        for kind, key in _KEYS if sample is not None else ():
            rows, src = enc._pick[kind]
            n, f = len(rows), len(FEATURES[kind])
            if not n:
                continue
            readings = getattr(sample, kind)
            start = enc.layout[key][0]
            block = work[start: start + n * f].reshape(n, f)
            features = np.divide(readings[rows, src], enc._den[kind], out=block[:, :-1])
            if kind == "service":
                unavailable = features[:, _SHARE]
                reps = readings[rows[:, 0], _COLUMN[kind]["replicas"]] + unavailable
                features[:, _SHARE] = np.where(reps > 0, unavailable / reps, 0.0)
            if enc._unbased[kind]:
                features[:, enc._unbased[kind]] = 0.0
            if np.isnan(readings.min()):
                gaps.append((block, np.isnan(readings[rows[:, 0]]).any(axis=1)))
    np.copyto(work, 0.0, where=np.isnan(work))
    np.clip(work, 0.0, HIGH, out=work)
    for block, gap in gaps:
        block[gap, :-1] = -1.0
    return work.astype(np.float32)


@pytest.mark.parametrize("name", ["b2b4-casc1", "novel-monitoring-blindspot", "sockshop-cpu-hog"])
def test_the_kernel_encodes_what_the_array_formulation_does(name: str) -> None:
    env = gym.make("twin/Incident-v0", scenario=name)
    rng = np.random.default_rng(4)
    _, info = env.reset(seed=1)
    u = env.unwrapped
    gaps = 0
    for step in range(120):
        flat = u.encoder.encode_flat(u.twin, 0.5, u.last, u.last_slot, u._impact(), 0.0)
        want = _numpy_entity_blocks(u.encoder, u.twin)
        assert flat[: want.size].tobytes() == want.tobytes(), f"step {step}"
        gaps += bool((want == -1).any())
        _, _, terminated, truncated, info = env.step(int(rng.choice(np.flatnonzero(info["action_mask"]))))
        if terminated or truncated:
            _, info = env.reset(seed=step)
    if name == "novel-monitoring-blindspot":
        assert gaps > 0  # the outage's rows were compared too
