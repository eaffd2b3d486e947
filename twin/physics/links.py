"""Link physics from offered and carried load: utilisation, loss and latency."""

from __future__ import annotations

import numpy as np

__all__ = ["offered_load", "link_loss", "link_latency_ms"]

#: Queueing delay a full buffer adds, in milliseconds (a shallow-buffered WAN port).
FULL_BUFFER_MS = 40.0


def offered_load(flow_of: np.ndarray, link_of: np.ndarray, flow_rate: np.ndarray, n_links: int) -> np.ndarray:
    """Sum of ``flow_rate`` over the flows crossing each link."""
    return np.bincount(link_of, weights=flow_rate[flow_of], minlength=n_links)


def link_loss(offered: np.ndarray, capacity: np.ndarray, base_loss: np.ndarray | float = 0.0) -> np.ndarray:
    """Fraction of offered traffic dropped: overflow above capacity plus a link's own loss.

    A link with no capacity left (down) drops everything offered to it.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        overflow = np.where(offered > capacity, 1.0 - capacity / np.where(offered > 0, offered, 1.0), 0.0)
    overflow = np.where((capacity <= 0) & (offered > 0), 1.0, overflow)
    return 1.0 - (1.0 - np.clip(overflow, 0.0, 1.0)) * (1.0 - np.clip(base_loss, 0.0, 1.0))


def link_latency_ms(delay_ms: np.ndarray, utilisation: np.ndarray, serialisation_ms: float = 0.05) -> np.ndarray:
    """One-way latency: propagation plus an M/M/1-shaped queueing term that saturates at a full buffer."""
    u = np.clip(utilisation, 0.0, None)
    with np.errstate(divide="ignore"):
        queue = np.where(u < 1.0, serialisation_ms * u / np.maximum(1.0 - u, 1e-9), FULL_BUFFER_MS)
    return delay_ms + np.minimum(queue, FULL_BUFFER_MS)
