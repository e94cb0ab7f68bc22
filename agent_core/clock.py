"""Injectable time and id sources.

Everything non-deterministic enters a run through an event; the clock and the id source are
the two that code (not the world) produces, so they are passed in (``EventStore(clock=...)``,
``Orchestrator(ids=...)``) rather than read from globals.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    """Where the store takes an event's time from; must return an aware datetime."""

    def now(self) -> datetime:
        """The current time, timezone-aware."""
        ...


class IdSource(Protocol):
    """Where the orchestrator takes new run ids from; each call returns an id not seen before."""

    def new_id(self) -> str:
        """A new id, at most 64 characters (the store's run id column)."""
        ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        """The current UTC time (microsecond resolution: what every database round-trips exactly)."""
        return datetime.now(UTC)


class RandomIds:
    """Random 32-hex-digit ids (uuid4): unique across processes without coordination."""

    def new_id(self) -> str:
        """A fresh uuid4 as 32 hex digits."""
        return uuid.uuid4().hex
