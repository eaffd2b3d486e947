"""Monitoring data that crosses the network: samples lost where their export path drops packets.

Monitors export every sample to collectors. A scenario's ``monitoring.export_via`` names, per
monitor group (``links``, ``services``, ``devices``), the plane whose links the samples cross.
Each entity's sample of a tick is lost with the probability that a packet crossing that plane
is dropped this tick (the plane's drops over its arrivals; 1 when none of its links is up), so
monitoring goes dark through the same congestion it should report. The draws come from the
twin's export generator, seeded from the twin's seed apart from the physics' one, so turning
export paths on does not shift the physics' draws.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from twin.model.world import World
from twin.sim.network import NetworkResult
from twin.sim.state import TwinState

if TYPE_CHECKING:
    from twin.scenario import Scenario

__all__ = ["export_generator", "export_loss", "lose_exported_samples"]

#: Tag mixed into the twin's seed for the export draws' stream.
EXPORT_STREAM = 0x6578706F7274  # "export"


def export_generator(seed: int) -> np.random.Generator:
    """The generator of export losses for a twin seeded ``seed`` (independent of the physics')."""
    return np.random.default_rng([int(seed), EXPORT_STREAM])


def export_loss(world: World, plane: str, net: NetworkResult) -> float:
    """Probability that a packet crossing ``plane`` this tick is dropped (routing avoids links
    that are down; with none up, everything is)."""
    arcs = np.repeat(world.plane_masks[plane], 2)
    live = arcs & (net.arc_capacity > 0)
    if not live.any():
        return 1.0
    arrival = net.arc_offered[live]
    total = float(arrival.sum())
    return float((arrival * net.arc_loss[live]).sum() / total) if total > 0 else 0.0


def lose_exported_samples(scenario: Scenario, world: World, state: TwinState, net: NetworkResult,
                          rows: dict[str, np.ndarray]) -> None:
    """Blank (NaN) the rows of ``rows[group]`` whose sample this tick was lost on its export path."""
    export_via = scenario.monitoring.export_via
    if not export_via:
        return
    rng = state.export_rng
    for group in sorted(export_via):
        table = rows.get(group)
        if table is None or not len(table):
            continue
        lost = rng.random(len(table)) < export_loss(world, export_via[group], net)
        table[lost] = np.nan
