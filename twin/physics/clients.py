"""Network clients that retry: how loss on a path turns into more offered load.

A traffic aggregate is many clients (RPC stubs, TCP connections re-established after a
timeout). An attempt lost on the path times out and is retried after a backoff, up to
``max_retries`` times, so a request whose attempts each see loss ``p`` costs on average

    1 + p + p^2 + ... + p^max_retries

attempts. A retry budget caps the extra attempts at ``budget`` per original request (the
client-side budget gRPC and Finagle use). Retries land a backoff after the loss that caused
them, exponentially distributed with mean ``backoff``: on the twin's tick the extra load
relaxes towards its target by the share of retries that land within a tick. Traffic shed at the edge is
refused with an explicit signal that clients honour, so only loss on the path drives retries.

>>> import numpy as np
>>> p = RetryPolicy(max_retries=3)
>>> retry_amplification(np.array([0.0, 0.5]), p).round(3).tolist()
[1.0, 1.875]
>>> retry_amplification(np.array([0.5]), RetryPolicy(max_retries=3, budget=0.2)).round(3).tolist()
[1.2]
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["RetryPolicy", "retry_amplification", "next_amplification"]


class RetryPolicy(NamedTuple):
    """How the clients of one traffic class retry."""

    max_retries: int = 3  # retries per request after the first attempt
    budget: float = np.inf  # extra attempts per original request at most (inf: only max_retries caps)
    backoff_s: float = 0.0  # mean delay before a retry lands


def retry_amplification(loss: np.ndarray, policy: RetryPolicy) -> np.ndarray:
    """Attempts per original request when every attempt is lost with probability ``loss``."""
    p = np.clip(loss, 0.0, 1.0)
    # 1 + p + ... + p^m, written to stay exact at p = 1 (where it is m + 1)
    extra = sum(p**k for k in range(1, policy.max_retries + 1)) if policy.max_retries else np.zeros_like(p)
    return 1.0 + np.minimum(extra, policy.budget)


def next_amplification(current: np.ndarray, loss: np.ndarray, policies: tuple[RetryPolicy | None, ...],
                       tick_s: float) -> np.ndarray:
    """The amplification each aggregate's clients apply next tick, from this tick's path loss.

    ``current`` and ``loss`` are per aggregate, laid out (pair, class) with the class fastest
    (one column per entry of ``policies``; an empty ``current``: nobody retries yet); a class
    without a policy does not retry (1).
    """
    loss = np.asarray(loss, dtype=float).reshape(-1, len(policies))
    current = np.asarray(current, dtype=float).reshape(-1, len(policies)) if np.size(current) else np.ones_like(loss)
    out = np.ones_like(current)
    for c, policy in enumerate(policies):
        if policy is None:
            continue
        target = retry_amplification(loss[:, c], policy)
        # retries land an exponentially distributed backoff after the loss: this share lands next tick
        step = 1.0 if policy.backoff_s <= 0 else -np.expm1(-tick_s / policy.backoff_s)
        out[:, c] = current[:, c] + step * (target - current[:, c])
    return out.reshape(-1)
