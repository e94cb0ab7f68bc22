"""Injectable time and id sources.

Everything non-deterministic enters a run through an event; the clock and the id source are
the two that code (not the world) produces, so tests and verify-replay pass fixed ones.
"""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class IdSource(Protocol):
    def new_id(self) -> str: ...


def utc_now() -> datetime:
    """Current UTC time truncated to microseconds (what every database round-trips exactly)."""
    return datetime.now(UTC)


class SystemClock:
    def now(self) -> datetime:
        return utc_now()


class FixedClock:
    """A clock that advances by ``step`` on every read: reproducible timestamps for tests."""

    def __init__(self, start: datetime | None = None, step: timedelta = timedelta(milliseconds=10)) -> None:
        self._current = start or datetime(2026, 1, 1, tzinfo=UTC)
        self._step = step

    def now(self) -> datetime:
        value = self._current
        self._current += self._step
        return value


class RandomIds:
    def new_id(self) -> str:
        return uuid.uuid4().hex


class SequentialIds:
    """Ids ``prefix-0001``, ``prefix-0002``...: readable and reproducible in tests."""

    def __init__(self, prefix: str = "run") -> None:
        self._counter = itertools.count(1)
        self._prefix = prefix

    def new_id(self) -> str:
        return f"{self._prefix}-{next(self._counter):04d}"
