"""Episode transcripts: every prompt, model output, rejection, tool call, result and decision.

Records go to ``<dir>/<episode>.jsonl`` as they happen; :meth:`Trace.write_report` adds a short
Markdown report beside it. The default directory is ``runs/traces/`` (gitignored).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["Trace", "TRACE_DIR"]

TRACE_DIR = Path("runs/traces")


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "item"):
        try:
            return value.item()
        except (ValueError, AttributeError):
            pass
    return str(value)


@dataclass
class Trace:
    """An append-only transcript; ``directory=None`` keeps it in memory only."""

    name: str = "episode"
    directory: Path | None = TRACE_DIR
    records: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    llm_wall_s: float = 0.0
    started: float = field(default_factory=time.perf_counter)

    def __post_init__(self) -> None:
        self.path: Path | None = None
        if self.directory is not None:
            self.directory = Path(self.directory)
            self.directory.mkdir(parents=True, exist_ok=True)
            self.path = self.directory / f"{self.name}.jsonl"
            self.path.write_text("")

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def log(self, kind: str, **data: Any) -> dict[str, Any]:
        rec = {"kind": kind, "wall_s": round(time.perf_counter() - self.started, 4), **_plain(data)}
        self.records.append(rec)
        if self.path is not None:
            with self.path.open("a") as fh:
                fh.write(json.dumps(rec) + "\n")
        return rec

    def count(self, prompt_tokens: int, completion_tokens: int, wall_s: float) -> None:
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.llm_wall_s += wall_s

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [r for r in self.records if r["kind"] == kind]

    def narrative(self) -> list[str]:
        """The records worth reading as an OCE's trail, one sentence each."""
        return [r["text"] for r in self.records if r["kind"] == "narrative"]

    def write_report(self, title: str, extra: list[str] | None = None) -> Path | None:
        if self.directory is None:
            return None
        rejections = self.of_kind("rejection")
        lines = [f"# {title}", "", *[f"- {line}" for line in self.narrative()], ""]
        lines += extra or []
        lines += ["", "## Budget", "",
                  f"- LLM calls: {len(self.of_kind('llm_call'))}, tokens: {self.tokens} "
                  f"({self.prompt_tokens} prompt + {self.completion_tokens} completion), LLM time {self.llm_wall_s:.1f} s",
                  f"- wall time: {time.perf_counter() - self.started:.1f} s",
                  f"- rejected model outputs: {len(rejections)}"]
        for r in rejections[:20]:
            lines.append(f"  - {r.get('purpose', '?')}: {r.get('reason', '?')}")
        lines += ["", f"Full transcript: `{self.path.name if self.path else '-'}`", ""]
        out = self.directory / f"{self.name}.md"
        out.write_text("\n".join(lines))
        return out
