"""Durations as operators write them: ``90``, ``"30s"``, ``"12m"``, ``"1h30m"``."""

from __future__ import annotations

import re

__all__ = ["parse_duration", "format_duration"]

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)")
_SCALE = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: float | int | str) -> float:
    """Return seconds for a number of seconds or a string like ``"1h30m"``.

    >>> parse_duration("1h30m")
    5400.0
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a duration such as 30s, 12m or 1h, got {value!r}")
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value!r}")
        return float(value)
    text = str(value).strip().lower().replace(" ", "")
    if re.fullmatch(r"\d+(?:\.\d+)?", text):
        return float(text)
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            break
        total += float(match.group(1)) * _SCALE[match.group(2)]
        pos = match.end()
    if pos != len(text) or not text:
        raise ValueError(
            f"expected a duration such as 30s, 12m, 1h or 1h30m (units ms, s, m, h, d), got {value!r}"
        )
    return total


def format_duration(seconds: float) -> str:
    """``5400.0`` -> ``"1h30m"``; sub-minute parts keep seconds."""
    seconds = float(seconds)
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    h, rem = divmod(int(round(s)), 3600)
    m, sec = divmod(rem, 60)
    parts = []
    if h:
        parts.append(f"{h}h")
    if m:
        parts.append(f"{m}m")
    if sec or not parts:
        parts.append(f"{sec}s")
    return sign + "".join(parts)
