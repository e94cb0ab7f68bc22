"""EventStore: an append-only log of events per run, on SQLAlchemy 2 Core (SQLite or PostgreSQL).

The store knows nothing about agents. It appends opaque typed payloads to a run with an
expected seq (the optimistic lock), chains each event's hash to the previous one of its run,
and keeps a ``runs`` index row up to date in the same transaction through an injected
``indexer``, so that listing runs never scans events. The database itself refuses UPDATE and
DELETE of events.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError

from agent_core.clock import Clock, SystemClock
from agent_core.config import masked_url
from agent_core.errors import ConcurrencyError, StoreError
from agent_core.redaction import Redactor

log = logging.getLogger(__name__)

metadata = MetaData()

events_table = Table(
    "events",
    metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("run_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("type", String(64), nullable=False),
    Column("version", Integer, nullable=False),
    Column("actor", String(32), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("payload", Text, nullable=False),
    Column("hash", String(64), nullable=False),
    UniqueConstraint("run_id", "seq", name="uq_events_run_seq"),
)

runs_table = Table(
    "runs",
    metadata,
    Column("run_id", String(64), primary_key=True),
    Column("status", String(32), nullable=False),
    Column("title", Text, nullable=False),
    Column("parent_id", String(64)),
    Column("started_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("last_seq", Integer, nullable=False),
    Column("last_hash", String(64), nullable=False),
    Column("summary", Text, nullable=False),
    Index("ix_runs_started", "started_at", "run_id"),
    Index("ix_runs_status_started", "status", "started_at"),
    Index("ix_runs_parent", "parent_id"),
)

GENESIS_HASH = "0" * 64
SQLITE_BUSY_TIMEOUT_S = 30.0
PG_APPEND_LOCK = 727274  # one advisory lock id: positions then commit in order (live feed never skips)

SQLITE_TRIGGERS = (
    "CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END",
    "CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only: DELETE refused'); END",
)
PG_TRIGGERS = (
    "CREATE OR REPLACE FUNCTION events_append_only() RETURNS trigger AS $$ BEGIN "
    "RAISE EXCEPTION 'events are append-only: % refused', TG_OP; END $$ LANGUAGE plpgsql",
    "DROP TRIGGER IF EXISTS events_no_change ON events",
    "CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events "
    "FOR EACH ROW EXECUTE FUNCTION events_append_only()",
    "DROP TRIGGER IF EXISTS events_no_truncate ON events",
    "CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events "
    "FOR EACH STATEMENT EXECUTE FUNCTION events_append_only()",
)


class NewEvent(Protocol):
    """What ``append`` needs of an event: its type, schema version, actor and JSON payload."""

    @property
    def type(self) -> str: ...

    @property
    def schema_version(self) -> int: ...

    @property
    def actor(self) -> str: ...

    def to_payload(self) -> dict[str, Any]: ...


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One row of the log. ``problem`` is set when the payload could not be decoded."""

    position: int
    run_id: str
    seq: int
    type: str
    version: int
    actor: str
    at: datetime
    hash: str
    payload: dict[str, Any]
    problem: str = ""


