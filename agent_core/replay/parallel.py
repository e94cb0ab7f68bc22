"""``--workers N``: verify a batch of runs in N processes, the answers in the batch's order.

Verify is CPU-bound Python, so threads would share one core; processes do not. Each worker
opens the store itself (read-only: a verify only reads the recording) and verifies chunks of
the batch in a scratch space of its own, kept for its life; the parent yields the chunks' outcomes in the
batch's order, so the lines, counts, exit code and JSON are those of a serial verify.

On Linux the workers are forked (they start in milliseconds with everything imported); the
parent first closes its pooled connections so no database connection crosses the fork.
Elsewhere they are spawned.
"""

from __future__ import annotations

import math
import multiprocessing
import sys
from collections.abc import Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from dataclasses import dataclass
from multiprocessing.util import Finalize

from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.projections import open_store
from agent_core.replay.driver import Overrides, ReplayError
from agent_core.replay.scratch import Scratch, scratch_space
from agent_core.replay.verify import VerifyResult, verify
from agent_core.replay.whatif import WhatIfResult
from agent_core.store import EventStore, RunRow

CHUNKS_PER_WORKER = 4
"""Chunks each worker gets on average: enough to even out slow runs, few enough to reuse a scratch space."""
MAX_CHUNK = 250


@dataclass(frozen=True, slots=True)
class Outcome:
    """One run's verify as the batch reports it: the count it adds to, its line, and the result (None on error)."""

    key: str
    line: str
    result: VerifyResult | WhatIfResult | None


def verify_outcome(
    store: EventStore, settings: Settings, row: RunRow, overrides: Overrides, scratch: Scratch
) -> Outcome:
    """Verify one listed run; an ``AgentError`` becomes an ``error`` outcome naming the run (the batch goes on)."""
    try:
        result = verify(store, settings, row.run_id, overrides, scratch=scratch, row=row)
    except AgentError as error:
        return Outcome("error", f"{row.run_id}  ERROR: {error}", None)
    return Outcome(result.status, result.line(), result)


def verify_serially(
    store: EventStore, settings: Settings, rows: Sequence[RunRow], overrides: Overrides
) -> Iterator[Outcome]:
    """Verify ``rows`` one after the other in this process, sharing one scratch space."""
    with scratch_space() as scratch:
        for row in rows:
            yield verify_outcome(store, settings, row, overrides, scratch)


def verify_in_workers(
    store: EventStore, settings: Settings, rows: Sequence[RunRow], overrides: Overrides, workers: int
) -> Iterator[Outcome]:
    """Verify ``rows`` in ``workers`` processes; outcomes come in the order of ``rows``, each chunk when it is done."""
    if workers < 1:
        raise ValueError(f"workers must be at least 1, not {workers}")
    workers = min(workers, len(rows))
    if workers <= 1:
        yield from verify_serially(store, settings, rows, overrides)
        return
    size = max(1, min(MAX_CHUNK, math.ceil(len(rows) / (workers * CHUNKS_PER_WORKER))))
    chunks = [list(rows[i : i + size]) for i in range(0, len(rows), size)]
    method = "fork" if sys.platform == "linux" else "spawn"
    store.close()  # no pooled connection crosses the fork; the parent's next read opens a new one
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context(method),
        initializer=_start_worker,
        initargs=(store.url, settings, overrides),
    )
    try:
        for outcomes in pool.map(_verify_chunk, chunks):
            yield from outcomes
    except BrokenProcessPool as error:
        raise ReplayError(f"a verify worker process died ({error}); run again with --workers 1 to see why") from error
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# --- inside a worker process ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Worker:
    store: EventStore
    settings: Settings
    overrides: Overrides
    scratch: Scratch


_worker: _Worker | None = None


def _start_worker(url: str, settings: Settings, overrides: Overrides) -> None:
    """Open this worker's own connection to the store (read-only: nothing is created) and its scratch space,
    both kept for the worker's life and closed when it exits (``Finalize`` runs at a worker's normal exit)."""
    global _worker
    stack = ExitStack()
    store = open_store(url, create=False)
    stack.callback(store.close)
    _worker = _Worker(store, settings, overrides, stack.enter_context(scratch_space()))
    Finalize(None, stack.close, exitpriority=10)


def _verify_chunk(rows: list[RunRow]) -> list[Outcome]:
    """Verify one chunk in this worker's scratch space."""
    if _worker is None:
        raise RuntimeError("_verify_chunk runs in a worker started by verify_in_workers")
    w = _worker
    return [verify_outcome(w.store, w.settings, row, w.overrides, w.scratch) for row in rows]
