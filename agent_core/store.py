"""EventStore: an append-only log of events per run, on SQLAlchemy 2 Core (SQLite or PostgreSQL).

The store knows nothing about agents. It appends opaque typed payloads to a run with an
expected seq (the optimistic lock), chains each event's hash to the previous one of its run,
and keeps a ``runs`` index row up to date in the same transaction through an injected
``indexer``, so that listing runs never scans events. The database itself refuses UPDATE and
DELETE of events.

Two facts about a run are the store's own, kept in its runs row from the append that creates
it: its ``chain`` (``sha256``, or ``hmac-sha256`` when the store has a log key: an HMAC that
nobody without the key can recompute; a run keeps the algorithm it started with, so logs
written before a key was set still verify) and its ``origin`` (``local``, or ``imported``: a
log read from elsewhere, which the store never appends to).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError

from agent_core.clock import Clock, SystemClock
from agent_core.config import MIN_LOG_KEY_CHARS, masked_url, sqlite_file
from agent_core.errors import ConcurrencyError, ConfigError, InvalidPayload, PayloadTooLarge, ReadOnlyRun, StoreError
from agent_core.jsontext import MAX_DEPTH, describe_unencodable, first_surrogate, too_deep
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
    Column("origin", String(16), nullable=False, server_default="local"),
    Column("chain", String(16), nullable=False, server_default="sha256"),
    Index("ix_runs_started", "started_at", "run_id"),
    Index("ix_runs_status_started", "status", "started_at"),
    Index("ix_runs_parent", "parent_id"),
)

GENESIS_HASH = "0" * 64
SHA256, HMAC_SHA256 = "sha256", "hmac-sha256"
CHAINS = (SHA256, HMAC_SHA256)
"""How a run's events are chained: plain SHA-256, or HMAC-SHA256 with the store's log key."""
LOCAL, IMPORTED = "local", "imported"
_ADDED_RUN_COLUMNS = (
    ("origin", "VARCHAR(16) NOT NULL DEFAULT 'local'"),
    ("chain", "VARCHAR(16) NOT NULL DEFAULT 'sha256'"),
)
SUPPORTED_BACKENDS = ("sqlite", "postgresql")

MAX_PAYLOAD_BYTES = 2 * 1024 * 1024
"""The most an event's JSON payload may take, in UTF-8 bytes: ``append`` refuses a larger one (``PayloadTooLarge``).

Every producer bounds its own fields far below it (see the README's limits); the cap is what
holds when one does not."""
SQLITE_BUSY_TIMEOUT_S = 30.0
SQLITE_CACHE_KIB = 32 * 1024  # per connection, allocated only as pages are read
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
    def type(self) -> str:
        """The event type name, stored as is (at most 64 characters)."""
        ...

    @property
    def schema_version(self) -> int:
        """The version of the payload's schema, so readers can upcast old rows."""
        ...

    @property
    def actor(self) -> str:
        """Who caused the event (at most 32 characters)."""
        ...

    def to_payload(self) -> dict[str, Any]:
        """The payload as a JSON-serialisable dict; the store redacts secrets before writing it (and
        counts them in its ``redactions`` key).

        It must be storable as ``jsontext`` defines it and at most ``max_payload_bytes`` as JSON,
        else ``append`` raises ``InvalidPayload`` or ``PayloadTooLarge`` and writes nothing.
        """
        ...


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
    """One row of the runs index: what listing runs returns without reading any event."""

    run_id: str
    status: str
    title: str
    parent_id: str | None
    started_at: datetime
    updated_at: datetime
    last_seq: int
    summary: dict[str, Any]
    origin: str = LOCAL
    """``local``, or ``imported``: read from an export, never appended to."""
    chain: str = SHA256
    """``sha256``, or ``hmac-sha256`` (keyed with ``AGENT_LOG_KEY``)."""

    @property
    def imported(self) -> bool:
        """True when the run was created by ``import`` (its ``origin``)."""
        return self.origin == IMPORTED


@dataclass(frozen=True, slots=True)
class ChainProblem:
    """The first event of a run whose hash or seq does not match what the chain says."""

    run_id: str
    seq: int
    position: int
    reason: str
    kind: str = "tampered"
    """``tampered`` (the content does not match its hash), or ``unkeyed`` (a plain chain where a key is set)."""


Indexer = Callable[[RunIndex | None, Sequence[StoredEvent]], RunIndex]


def keep_status(previous: RunIndex | None, events: Sequence[StoredEvent]) -> RunIndex:
    """The default indexer: agent-agnostic, it only remembers that the run exists."""
    return previous or RunIndex(status="active", title="")


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def chain_hash(
    prev_hash: str,
    run_id: str,
    seq: int,
    event_type: str,
    version: int,
    actor: str,
    at: datetime,
    payload_text: str,
    key: bytes | None = None,
) -> str:
    """The event's hash over the previous hash and every envelope field: editing any of them breaks the chain.

    SHA-256 without ``key``; HMAC-SHA256 with it, so that only a holder of the key can recompute
    a chain (an edited export with a recomputed plain chain no longer passes for the original).
    """
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
    ).encode("utf-8")
    if key is not None:
        return hmac.new(key, material, hashlib.sha256).hexdigest()
    return hashlib.sha256(material).hexdigest()


