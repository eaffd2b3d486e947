"""Reading the project's YAML files (scenarios, replays, policies) with errors that name the file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from twin.errors import ScenarioError

__all__ = ["read_yaml"]


def read_yaml(path_or_name: str | Path, error: type[ScenarioError], kind: str,
              known: dict[str, Path] | None = None) -> tuple[Any, Path]:
    """Parse a YAML file given by path, or by name among ``known``; return ``(data, path)``.

    Raises ``error(file, field, message)``: for an unknown name (listing the known ones), a
    missing file, or YAML that does not parse (with the line).
    """
    candidate = Path(path_or_name)
    if known is not None and not candidate.suffix and not candidate.exists():
        if str(path_or_name) not in known:
            raise error(str(path_or_name), "", f"no such {kind} (known: {', '.join(known) or 'none'})")
        candidate = known[str(path_or_name)]
    if not candidate.is_file():
        raise error(str(candidate), "", "file not found")
    try:
        return yaml.safe_load(candidate.read_text()), candidate
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else ""
        raise error(str(candidate), where, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
