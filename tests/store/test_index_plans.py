"""Each index of the runs and decisions tables serves the read path named for it, by SQLite's own plan.

The statements are the ones the product sends (caught on the store's read engine while the read
functions run), explained with ``EXPLAIN QUERY PLAN``: an index no read path uses would only cost pages
on every append, and a read path without its index would scan a table that grows with every run.
A store created before the partial indexes trades its old ones for them at open.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, event, inspect, text

from agent_core import events as ev
from agent_core.approvals import count_pending, pending_approvals, recorded_decisions
from agent_core.projections import open_store
from agent_core.store import APPROVED, RETIRED_INDEXES, EventStore
from tests.store.helpers import new_run_id, run_started
from tests.store.test_decisions_index import held_run


@pytest.fixture
def store(tmp_path: Path) -> Iterator[EventStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'plans.db'}", sqlite_synchronous="OFF")
    for _ in range(3):
        held_run(opened)
    parent = held_run(opened)
    opened.append(new_run_id(), [run_started(replay_of=parent)], 0)
    yield opened
    opened.close()


@contextmanager
def statements(store: EventStore) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (and their parameters) the store's read engine sends within the block."""
    sent: list[tuple[str, Any]] = []

    def catch(_conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any, _many: bool) -> None:
        sent.append((statement, parameters))

    engine = store._read  # the engine the read functions use
    event.listen(engine, "before_cursor_execute", catch)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", catch)


def plan_of(store: EventStore, read: Callable[[], object]) -> str:
    """SQLite's query plan of every statement ``read`` sends, one detail per line."""
    with statements(store) as sent:
        read()
    assert sent, "the read sent no statement"
    assert store.sqlite_path is not None
    with sqlite3.connect(store.sqlite_path) as conn:
        explained = (conn.execute(f"EXPLAIN QUERY PLAN {statement}", parameters) for statement, parameters in sent)
        return "\n".join(row[3] for rows in explained for row in rows)


@pytest.mark.parametrize(
    ("read", "index"),
    [
        (lambda s: pending_approvals(s), "ix_decisions_unusual"),  # held decisions oldest first: a page stops early
        (lambda s: count_pending(s), "ix_decisions_unusual"),
        (lambda s: recorded_decisions(s), "ix_decisions_at"),
        (lambda s: recorded_decisions(s, outcomes=["held"]), "ix_decisions_unusual"),
        (lambda s: recorded_decisions(s, outcomes=["rejected", "denied"]), "ix_decisions_unusual"),
        (lambda s: s.list_runs(), "ix_runs_started"),
        (lambda s: s.list_runs(status=["waiting_approval"]), "ix_runs_status_started"),
        (lambda s: s.list_runs(parent_id="p" * 32), "ix_runs_lineage"),
        (lambda s: s.count_runs(replays_only=True), "ix_runs_lineage"),
    ],
    ids=[
        "approval queue",
        "approval count",
        "decisions newest first",
        "held decisions",
        "refusals",
        "run list",
        "runs by status",
        "a run's replays",
        "replay count",
    ],
)
def test_each_read_path_uses_its_index(store: EventStore, read: Callable[[EventStore], object], index: str) -> None:
    plan = plan_of(store, lambda: read(store))
    assert f"INDEX {index}" in plan, plan


def test_the_partial_index_leaves_out_what_the_guard_records_for_an_approval() -> None:
    assert ev.ToolApproved.DECIDES.word == APPROVED


def test_no_read_path_scans_a_whole_table_for_these_reads(store: EventStore) -> None:
    for read in (lambda: pending_approvals(store), lambda: store.list_runs(parent_id="p" * 32)):
        plan = plan_of(store, read)
        assert not any(line.startswith("SCAN") and "INDEX" not in line for line in plan.splitlines()), plan


def test_a_store_with_the_retired_indexes_trades_them_for_the_partial_ones_at_open(database_url: str) -> None:
    store = open_store(database_url)
    waiting = held_run(store)
    store.close()
    engine = create_engine(database_url)
    with engine.begin() as conn:  # the indexes as the previous version created them
        conn.execute(text("DROP INDEX ix_runs_lineage"))
        conn.execute(text("DROP INDEX ix_decisions_unusual"))
        conn.execute(text("CREATE INDEX ix_runs_parent ON runs (parent_id)"))
        conn.execute(text("CREATE INDEX ix_decisions_outcome_at ON decisions (outcome, at)"))
    store = open_store(database_url)
    try:
        with engine.connect() as conn:
            inspector = inspect(conn)
            indexes = {i["name"]: i for table in ("runs", "decisions") for i in inspector.get_indexes(table)}
        assert not set(RETIRED_INDEXES) & set(indexes)
        assert {"ix_runs_lineage", "ix_decisions_unusual"} <= set(indexes)
        assert [p.run_id for p in pending_approvals(store)] == [waiting]
        assert [d.outcome for d in recorded_decisions(store, outcomes=["held"])] == ["held"]
        store.append(waiting, [ev.RunCancelled(by="alice", reason="done")], 3)
        assert pending_approvals(store) == []
    finally:
        store.close()
        engine.dispose()


def test_an_up_to_date_store_opens_without_touching_its_indexes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    open_store(url).close()
    with sqlite3.connect(tmp_path / "new.db") as conn:
        before = conn.execute("PRAGMA schema_version").fetchone()[0]
    open_store(url).close()
    with sqlite3.connect(tmp_path / "new.db") as conn:
        assert conn.execute("PRAGMA schema_version").fetchone()[0] == before