ChainHash = Callable[[str, str, int, str, int, str, datetime, str], str]
"""``chain_hash`` with its algorithm and key fixed: (prev_hash, run_id, seq, type, version, actor, at, payload)."""


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
        create: bool = True,
        log_key: str | None = None,
        max_payload_bytes: int = MAX_PAYLOAD_BYTES,
    ) -> None:
        """Open (and with ``create``, create) the store at ``url``; ``StoreError`` in one line says why not.

        ``create=False`` is for commands that only read: a missing SQLite file or a database
        without the event tables is an error, and nothing (no folder, no file) is created.
        ``log_key`` (``AGENT_LOG_KEY``) makes the chains of runs created from now on HMACs.
        """
        if log_key is not None and len(log_key) < MIN_LOG_KEY_CHARS:
            raise ConfigError(
                f"AGENT_LOG_KEY has {len(log_key)} characters; use at least {MIN_LOG_KEY_CHARS} "
                "(e.g. python -c 'import secrets; print(secrets.token_hex(32))')"
            )
        self._key = log_key.encode("utf-8") if log_key is not None else None
        self.url = url
        self.max_payload_bytes = max_payload_bytes
        self._clock = clock or SystemClock()
        self._redactor = redactor or Redactor()
        self._indexer = indexer
        try:
            parsed = make_url(url)
            self.dialect = parsed.get_backend_name()
            if self.dialect not in SUPPORTED_BACKENDS:
                raise StoreError(
                    f"unsupported database {self.dialect!r} in {masked_url(url)}; the event store runs on SQLite "
                    "(sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
                )
            self._sql = _Sql.for_dialect(self.dialect)
            self._bind_time: Callable[[datetime], Any] = _sqlite_time if self.dialect == "sqlite" else _utc
            self.sqlite_path: Path | None = None
            """The real file a SQLite store lives in (None on PostgreSQL and for an in-memory database)."""
            if self.dialect == "sqlite":
                self.sqlite_path = sqlite_file(url)
                self._check_sqlite_target(create)
                self._write, self._read = self._sqlite_engines(url, self.sqlite_path, sqlite_synchronous, create)
            else:
                # Sessions in UTC: timestamps come back with datetime.UTC, so reads need no conversion.
                # Options already in the URL (e.g. a search_path) are kept, not replaced.
                given = parsed.query.get("options", "")
                given = given if isinstance(given, str) else " ".join(given)
                options = f"{given} -c timezone=UTC".strip()
                engine = create_engine(url, pool_pre_ping=True, connect_args={"options": options})
                self._write = self._read = engine
            self._create_schema(create)
        except ConfigError as error:
            raise StoreError(f"cannot open the event store: {error}") from error
        except (ArgumentError, NoSuchModuleError, DBAPIError, OSError, ImportError) as error:
            raise StoreError(f"cannot open the event store at {masked_url(url)}: {_first_line(error)}") from error

    # --- setup ---------------------------------------------------------------------------

    def _check_sqlite_target(self, create: bool) -> None:
        if create:
            return
        if self.sqlite_path is None:
            raise StoreError(
                f"{masked_url(self.url)} is an in-memory SQLite database: it holds no runs; "
                "point --db or DATABASE_URL at the store's file"
            )
        if not self.sqlite_path.is_file():
            raise StoreError(
                f"no event store at {str(self.sqlite_path)!r} ({masked_url(self.url)}); check --db or DATABASE_URL "
                "(a command that writes, such as 'run' or 'import', creates it)"
            )

    @staticmethod
    def _sqlite_engines(url: str, path: Path | None, synchronous: str, create: bool) -> tuple[Engine, Engine]:
        if path is not None and create:
            path.parent.mkdir(parents=True, exist_ok=True)  # the real folder, never a "file:" look-alike

        def make(begin: str) -> Engine:
            engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

            @event.listens_for(engine, "connect")
            def on_connect(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")
                cursor.execute(f"PRAGMA synchronous={synchronous}")
                cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
                # The 2 MB default cannot hold one long run's pages (spread over the log): re-reads hit disk.
                cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
                cursor.close()

            @event.listens_for(engine, "begin")
            def on_begin(conn: Connection) -> None:
                conn.exec_driver_sql(begin)

            return engine

        # A deferred transaction that later writes fails at once with "database is locked";
        # BEGIN IMMEDIATE takes the write lock up front and waits on the busy timeout instead.
        return make("BEGIN IMMEDIATE"), make("BEGIN")

    def _create_schema(self, create: bool = True) -> None:
        with self._write.begin() as conn:
            if self.dialect == "sqlite":
                self._check_sqlite_file(conn)
            if self.dialect == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PG_APPEND_LOCK})
            if not create and not inspect(conn).has_table("events"):
                raise StoreError(
                    f"{masked_url(self.url)} holds no event store (no 'events' table); check --db or DATABASE_URL"
                )
            metadata.create_all(conn)
            present = {column["name"] for column in inspect(conn).get_columns("runs")}
            for name, ddl in _ADDED_RUN_COLUMNS:  # a store created before the column: every run it holds is local
                if name not in present:
                    conn.execute(text(f"ALTER TABLE runs ADD COLUMN {name} {ddl}"))
            for statement in SQLITE_TRIGGERS if self.dialect == "sqlite" else PG_TRIGGERS:
                conn.execute(text(statement))

    def _check_sqlite_file(self, conn: Connection) -> None:
        """The file SQLite opened is the one ``sqlite_file`` named: the guard and the start-up check rely on it."""
        opened = next((row[2] for row in conn.exec_driver_sql("PRAGMA database_list") if row[1] == "main"), "")
        actual = Path(os.path.realpath(opened)) if opened else None
        if actual != self.sqlite_path:
            raise StoreError(
                f"{masked_url(self.url)} opened {str(actual or 'an in-memory database')!r} where "
                f"{str(self.sqlite_path or 'an in-memory database')!r} was expected; write the URL as sqlite:///PATH"
            )

    def close(self) -> None:
        """Close the pooled connections (a later call opens new ones): call it when done with the store."""
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
        origin: str = LOCAL,
        chain: str | None = None,
    ) -> int:
        """Append ``events`` after seq ``expected_seq`` atomically; return the run's new last seq.

        Raises ``ConcurrencyError`` when the run is not at ``expected_seq`` (another writer got
        there first), ``ReadOnlyRun`` when the run was imported. ``times`` overrides the clock;
        ``origin`` and ``chain`` apply to the append that creates the run (import passes
        ``imported`` and the export's chain; by default a new run is local and keyed when the
        store has a key). A ``PayloadRejected`` names the run and the event type when an event is
        not storable JSON (``InvalidPayload``) or is larger than ``max_payload_bytes``
        (``PayloadTooLarge``); either way nothing of the batch is written, on every engine alike.
        """
        if origin not in (LOCAL, IMPORTED) or chain not in (None, *CHAINS):
            raise ValueError(f"origin {origin!r} / chain {chain!r}: use one of {(LOCAL, IMPORTED)} / {CHAINS}")
        if not events:
            return expected_seq
        _check_text(run_id, "", run_id, "the run id")  # before any statement: PostgreSQL refuses NUL even in a query
        # The hot path talks to the pooled DBAPI connection with fixed SQL: SQLAlchemy's
        # statement building and result wrapping cost more than the durable commit itself.
        dbapi = self._write.dialect.loaded_dbapi
        try:
            raw = self._write.raw_connection()
        except DBAPIError as error:
            raise StoreError(f"could not append to run {run_id!r}: {_first_line(error)}") from error
        try:
            try:
                new = _NewRun(origin, chain or (HMAC_SHA256 if self._key else SHA256))
                if hasattr(raw.driver_connection, "pipeline"):  # psycopg 3
                    last_seq = self._append_pipelined(raw.driver_connection, run_id, events, expected_seq, times, new)
                else:
                    last_seq = self._append_plain(raw.cursor(), run_id, events, expected_seq, times, new)
                raw.commit()
                return last_seq
            except BaseException:
                with suppress(dbapi.Error):
                    raw.rollback()
                raise
        except dbapi.IntegrityError as error:
            raise ConcurrencyError(run_id, expected_seq) from error
        except dbapi.Error as error:
            raise StoreError(
                f"could not append to run {run_id!r} in {masked_url(self.url)}: {_first_line(error)}"
            ) from error
        finally:
            raw.close()

    def _append_plain(
        self,
        cursor: Any,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        times: Sequence[datetime] | None,
        new: _NewRun,
    ) -> int:
        if self.dialect == "sqlite":
            # A deferred transaction that later writes fails at once with "database is locked";
            # BEGIN IMMEDIATE takes the write lock up front and waits on the busy timeout instead.
            cursor.execute("BEGIN IMMEDIATE")
        else:
            cursor.execute(self._sql.lock, (PG_APPEND_LOCK,))
        cursor.execute(self._sql.select_run, (run_id,))
        rows, run_sql, run_values, last_seq = self._prepare(cursor.fetchone(), run_id, events, expected_seq, times, new)
        self._write_rows(cursor, rows, run_sql, run_values)
        return last_seq

    def _append_pipelined(
        self,
        conn: Any,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        times: Sequence[datetime] | None,
        new: _NewRun,
    ) -> int:
        # Pipeline mode: lock + read go in one round trip (the read still runs after the lock is
        # granted, with its own snapshot), then the writes and the commit in a second one.
        with conn.pipeline():
            lock, read, write = conn.cursor(), conn.cursor(), conn.cursor()
            lock.execute(self._sql.lock, (PG_APPEND_LOCK,))
            read.execute(self._sql.select_run, (run_id,))
            rows, run_sql, run_values, last_seq = self._prepare(
                read.fetchone(), run_id, events, expected_seq, times, new
            )
            self._write_rows(write, rows, run_sql, run_values)
            conn.commit()
        return last_seq

    def _prepare(
        self,
        current: tuple[Any, ...] | None,
        run_id: str,
        events: Sequence[NewEvent],
        expected_seq: int,
        times: Sequence[datetime] | None,
        new: _NewRun,
    ) -> tuple[list[tuple[Any, ...]], str, tuple[Any, ...], int]:
        """Check the expected seq and the run's origin, then build the event rows and the runs row."""
        actual = current[0] if current else 0
        if actual != expected_seq:
            raise ConcurrencyError(run_id, expected_seq, actual)
        if current and current[6] == IMPORTED:
            raise ReadOnlyRun(run_id)
        chain = current[7] if current else new.chain
        digest_of = self.chain_function(chain, run_id)
        prev_hash = current[1] if current else GENESIS_HASH
        rows, stored = [], []
        for offset, new_event in enumerate(events):
            seq = expected_seq + offset + 1
            at = _utc(times[offset]) if times else self._clock.now()
            payload, payload_text = self._payload(run_id, new_event)
            kind, version, actor = new_event.type, new_event.schema_version, new_event.actor
            digest = digest_of(prev_hash, run_id, seq, kind, version, actor, at, payload_text)
            rows.append((run_id, seq, kind, version, actor, self._bind_time(at), payload_text, digest))
            stored.append(StoredEvent(0, run_id, seq, kind, version, actor, at, digest, payload))
            prev_hash = digest
        previous = RunIndex(current[2], current[3], current[4], json.loads(current[5])) if current else None
        index = self._indexer(previous, stored)
        _check_text(run_id, stored[-1].type, index.title, "the run's title")
        last = stored[-1]
        values = (
            index.status,
            index.title,
            index.parent_id,
            self._bind_time(last.at),
            last.seq,
            prev_hash,
            _dumps(index.summary),
            run_id,
        )
        if current:
            return rows, self._sql.update_run, values, last.seq
        return rows, self._sql.insert_run, (*values, self._bind_time(stored[0].at), new.origin, chain), last.seq

    def chain_function(self, chain: str, run_id: str = "") -> ChainHash:
        """The hash function of a ``chain`` with this store's key; ``ConfigError`` when it needs a key it lacks."""
        if chain == SHA256:
            return chain_hash
        if chain != HMAC_SHA256:
            raise StoreError(f"run {run_id!r} has an unknown hash chain {chain!r}; expected one of {CHAINS}")
        key = self._key
        if key is None:
            raise ConfigError(
                f"run {run_id!r} has a keyed hash chain (HMAC-SHA256); set AGENT_LOG_KEY to the key it was written "
                "with to verify or extend it"
            )

        def keyed(
            prev: str, run: str, seq: int, event_type: str, version: int, actor: str, at: datetime, payload: str
        ) -> str:
            return chain_hash(prev, run, seq, event_type, version, actor, at, payload, key)

        return keyed

    @property
    def keyed(self) -> bool:
        """True when the store has a log key: new runs get HMAC chains, unkeyed chains fail ``verify_chain``."""
        return self._key is not None

    def _payload(self, run_id: str, new: NewEvent) -> tuple[dict[str, Any], str]:
        """The redacted payload and its JSON text, or a ``PayloadRejected`` saying why it cannot be stored."""
        _check_text(run_id, new.type, new.type, "the event type")
        _check_text(run_id, new.type, new.actor, "the actor")
        raw = new.to_payload()
        if too_deep(raw):
            raise InvalidPayload(run_id, new.type, f"it nests objects or arrays more than {MAX_DEPTH} levels deep")
        try:
            payload = self._redactor.payload(raw)  # secrets out, their count in
            payload_text = _dumps(payload)
            size = len(payload_text.encode("utf-8"))
        except UnicodeEncodeError as error:
            raise InvalidPayload(run_id, new.type, describe_unencodable(error)) from error
        except (ValueError, TypeError, RecursionError) as error:
            raise InvalidPayload(run_id, new.type, f"it is not strict JSON ({_first_line(error)})") from error
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(run_id, new.type, size, self.max_payload_bytes)
        return payload, payload_text

    def _write_rows(self, cursor: Any, rows: list[tuple[Any, ...]], run_sql: str, run_values: tuple[Any, ...]) -> None:
        if len(rows) == 1:
            cursor.execute(self._sql.insert_event, rows[0])
        else:
            cursor.executemany(self._sql.insert_event, rows)
        cursor.execute(run_sql, run_values)

    # --- reading -------------------------------------------------------------------------

    def read_run(self, run_id: str, after_seq: int = 0) -> list[StoredEvent]:
        """The run's events after ``after_seq``, in seq order (empty if the run does not exist)."""
        return self._fetch(self._sql.read_run, (run_id, after_seq))

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events of every run after a global position, in position order: the live feed."""
        return self._fetch(self._sql.read_all, (after_position, limit))

    def last_position(self) -> int:
        """The highest global position written so far (0 for an empty store): where a live feed starts."""
        with self._read.connect() as conn:
            return conn.execute(select(func.max(events_table.c.position))).scalar() or 0

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[StoredEvent]:
        # Plain DBAPI tuples: reading a 1,000-event run through Core rows cost twice as much.
        dbapi = self._read.dialect.loaded_dbapi
        try:
            raw = self._read.raw_connection()
            try:
                cursor = raw.cursor()
                cursor.execute(sql, params)
                rows = cursor.fetchall()
            finally:
                raw.close()
        except (DBAPIError, dbapi.Error) as error:
            raise StoreError(f"could not read {masked_url(self.url)}: {_first_line(error)}") from error
        to_utc = _parse_sqlite_time if self.dialect == "sqlite" else _pg_time
        return [_decode_row(row, to_utc) for row in rows]

    def get_run(self, run_id: str) -> RunRow | None:
        """The run's index row, or None when no event of that run exists."""
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
        oldest_first: bool = False,
    ) -> list[RunRow]:
        """Runs newest first (or oldest first), filtered, one page at a time; served from the runs index alone."""
        order = (runs_table.c.started_at, runs_table.c.run_id)
        query = select(runs_table).order_by(*(order if oldest_first else (c.desc() for c in order)))
        query = _filter_runs(
            query, status, text_in_title, parent_id, originals_only, replays_only, started_after, started_before
        )
        return self._runs(query.limit(limit).offset(offset))

    def count_runs(
        self,
        *,
        status: Sequence[str] | None = None,
        text_in_title: str | None = None,
        parent_id: str | None = None,
        originals_only: bool = False,
        replays_only: bool = False,
        started_after: datetime | None = None,
        started_before: datetime | None = None,
    ) -> int:
        """How many runs ``list_runs`` would page through with the same filters."""
        query = select(func.count()).select_from(runs_table)
        query = _filter_runs(
            query, status, text_in_title, parent_id, originals_only, replays_only, started_after, started_before
        )
        with self._read.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def run_ids_starting_with(self, prefix: str, limit: int = 2) -> list[str]:
        """Run ids that start with ``prefix`` (ids are shown shortened; the primary key serves the range)."""
        escaped = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = select(runs_table.c.run_id).where(runs_table.c.run_id.like(f"{escaped}%", escape="\\")).limit(limit)
        with self._read.connect() as conn:
            return [row.run_id for row in conn.execute(query)]

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
                        r.origin,
                        r.chain,
                    )
                    for r in conn.execute(query)
                ]
        except DBAPIError as error:
            raise StoreError(f"could not read {masked_url(self.url)}: {_first_line(error)}") from error

    # --- integrity -----------------------------------------------------------------------

    def verify_chain(self, run_id: str | None = None) -> ChainProblem | None:
        """Recompute every hash (of one run, or all runs); return the first event that does not match.

        Each run is checked with its own chain's algorithm. With a log key, a run whose chain is
        plain SHA-256 is a problem too: the key cannot vouch for it (it was written before the key
        was set, or edited by someone without it). Without the key, a keyed chain cannot be
        checked at all: ``ConfigError``.
        """
        chains = select(runs_table.c.run_id, runs_table.c.chain)
        query = select(events_table).order_by(events_table.c.run_id, events_table.c.seq)
        if run_id is not None:
            query = query.where(events_table.c.run_id == run_id)
            chains = chains.where(runs_table.c.run_id == run_id)
        with self._read.connect() as conn:
            chain_of = {row.run_id: row.chain for row in conn.execute(chains)}
            for problem in _chain_problems(conn.execute(query.execution_options(yield_per=2000)), chain_of, self):
                return problem
        return None


