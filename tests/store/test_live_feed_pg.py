"""PostgreSQL appends to different runs commit concurrently, yet the live feed never skips an event.

Writers on their own runs commit in any order; a reader polling ``read_all(last_seen)`` the
whole time must still see every position exactly once, in increasing order.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from agent_core.projections import open_store
from agent_core.store import EventStore
from tests.store.helpers import new_run_id, observation, run_started

pytestmark = pytest.mark.postgres

WRITERS, APPENDS = 8, 60


@pytest.fixture
def pg_store(pg_schema_url: str) -> Iterator[EventStore]:
    store = open_store(pg_schema_url)
    yield store
    store.close()


def _write(url: str, run_id: str, start: threading.Barrier, errors: list[str]) -> None:
    store = open_store(url)
    try:
        start.wait()
        store.append(run_id, [run_started(run_id)], 0)
        for seq in range(1, APPENDS):
            store.append(run_id, [observation(f"s{seq}")], seq)
    except Exception as error:  # reported by the test, never lost in a thread
        errors.append(repr(error))
    finally:
        store.close()


def test_a_polling_reader_sees_every_position_once_and_in_order(pg_schema_url: str, pg_store: EventStore) -> None:
    runs = [new_run_id() for _ in range(WRITERS)]
    start, errors = threading.Barrier(WRITERS + 1), []
    writers = [threading.Thread(target=_write, args=(pg_schema_url, r, start, errors)) for r in runs]
    for w in writers:
        w.start()
    start.wait()
    seen: list[int] = []
    deadline = time.monotonic() + 300  # on a shared cluster, other sessions' transactions delay the feed
    while len(seen) < WRITERS * APPENDS and time.monotonic() < deadline:
        batch = pg_store.read_all(seen[-1] if seen else 0, limit=50)
        seen.extend(e.position for e in batch)
    for w in writers:
        w.join()
    assert errors == []
    everything = [e.position for e in pg_store.read_all(0, limit=10_000)]
    assert len(everything) == WRITERS * APPENDS
    assert seen == everything  # nothing skipped, nothing twice, in position order
    for run in runs:
        assert [e.seq for e in pg_store.read_run(run)] == list(range(1, APPENDS + 1))


def test_the_feed_waits_for_an_open_write_then_shows_it(pg_schema_url: str, pg_store: EventStore) -> None:
    """A transaction holding a low position hides the rows committed after it, until it ends."""
    early, late = new_run_id(), new_run_id()
    engine = create_engine(pg_schema_url)
    with engine.connect() as slow:
        slow.execute(text("SELECT pg_current_xact_id()"))  # an open write transaction, older than what follows
        pg_store.append(late, [run_started(late)], 0)
        pg_store.feed_settle_s = 0.2
        assert pg_store.read_all(0) == []  # its row waits: an older transaction may still write
        assert pg_store.last_position() == 0
        slow.rollback()
    pg_store.feed_settle_s = 30  # now nothing in flight of ours: what is committed shows
    pg_store.append(early, [run_started(early)], 0)
    assert [e.run_id for e in pg_store.read_all(0)] == [late, early]
    engine.dispose()


def test_an_existing_store_gains_the_txid_column_in_place(pg_schema_url: str) -> None:
    """A store written before the column: opening it adds the column, its rows stay readable and first."""
    store = open_store(pg_schema_url)
    old = new_run_id()
    store.append(old, [run_started(old)], 0)
    store.close()
    engine = create_engine(pg_schema_url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE events DROP COLUMN txid"))
    reopened = open_store(pg_schema_url)
    again = open_store(pg_schema_url)  # idempotent
    new = new_run_id()
    again.append(new, [run_started(new)], 0)
    assert [e.run_id for e in reopened.read_all(0)] == [old, new]
    with engine.connect() as conn:
        assert conn.execute(text("SELECT txid = '0'::xid8 FROM events ORDER BY position")).scalars().all() == [
            True,
            False,
        ]
    for s in (reopened, again):
        s.close()
    engine.dispose()
