"""Component notes (``agents/knowledge/*.md``) and their retrieval by BM25 keyword overlap.

A note is Markdown with a YAML front matter naming its component, keywords, hypothesis templates
(statement, explanation, signals, evidence checks) and mitigation templates. Adapting the helper
to a new component means adding a note: its hypotheses and mitigations enter the candidate set
only when retrieval brings the note into context.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from twin.errors import AgentError

__all__ = ["Note", "load_notes", "retrieve", "KNOWLEDGE_DIR", "tokens"]

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
_WORD = re.compile(r"[a-z0-9][a-z0-9_-]*")


def tokens(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if len(w) > 1]


@dataclass(frozen=True)
class Note:
    name: str
    component: str
    body: str
    keywords: tuple[str, ...]
    hypotheses: tuple[dict[str, Any], ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def terms(self) -> list[str]:
        # keywords count three times: they are the note author's own index
        return tokens(self.body) + 3 * tokens(" ".join(self.keywords))


def _parse(path: Path) -> Note:
    text = path.read_text()
    meta: dict[str, Any] = {}
    body = text
    if text.startswith("---"):
        _, head, body = text.split("---", 2)
        try:
            meta = yaml.safe_load(head) or {}
        except yaml.YAMLError as exc:
            raise AgentError(f"{path}: front matter is not YAML: {exc}") from None
    return Note(path.stem, str(meta.get("component", path.stem)), body.strip(), tuple(meta.get("keywords", [])),
                tuple(meta.get("hypotheses", [])), meta)


def load_notes(directory: str | Path | None = None) -> list[Note]:
    directory = Path(directory) if directory is not None else KNOWLEDGE_DIR
    if not directory.is_dir():
        return []
    return [_parse(p) for p in sorted(directory.glob("*.md"))]


def retrieve(notes: list[Note], query: str, k: int = 3, k1: float = 1.2, b: float = 0.75) -> list[tuple[Note, float]]:
    """The ``k`` best notes for ``query`` by Okapi BM25 (only notes that share a term with it)."""
    if not notes:
        return []
    docs = [Counter(n.terms) for n in notes]
    avg = sum(sum(d.values()) for d in docs) / len(docs)
    q = set(tokens(query))
    scores = []
    for note, doc in zip(notes, docs):
        length = sum(doc.values())
        s = 0.0
        for term in q:
            tf = doc.get(term, 0)
            if not tf:
                continue
            df = sum(1 for d in docs if term in d)
            idf = math.log(1 + (len(docs) - df + 0.5) / (df + 0.5))
            s += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * length / avg))
        scores.append((note, s))
    ranked = sorted((x for x in scores if x[1] > 0), key=lambda x: -x[1])
    return ranked[:k]
