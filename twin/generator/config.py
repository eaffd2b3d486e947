"""What a generated incident may be: layers, fault kinds, sizes, difficulty range (validated).

A configuration is plain data (a YAML file for ``twin generate --config``, keyword arguments for
``gym.make("twin/Generated-v0", ...)``), checked like a scenario: a bad field is a
:class:`GeneratorConfigError` naming the source, the field path and the allowed values.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from twin.errors import ScenarioError, known_list
from twin.model.callgraph import BUILTIN_CALLGRAPHS
from twin.validation import validation_problem
from twin.yamlfile import read_yaml

__all__ = ["DEFAULT_KINDS", "GENERATED_KINDS", "HELDOUT_FROM", "OPT_IN_KINDS", "LAYERS", "GeneratorConfig", "GeneratorConfigError",
           "load_generator_config", "parse_generator_config"]

#: Layers a generated incident's root cause lives on, and the fault kinds drawn on each. A kind
#: on two layers (a link failing in the WAN or inside a fabric) is drawn on either.
GENERATED_KINDS: dict[str, tuple[str, ...]] = {
    "wan": ("link_down", "link_degraded", "link_flap", "device_failure", "traffic_surge", "config_push"),
    # a fabric link or switch that fails outright is routed around by ECMP, or leaves a capacity
    # shortfall no toolbox action fixes: gray failures are the fabric incidents an OCE mitigates
    "fabric": ("link_degraded", "link_flap"),
    "services": ("bad_deploy", "cpu_hog", "memory_leak", "replica_crash", "retry_storm", "load_surge"),
}
LAYERS: tuple[str, ...] = tuple(GENERATED_KINDS)
#: Kinds drawn only when a configuration names them: almost every candidate is rejected. A WAN
#: link that fails is routed around, or leaves a capacity shortfall that no toolbox action ends
#: (operators wait for the repair); a surge at the front door is absorbed, or overwhelms every
#: tier at once, where rate limiting only helps (retry storms use one as their trigger).
OPT_IN_KINDS: tuple[str, ...] = ("link_down", "load_surge")
DEFAULT_KINDS: list[str] = sorted({k for ks in GENERATED_KINDS.values() for k in ks} - set(OPT_IN_KINDS))

#: Generator seeds from here on are the held-out split: never used for training or tuning; the
#: gym's training split and ``twin generate`` without ``--heldout`` stay below it.
HELDOUT_FROM = 1_000_000

CALLGRAPHS = (*BUILTIN_CALLGRAPHS, "generated")


class GeneratorConfigError(ScenarioError):
    """A generator configuration is malformed (names the source, field and allowed values)."""


class GeneratorConfig(BaseModel):
    """The distribution incidents are drawn from. Defaults give every layer and kind."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layers: list[Literal["wan", "fabric", "services"]] = Field(default_factory=lambda: list(LAYERS), min_length=1)
    kinds: list[str] = Field(default_factory=lambda: list(DEFAULT_KINDS), min_length=1)
    difficulty: tuple[float, float] = (0.0, 1.0)  # accepted scalar difficulty, inclusive
    wan_sites: tuple[int, int] = (3, 6)  # sites on the generated WAN (two planes, b2 user and b4 inter-DC)
    services: tuple[int, int] = (6, 14)  # services of a generated (Alibaba-like) call graph
    callgraphs: list[str] = Field(default_factory=lambda: list(CALLGRAPHS), min_length=1)
    fabric_k: list[int] = Field(default_factory=lambda: [4], min_length=1)  # fat-tree sizes to draw from
    max_faults: int = Field(default=2, ge=1, le=2)  # simultaneous independent root causes
    p_second_fault: float = Field(default=0.25, ge=0, le=1)
    max_red_herrings: int = Field(default=3, ge=0, le=8)  # benign changes and deploys in the log
    p_blindspot: float = Field(default=0.2, ge=0, le=1)  # monitoring dark where the fault is
    duration_min: int = Field(default=40, ge=20, le=240)
    max_attempts: int = Field(default=40, ge=1, le=1000)  # draws per incident before giving up

    @field_validator("kinds")
    @classmethod
    def _known_kinds(cls, v: list[str]) -> list[str]:
        known = sorted({k for ks in GENERATED_KINDS.values() for k in ks})
        for k in v:
            if k not in known:
                raise ValueError(f"unknown fault kind {k!r} for the generator (allowed: {', '.join(known)})")
        return v

    @field_validator("callgraphs")
    @classmethod
    def _known_graphs(cls, v: list[str]) -> list[str]:
        for g in v:
            if g not in CALLGRAPHS:
                raise ValueError(f"unknown call graph {g!r} (allowed: {', '.join(CALLGRAPHS)})")
        return v

    @field_validator("fabric_k")
    @classmethod
    def _even_k(cls, v: list[int]) -> list[int]:
        for k in v:
            if k < 2 or k > 16 or k % 2:
                raise ValueError(f"fabric_k {k!r}: a fat-tree needs an even k from 2 to 16")
        return v

    @model_validator(mode="after")
    def _ranges(self) -> GeneratorConfig:
        lo, hi = self.difficulty
        if not (0.0 <= lo <= hi <= 1.0):
            raise ValueError(f"difficulty must be [low, high] with 0 <= low <= high <= 1, got [{lo}, {hi}]")
        for name, (a, b), floor in (("wan_sites", self.wan_sites, 3), ("services", self.services, 4)):
            if not (floor <= a <= b):
                raise ValueError(f"{name} must be [low, high] with {floor} <= low <= high, got [{a}, {b}]")
        if not self.combos():
            raise ValueError(f"no kind in kinds {self.kinds} is drawn on the layers {self.layers} "
                             f"(per layer: {'; '.join(f'{k}: {known_list(v)}' for k, v in GENERATED_KINDS.items())})")
        return self

    def combos(self) -> list[tuple[str, str]]:
        """The (layer, kind) pairs incidents are spread over, in a fixed order."""
        return [(layer, kind) for layer in LAYERS if layer in self.layers
                for kind in GENERATED_KINDS[layer] if kind in self.kinds]


def parse_generator_config(data: Any, source: str = "<generator config>") -> GeneratorConfig:
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise GeneratorConfigError(source, "", f"expected a mapping, got {type(data).__name__}")
    try:
        return GeneratorConfig.model_validate(data)
    except ValidationError as exc:
        raise GeneratorConfigError(source, *validation_problem(exc, GeneratorConfig)) from None


def load_generator_config(path: str | Path) -> GeneratorConfig:
    data, candidate = read_yaml(path, GeneratorConfigError, "generator config")
    return parse_generator_config(data, str(candidate))
