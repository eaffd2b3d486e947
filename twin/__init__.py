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

# so that gymnasium.make("twin/Incident-v0") works after `import twin` (gymnasium 1.x no
# longer loads plugin entry points); only gymnasium's registry is imported here
from twin.envs import register_envs as _register_envs  # noqa: E402

_register_envs()
