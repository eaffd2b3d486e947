"""twin: an offline digital twin and sandbox for network and cloud incident management.

>>> import twin
>>> sc = twin.load_scenario("b2b4-casc1")
>>> t = twin.Twin(sc, seed=0)
>>> t.run(until="5m")
"""

from twin.errors import ScenarioError, SimulationError, TwinError
from twin.scenario import Scenario, load_scenario, scenario_paths
from twin.sim.twin import Twin

__all__ = ["Twin", "Scenario", "load_scenario", "scenario_paths", "TwinError", "ScenarioError", "SimulationError"]
__version__ = "0.1.0"
