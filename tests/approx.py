"""Comparing reports with recorded ones across machines.

The model is bit-for-bit deterministic on one machine, but numpy picks its exp/log/power loops
by the CPU it runs on (AVX-512 on one host, AVX2 on another), and those differ from each other
and from the compiled kernels' libm in the last bit. A golden recorded on one CPU therefore
holds to ~1e-15 relative on another, not to the bit. ``assert_same`` checks everything that is
not a float exactly (verdicts, texts, counts, keys, order) and floats to ``rel`` relative.
Comparisons inside one run (a batch against its solo runs) stay exact: they do not use this.
"""

from __future__ import annotations

import math
from typing import Any

#: How far a recorded float may be from today's: last-bit differences, compounded over a run.
REL = 1e-9


def differences(got: Any, want: Any, rel: float = REL, path: str = "") -> list[str]:
    """Where ``got`` and ``want`` differ (floats beyond ``rel``), as readable paths."""
    if isinstance(got, bool) or isinstance(want, bool) or not (
            isinstance(got, (int, float)) and isinstance(want, (int, float))):
        if isinstance(got, dict) and isinstance(want, dict):
            if got.keys() != want.keys():
                return [f"{path or '/'}: keys {sorted(got.keys() ^ want.keys())} differ"]
            return [d for k in want for d in differences(got[k], want[k], rel, f"{path}/{k}")]
        if isinstance(got, (list, tuple)) and isinstance(want, (list, tuple)):
            if len(got) != len(want):
                return [f"{path or '/'}: {len(got)} items, recorded {len(want)}"]
            return [d for i, (a, b) in enumerate(zip(got, want)) for d in differences(a, b, rel, f"{path}[{i}]")]
        return [] if got == want else [f"{path or '/'}: {got!r} != recorded {want!r}"]
    if isinstance(got, int) and isinstance(want, int):
        return [] if got == want else [f"{path or '/'}: {got} != recorded {want}"]
    if math.isnan(got) and math.isnan(want):
        return []
    if math.isclose(got, want, rel_tol=rel, abs_tol=1e-300):
        return []
    return [f"{path or '/'}: {got!r} != recorded {want!r}"]


def assert_same(got: Any, want: Any, rel: float = REL) -> None:
    """``got`` equals the recorded ``want``: exactly, but for floats within ``rel`` relative."""
    diff = differences(got, want, rel)
    assert not diff, f"{len(diff)} difference(s) from the recorded values:\n" + "\n".join(diff[:20])
