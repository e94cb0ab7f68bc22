"""Store benchmark: append throughput and read latency on SQLite and PostgreSQL, against two baselines.

Measures, as medians of ``--repeats`` runs after one warm-up:
  (a) durable appends/s, one event per transaction     (b) appends/s, one transaction per 10 events
  (c) ms to read a 1,000-event run from a big store    (d) ms to list the newest 50 runs of a big store
for the product path (``open_store(url)``: indexer, hash chain, expected-seq check), raw ``sqlite3``
at the same durability (WAL + synchronous=FULL, one commit per transaction), and the naive ORM
design (bench/_naive_store.py). The big stores are bulk-loaded (bench/_store_fill.py) and cached.

    python bench/store_bench.py [--events N] [--runs N] [--repeats N] [--quick] [--fresh] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sqlite3
import sys
import time
import uuid
from collections.abc import Callable, Sequence, Sized
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from any folder

from sqlalchemy import create_engine, text

from agent_core import events as ev
from agent_core.projections import open_store
from bench import _common as c
from bench._naive_store import naive_append, naive_engine, naive_list_runs, naive_read_run
from bench._store_fill import RUN_LENGTH, Layout, pg_big_store, sqlite_big_store

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
PG_BIG_DATABASE = "bench_store"
PG_APPEND_DATABASE = f"bench_store_appends_{os.getpid()}"  # per process: concurrent runs never collide
BATCH = 10
LIST_LIMIT = 50

RAW_DDL = (
    "CREATE TABLE IF NOT EXISTS events (position INTEGER PRIMARY KEY, run_id TEXT NOT NULL, seq INTEGER NOT NULL, "
    "type TEXT NOT NULL, version INTEGER NOT NULL, actor TEXT NOT NULL, at TEXT NOT NULL, payload TEXT NOT NULL, "
    "hash TEXT NOT NULL, UNIQUE (run_id, seq))"
)
RAW_INSERT = "INSERT INTO events (run_id, seq, type, version, actor, at, payload, hash) VALUES (?,?,?,?,?,?,?,?)"
RAW_READ = (
    "SELECT position, run_id, seq, type, version, actor, at, payload, hash FROM events "
    "WHERE run_id = ? AND seq > ? ORDER BY seq"
)
RAW_LIST = "SELECT * FROM runs ORDER BY started_at DESC, run_id DESC LIMIT ?"


@dataclass(frozen=True, slots=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_is_better: bool
    target: str


METRICS = {
    "a": Metric("a", "(a) appends/s, 1 event per txn", "events/s", True, ">=0.5x raw, >=5x naive"),
    "b": Metric("b", f"(b) appends/s, {BATCH}-event txns", "events/s", True, "-"),
    "c": Metric("c", f"(c) ms to read a {RUN_LENGTH:,}-event run", "ms", False, "<=10 ms"),
    "d": Metric("d", f"(d) ms to list newest {LIST_LIMIT} runs", "ms", False, "<=5 ms"),
}


@dataclass(frozen=True, slots=True)
class Result:
    """One line of the table: the store's median and both baselines' medians for one metric."""

    engine: str
    metric: str
    store: float
    raw_sqlite3: float | None
    naive: float | None

    @property
    def vs_raw(self) -> float | None:
        return c.ratio(self.store, self.raw_sqlite3, higher_is_better=METRICS[self.metric].higher_is_better)

    @property
    def vs_naive(self) -> float | None:
        return c.ratio(self.store, self.naive, higher_is_better=METRICS[self.metric].higher_is_better)

    @property
    def passed(self) -> bool | None:
        match self.metric:
            case "a":
                return (self.vs_raw or 0) >= 0.5 and (self.vs_naive or 0) >= 5
            case "c":
                return self.store <= 10
            case "d":
                return self.store <= 5
        return None


# --- workload ------------------------------------------------------------------------------------


def workload(count: int) -> list[ev.DomainEvent]:
    """A run's worth of real catalogue events: RunStarted, then decide / intend / observe / cost cycles."""
    planner = ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64)
    events: list[ev.DomainEvent] = [
        ev.RunStarted(goal="Benchmark the store", max_steps=count, budget_usd=1.0, planner=planner, policy_sha="s" * 64)
    ]
    step = 0
    while len(events) < count:
        step += 1
        sid = f"step_{step}"
        events += [
            ev.ToolApproved(step_id=sid, tool="read_file", rule="reads_ok", reason="reading is safe"),
            ev.ToolExecuted(step_id=sid, tool="read_file", input={"path": "notes.txt"}),
            ev.ObservationCaptured(
                step_id=sid, tool="read_file", result={"success": True, "output": "x" * 160}, duration_ms=2.5
            ),
            ev.CostRecorded(source="tool", usd=0.0, total_usd=0.0),
        ]
    return events[:count]


def now_text() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def chunks(events: Sequence[ev.DomainEvent], size: int) -> list[Sequence[ev.DomainEvent]]:
    return [events[i : i + size] for i in range(0, len(events), size)]


# --- (a) and (b): appends --------------------------------------------------------------------------


