"""The pre-check's answer: a verdict, figures with their spread across draws, an explanation."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

__all__ = ["VERDICTS", "DrawSummary", "Report", "Spread"]

VERDICTS = ("safe", "risky", "harmful")


@dataclass(frozen=True)
class Spread:
    """One figure across what-if draws."""

    mean: float
    p10: float
    p90: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        v = np.asarray(values, dtype=float)
        if v.size == 0:
            return cls(0.0, 0.0, 0.0, 0.0, 0.0)
        return cls(float(v.mean()), float(np.percentile(v, 10)), float(np.percentile(v, 90)), float(v.min()),
                   float(v.max()))

    def stat(self, name: str) -> float:
        return {"mean": self.mean, "p90": self.p90, "max": self.max}[name]


@dataclass(frozen=True)
class DrawSummary:
    """How one draw was set up and what the candidate and doing nothing gave under it."""

    index: int
    seed: int
    demand_factor: float
    delay_s: float
    failure: str | None
    candidate: Mapping[str, float]
    baseline: Mapping[str, float]
    candidate_plane_loss: Mapping[str, float]
    baseline_plane_loss: Mapping[str, float]
    new_alerts: tuple[str, ...]
    n1_ok: bool


@dataclass(frozen=True)
class Report:
    """A pre-check of one mitigation against doing nothing, on the same draws."""

    mitigation: Mapping[str, Any]
    label: str
    verdict: str
    explanation: str
    reasons: tuple[str, ...]
    at: float
    horizon: float
    draws: int
    figures: Mapping[str, Spread]
    baseline: Mapping[str, Spread]
    new_alerts: Mapping[str, int]  # "Rule on entity (severity)" -> draws in which it opened
    services_affected: tuple[str, ...]
    n1_survival: float  # share of draws in which the next failure keeps loss under the SLO
    preapproved: bool
    per_draw: tuple[DrawSummary, ...]
    policy: Mapping[str, Any]
    verification: Mapping[str, Any] | None = None
    config_diff: str | None = None
    elapsed_s: float = field(default=0.0, compare=False)

    @property
    def auto_approvable(self) -> bool:
        """Pre-approved kind and a safe verdict: an agent may apply it without asking."""
        return self.preapproved and self.verdict == "safe"

    def figure(self, name: str, stat: str = "mean") -> float:
        return self.figures[name].stat(stat) if name in self.figures else 0.0

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["auto_approvable"] = self.auto_approvable
        return out

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, default=_plain)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    return str(value)
