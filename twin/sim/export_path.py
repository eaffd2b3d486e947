"""Monitoring data that crosses the network: samples lost where their export plane drops packets.

Monitors export every sample to collectors. A monitor group's ``export_via`` (in the scenario's
``monitoring:`` section) names the plane whose links its samples cross. Each entity's sample
of a tick is lost with the probability that a packet crossing that plane is dropped this tick
(the plane's drops over its arrivals; 1 when none of its links is up), so monitoring goes dark
through the same congestion it should report. The draws are the monitors' own
(:mod:`twin.sim.monitors`), apart from the physics' ones.
"""

from __future__ import annotations

import numpy as np

from twin.model.world import World
from twin.sim.network import NetworkResult

__all__ = ["export_loss"]


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