def _check_text(run_id: str, event_type: str, value: str, what: str) -> None:
    """A text column must encode to UTF-8 and hold no NUL (PostgreSQL refuses it, SQLite would keep it)."""
    where = first_surrogate(value)
    if where is not None:
        problem = f"{what} holds an unpaired surrogate U+{ord(value[where]):04X} (text that is not valid UTF-8)"
        raise InvalidPayload(run_id, event_type or "an event", problem)
    if "\x00" in value:
        raise InvalidPayload(
            run_id, event_type or "an event", f"{what} holds a NUL character, which no engine stores alike"
        )


def _chain_problems(rows: Any, chain_of: dict[str, str], store: EventStore) -> Iterator[ChainProblem]:
    current_run, prev_hash, expected_seq = None, GENESIS_HASH, 1
    digest_of: ChainHash = chain_hash
    for row in rows:
        if row.run_id != current_run:
            current_run, prev_hash, expected_seq = row.run_id, GENESIS_HASH, 1
            chain = chain_of.get(row.run_id, SHA256)
            if store.keyed and chain == SHA256:
                yield ChainProblem(
                    row.run_id,
                    row.seq,
                    row.position,
                    "the chain is plain SHA-256, so AGENT_LOG_KEY cannot vouch for it (written before the key "
                    "was set, or edited by someone without the key); verify-log without AGENT_LOG_KEY checks "
                    "its integrity alone",
                    kind="unkeyed",
                )
                return
            digest_of = store.chain_function(chain, row.run_id)
        if row.seq != expected_seq:
            yield ChainProblem(row.run_id, row.seq, row.position, f"seq {row.seq} where {expected_seq} was expected")
            return
        digest = digest_of(prev_hash, row.run_id, row.seq, row.type, row.version, row.actor, row.at, row.payload)
        if digest != row.hash:
            yield ChainProblem(row.run_id, row.seq, row.position, "hash does not match the event's content")
            return
        prev_hash, expected_seq = row.hash, expected_seq + 1


