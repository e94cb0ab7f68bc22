"""Bulk-load the big stores that the read benchmarks (c) and (d) need.

Setup bypasses ``EventStore.append`` on purpose: a million appends would take longer than the
whole bench. The schema is created by the product (``open_store``), then rows with valid hash
chains are bulk-inserted (sqlite3 ``executemany`` in one transaction, PostgreSQL ``COPY``).
The naive design's table gets the same events. Only the measured operations use the store.

Layout: ``long_runs`` runs of ``RUN_LENGTH`` events, spread evenly over the whole log (as a
long run interleaves with others), and the rest of the runs short (about ten events each).
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy import create_engine, text

from agent_core import events as ev
from agent_core.projections import open_store
from agent_core.store import GENESIS_HASH, chain_hash
from bench._common import progress
from bench._naive_store import NaiveBase

RUN_LENGTH = 1000
BASE_TIME = datetime(2026, 1, 1, tzinfo=UTC)
EVENT_COLUMNS = "position, run_id, seq, type, version, actor, at, payload, hash"
RUN_COLUMNS = "run_id, status, title, parent_id, started_at, updated_at, last_seq, last_hash, summary"
NAIVE_COLUMNS = "id, run_id, seq, type, payload, event_time"


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


SUMMARY = _json({"provider": "offline", "model": "offline", "steps_planned": 4, "steps_ok": 4})


@dataclass(frozen=True, slots=True)
class Layout:
    """How many events and runs the big store holds; the key its cache is stored under."""

    events: int
    runs: int

    @property
    def long_runs(self) -> int:
        return 10 if self.events >= 100_000 else 2

    @property
    def key(self) -> str:
        return f"{self.events}e-{self.runs}r"

    def long_run_id(self, index: int) -> str:
        return f"long-{index % self.long_runs:03d}"

    def check(self) -> None:
        small = self.runs - self.long_runs
        if small < 1 or self.events < self.long_runs * RUN_LENGTH + 2 * small:
            raise SystemExit(
                f"--events {self.events} is too few for --runs {self.runs}: need at least "
                f"{self.long_runs * RUN_LENGTH + 2 * small} ({self.long_runs} runs of {RUN_LENGTH} events "
                "and two events per other run); raise --events or lower --runs"
            )


def _templates() -> dict[str, tuple[str, int, str, str]]:
    """Real catalogue payloads (type, version, actor, JSON text) to repeat through the log."""
    planner = ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64)
    samples: list[ev.DomainEvent] = [
        ev.RunStarted(goal="Summarize notes.txt", max_steps=4, budget_usd=0.5, planner=planner, policy_sha="s" * 64),
        ev.ToolExecuted(step_id="step_1", tool="read_file", input={"path": "notes.txt"}),
        ev.ObservationCaptured(
            step_id="step_1", tool="read_file", result={"success": True, "output": "x" * 160}, duration_ms=2.5
        ),
        ev.RunCompleted(),
    ]
    return {e.type: (e.type, e.schema_version, e.actor, _json(e.to_payload())) for e in samples}


def _positions(layout: Layout) -> Iterator[tuple[str, int, bool]]:
    """(run_id, seq, is_last) for every position in order: long runs' events spread evenly."""
    long_total = layout.long_runs * RUN_LENGTH
    small_runs = layout.runs - layout.long_runs
    base, extra = divmod(layout.events - long_total, small_runs)
    stride = max(1, layout.events // long_total)
    long_done, small_index, small_seq = 0, 0, 0
    for position in range(layout.events):
        small_left = small_index < small_runs
        if long_done < long_total and (position % stride == stride - 1 or not small_left):
            seq = long_done // layout.long_runs + 1
            yield layout.long_run_id(long_done), seq, seq == RUN_LENGTH
            long_done += 1
            continue
        length = base + (1 if small_index < extra else 0)
        small_seq += 1
        yield f"run-{small_index:07d}", small_seq, small_seq == length
        if small_seq == length:
            small_index, small_seq = small_index + 1, 0


@dataclass
class _RunAcc:
    started_at: datetime
    updated_at: datetime
    last_seq: int
    last_hash: str


def event_rows(layout: Layout, runs: dict[str, _RunAcc] | None = None) -> Iterator[tuple]:
    """Event rows in position order with valid hash chains; fills ``runs`` for the runs index."""
    templates = _templates()
    for position, (run_id, seq, is_last) in enumerate(_positions(layout), start=1):
        if seq == 1:
            kind = "RunStarted"
        elif is_last:
            kind = "RunCompleted"
        else:
            kind = "ToolExecuted" if seq % 2 == 0 else "ObservationCaptured"
        event_type, version, actor, payload = templates[kind]
        at = BASE_TIME + timedelta(milliseconds=position)
        if runs is None:
            yield position, run_id, seq, event_type, version, actor, at, payload, ""
            continue
        acc = runs.get(run_id)
        prev = acc.last_hash if acc else GENESIS_HASH
        digest = chain_hash(prev, run_id, seq, event_type, version, actor, at, payload)
        if acc is None:
            runs[run_id] = _RunAcc(at, at, seq, digest)
        else:
            acc.updated_at, acc.last_seq, acc.last_hash = at, seq, digest
        yield position, run_id, seq, event_type, version, actor, at, payload, digest


def run_rows(runs: dict[str, _RunAcc]) -> Iterator[tuple]:
    for run_id, acc in runs.items():
        yield (
            run_id,
            "completed",
            f"Bench run {run_id}",
            None,
            acc.started_at,
            acc.updated_at,
            acc.last_seq,
            acc.last_hash,
            SUMMARY,
        )


def _sqlite_time(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")  # how SQLAlchemy's SQLite DateTime stores it


def sqlite_big_store(directory: Path, layout: Layout, fresh: bool) -> Path:
    """The cached big SQLite file for ``layout``, built on first use (or with ``fresh``)."""
    path = directory / f"store-{layout.key}.db"
    if path.exists() and not fresh:
        progress(f"sqlite: reusing {path.name}")
        return path
    directory.mkdir(parents=True, exist_ok=True)
    building = path.with_suffix(f".building-{os.getpid()}")
    for stale in (path, building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        stale.unlink(missing_ok=True)
    progress(f"sqlite: bulk-loading {layout.events:,} events / {layout.runs:,} runs into {path.name}")
    open_store(f"sqlite:///{building}").close()
    engine = create_engine(f"sqlite:///{building}")
    NaiveBase.metadata.create_all(engine)
    engine.dispose()
    runs: dict[str, _RunAcc] = {}
    con = sqlite3.connect(building, isolation_level=None)
    try:
        con.execute("PRAGMA synchronous=OFF")
        con.execute("BEGIN")
        con.executemany(
            f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            ((*r[:6], _sqlite_time(r[6]), *r[7:]) for r in event_rows(layout, runs)),
        )
        con.executemany(
            f"INSERT INTO runs ({RUN_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)",
            ((*r[:4], _sqlite_time(r[4]), _sqlite_time(r[5]), *r[6:]) for r in run_rows(runs)),
        )
        con.executemany(
            f"INSERT INTO naive_events ({NAIVE_COLUMNS}) VALUES (?,?,?,?,?,?)",
            ((r[0], r[1], r[2], r[3], r[7], _sqlite_time(r[6])) for r in event_rows(layout)),
        )
        con.execute("COMMIT")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        con.close()
    os.replace(building, path)
    return path


def pg_big_store(admin_url: str, database: str, layout: Layout, fresh: bool) -> str:
    """The URL of a PostgreSQL database holding ``layout``, recreated unless it already does."""
    url = admin_url.rsplit("/", 1)[0] + f"/{database}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            exists = conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :d"), {"d": database}).first()
        if exists and not fresh and _pg_holds(url, layout):
            progress(f"postgresql: reusing database {database}")
            return url
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{database}"'))
    finally:
        admin.dispose()
    progress(f"postgresql: COPY-loading {layout.events:,} events / {layout.runs:,} runs into {database}")
    open_store(url).close()
    engine = create_engine(url)
    NaiveBase.metadata.create_all(engine)
    engine.dispose()
    runs: dict[str, _RunAcc] = {}
    with psycopg.connect(_libpq(url)) as con, con.cursor() as cur:
        with cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
            for row in event_rows(layout, runs):
                copy.write_row(row)
        with cur.copy(f"COPY runs ({RUN_COLUMNS}) FROM STDIN") as copy:
            for row in run_rows(runs):
                copy.write_row(row)
        with cur.copy(f"COPY naive_events ({NAIVE_COLUMNS}) FROM STDIN") as copy:
            for r in event_rows(layout):
                copy.write_row((r[0], r[1], r[2], r[3], r[7], r[6]))
        for table, column in (("events", "position"), ("naive_events", "id")):
            sequence = f"pg_get_serial_sequence('{table}', '{column}')"
            cur.execute(f"SELECT setval({sequence}, (SELECT max({column}) FROM {table}))")
        cur.execute("CREATE TABLE bench_layout (events bigint, runs bigint)")
        cur.execute("INSERT INTO bench_layout VALUES (%s, %s)", (layout.events, layout.runs))
    with psycopg.connect(_libpq(url), autocommit=True) as con:
        con.execute("VACUUM ANALYZE")  # what autovacuum would have done to a store that grew this big
    return url


def _pg_holds(url: str, layout: Layout) -> bool:
    try:
        with psycopg.connect(_libpq(url)) as con:
            row = con.execute("SELECT events, runs FROM bench_layout").fetchone()
    except psycopg.Error:
        return False
    return row == (layout.events, layout.runs)


def _libpq(url: str) -> str:
    """SQLAlchemy URL -> a libpq URL psycopg accepts."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)