def store_appends(url: str, events: Sequence[ev.DomainEvent], batch: int) -> float:
    """Events/s through the product path: ``open_store(url).append`` (indexer included)."""
    store = open_store(url)
    try:
        run_id, seq = uuid.uuid4().hex, 0
        start = time.perf_counter()
        for chunk in chunks(events, batch):
            seq = store.append(run_id, chunk, seq)
        return c.per_second(len(events), time.perf_counter() - start)
    finally:
        store.close()


def raw_appends(path: Path, events: Sequence[ev.DomainEvent], batch: int) -> float:
    """Events/s of plain sqlite3 inserts at the store's durability: the floor a store can approach."""
    rows = [(e.type, e.schema_version, e.actor, json.dumps(e.to_payload())) for e in events]
    con = sqlite3.connect(path, isolation_level=None)
    try:
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        con.execute(RAW_DDL)
        run_id, seq = uuid.uuid4().hex, 0
        start = time.perf_counter()
        for i in range(0, len(rows), batch):
            con.execute("BEGIN")
            for kind, version, actor, payload in rows[i : i + batch]:
                seq += 1
                con.execute(RAW_INSERT, (run_id, seq, kind, version, actor, now_text(), payload, ""))
            con.execute("COMMIT")
        return c.per_second(len(rows), time.perf_counter() - start)
    finally:
        con.close()


def naive_appends(url: str, events: Sequence[ev.DomainEvent], batch: int) -> float:
    engine = naive_engine(url)
    try:
        run_id, seq = uuid.uuid4().hex, 1
        start = time.perf_counter()
        for chunk in chunks(events, batch):
            naive_append(engine, run_id, chunk, seq)
            seq += len(chunk)
        return c.per_second(len(events), time.perf_counter() - start)
    finally:
        engine.dispose()


def scratch_sqlite(name: str) -> Path:
    """A fresh scratch database file under bench/results (same disk as the real ./data)."""
    path = c.RESULTS_DIR / f"scratch-{os.getpid()}-{name}.db"
    path.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def sqlite_append_results(events: list[ev.DomainEvent], repeats: int) -> tuple[list[Result], dict[str, float]]:
    results, raw = [], {}
    for key, batch in (("a", 1), ("b", BATCH)):
        c.progress(f"sqlite ({key}): {len(events)} events in transactions of {batch}")
        samples = c.interleaved(
            {
                "store": lambda i, b=batch: store_appends(f"sqlite:///{scratch_sqlite('store')}", events, b),
                "raw": lambda i, b=batch: raw_appends(scratch_sqlite("raw"), events, b),
                "naive": lambda i, b=batch: naive_appends(f"sqlite:///{scratch_sqlite('naive')}", events, b),
            },
            repeats,
        )
        raw[key] = samples["raw"].median
        results.append(Result("sqlite", key, samples["store"].median, raw[key], samples["naive"].median))
    for name in ("store", "raw", "naive"):
        scratch_sqlite(name)  # leave no scratch files behind
    return results, raw


def pg_append_results(events: list[ev.DomainEvent], repeats: int, raw: dict[str, float]) -> list[Result]:
    url = recreate_pg_database(PG_APPEND_DATABASE)
    try:
        results = []
        for key, batch in (("a", 1), ("b", BATCH)):
            c.progress(f"postgresql ({key}): {len(events)} events in transactions of {batch}")
            samples = c.interleaved(
                {
                    "store": lambda i, b=batch: store_appends(url, events, b),
                    "naive": lambda i, b=batch: naive_appends(url, events, b),
                },
                repeats,
            )
            results.append(Result("postgresql", key, samples["store"].median, raw[key], samples["naive"].median))
        return results
    finally:
        drop_pg_database(PG_APPEND_DATABASE)


# --- (c) and (d): reads from the big store -------------------------------------------------------


def read_results(engine_name: str, url: str, raw_path: Path | None, layout: Layout, repeats: int) -> list[Result]:
    """Median ms of (c) and (d) for the store and both baselines on one big database.

    Every contender reads the same long run, warmed by one unrecorded read: the figure is a
    re-read (what a live timeline does), not a first read from disk.
    """
    store = open_store(url)
    naive = create_engine(url)
    raw = sqlite3.connect(raw_path) if raw_path else None
    run_id = layout.long_run_id(0)

    def ms(fn: Callable[[], Sized]) -> Callable[[int], float]:
        def measure(_i: int) -> float:
            start = time.perf_counter()
            rows = fn()
            elapsed = (time.perf_counter() - start) * 1000
            if len(rows) == 0:
                raise SystemExit(f"{engine_name}: the big store returned no rows; rebuild it with --fresh")
            return elapsed

        return measure

    try:
        c.progress(f"{engine_name} (c)/(d): reading from {layout.events:,} events / {layout.runs:,} runs")
        read = {"store": ms(lambda: store.read_run(run_id)), "naive": ms(lambda: naive_read_run(naive, run_id))}
        listing = {
            "store": ms(lambda: store.list_runs(limit=LIST_LIMIT)),
            "naive": ms(lambda: naive_list_runs(naive, LIST_LIMIT)),
        }
        if raw is not None:
            read["raw"] = ms(lambda: raw.execute(RAW_READ, (run_id, 0)).fetchall())
            listing["raw"] = ms(lambda: raw.execute(RAW_LIST, (LIST_LIMIT,)).fetchall())
        out = []
        for key, measures in (("c", read), ("d", listing)):
            samples = c.interleaved(measures, repeats)
            raw_median = samples["raw"].median if "raw" in samples else None
            out.append(Result(engine_name, key, samples["store"].median, raw_median, samples["naive"].median))
        if len(store.read_run(run_id)) != RUN_LENGTH:
            raise SystemExit(f"{engine_name}: run {run_id!r} does not hold {RUN_LENGTH} events; rebuild with --fresh")
        return out
    finally:
        store.close()
        naive.dispose()
        if raw is not None:
            raw.close()