_Query = TypeVar("_Query", bound="Select[Any]")


def _filter_runs(
    query: _Query,
    status: Sequence[str] | None,
    text_in_title: str | None,
    parent_id: str | None,
    originals_only: bool,
    replays_only: bool,
    started_after: datetime | None,
    started_before: datetime | None,
) -> _Query:
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


def _decode_row(row: tuple[Any, ...], to_utc: Callable[[Any], datetime]) -> StoredEvent:
    position, run_id, seq, event_type, version, actor, at, payload_text, digest = row
    try:
        payload = _loads(payload_text)
        if not isinstance(payload, dict):
            raise ValueError("payload is not a JSON object")
        problem = ""
    except (ValueError, RecursionError) as error:
        payload, problem = {}, f"event at position {position} has an undecodable payload: {error}"
        log.warning("%s (run %r, seq %d)", problem, run_id, seq)
    return StoredEvent(position, run_id, seq, event_type, version, actor, to_utc(at), digest, payload, problem)


_DECODER = json.JSONDecoder()


def _loads(text: str) -> Any:
    """``json.loads`` for the compact text the store writes, minus its whitespace handling (reads
    are dominated by payload decoding); anything else takes the standard path and its errors."""
    try:
        value, end = _DECODER.raw_decode(text)
        if end == len(text):
            return value
    except ValueError:
        pass
    return json.loads(text)


