"""How many forked worker processes a simulation pool uses (the pre-check's and the diagnosis's)."""

from __future__ import annotations

import multiprocessing
import os

__all__ = ["fork_workers"]


def fork_workers(requested: int | None, env: str) -> int:
    """Processes to use: ``requested``, else the environment variable ``env``, else every core.
    1 (in-process) where processes cannot be forked: workers inherit their job by forking."""
    if "fork" not in multiprocessing.get_all_start_methods():
        return 1
    if requested is None:
        value = os.environ.get(env, "").strip()
        requested = int(value) if value.isdigit() else (os.cpu_count() or 1)
    return max(1, int(requested))