# --- PostgreSQL housekeeping ---------------------------------------------------------------------


def pg_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 5432), timeout=1):
            return True
    except OSError:
        return False


def recreate_pg_database(name: str) -> str:
    drop_pg_database(name)
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(name: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


# --- report ---------------------------------------------------------------------------------------


def render(results: list[Result], notes: list[str]) -> str:
    table = c.Table(["engine", "measure", "store", "raw sqlite3", "naive", "vs raw", "vs naive", "target", "result"])
    for r in results:
        m = METRICS[r.metric]
        table.add(
            r.engine,
            m.label,
            c.fmt_number(r.store),
            c.fmt_number(r.raw_sqlite3),
            c.fmt_number(r.naive),
            c.fmt_ratio(r.vs_raw),
            c.fmt_ratio(r.vs_naive),
            m.target,
            c.verdict(r.passed),
        )
    legend = "vs raw / vs naive: how many times better the store is (>1x: store faster); medians of the repeats."
    return "\n".join([table.render(), "", legend, *notes])


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the big store for (c)")
    parser.add_argument("--runs", type=int, default=100_000, help="runs in the big store for (d)")
    parser.add_argument("--repeats", type=int, default=5, help="measured repeats per figure (median reported)")
    parser.add_argument("--appends", type=int, default=200, help="events appended per repeat for (a) and (b)")
    parser.add_argument("--quick", action="store_true", help="small sizes for a smoke run (used by a test)")
    parser.add_argument("--fresh", action="store_true", help="rebuild the cached big stores")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of the table")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.runs, args.repeats, args.appends = 6_000, 1_000, 2, 20
    if args.repeats < 1 or args.appends < BATCH:
        parser.error(f"--repeats must be >= 1 and --appends >= {BATCH}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    layout = Layout(args.events, args.runs)
    layout.check()
    started = time.perf_counter()
    events = workload(args.appends)
    results, raw = sqlite_append_results(events, args.repeats)
    path = sqlite_big_store(c.RESULTS_DIR, layout, args.fresh)
    results += read_results("sqlite", f"sqlite:///{path}", path, layout, args.repeats)
    notes = [
        f"sizes: {args.appends} events appended per repeat; big store {layout.events:,} events in {layout.runs:,} runs "
        f"({layout.long_runs} of {RUN_LENGTH:,} events); {args.repeats} repeats after 1 warm-up",
        "setup: the big stores are bulk-loaded (sqlite3 executemany / COPY) into the product's schema;"
        " only the measured operations go through EventStore",
        "raw sqlite3: WAL + synchronous=FULL on the same disk; naive: SQLAlchemy defaults (rollback journal on SQLite)",
    ]
    if args.sqlite_only or not pg_reachable():
        notes.append("postgresql: skipped" + ("" if args.sqlite_only else " (nothing listening on 127.0.0.1:5432)"))
    else:
        results += pg_append_results(events, args.repeats, raw)
        # A smoke run loads its small store in a second; a private database keeps parallel runs apart.
        database = f"{PG_BIG_DATABASE}_quick_{os.getpid()}" if args.quick else PG_BIG_DATABASE
        url = pg_big_store(PG_ADMIN_URL, database, layout, args.fresh)
        try:
            results += read_results("postgresql", url, None, layout, args.repeats)
        finally:
            if args.quick:
                drop_pg_database(database)
        notes.append("postgresql rows: the raw column repeats the SQLite raw figure for (a)/(b) (equal durability)")
    first = results[0]  # sqlite (a): how far the disk lets any design get ahead of the naive one
    ceiling = c.ratio(first.raw_sqlite3, first.naive, higher_is_better=True)
    notes.append(f"ceiling: raw sqlite3 itself appends {c.fmt_ratio(ceiling)} as fast as naive (a) on this disk")
    notes.append(f"{c.machine_line()}; bench took {time.perf_counter() - started:.0f} s")
    if args.json:
        rows = [
            {**asdict(r), "label": METRICS[r.metric].label, "unit": METRICS[r.metric].unit}
            | {"vs_raw": r.vs_raw, "vs_naive": r.vs_naive, "target": METRICS[r.metric].target, "passed": r.passed}
            for r in results
        ]
        print(json.dumps({"results": rows, "notes": notes}, indent=2))
    else:
        print(render(results, notes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
