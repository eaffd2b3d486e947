"""Pure numpy functions of state: routing, max-min fair rates, the flow model, service physics."""

from twin.physics.flows import Flows, FlowSolution, Links, solve
from twin.physics.maxmin import max_min_rates

__all__ = ["max_min_rates", "Flows", "FlowSolution", "Links", "solve"]
