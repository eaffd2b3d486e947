"""Gymnasium environments over the twin, registered under the ``twin/`` namespace.

``twin/Incident-v0`` takes the scenario as a keyword; every built-in scenario also has its own id,
``twin/<CamelName>-v0`` (``b2b4-casc1`` -> ``twin/B2b4Casc1-v0``). Importing this module registers
them (it imports only gymnasium's registry, not the environments)::

    import gymnasium, twin.envs
    env = gymnasium.make("twin/Incident-v0", scenario="b2b4-casc1")
    envs = gymnasium.make_vec("twin/Incident-v0", num_envs=64, vectorization_mode="vector_entry_point",
                              scenario="b2b4-casc1")  # twin.envs.vector: the members' twins tick together

Without the import, ``gymnasium.make("twin.envs:twin/Incident-v0")`` loads this module itself.
(Gymnasium 1.x no longer loads ``gymnasium.envs`` entry points, so the one declared in
pyproject.toml only serves older gymnasium versions.)
"""

from __future__ import annotations

# gymnasium's registry module is imported whole, so only this package's names are public here
from gymnasium.envs import registration as _gym

from twin.scenario import scenario_paths as _scenario_paths

__all__ = ["ENTRY_POINT", "GENERATED_ENTRY_POINT", "TEXT_ENTRY_POINT", "VECTOR_ENTRY_POINT", "camel_name", "env_ids", "register_envs"]

ENTRY_POINT = "twin.envs.incident:IncidentEnv"
#: ``gymnasium.make_vec(..., vectorization_mode="vector_entry_point")``: members' twins tick together
VECTOR_ENTRY_POINT = "twin.envs.vector:IncidentVectorEnv"
TEXT_ENTRY_POINT = "twin.envs.text:TextIncidentEnv"
GENERATED_ENTRY_POINT = "twin.envs.generated:GeneratedIncidentEnv"


def camel_name(scenario: str) -> str:
    """``b2b4-casc1`` -> ``B2b4Casc1``: the id gymnasium accepts for a scenario name."""
    parts = [p for p in scenario.replace("_", "-").replace(".", "-").split("-") if p]
    return "".join(p[:1].upper() + p[1:] for p in parts)


def env_ids() -> list[str]:
    """Every id this package registers: the generic ones, then one per built-in scenario."""
    return ["twin/Incident-v0", "twin/TextIncident-v0", "twin/Generated-v0",
            *[f"twin/{camel_name(name)}-v0" for name in _scenario_paths()]]


def register_envs() -> None:
    """Register the twin ids with gymnasium (idempotent)."""
    if "twin/Incident-v0" not in _gym.registry:
        _gym.register(id="twin/Incident-v0", entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                      kwargs={"scenario": "b2b4-casc1"})
    if "twin/TextIncident-v0" not in _gym.registry:
        _gym.register(id="twin/TextIncident-v0", entry_point=TEXT_ENTRY_POINT, kwargs={"scenario": "b2b4-casc1"},
                      disable_env_checker=True)  # text spaces: the checker's sampling assumptions do not hold
    if "twin/Generated-v0" not in _gym.registry:
        _gym.register(id="twin/Generated-v0", entry_point=GENERATED_ENTRY_POINT)
    for name in _scenario_paths():
        env_id = f"twin/{camel_name(name)}-v0"
        if env_id not in _gym.registry:
            _gym.register(id=env_id, entry_point=ENTRY_POINT, vector_entry_point=VECTOR_ENTRY_POINT,
                          kwargs={"scenario": name})


register_envs()