@dataclass(frozen=True, slots=True)
class RunIndex:
    """The searchable part of a run, maintained by the indexer on every append."""

    status: str
    title: str
    parent_id: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RunRow:
    run_id: str
    status: str
    title: str
    parent_id: str | None
    started_at: datetime
    updated_at: datetime
    last_seq: int
    summary: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first event of a run whose hash or seq does not match what the chain says."""

    run_id: str
    seq: int
    position: int
    reason: str


Indexer = Callable[[RunIndex | None, Sequence[StoredEvent]], RunIndex]


def keep_status(previous: RunIndex | None, events: Sequence[StoredEvent]) -> RunIndex:
    """The default indexer: agent-agnostic, it only remembers that the run exists."""
    return previous or RunIndex(status="active", title="")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(
    prev_hash: str, run_id: str, seq: int, event_type: str, version: int, actor: str, at: datetime, payload_text: str
) -> str:
    """SHA-256 over the previous hash and every envelope field: editing any of them breaks the chain."""
    material = "\x1f".join(
        (
            prev_hash,
            run_id,
            str(seq),
            event_type,
            str(version),
            actor,
            _utc(at).isoformat(timespec="microseconds"),
            payload_text,
        )
    )
    return hashlib.sha256(material.encode("utf-8")).hexdigest()


class EventStore:
    """Append-only event log per run; see the module docstring for the guarantees."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock | None = None,
        redactor: Redactor | None = None,
        indexer: Indexer = keep_status,
        sqlite_synchronous: str = "FULL",
    ) -> None:
        self.url = url
        self._clock = clock or SystemClock()
        self._redactor = redactor or Redactor()
        self._indexer = indexer
        try:
            parsed = make_url(url)
            self.dialect = parsed.get_backend_name()
            if self.dialect == "sqlite":
                self._write, self._read = self._sqlite_engines(url, parsed.database, sqlite_synchronous)
            else:
                engine = create_engine(url, pool_pre_ping=True)
                self._write = self._read = engine
            self._create_schema()
        except (ArgumentError, NoSuchModuleError, DBAPIError, OSError) as error:
            raise StoreError(f"cannot open the event store at {masked_url(url)}: {_first_line(error)}") from error

    # --- setup ---------------------------------------------------------------------------

    @staticmethod
    def _sqlite_engines(url: str, database: str | None, synchronous: str) -> tuple[Engine, Engine]:
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)

        def make(begin: str) -> Engine:
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def on_connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={synchronous}")
                cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
                cursor.close()

            @event.listens_for(engine, "begin")
            def on_begin(conn: Connection) -> None:
                conn.exec_driver_sql(begin)

            return engine

        # A deferred transaction that later writes fails at once with "database is locked";
        # BEGIN IMMEDIATE takes the write lock up front and waits on the busy timeout instead.
        return make("BEGIN IMMEDIATE"), make("BEGIN")

    def _create_schema(self) -> None:
        with self._write.begin() as conn:
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_APPEND_LOCK})
            metadata.create_all(conn)
            for statement in SQLITE_TRIGGERS if self.dialect == "sqlite" else PG_TRIGGERS:
                conn.execute(text(statement))

    def close(self) -> None:
        self._write.dispose()
        if self._read is not self._write:
            self._read.dispose()

    # --- writing -------------------------------------------------------------------------

    def append(
        self,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        *,
        times: Sequence[datetime] | None = None,
    ) -> int:
        """Append ``events`` after seq ``expected_seq`` atomically; return the run's new last seq.

        Raises ``ConcurrencyError`` when the run is not at ``expected_seq`` (another writer got
        there first). ``times`` overrides the clock (used by import).
        """
        if not events:
            return expected_seq
        try:
            with self._write.begin() as conn:
                if self.dialect == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_APPEND_LOCK})
                current = conn.execute(
                    select(
                        runs_table.c.last_seq,
                        runs_table.c.last_hash,
                        runs_table.c.status,
                        runs_table.c.title,
                        runs_table.c.parent_id,
                        runs_table.c.summary,
                    ).where(runs_table.c.run_id == run_id)
                ).first()
                actual = current.last_seq if current else 0
                if actual != expected_seq:
                    raise ConcurrencyError(run_id, expected_seq, actual)
                prev_hash = current.last_hash if current else GENESIS_HASH
                rows, stored = [], []
                for offset, new in enumerate(events):
                    seq = expected_seq + offset + 1
                    at = _utc(times[offset]) if times else self._clock.now()
                    payload = self._redactor.value(new.to_payload())
                    payload_text = _dumps(payload)
                    digest = chain_hash(
                        prev_hash, run_id, seq, new.type, new.schema_version, new.actor, at, payload_text
                    )
                    rows.append(
                        {
                            "run_id": run_id,
                            "seq": seq,
                            "type": new.type,
                            "version": new.schema_version,
                            "actor": new.actor,
                            "at": at,
                            "payload": payload_text,
                            "hash": digest,
                        }
                    )
                    stored.append(
                        StoredEvent(0, run_id, seq, new.type, new.schema_version, new.actor, at, digest, payload)
                    )
                    prev_hash = digest
                conn.execute(insert(events_table), rows)
                previous = (
                    RunIndex(current.status, current.title, current.parent_id, json.loads(current.summary))
                    if current
                    else None
                )
                index = self._indexer(previous, stored)
                values = {
                    "status": index.status,
                    "title": index.title,
                    "parent_id": index.parent_id,
                    "updated_at": stored[-1].at,
                    "last_seq": stored[-1].seq,
                    "last_hash": prev_hash,
                    "summary": _dumps(index.summary),
                }
                if current:
                    conn.execute(update(runs_table).where(runs_table.c.run_id == run_id).values(**values))
                else:
                    conn.execute(insert(runs_table).values(run_id=run_id, started_at=stored[0].at, **values))
                return stored[-1].seq
        except IntegrityError as error:
            raise ConcurrencyError(run_id, expected_seq) from error
        except DBAPIError as error:
            raise StoreError(
                f"could not append to run {run_id!r} in {masked_url(self.url)}: {_first_line(error)}"
            ) from error

    # --- reading -------------------------------------------------------------------------

    def read_run(self, run_id: str, after_seq: int = 0) -> list[StoredEvent]:
        """The run's events after ``after_seq``, in seq order (empty if the run does not exist)."""
        query = (
            select(events_table)
            .where(events_table.c.run_id == run_id, events_table.c.seq > after_seq)
            .order_by(events_table.c.seq)
        )
        return self._fetch(query)

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events of every run after a global position, in position order: the live feed."""
        query = (
            select(events_table)
            .where(events_table.c.position > after_position)
            .order_by(events_table.c.position)
            .limit(limit)
        )
        return self._fetch(query)

    def last_position(self) -> int:
        with self._read.connect() as conn:
            return conn.execute(select(func.max(events_table.c.position))).scalar() or 0

    def _fetch(self, query: Any) -> list[StoredEvent]:
        try:
            with self._read.connect() as conn:
                return [_decode_row(row) for row in conn.execute(query)]
        except DBAPIError as error:
            raise StoreError(f"could not read {masked_url(self.url)}: {_first_line(error)}") from error

    def get_run(self, run_id: str) -> RunRow | None:
        rows = self._runs(select(runs_table).where(runs_table.c.run_id == run_id))
        return rows[0] if rows else None

    def list_runs(
        self,
        *,
        status: Sequence[str] | None = None,
        text_in_title: str | None = None,
        parent_id: str | None = None,
        originals_only: bool = False,
        replays_only: bool = False,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[RunRow]:
        """Runs newest first, filtered, one page at a time; served from the runs index alone."""
        query = select(runs_table).order_by(runs_table.c.started_at.desc(), runs_table.c.run_id.desc())
        query = _filter_runs(
            query, status, text_in_title, parent_id, originals_only, replays_only, started_after, started_before
        )
        return self._runs(query.limit(limit).offset(offset))

    def count_runs(self, **filters: Any) -> int:
        query = select(func.count()).select_from(runs_table)
        query = _filter_runs(
            query,
            filters.get("status"),
            filters.get("text_in_title"),
            filters.get("parent_id"),
            filters.get("originals_only", False),
            filters.get("replays_only", False),
            filters.get("started_after"),
            filters.get("started_before"),
        )
        with self._read.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def _runs(self, query: Any) -> list[RunRow]:
        try:
            with self._read.connect() as conn:
                return [
                    RunRow(
                        r.run_id,
                        r.status,
                        r.title,
                        r.parent_id,
                        _utc(r.started_at),
                        _utc(r.updated_at),
                        r.last_seq,
                        json.loads(r.summary),
                    )
                    for r in conn.execute(query)
                ]
        except DBAPIError as error:
            raise StoreError(f"could not read {masked_url(self.url)}: {_first_line(error)}") from error

    # --- integrity -----------------------------------------------------------------------

    def verify_chain(self, run_id: str | None = None) -> ChainProblem | None:
        """Recompute every hash (of one run, or all runs); return the first event that does not match."""
        query = select(events_table).order_by(events_table.c.run_id, events_table.c.seq)
        if run_id is not None:
            query = query.where(events_table.c.run_id == run_id)
        with self._read.connect() as conn:
            for problem in _chain_problems(conn.execute(query.execution_options(yield_per=2000))):
                return problem
        return None


def _chain_problems(rows: Any) -> Iterator[ChainProblem]:
    current_run, prev_hash, expected_seq = None, GENESIS_HASH, 1
    for row in rows:
        if row.run_id != current_run:
            current_run, prev_hash, expected_seq = row.run_id, GENESIS_HASH, 1
        if row.seq != expected_seq:
            yield ChainProblem(row.run_id, row.seq, row.position, f"seq {row.seq} where {expected_seq} was expected")
            return
        digest = chain_hash(prev_hash, row.run_id, row.seq, row.type, row.version, row.actor, row.at, row.payload)
        if digest != row.hash:
            yield ChainProblem(row.run_id, row.seq, row.position, "hash does not match the event's content")
            return
        prev_hash, expected_seq = row.hash, expected_seq + 1


def _filter_runs(query, status, text_in_title, parent_id, originals_only, replays_only, started_after, started_before):  # type: ignore[no-untyped-def]
    if status:
        query = query.where(runs_table.c.status.in_(list(status)))
    if text_in_title:
        query = query.where(runs_table.c.title.ilike(f"%{text_in_title}%"))
    if parent_id:
        query = query.where(runs_table.c.parent_id == parent_id)
    if originals_only:
        query = query.where(runs_table.c.parent_id.is_(None))
    if replays_only:
        query = query.where(or_(runs_table.c.parent_id.is_not(None)))
    if started_after:
        query = query.where(runs_table.c.started_at >= started_after)
    if started_before:
        query = query.where(runs_table.c.started_at < started_before)
    return query


def _decode_row(row: Any) -> StoredEvent:
    try:
        payload = json.loads(row.payload)
        if not isinstance(payload, dict):
            raise ValueError("payload is not a JSON object")
        problem = ""
    except ValueError as error:
        payload, problem = {}, f"event at position {row.position} has an undecodable payload: {error}"
        log.warning("%s (run %r, seq %d)", problem, row.run_id, row.seq)
    return StoredEvent(
        row.position, row.run_id, row.seq, row.type, row.version, row.actor, _utc(row.at), row.hash, payload, problem
    )


def _first_line(error: BaseException) -> str:
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0] if message else type(error).__name__


__all__ = ["ChainProblem", "EventStore", "NewEvent", "RunIndex", "RunRow", "StoredEvent", "chain_hash", "replace"]
