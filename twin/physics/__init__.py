"""Pure numpy functions of state: routing, max-min fair rates, link and service physics."""

from twin.physics.links import link_loss, link_latency_ms, offered_load
from twin.physics.maxmin import max_min_rates

__all__ = ["max_min_rates", "offered_load", "link_loss", "link_latency_ms"]
