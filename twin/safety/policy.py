"""The pre-check policy: thresholds and margins that turn risk figures into a verdict.

A policy is a YAML file (the default ships as ``twin/safety/default_policy.yaml``). Every
problem is reported as ``FILE: field: what is wrong (allowed values)`` through
:class:`~twin.errors.PolicyError`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twin.errors import PolicyError
from twin.sim.actions import ACTIONS
from twin.yamlfile import read_yaml

__all__ = ["DEFAULT_POLICY", "MARGIN_FIGURES", "OPERATOR_KEYS", "THRESHOLD_FIGURES", "OperatorPolicy", "Policy",
           "load_policy"]

DEFAULT_POLICY = Path(__file__).with_name("default_policy.yaml")

#: Figures a threshold may bound (a safe candidate stays at or under each).
THRESHOLD_FIGURES = ("slo_minutes", "slo_minutes_after", "impact_minutes", "peak_utilisation", "peak_loss",
                     "mean_loss", "new_alerts", "new_critical_alerts", "services_affected", "n1_failure_rate")
#: Figures a margin may bound (harmful when worse than doing nothing by more than it).
MARGIN_FIGURES = ("slo_minutes", "impact_minutes", "peak_loss", "new_alerts", "new_critical_alerts", "blocked_gbps")
STATISTICS = ("mean", "p90", "max")
_KEYS = ("statistic", "better_by", "thresholds", "margins", "settle", "preapproved", "operator")
#: Keys of the ``operator:`` section (the pre-check under uncertainty, :mod:`twin.safety.operator`).
OPERATOR_KEYS = ("harm_probability", "risk_probability", "max_unexplained")


@dataclass(frozen=True)
class OperatorPolicy:
    """Verdicts when the cause is not known: probabilities over the diagnosis's hypotheses.

    Harmful when P(harm) is at or above ``harm_probability``; risky when it is at or above
    ``risk_probability``, or when "none of these" holds ``max_unexplained`` of the posterior or more."""

    harm_probability: float = 0.25
    risk_probability: float = 0.05
    max_unexplained: float = 0.5

    def to_dict(self) -> dict[str, float]:
        return {"harm_probability": self.harm_probability, "risk_probability": self.risk_probability,
                "max_unexplained": self.max_unexplained}


@dataclass(frozen=True)
class Policy:
    thresholds: Mapping[str, float]
    margins: Mapping[str, float]
    preapproved: tuple[str, ...] = ()
    statistic: str = "mean"
    better_by: float = 0.5
    settle: float = 60.0
    source: str = field(default="<default>", compare=False)
    operator: OperatorPolicy = field(default_factory=OperatorPolicy)

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "statistic": self.statistic, "better_by": self.better_by, "settle": self.settle,
                "thresholds": dict(self.thresholds), "margins": dict(self.margins), "preapproved": list(self.preapproved),
                "operator": self.operator.to_dict()}


def _number(source: str, where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise PolicyError(source, where, f"must be a non-negative number, got {value!r}")
    if value < 0:
        raise PolicyError(source, where, f"must be a non-negative number, got {value!r}")
    return float(value)


def _figures(source: str, section: str, value: Any, allowed: tuple[str, ...]) -> dict[str, float]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PolicyError(source, section, f"expected a mapping of figure: number (figures: {', '.join(allowed)})")
    out = {}
    for name, number in value.items():
        if name not in allowed:
            raise PolicyError(source, f"{section}.{name}", f"unknown figure {name!r} (allowed: {', '.join(allowed)})")
        out[str(name)] = _number(source, f"{section}.{name}", number)
    return out


def _operator(source: str, value: Any) -> OperatorPolicy:
    if value is None:
        return OperatorPolicy()
    if not isinstance(value, dict):
        raise PolicyError(source, "operator", f"expected a mapping with keys {', '.join(OPERATOR_KEYS)}")
    out = {}
    for key, number in value.items():
        if key not in OPERATOR_KEYS:
            raise PolicyError(source, f"operator.{key}", f"unknown key (allowed: {', '.join(OPERATOR_KEYS)})")
        p = _number(source, f"operator.{key}", number)
        if p > 1:
            raise PolicyError(source, f"operator.{key}", f"must be a probability between 0 and 1, got {number!r}")
        out[str(key)] = p
    op = OperatorPolicy(**out)
    if op.risk_probability > op.harm_probability:
        raise PolicyError(source, "operator.risk_probability",
                          f"must not exceed operator.harm_probability ({op.harm_probability:g}), "
                          f"got {op.risk_probability:g}")
    return op


def parse_policy(data: Any, source: str = "<policy>") -> Policy:
    """Validate a policy given as plain data (as read from YAML)."""
    if not isinstance(data, dict):
        raise PolicyError(source, "", f"expected a mapping with keys {', '.join(_KEYS)}")
    for key in data:
        if key not in _KEYS:
            raise PolicyError(source, str(key), f"unknown key (allowed: {', '.join(_KEYS)})")
    statistic = data.get("statistic", "mean")
    if statistic not in STATISTICS:
        raise PolicyError(source, "statistic", f"got {statistic!r} (allowed: {', '.join(STATISTICS)})")
    pre = data.get("preapproved") or []
    if not isinstance(pre, list):
        raise PolicyError(source, "preapproved", f"expected a list of mitigation kinds (allowed: {', '.join(ACTIONS)})")
    for i, kind in enumerate(pre):
        if kind not in ACTIONS:
            raise PolicyError(source, f"preapproved[{i}]", f"unknown mitigation kind {kind!r} (allowed: {', '.join(ACTIONS)})")
    return Policy(
        thresholds=_figures(source, "thresholds", data.get("thresholds"), THRESHOLD_FIGURES),
        margins=_figures(source, "margins", data.get("margins"), MARGIN_FIGURES),
        preapproved=tuple(pre),
        statistic=statistic,
        better_by=_number(source, "better_by", data.get("better_by", 0.5)),
        settle=_number(source, "settle", data.get("settle", 60.0)),
        source=source,
        operator=_operator(source, data.get("operator")),
    )


def load_policy(path: str | Path | Policy | None = None) -> Policy:
    """Read a policy file (``None``: the default policy). Raises PolicyError naming file and field."""
    if isinstance(path, Policy):
        return path
    data, file = read_yaml(path if path is not None else DEFAULT_POLICY, PolicyError, "policy")
    return parse_policy(data, str(file))
