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
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    Select,
    String,
    Table,
    Text,
    UniqueConstraint,
    create_engine,
    event,
    func,
    inspect,
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, DisconnectionError, NoSuchModuleError

from agent_core.clock import Clock, SystemClock
from agent_core.config import MIN_LOG_KEY_CHARS, masked_url, sqlite_file
from agent_core.connections import Connections
from agent_core.errors import ConcurrencyError, ConfigError, InvalidPayload, PayloadTooLarge, ReadOnlyRun, StoreError
from agent_core.evolve import evolve
from agent_core.jsontext import MAX_DEPTH, TooDeep, canonical_json, describe_unencodable, first_surrogate
from agent_core.redaction import Redactor

log = logging.getLogger(__name__)

metadata = MetaData()


def _partial_index(name: str, *columns: Any, where: Any) -> Index:
    """An index of only the rows ``where`` holds for, on SQLite and PostgreSQL alike."""
    return Index(name, *columns, sqlite_where=where, postgresql_where=where)


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
    # Only runs with a parent (replays, forks) are in it: a root run's start writes no page of it.
    _partial_index("ix_runs_lineage", "parent_id", where=text("parent_id IS NOT NULL")),
)

decisions_table = Table(
    "decisions",
    metadata,
    Column("run_id", String(64), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("step_id", Text, nullable=False),
    Column("tool", Text, nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("rule", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("decided_by", Text, nullable=False),
    Column("objective", Text, nullable=False),
    Column("input", Text, nullable=False),
    Column("replay_of", String(64)),
    PrimaryKeyConstraint("run_id", "step_id", "seq"),  # a step's latest decision: the pending query's probe
    Index("ix_decisions_at", "at"),  # the decisions table and the overview, newest first
    sqlite_with_rowid=False,  # on SQLite the table is its primary key's B-tree: two fewer pages per decision
)
"""One row per decision event, written by the indexer in the append's transaction (see ``DecisionRow``)."""

APPROVED = "approved"
"""The outcome word of a guard's approval (``events.ToolApproved.DECIDES``), most decisions."""
UNUSUAL_DECISION = decisions_table.c.outcome != literal_column(f"'{APPROVED}'")
"""Any decision but a guard's approval: the rare ones (refusals, holds, a person's answers).

The condition of ``ix_decisions_unusual``. SQLite reads a partial index only for a query whose WHERE
holds the index's own term (it does not infer it from ``outcome = 'held'``), so the queries over
those decisions add it; the literal, not a bound parameter, is what lets the terms match."""
_partial_index("ix_decisions_unusual", decisions_table.c.outcome, decisions_table.c.at, where=UNUSUAL_DECISION)
"""The approval queue (held decisions oldest first, a page at a time) and the decisions table filtered by
outcome; a guard's approval, most decisions, writes no page of it."""

RETIRED_INDEXES = ("ix_runs_parent", "ix_decisions_outcome_at")
"""Indexes earlier versions created, dropped at open: each wrote a page for every run or decision, while its
read path needs only a few rows (``ix_runs_lineage`` and ``ix_decisions_unusual`` replace them)."""

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
SQLITE_PAGE_BYTES = 2048
"""The page size of a SQLite store this version creates (an older file keeps its own, usually 4096).

Every commit writes each page it touched to the log whole: an append touches about six (the events
table and its (run_id, seq) index, the runs row, a decision and its index) and fills few of them, so
half-size pages nearly halve the bytes a run writes (the peer bench's run: 178 -> 111 KiB of write
calls; bench/run_bench.py: 193 -> 112 KiB of log). Reads did not move
(bench/store_bench.py: a 1,000-event run, the newest 50 runs, of a 1,000,000-event store); smaller
still (1024) pushes decision rows past the in-page limit of a WITHOUT ROWID table into overflow pages."""
SQLITE_CACHE_KIB = 32 * 1024  # per connection, allocated only as pages are read
PG_APPEND_LOCK = 727274
"""PostgreSQL: a session advisory lock held only while an append takes its transaction id and its
positions (never across the commit), so appends to different runs commit concurrently while
transaction ids and positions still rise together; the schema set-up takes it too."""
FEED_SETTLE_S = 2.0  # how long read_all waits for committed rows behind a write in flight (PostgreSQL)
FEED_SETTLE_POLL_S = 0.01
PG_TXID_COLUMN = (
    # The writing transaction of each event (xid8), for the live feed's visibility rule (see _Sql.read_all).
    # Rows written before the column existed get 0: older than any transaction still in flight.
    "ALTER TABLE events ADD COLUMN IF NOT EXISTS txid xid8 NOT NULL DEFAULT '0'::xid8",
    "ALTER TABLE events ALTER COLUMN txid SET DEFAULT pg_current_xact_id()",
)
PG_PING_AFTER_IDLE_S = 1.0
"""A pooled PostgreSQL connection idle longer than this is pinged before use (a server restart or an
idle timeout may have closed it); one back from a statement within that time is used as is."""
MAX_REMEMBERED_RUNS = 4096  # runs whose head a store remembers from its own appends (then it forgets them all)

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


InTransaction = Callable[[Any, str], None]
"""Work done inside an append's transaction: called with the DBAPI connection and the run id."""

_NEXT_APPEND_ALSO: ContextVar[list[InTransaction] | None] = ContextVar("next_append_also", default=None)


@contextmanager
def also_in_next_append(work: InTransaction) -> Iterator[None]:
    """Within the block, the next successful append of this thread (or task) also runs ``work`` in its
    transaction: both commit or neither. The queue enqueues "advance run R" with the event that
    makes R runnable this way, without the orchestrator knowing about queues."""
    token = _NEXT_APPEND_ALSO.set([work])
    try:
        yield
    finally:
        _NEXT_APPEND_ALSO.reset(token)


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
class EncodedEvent:
    """An event ``EventStore.encode`` already checked, redacted and encoded, with the time it happened.

    A ``NewEvent`` to ``append``, which writes it as it is: its time is when it was encoded (an
    observation held for the run's next append keeps the time it was captured), and its payload is
    not redacted or encoded a second time.
    """

    type: str
    schema_version: int
    actor: str
    at: datetime
    payload: dict[str, Any]
    text: str

    def to_payload(self) -> dict[str, Any]:
        """The redacted payload, as the store writes it."""
        return self.payload


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
class DecisionRow:
    """One decision on a step as the indexer reports it for an appended event; the store inserts it
    into ``decisions`` in the same transaction, so the queue and the charts never scan events."""

    seq: int
    at: datetime
    step_id: str
    tool: str
    outcome: str
    rule: str
    reason: str
    decided_by: str
    objective: str = ""
    input: dict[str, Any] = field(default_factory=dict)
    replay_of: str | None = None


@dataclass(frozen=True, slots=True)
class RunIndex:
    """The searchable part of a run, maintained by the indexer on every append.

    ``decisions`` are the decision rows of the events just appended (not the run's earlier ones).
    """

    status: str
    title: str
    parent_id: str | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    decisions: tuple[DecisionRow, ...] = ()
    state: Any = field(default=None, compare=False)
    """Never stored: what the indexer folded, handed between the appender and the indexer.

    Given to ``append_indexed`` (the caller's own fold of the run up to ``expected_seq``, or up to a few of
    the appended events it folded already: ``projections.already_folded``), it
    reaches the indexer in ``previous``; the indexer's result comes back from ``append_indexed``,
    so a caller that folds the run need not read back and fold again what it just appended."""


@dataclass(frozen=True, slots=True)
class Appended:
    """What ``append_indexed`` wrote: the run's new last seq and the runs row the indexer made."""

    last_seq: int
    index: RunIndex


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
        self.feed_settle_s = FEED_SETTLE_S
        """PostgreSQL: how long ``read_all`` waits for rows committed behind a write still in flight."""
        self._clock = clock or SystemClock()
        self._redactor = redactor or Redactor()
        self._indexer = indexer
        self._heads: dict[str, _RunHead] = {}
        """The runs row as this store's last append to each run left it (see ``_RunHead``)."""
        try:
            parsed = make_url(url)
            self.dialect = parsed.get_backend_name()
            if self.dialect not in SUPPORTED_BACKENDS:
                raise StoreError(
                    f"unsupported database {self.dialect!r} in {masked_url(url)}; the event store runs on SQLite "
                    "(sqlite:///PATH) or PostgreSQL (postgresql+psycopg://USER@HOST/DB)"
                )
            self._sql = _Sql.for_dialect(self.dialect)
            self._pg = _PgPrepared.of(self._sql)  # used on PostgreSQL only
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
                engine = create_engine(url, connect_args={"options": options})
                _ping_after_idle(engine)
                self._write = self._read = engine
            self._writes, self._reads = Connections(self._write), Connections(self._read)
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
                cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_BYTES}")  # takes effect only in a new, empty file
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
            backfill = inspect(conn).has_table("runs") and not inspect(conn).has_table("decisions")
            metadata.create_all(conn)
            if backfill:  # a store from before the decisions index: fill it once from the logs
                self._backfill_decisions(conn)
            present = {column["name"] for column in inspect(conn).get_columns("runs")}
            for name, ddl in _ADDED_RUN_COLUMNS:  # a store created before the column: every run it holds is local
                if name not in present:
                    conn.execute(text(f"ALTER TABLE runs ADD COLUMN {name} {ddl}"))
            self._update_indexes(conn)
            for statement in SQLITE_TRIGGERS if self.dialect == "sqlite" else PG_TXID_COLUMN + PG_TRIGGERS:
                conn.execute(text(statement))

    @staticmethod
    def _update_indexes(conn: Connection) -> None:
        """A store created by an earlier version trades its retired indexes for today's (only when they differ:
        an up-to-date store's open takes no table lock)."""
        inspector = inspect(conn)
        for table in (runs_table, decisions_table):
            present = {str(index["name"]) for index in inspector.get_indexes(table.name)}
            for name in sorted(present & set(RETIRED_INDEXES)):
                conn.execute(text(f"DROP INDEX {name}"))
            for index in table.indexes:
                if index.name not in present:
                    index.create(conn)

    def _backfill_decisions(self, conn: Connection) -> None:
        """Index every run's decisions from its log (the indexer over the whole run), in the schema's transaction."""
        query = select(events_table).order_by(events_table.c.run_id, events_table.c.seq)
        batch: list[StoredEvent] = []

        def flush() -> None:
            if batch:
                rows = self._decision_rows(batch[0].run_id, self._indexer(None, batch).decisions)
                if rows:
                    conn.exec_driver_sql(self._sql.insert_decision, rows)
            batch.clear()

        for row in conn.execute(query.execution_options(yield_per=2000)):
            stored = _decode_row(tuple(row), _utc)  # Core hands back datetimes on both engines
            if batch and batch[0].run_id != stored.run_id:
                flush()
            batch.append(stored)
        flush()

    def _decision_rows(self, run_id: str, decisions: Sequence[DecisionRow]) -> list[tuple[Any, ...]]:
        """The ``decisions`` rows in column order (a NUL, which PostgreSQL refuses in text, made visible)."""
        return [
            (
                run_id,
                d.seq,
                self._bind_time(d.at),
                *(_text_cell(v) for v in (d.step_id, d.tool, d.outcome, d.rule, d.reason, d.decided_by, d.objective)),
                canonical_json(d.input),
                d.replay_of,
            )
            for d in decisions
        ]

    def query_index(self, query: Any) -> list[Any]:
        """Rows of a read-only Core query over the indexes (``runs``, ``decisions``); ``StoreError`` if unreadable."""
        try:
            with self._read.connect() as conn:
                return list(conn.execute(query))
        except DBAPIError as error:
            raise StoreError(f"could not read {masked_url(self.url)}: {_first_line(error)}") from error

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
        self._writes.close()
        self._reads.close()
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

        See ``append_indexed`` for the errors and the options.
        """
        return self.append_indexed(run_id, events, expected_seq, times=times, origin=origin, chain=chain).last_seq

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
        """Append ``events`` after seq ``expected_seq`` atomically; return the new last seq and runs row.

        Raises ``ConcurrencyError`` when the run is not at ``expected_seq`` (another writer got
        there first), ``ReadOnlyRun`` when the run was imported. ``times`` overrides the clock;
        ``origin`` and ``chain`` apply to the append that creates the run (import passes
        ``imported`` and the export's chain; by default a new run is local and keyed when the
        store has a key). A ``PayloadRejected`` names the run and the event type when an event is
        not storable JSON (``InvalidPayload``) or is larger than ``max_payload_bytes``
        (``PayloadTooLarge``); either way nothing of the batch is written, on every engine alike.
        ``state`` (opaque to the store) reaches the indexer as ``previous.state``: the caller's fold
        of the run at ``expected_seq`` (or a few events into the batch), which the optimistic lock guarantees
        is the run's latest.
        Inside ``also_in_next_append`` the append also runs that work in its transaction.
        """
        if origin not in (LOCAL, IMPORTED) or chain not in (None, *CHAINS):
            raise ValueError(f"origin {origin!r} / chain {chain!r}: use one of {(LOCAL, IMPORTED)} / {CHAINS}")
        if not events:
            return Appended(expected_seq, RunIndex(status="", title="", state=state))
        _check_text(run_id, "", run_id, "the run id")  # before any statement: PostgreSQL refuses NUL even in a query
        # The hot path talks to a DBAPI connection (``Connections``) with fixed SQL: SQLAlchemy's
        # statement building and result wrapping cost more than the durable commit itself.
        dbapi = self._write.dialect.loaded_dbapi
        try:
            batch = _Batch(
                run_id, events, expected_seq, times, origin, chain or (HMAC_SHA256 if self._key else SHA256), state
            )
            with self._writes.connection() as raw:
                return self._append_with(raw, batch)
        except DBAPIError as error:  # the pool could not give a connection
            raise StoreError(f"could not append to run {run_id!r}: {_first_line(error)}") from error
        except dbapi.IntegrityError as error:
            raise ConcurrencyError(run_id, expected_seq) from error
        except dbapi.Error as error:
            raise StoreError(
                f"could not append to run {run_id!r} in {masked_url(self.url)}: {_first_line(error)}"
            ) from error

    def _append_with(self, raw: Any, batch: _Batch) -> Appended:
        """``append_indexed`` on the connection ``raw``: the transaction, then the remembered head."""
        dbapi = self._write.dialect.loaded_dbapi
        pending = _NEXT_APPEND_ALSO.get()
        then = pending[0] if pending else None
        run_id = batch.run_id
        head = self._heads.pop(run_id, None)  # put back only after a commit
        if head is not None and head.last_seq != batch.expected_seq:
            head = None
        try:
            if then is None and hasattr(raw.driver_connection, "pipeline"):  # psycopg 3
                appended, head = self._append_one_trip(raw, batch, head)
            else:
                appended, head = self._append_plain(raw.cursor(), batch, head, then)
            raw.commit()
            if pending:
                pending.clear()  # done once, with this append
            if len(self._heads) >= MAX_REMEMBERED_RUNS:
                self._heads.clear()
            self._heads[run_id] = head
            return appended
        except BaseException as error:
            if isinstance(error, dbapi.Error) and self._write.dialect.is_disconnect(error, raw.dbapi_connection, None):
                raw.invalidate()  # the server closed it: the pool opens a new one (no rollback on a dead socket)
                raise
            with suppress(dbapi.Error):
                raw.rollback()
                if self.dialect == "postgresql":  # a failed write may have left the position lock held
                    raw.cursor().execute(self._sql.unlock, (PG_APPEND_LOCK,))
                    raw.commit()
            raise

    def _append_plain(
        self, cursor: Any, batch: _Batch, head: _RunHead | None, then: InTransaction | None = None
    ) -> tuple[Appended, _RunHead]:
        if self.dialect == "sqlite":
            # A deferred transaction that later writes fails at once with "database is locked";
            # BEGIN IMMEDIATE takes the write lock up front and waits on the busy timeout instead.
            cursor.execute("BEGIN IMMEDIATE")
        if head is None:
            cursor.execute(self._sql.select_run, (batch.run_id,))
            head = _RunHead.of_row(cursor.fetchone())
        rows, run_sql, run_values, decisions, appended = self._prepare(head, batch)
        self._write_rows(cursor, rows, run_sql, run_values, decisions)
        if then is not None:
            then(cursor.connection, batch.run_id)
        return appended

    def _append_one_trip(self, raw: Any, batch: _Batch, head: _RunHead | None) -> tuple[Appended, _RunHead]:
        """PostgreSQL: the whole transaction as one simple query of prepared statements, its values bound
        on the client: ``BEGIN``, ``_statements`` one row at a time, ``COMMIT``. One round trip and one
        execute with a known head (two without: the run's row is read first).

        Was psycopg's pipeline mode (the same statements, one round trip): its per-statement machinery cost
        the client ~0.09 ms of CPU per append, a fifth of the append (bench/README, pg_append_bench).
        """
        from psycopg import ClientCursor  # the driver of every postgresql URL here (config's normal form)

        conn = raw.driver_connection
        conn.autocommit = True  # the transaction is the query's own BEGIN ... COMMIT
        try:
            self._pg.ensure_prepared(conn, raw.info)
            if head is None:
                with conn.cursor() as read:
                    read.execute(self._sql.select_run, (batch.run_id,))
                    head = _RunHead.of_row(read.fetchone())
            rows, run_sql, run_values, decisions, appended = self._prepare(head, batch)
            statements = [
                (text, row) for text, values in self._statements(rows, run_sql, run_values, decisions) for row in values
            ]
            sql = "; ".join(["BEGIN", *(self._pg.execute[text] for text, _ in statements), "COMMIT"])
            with ClientCursor(conn) as cursor:
                cursor.execute(sql, tuple(value for _, row in statements for value in row))
        except BaseException:
            raw.info.pop(_PgPrepared.KEY, None)  # look again next time: the session may have lost them
            with suppress(Exception):
                conn.execute("ROLLBACK")  # a failed statement leaves the query's transaction open, aborted
            raise
        finally:
            try:
                conn.autocommit = False
            except Exception:  # still in a transaction (the ROLLBACK failed): never back to the pool like this
                conn.close()  # the pool's reset fails on a closed connection and discards it
        return appended

    def _prepare(
        self, current: _RunHead, batch: _Batch
    ) -> tuple[list[tuple[Any, ...]], str, tuple[Any, ...], list[tuple[Any, ...]], tuple[Appended, _RunHead]]:
        """Check the expected seq and the run's origin, then build the event rows, runs row and decision rows."""
        run_id, events, expected_seq, times = batch.run_id, batch.events, batch.expected_seq, batch.times
        if current.last_seq != expected_seq:
            raise ConcurrencyError(run_id, expected_seq, current.last_seq)
        if current.origin == IMPORTED:
            raise ReadOnlyRun(run_id)
        exists = current.index is not None
        chain = current.chain if exists else batch.chain
        digest_of = self.chain_function(chain, run_id)
        prev_hash = current.last_hash
        rows, stored = [], []
        for offset, new_event in enumerate(events):
            seq = expected_seq + offset + 1
            at, payload, payload_text = self._encoded(run_id, new_event, times[offset] if times else None)
            kind, version, actor = new_event.type, new_event.schema_version, new_event.actor
            digest = digest_of(prev_hash, run_id, seq, kind, version, actor, at, payload_text)
            rows.append((run_id, seq, kind, version, actor, self._bind_time(at), payload_text, digest))
            stored.append(StoredEvent(0, run_id, seq, kind, version, actor, at, digest, payload))
            prev_hash = digest
        before = current.index
        index = self._indexer(None if before is None else evolve(before, state=batch.state), stored)
        _check_text(run_id, stored[-1].type, index.title, "the run's title")
        last = stored[-1]
        origin = current.origin if exists else batch.origin
        done = Appended(last.seq, index), _RunHead(last.seq, prev_hash, origin, chain, evolve(index, state=None))
        decisions = self._decision_rows(run_id, index.decisions)
        written = (self._bind_time(last.at), last.seq, prev_hash, canonical_json(index.summary))
        if before is None:
            row = (index.status, index.title, index.parent_id, *written, run_id, self._bind_time(stored[0].at))
            return rows, self._sql.insert_run, (*row, batch.origin, chain), decisions, done
        # Set only the indexed columns that changed: SQLite rewrites an index entry for every column
        # in SET, changed or not, and each rewritten entry is another page in the commit.
        if (index.title, index.parent_id) != (before.title, before.parent_id):
            values = (index.status, index.title, index.parent_id, *written, run_id)
            return rows, self._sql.update_run, values, decisions, done
        if index.status != before.status:
            return rows, self._sql.update_run_status, (index.status, *written, run_id), decisions, done
        return rows, self._sql.update_run_progress, (*written, run_id), decisions, done

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

    def encode(self, run_id: str, new: NewEvent) -> EncodedEvent:
        """``new`` checked, redacted and encoded now, to append later as it is; ``PayloadRejected`` as ``append``."""
        payload, text = self._payload(run_id, new)
        return EncodedEvent(new.type, new.schema_version, new.actor, self._clock.now(), payload, text)

    def _encoded(self, run_id: str, new: NewEvent, at: datetime | None) -> tuple[datetime, dict[str, Any], str]:
        """The time, redacted payload and JSON text ``new`` is written with (an ``EncodedEvent``'s own)."""
        if isinstance(new, EncodedEvent):
            return new.at, new.payload, new.text
        payload, text = self._payload(run_id, new)
        return (_utc(at) if at is not None else self._clock.now()), payload, text

    def _payload(self, run_id: str, new: NewEvent) -> tuple[dict[str, Any], str]:
        """The redacted payload and its JSON text, or a ``PayloadRejected`` saying why it cannot be stored."""
        _check_text(run_id, new.type, new.type, "the event type")
        _check_text(run_id, new.type, new.actor, "the actor")
        try:
            # secrets out, their count in, depth checked, and the text written, in one walk
            payload, payload_text = self._redactor.payload_and_text(new.to_payload(), MAX_DEPTH)
            size = len(payload_text) if payload_text.isascii() else len(payload_text.encode("utf-8"))
        except TooDeep as error:
            raise InvalidPayload(run_id, new.type, str(error)) from error
        except UnicodeEncodeError as error:
            raise InvalidPayload(run_id, new.type, describe_unencodable(error)) from error
        except (ValueError, TypeError, RecursionError) as error:
            raise InvalidPayload(run_id, new.type, f"it is not strict JSON ({_first_line(error)})") from error
        if size > self.max_payload_bytes:
            raise PayloadTooLarge(run_id, new.type, size, self.max_payload_bytes)
        return payload, payload_text

    def _statements(
        self, rows: list[tuple[Any, ...]], run_sql: str, run_values: tuple[Any, ...], decisions: list[tuple[Any, ...]]
    ) -> list[tuple[str, list[tuple[Any, ...]]]]:
        """What an append writes, in order, each statement with its rows of values: the event rows, then
        the indexes (runs row, decisions).

        On PostgreSQL the event rows go inside ``PG_APPEND_LOCK``: their insert is the transaction's
        first write, so its id (``txid``) and the positions are taken together; the lock is released
        before the indexes and the commit, which wait for no other run.
        """
        events = [(self._sql.insert_event, rows)]
        if self.dialect == "postgresql":
            lock = [(PG_APPEND_LOCK,)]
            events = [(self._sql.lock, lock), *events, (self._sql.unlock, lock)]
        indexes = [(run_sql, [run_values])] + ([(self._sql.insert_decision, decisions)] if decisions else [])
        return events + indexes

    def _write_rows(
        self,
        cursor: Any,
        rows: list[tuple[Any, ...]],
        run_sql: str,
        run_values: tuple[Any, ...],
        decisions: list[tuple[Any, ...]],
    ) -> None:
        """``_statements`` through a DBAPI cursor, a statement's several rows in one ``executemany``."""
        for sql, values in self._statements(rows, run_sql, run_values, decisions):
            if len(values) == 1:
                cursor.execute(sql, values[0])
            else:
                cursor.executemany(sql, values)

    # --- reading -------------------------------------------------------------------------

    def read_run(self, run_id: str, after_seq: int = 0) -> list[StoredEvent]:
        """The run's events after ``after_seq``, in seq order (empty if the run does not exist)."""
        return self._fetch(self._sql.read_run, (run_id, after_seq))

    def read_all(self, after_position: int = 0, limit: int = 1000) -> list[StoredEvent]:
        """Events of every run after a global position, in position order: the live feed.

        On PostgreSQL it shows only settled rows (see ``_Sql``); when committed rows wait behind a
        write still in flight, it waits for them up to ``feed_settle_s``, then returns what is
        settled (the rest comes with a later call, never skipped).
        """
        if self.dialect != "postgresql":
            return self._fetch(self._sql.read_all, (after_position, limit))
        deadline = time.monotonic() + self.feed_settle_s
        while True:
            rows = self._raw_rows(self._sql.read_all, (after_position, limit))
            settled = [row[:-1] for row in rows if row[-1]]
            if len(settled) == len(rows) or time.monotonic() >= deadline:
                return [_decode_row(row, _pg_time) for row in settled]
            time.sleep(FEED_SETTLE_POLL_S)

    def last_position(self) -> int:
        """The highest global position written so far (0 for an empty store): where a live feed starts."""
        rows = self._raw_rows(self._sql.last_position, ())
        return int(rows[0][0] or 0) if rows else 0

    def _fetch(self, sql: str, params: tuple[Any, ...]) -> list[StoredEvent]:
        rows = self._raw_rows(sql, params)
        to_utc = _parse_sqlite_time if self.dialect == "sqlite" else _pg_time
        return [_decode_row(row, to_utc) for row in rows]

    def _raw_rows(self, sql: str, params: tuple[Any, ...]) -> list[Any]:
        # Plain DBAPI tuples: reading a 1,000-event run through Core rows cost twice as much.
        dbapi = self._read.dialect.loaded_dbapi
        try:
            with self._reads.connection() as raw:
                cursor = raw.cursor()
                cursor.execute(sql, params)
                return list(cursor.fetchall())
        except (DBAPIError, dbapi.Error) as error:
            raise StoreError(f"could not read {masked_url(self.url)}: {_first_line(error)}") from error

    def is_imported(self, run_id: str) -> bool:
        """True when ``run_id`` was imported. A run's origin never changes, so a run this store appended to
        answers from memory: every advance asks this first."""
        head = self._heads.get(run_id)
        if head is not None:
            return head.origin == IMPORTED
        row = self.get_run(run_id)
        return row is not None and row.imported

    def get_run(self, run_id: str) -> RunRow | None:
        """The run's index row, or None when no event of that run exists."""
        rows = self._raw_rows(self._sql.get_run, (run_id,))  # fixed SQL, like ``_fetch``: every advance asks
        if not rows:
            return None
        to_utc = _parse_sqlite_time if self.dialect == "sqlite" else _pg_time
        found, status, title, parent_id, started_at, updated_at, last_seq, summary, origin, chain = rows[0]
        return RunRow(
            found,
            status,
            title,
            parent_id,
            to_utc(started_at),
            to_utc(updated_at),
            last_seq,
            json.loads(summary),
            origin,
            chain,
        )

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
        query = select(runs_table.c.run_id).where(runs_table.c.run_id.startswith(prefix, autoescape=True)).limit(limit)
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
class _RunHead:
    """What an append needs of the run's row: where its log ends, its chain, origin and index.

    Read from the runs row in the append's transaction, or remembered from this store's own last
    append to the run when the caller's expected seq is that append's last seq. Remembering is
    safe because ``(run_id, seq)`` is unique and events are never updated or deleted: if any
    other writer appended since, the new event's seq is taken and the insert fails
    (``ConcurrencyError``), so a remembered head is only ever used when it is still the run's.
    """

    last_seq: int
    last_hash: str
    origin: str
    chain: str
    index: RunIndex | None
    """None when the run has no row yet."""

    @classmethod
    def of_row(cls, row: tuple[Any, ...] | None) -> _RunHead:
        """The head of a ``select_run`` row (a run without a row starts at seq 0, at the genesis hash)."""
        if row is None:
            return cls(0, GENESIS_HASH, LOCAL, SHA256, None)
        last_seq, last_hash, status, title, parent_id, summary, origin, chain = row
        return cls(last_seq, last_hash, origin, chain, RunIndex(status, title, parent_id, json.loads(summary)))


@dataclass(frozen=True, slots=True)
class _Batch:
    """One ``append_indexed`` call: the events for a run after ``expected_seq``, what the append that creates
    the run records about it (``origin``, ``chain``: ignored by later appends), and the caller's fold."""

    run_id: str
    events: Sequence[NewEvent]
    expected_seq: int
    times: Sequence[datetime] | None
    origin: str
    chain: str
    state: Any = None
    """The caller's fold at the expected seq, for the indexer (see ``RunIndex.state``)."""


def _ping_after_idle(engine: Engine) -> None:
    """``pool_pre_ping``, skipped for a connection that was in use less than ``PG_PING_AFTER_IDLE_S`` ago.

    The ping is a round trip before every checkout; an append is one round trip after its first, so
    pinging always made a single writer pay two. A connection that just finished a statement is as
    alive as a ping can tell; a failure after that is the same as a connection lost mid-append. A
    failed ping raises SQLAlchemy's ``DisconnectionError``: the pool replaces the connection and
    retries the checkout (its documented custom pessimistic handling).
    """

    @event.listens_for(engine, "checkin")
    def returned(_dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info["returned_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        returned_at = record.info.get("returned_at")
        if returned_at is None or time.monotonic() - returned_at < PG_PING_AFTER_IDLE_S:
            return  # new, or in use a moment ago
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError(f"a pooled connection failed its ping: {_first_line(error)}") from error


@dataclass(frozen=True, slots=True)
class _PgPrepared:
    """The append's statements as PostgreSQL prepared statements (``agent_<statement>``), prepared once per
    connection (noted in the pool's record of it): the server plans them once, not on every append.

    ``execute`` maps each statement's text (``_Sql``) to its ``EXECUTE`` with client-bound values.
    """

    KEY: ClassVar[str] = "agent_prepared"
    prepare: tuple[tuple[str, str], ...]
    execute: dict[str, str]

    @classmethod
    def of(cls, sql: _Sql) -> _PgPrepared:
        prepare, execute = [], {}
        for name in (
            "lock",
            "unlock",
            "insert_event",
            "insert_run",
            "update_run",
            "update_run_status",
            "update_run_progress",
            "insert_decision",
        ):
            text = getattr(sql, name)
            parts = text.split("%s")
            numbered = parts[0] + "".join(f"${i}{part}" for i, part in enumerate(parts[1:], 1))
            prepare.append((f"agent_{name}", f"PREPARE agent_{name} AS {numbered}"))
            execute[text] = f"EXECUTE agent_{name}({', '.join(['%s'] * (len(parts) - 1))})"
        return cls(tuple(prepare), execute)

    def ensure_prepared(self, conn: Any, info: dict[str, Any]) -> None:
        """Prepare what this connection's session lacks (first use, or after a failed append)."""
        if info.get(self.KEY):
            return
        with conn.cursor() as cursor:
            cursor.execute("SELECT name FROM pg_prepared_statements")
            have = {name for (name,) in cursor.fetchall()}
            for name, statement in self.prepare:
                if name not in have:
                    cursor.execute(statement)
        info[self.KEY] = True


@dataclass(frozen=True, slots=True)
class _Sql:
    """The hot-path statements, written once per dialect in its DBAPI's parameter style.

    The live feed on PostgreSQL: appends to different runs commit in any order, so a position may
    become visible after a higher one. ``read_all`` and ``last_position`` therefore show only rows
    whose writing transaction (``txid``) is older than every transaction still in flight
    (``pg_snapshot_xmin`` of the statement's own snapshot; ``read_all`` selects it as a flag per
    row). An append takes its transaction id and its positions inside ``PG_APPEND_LOCK``, so a
    later-committing transaction always holds higher positions than every row shown: a reader
    polling ``read_all(last_seen)`` never skips one. The price: the feed waits for the oldest
    open write transaction in the database cluster.
    """

    lock: str
    unlock: str
    select_run: str
    insert_event: str
    update_run: str
    update_run_status: str
    update_run_progress: str
    insert_run: str
    read_run: str
    read_all: str
    last_position: str
    insert_decision: str
    get_run: str

    @classmethod
    def for_dialect(cls, dialect: str) -> _Sql:
        pg = dialect == "postgresql"
        mark = "%s" if pg else "?"
        columns = "position, run_id, seq, type, version, actor, at, payload, hash"
        settled = ", txid < pg_snapshot_xmin(pg_current_snapshot())" if pg else ""
        statements = cls(
            lock="SELECT pg_advisory_lock(CAST(? AS BIGINT))",
            unlock="SELECT pg_advisory_unlock(CAST(? AS BIGINT))",
            select_run="SELECT last_seq, last_hash, status, title, parent_id, summary, origin, chain "
            "FROM runs WHERE run_id = ?",  # no FOR UPDATE: it would take the transaction id outside the lock
            insert_event="INSERT INTO events (run_id, seq, type, version, actor, at, payload, hash) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            update_run="UPDATE runs SET status = ?, title = ?, parent_id = ?, updated_at = ?, last_seq = ?, "
            "last_hash = ?, summary = ? WHERE run_id = ?",
            update_run_status="UPDATE runs SET status = ?, updated_at = ?, last_seq = ?, last_hash = ?, summary = ? "
            "WHERE run_id = ?",
            update_run_progress="UPDATE runs SET updated_at = ?, last_seq = ?, last_hash = ?, summary = ? "
            "WHERE run_id = ?",
            insert_run="INSERT INTO runs (status, title, parent_id, updated_at, last_seq, last_hash, summary, run_id, "
            "started_at, origin, chain) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            read_run=f"SELECT {columns} FROM events WHERE run_id = ? AND seq > ? ORDER BY seq",
            read_all=f"SELECT {columns}{settled} FROM events WHERE position > ? ORDER BY position LIMIT ?",
            last_position="SELECT max(position) FROM events"
            + (" WHERE txid < pg_snapshot_xmin(pg_current_snapshot())" if pg else ""),
            insert_decision=f"INSERT INTO decisions ({', '.join(_DECISION_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_DECISION_COLUMNS))})",
            get_run="SELECT run_id, status, title, parent_id, started_at, updated_at, last_seq, summary, origin, chain "
            "FROM runs WHERE run_id = ?",
        )
        return cls(*(getattr(statements, f).replace("?", mark) for f in cls.__slots__))


_DECISION_COLUMNS = tuple(c.name for c in decisions_table.columns)


def _text_cell(value: str) -> str:
    return value.replace("\x00", "\ufffd")


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
    "Appended",
    "ChainHash",
    "ChainProblem",
    "DecisionRow",
    "EventStore",
    "NewEvent",
    "RunIndex",
    "RunRow",
    "StoredEvent",
    "also_in_next_append",
    "chain_hash",
]