def _parse_sqlite_time(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value + "+00:00")  # a third of the cost of parse-then-replace
    except ValueError:
        return _utc(datetime.fromisoformat(value))


def _pg_time(value: datetime) -> datetime:
    return value if value.tzinfo is UTC else _utc(value)


def _sqlite_time(value: datetime) -> str:
    """The text SQLAlchemy's SQLite ``DateTime`` writes (UTC, microseconds), so both paths agree."""
    return _utc(value).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


@dataclass(frozen=True, slots=True)
class _NewRun:
    """What the append that creates a run records about it (ignored by later appends)."""

    origin: str
    chain: str


@dataclass(frozen=True, slots=True)
class _Sql:
    """The hot-path statements, written once per dialect in its DBAPI's parameter style."""

    lock: str
    select_run: str
    insert_event: str
    update_run: str
    insert_run: str
    read_run: str
    read_all: str

    @classmethod
    def for_dialect(cls, dialect: str) -> _Sql:
        mark = "?" if dialect == "sqlite" else "%s"
        columns = "position, run_id, seq, type, version, actor, at, payload, hash"
        statements = cls(
            lock="SELECT pg_advisory_xact_lock(CAST(? AS BIGINT))",
            select_run="SELECT last_seq, last_hash, status, title, parent_id, summary, origin, chain "
            "FROM runs WHERE run_id = ?",
            insert_event="INSERT INTO events (run_id, seq, type, version, actor, at, payload, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            update_run="UPDATE runs SET status = ?, title = ?, parent_id = ?, updated_at = ?, last_seq = ?, "
            "last_hash = ?, summary = ? WHERE run_id = ?",
            insert_run="INSERT INTO runs (status, title, parent_id, updated_at, last_seq, last_hash, summary, run_id, "
            "started_at, origin, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            read_run=f"SELECT {columns} FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
            read_all=f"SELECT {columns} FROM events WHERE position > ? ORDER BY position LIMIT ?",
        )
        return cls(*(getattr(statements, f).replace("?", mark) for f in cls.__slots__))


def _first_line(error: BaseException) -> str:
    message = str(getattr(error, "orig", None) or error).strip()
    return message.splitlines()[0] if message else type(error).__name__


__all__ = [
    "CHAINS",
    "HMAC_SHA256",
    "IMPORTED",
    "LOCAL",
    "MAX_PAYLOAD_BYTES",
    "SHA256",
    "ChainHash",
    "ChainProblem",
    "EventStore",
    "NewEvent",
    "RunIndex",
    "RunRow",
    "StoredEvent",
    "chain_hash",
]
