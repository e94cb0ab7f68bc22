"""Where the store's fixed-SQL paths (append, read a run, get a run's row) get their DBAPI connection.

On PostgreSQL from the engine's pool, as SQLAlchemy hands them out. On SQLite, connections are
taken from the pool once (its ``connect`` settings applied: WAL, synchronous, busy timeout),
detached and kept here, one user at a time each: the pool's checkout and checkin (events, reset,
bookkeeping) cost about 5% of an offline run's framework time, for a connection that has no
server to lose. A connection whose block raised is closed, not kept; ``close`` closes the kept ones,
and one in use then is closed when it comes back (a later block opens a new one, as after
``Engine.dispose``). A forked child never uses its parent's connections.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine

MAX_KEPT = 8
"""Connections kept for reuse at most (more threads at once open more; the extra ones close after use)."""


class Connections:
    """DBAPI connections of one engine for the store's hot paths; see the module docstring."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._keep = engine.dialect.name == "sqlite"
        self._kept: list[tuple[int, Any]] = []  # (generation, detached connection); list.pop/append are atomic
        self._generation = 0
        self._pid = os.getpid()

    @contextmanager
    def connection(self) -> Iterator[Any]:
        """A connection (SQLAlchemy's ``_ConnectionFairy``: ``cursor``, ``commit``, ``rollback``) for this block."""
        if not self._keep:
            fairy = self._engine.raw_connection()
            try:
                yield fairy
            finally:
                fairy.close()
            return
        generation, fairy = self._take()
        reusable = False
        try:
            yield fairy
            reusable = True
        finally:
            if reusable and generation == self._generation and len(self._kept) < MAX_KEPT:
                self._kept.append((generation, fairy))
            else:
                fairy.close()  # detached: closes the DBAPI connection itself

    def _take(self) -> tuple[int, Any]:
        if self._pid != os.getpid():
            self._kept, self._pid = [], os.getpid()
        try:
            return self._kept.pop()
        except IndexError:
            fairy = self._engine.raw_connection()
            fairy.detach()
            return self._generation, fairy

    def close(self) -> None:
        """Close the kept connections; one in use now is closed when its block ends."""
        self._generation += 1
        kept, self._kept = self._kept, []
        for _generation, fairy in kept:
            fairy.close()
