"""Digest of what every shipped scenario's monitors record, seed 0, over its whole duration.

A refactor that must not change behaviour is checked by diffing this script's output before and
after (``python bench/telemetry_digest.py > before.txt``). Each line: scenario, samples,
events, alerts, and a SHA-256 over the raw sample arrays, KPIs, events and alerts.
"""

from __future__ import annotations

import hashlib
import sys

import numpy as np

from twin import Twin, load_scenario, scenario_paths


def digest(name: str, seed: int = 0) -> str:
    sc = load_scenario(name)
    t = Twin(sc, seed=seed)
    t.run(until=sc.duration)
    return _hash(name, t)


def _hash(name: str, t: Twin) -> str:
    h = hashlib.sha256()
    samples = t.telemetry.window()
    for s in samples:
        h.update(np.float64(s.t).tobytes())
        for block in (s.link, s.service, s.device):
            h.update(np.ascontiguousarray(block).tobytes())
        h.update(repr(sorted(s.kpi.items())).encode())
    events = t.events()
    h.update(events.to_csv(index=False).encode())
    alerts = t.alerts()
    h.update(alerts.to_csv(index=False).encode())
    return f"{name:32s} samples={len(samples):5d} events={len(events):4d} alerts={len(alerts):4d} {h.hexdigest()[:32]}"


def main() -> None:
    from agents.runbook import RunbookAgent
    from twin.episode import run_episode
    from twin.replay import reference_run, replay_paths

    names = sys.argv[1:] or sorted(scenario_paths())
    for name in names:
        print(digest(name), flush=True)
    for name in sorted(replay_paths()):  # the operators' actions, on the sandbox
        if name in names:
            print(_hash(f"replay:{name}", reference_run(name, seed=0).twin), flush=True)
    for name in names:  # an agent's tool calls and mitigations
        if name != "large":
            ep = run_episode(name, RunbookAgent(), seed=0)
            print(_hash(f"runbook:{name}", ep.twin), flush=True)


if __name__ == "__main__":
    main()
