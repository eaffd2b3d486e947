"""Pure numpy functions of state: routing, max-min fair rates, link and service physics."""

from twin.physics.links import link_latency_ms, link_loss
from twin.physics.maxmin import max_min_rates

__all__ = ["max_min_rates", "link_loss", "link_latency_ms"]
