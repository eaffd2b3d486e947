"""Threshold alert rules evaluated on what monitors saw, with start and clear times.

An alert fires when its condition holds for ``for_s`` (Prometheus' ``for``) and clears only once
the value is past a clear threshold (``clear``, by default 10% inside the firing threshold) for
``clear_for_s``: a value that wobbles around the threshold does not make the alert flap.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["AlertRule", "Alert", "CLEAR_MARGIN", "default_rules"]

#: Default hysteresis: an alert clears this fraction inside its firing threshold.
CLEAR_MARGIN = 0.1


@dataclass(frozen=True)
class AlertRule:
    name: str
    entity_kind: str  # link | service | device
    metric: str
    threshold: float | np.ndarray
    above: bool = True
    for_s: float = 30.0
    severity: str = "warning"
    clear: float | np.ndarray | None = None  # None: CLEAR_MARGIN inside the threshold
    clear_for_s: float = 30.0

    def clear_threshold(self) -> float | np.ndarray:
        if self.clear is not None:
            return self.clear
        thr = np.asarray(self.threshold, dtype=float)
        return thr * (1.0 - CLEAR_MARGIN) if self.above else thr * (1.0 + CLEAR_MARGIN)


@dataclass(frozen=True)
class Alert:
    name: str
    entity: str
    entity_kind: str
    severity: str
    start: float
    end: float | None
    value: float
    message: str


def default_rules(slo_p99: np.ndarray, slo_err: np.ndarray, link_loss: float) -> list[AlertRule]:
    """The monitors every twin has; scenario rules are added to these."""
    return [
        AlertRule("LinkCongestion", "link", "utilisation", 0.95, True, 30.0, "warning"),
        AlertRule("PacketLoss", "link", "loss", link_loss, True, 20.0, "critical"),
        AlertRule("LinkDown", "link", "up", 0.5, False, 10.0, "critical"),
        AlertRule("DeviceDown", "device", "up", 0.5, False, 0.0, "critical"),
        AlertRule("DeviceHighCPU", "device", "cpu", 0.9, True, 60.0, "warning"),
        AlertRule("LatencySLO", "service", "p99_ms", slo_p99, True, 30.0, "critical"),
        AlertRule("ErrorRateSLO", "service", "error_rate", slo_err, True, 30.0, "critical"),
        AlertRule("HighCPU", "service", "cpu", 0.9, True, 60.0, "warning"),
        AlertRule("HighMemory", "service", "memory", 0.9, True, 30.0, "warning"),
        AlertRule("ReplicasUnavailable", "service", "unavailable", 0.5, True, 30.0, "warning"),
    ]
