"""An append-only log whose forks share their past: forking costs O(1), whatever its length."""

from __future__ import annotations

from typing import Callable, Generic, Iterator, TypeVar

__all__ = ["History"]

T = TypeVar("T")


class History(Generic[T]):
    """Append-only sequence. ``fork()`` returns a child that sees this log up to now and
    appends to its own tail; later appends here never show in the child."""

    __slots__ = ("_parent", "_upto", "_own", "_rewritten")

    def __init__(self, parent: "History[T] | None" = None, upto: int = 0) -> None:
        self._parent = parent
        self._upto = upto
        self._own: list[T] = []
        self._rewritten = 0  # own items already passed through rewrite_own

    def rewrite_own(self, fn: Callable[[T], T], keep_last: int = 1) -> None:
        """Replace each item this log appended itself (never its parent's), but for the last
        ``keep_last``, by ``fn(item)``, once per item. Forks taken earlier see the rewritten
        items too: ``fn`` must keep whatever any reader of this lineage needs of an item."""
        own, end = self._own, max(self._rewritten, len(self._own) - keep_last)
        for i in range(self._rewritten, end):
            own[i] = fn(own[i])
        self._rewritten = end

    def append(self, item: T) -> None:
        self._own.append(item)

    def __len__(self) -> int:
        return self._upto + len(self._own)

    def fork(self) -> "History[T]":
        return History(self, len(self))

    def _segments(self) -> list[list[T]]:
        segments: list[list[T]] = []
        node: History[T] | None = self
        limit = None
        while node is not None:
            own = node._own if limit is None else node._own[: max(0, limit - node._upto)]
            segments.append(own)
            limit = node._upto
            node = node._parent
        segments.reverse()
        return segments

    def __iter__(self) -> Iterator[T]:
        for seg in self._segments():
            yield from seg

    def tail(self, n: int) -> list[T]:
        """The last ``n`` items, walking back only as far as needed."""
        out: list[T] = []
        node: History[T] | None = self
        limit = None
        while node is not None and len(out) < n:
            own = node._own if limit is None else node._own[: max(0, limit - node._upto)]
            take = own[-(n - len(out)):] if n - len(out) < len(own) else own
            out = list(take) + out
            limit = node._upto
            node = node._parent
        return out[-n:] if n else []

    def to_list(self) -> list[T]:
        return list(self)
