"""Link physics from offered and carried load: loss and latency."""

from __future__ import annotations

import numpy as np

__all__ = ["link_loss", "link_latency_ms"]

#: Queueing delay a full buffer adds, in milliseconds (a shallow-buffered WAN port).
FULL_BUFFER_MS = 40.0


def link_loss(offered: np.ndarray, capacity: np.ndarray, base_loss: np.ndarray | float = 0.0) -> np.ndarray:
    """Fraction of offered traffic dropped: overflow above capacity plus a link's own loss.

    A link with no capacity left (down) drops everything offered to it.
    """
    # share delivered of what is offered: capacity / offered above capacity, else all of it
    delivered = np.divide(capacity, offered, out=np.ones_like(offered, dtype=float), where=offered > capacity)
    np.maximum(delivered, 0.0, out=delivered)
    if np.any(base_loss):
        delivered *= 1.0 - np.clip(base_loss, 0.0, 1.0)
    return 1.0 - delivered


def link_latency_ms(delay_ms: np.ndarray, utilisation: np.ndarray, serialisation_ms: float = 0.05) -> np.ndarray:
    """One-way latency: propagation plus an M/M/1-shaped queueing term that saturates at a full buffer."""
    u = np.maximum(utilisation, 0.0)
    # at or above capacity the denominator bottoms out and the buffer cap takes over
    queue = np.minimum(serialisation_ms * u / np.maximum(1.0 - u, 1e-9), FULL_BUFFER_MS)
    return delay_ms + queue
