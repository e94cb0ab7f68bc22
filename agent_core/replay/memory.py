"""MemoryStore: the event store a verify writes its re-execution to, kept in process memory.

A verify keeps nothing it writes: it re-executes a run, reads the new events back and compares
them. What the durable store spends on keeping events (SQL, the hash chain, the runs row folded
in the append's transaction, fsync) buys a verify nothing, and was most of a verify's cost. The
events themselves still pass the durable store's own rules (``EventStore._payload``: validation,
redaction, strict JSON, the size cap) and its optimistic lock, so a re-execution records exactly
what it would record in a file. A row keeps the payload its text was written from: the redaction
rebuilt it of JSON's own types (dicts with string keys, lists, strings, numbers, booleans, null)
and the text encoded it strictly, so reading the text back gives an equal payload of the same
types (a property test compares the two stores' reads).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from agent_core.clock import Clock, SystemClock
from agent_core.errors import ConcurrencyError, ReadOnlyRun, StoreError
from agent_core.projections import RunState, already_folded, decode, fold, index_run
from agent_core.redaction import Redactor
from agent_core.store import (
    CHAINS,
    IMPORTED,
    LOCAL,
    MAX_PAYLOAD_BYTES,
    SHA256,
    Appended,
    ChainProblem,
    EventStore,
    NewEvent,
    RunIndex,
    RunRow,
    StoredEvent,
    _check_text,
)

MEMORY_URL = "memory://scratch"


class MemoryStore(EventStore):
    """An ``EventStore`` in memory for re-executions nobody keeps (verify's scratch); see the module docstring.

    It serves what a re-execution does: ``append``, ``read_run``, ``get_run``, ``read_all``. Listing
    runs and checking chains are the durable store's jobs: they raise ``StoreError`` here.
    """

    def __init__(
        self,
        *,
        clock: Clock | None = None,
        redactor: Redactor | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        """An empty store; nothing is opened, so there is nothing to fail."""
        self.url = MEMORY_URL
        self.dialect = "memory"
        self.sqlite_path = None
        self.max_payload_bytes = max_payload_bytes
        self._key = None
        self._clock = clock or SystemClock()
        self._redactor = redactor or Redactor()
        self._runs_of: dict[str, list[StoredEvent]] = {}
        self._origin: dict[str, tuple[str, str]] = {}  # run -> (origin, chain), set by the append that creates it
        self._position = 0

    def close(self) -> None:
        """Forget every run (the store holds nothing else)."""
        self._runs_of.clear()
        self._origin.clear()

    def forget(self, run_id: str) -> None:
        """Drop one run's events: a verify is done with its re-execution once it has compared it."""
        self._runs_of.pop(run_id, None)
        self._origin.pop(run_id, None)

    def append(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        *,
        times: Sequence[datetime] | None = None,
        origin: str = LOCAL,
        chain: str | None = None,
    ) -> int:
        """As ``EventStore.append``: the same lock, the same payload rules, all or nothing; no hash chain."""
        return expected_seq + len(self._append_rows(run_id, events, expected_seq, times, origin, chain))

    def append_indexed(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        *,
        times: Sequence[datetime] | None = None,
        origin: str = LOCAL,
        chain: str | None = None,
        state: Any = None,
    ) -> Appended:
        """As ``EventStore.append_indexed``: the new last seq, and the run's fold in the index's ``state``.

        The caller's fold (at ``expected_seq``, or a few held events into the batch) is carried on with
        the appended events; without one (or a stale one), the run is folded from its events. A memory
        store keeps no runs row, so the index handed back holds the fold, its status and title only
        (``get_run`` builds the whole row when asked).
        """
        rows = self._append_rows(run_id, events, expected_seq, times, origin, chain)
        if not rows:
            return Appended(expected_seq, RunIndex(status="", title="", state=state))
        folded = already_folded(state, rows)
        if folded is not None and isinstance(state, RunState):
            state = fold((decode(row) for row in rows[folded:]), initial=state)
        else:
            state = fold(decode(row) for row in self._runs_of[run_id])
        return Appended(expected_seq + len(rows), RunIndex(state.status, state.goal, state.parent_id, state=state))

    def _append_rows(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        times: Sequence[datetime] | None,
        origin: str,
        chain: str | None,
    ) -> list[StoredEvent]:
        """Check, encode and keep ``events``; the rows as a read returns them (none when there are no events)."""
        if origin not in (LOCAL, IMPORTED) or chain not in (None, *CHAINS):
            raise ValueError(f"origin {origin!r} / chain {chain!r}: use one of {(LOCAL, IMPORTED)} / {CHAINS}")
        if not events:
            return []
        _check_text(run_id, "", run_id, "the run id")
        log = self._runs_of.get(run_id)
        actual = len(log) if log else 0
        if actual != expected_seq:
            raise ConcurrencyError(run_id, expected_seq, actual)
        if log and self._origin[run_id][0] == IMPORTED:
            raise ReadOnlyRun(run_id)
        rows: list[StoredEvent] = []
        for offset, new in enumerate(events):
            at, payload, _text = self._encoded(run_id, new, times[offset] if times else None)  # what a read returns
            position, seq = self._position + offset + 1, expected_seq + offset + 1
            rows.append(StoredEvent(position, run_id, seq, new.type, new.schema_version, new.actor, at, "", payload))
        self._position += len(rows)
        if log is None:
            self._runs_of[run_id] = rows
            self._origin[run_id] = (origin, chain or SHA256)
        else:
            log.extend(rows)
        return rows

    def is_imported(self, run_id: str) -> bool:
        """True when ``run_id`` was appended as imported."""
        return self._origin.get(run_id, (LOCAL, SHA256))[0] == IMPORTED

    def read_run(self, run_id: str, after_seq: int = 0) -> list[StoredEvent]:
        """The run's events after ``after_seq`` (seq n is at index n - 1)."""
        return self._runs_of.get(run_id, [])[after_seq:]

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events of every run after a global position, in position order."""
        rows = sorted((e for log in self._runs_of.values() for e in log), key=lambda e: e.position)
        return [e for e in rows if e.position > after_position][:limit]

    def last_position(self) -> int:
        """The highest position written so far."""
        return self._position

    def get_run(self, run_id: str) -> RunRow | None:
        """The run's index row, folded from its events when asked (the durable store keeps it on every append)."""
        log = self._runs_of.get(run_id)
        if not log:
            return None
        index = index_run(None, log)
        return RunRow(
            run_id,
            index.status,
            index.title,
            index.parent_id,
            log[0].at,
            log[-1].at,
            log[-1].seq,
            index.summary,
            *self._origin[run_id],
        )

    def list_runs(self, **_filters: object) -> list[RunRow]:  # type: ignore[override]
        """Not served: a memory store holds re-executions, which nobody lists."""
        raise StoreError("a memory store serves re-executions only: list runs in the durable store")

    def count_runs(self, **_filters: object) -> int:  # type: ignore[override]
        """Not served: see ``list_runs``."""
        raise StoreError("a memory store serves re-executions only: count runs in the durable store")

    def run_ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        """Run ids that start with ``prefix``."""
        return [run_id for run_id in self._runs_of if run_id.startswith(prefix)][:limit]

    def verify_chain(self, run_id: str | None = None) -> ChainProblem | None:
        """Not served: a memory store keeps no hash chain (nothing it holds outlives the process)."""
        raise StoreError("a memory store keeps no hash chain: verify chains in the durable store")
