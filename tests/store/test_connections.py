"""Connections: the store's hot paths reuse SQLite connections, one user at a time, and never a broken one."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from agent_core.connections import MAX_KEPT, Connections
from agent_core.projections import open_store
from tests.store.helpers import new_run_id, observation, run_started


def _engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    return create_engine(f"sqlite:///{tmp_path / 'c.db'}", connect_args={"check_same_thread": False})


def _closed(connection: sqlite3.Connection) -> bool:
    try:
        connection.execute("select 1")
    except sqlite3.ProgrammingError:
        return True
    return False


def test_a_connection_is_reused_after_a_clean_block_and_closed_after_one_that_raised(tmp_path: Path) -> None:
    connections = Connections(_engine(tmp_path))
    with connections.connection() as first:
        first_dbapi = first.dbapi_connection
    with connections.connection() as again:
        assert again.dbapi_connection is first_dbapi
    with pytest.raises(RuntimeError), connections.connection() as failing:
        raise RuntimeError("the block failed")
    assert _closed(first_dbapi) and failing.dbapi_connection is None
    with connections.connection() as fresh:
        assert fresh.dbapi_connection is not first_dbapi and not _closed(fresh.dbapi_connection)


def test_close_closes_the_kept_ones_and_one_in_use_when_it_comes_back(tmp_path: Path) -> None:
    connections = Connections(_engine(tmp_path))
    with connections.connection() as kept:
        kept_dbapi = kept.dbapi_connection
    with connections.connection() as in_use:
        with connections.connection() as other:
            other_dbapi = other.dbapi_connection
        connections.close()
        assert _closed(other_dbapi) and not _closed(in_use.dbapi_connection)
        in_use_dbapi = in_use.dbapi_connection
    assert _closed(in_use_dbapi) and in_use_dbapi is kept_dbapi
    with connections.connection() as after:  # usable again, as after Engine.dispose
        assert after.cursor().execute("select 1").fetchone() == (1,)


def test_threads_never_share_a_connection_and_at_most_max_kept_stay_open(tmp_path: Path) -> None:
    connections = Connections(_engine(tmp_path))
    holding = threading.Barrier(MAX_KEPT + 2)
    used: list[int] = []

    def hold_one() -> None:
        with connections.connection() as raw:
            used.append(id(raw.dbapi_connection))
            holding.wait(timeout=10)

    threads = [threading.Thread(target=hold_one) for _ in range(MAX_KEPT + 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(used)) == MAX_KEPT + 2  # all held at once: each its own
    assert len(connections._kept) == MAX_KEPT


def test_a_closed_store_appends_and_reads_again_like_before(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    run = new_run_id()
    store.append(run, [run_started()], 0)
    store.close()
    assert store.append(run, [observation()], 1) == 2
    assert [e.seq for e in store.read_run(run)] == [1, 2] and store.get_run(run) is not None
    store.close()


def test_a_kept_write_connection_is_as_durable_as_the_pools(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'events.db'}")
    store.append(new_run_id(), [run_started()], 0)
    with store._writes.connection() as raw:  # the connection that append used, kept
        cursor = raw.cursor()
        settings = [cursor.execute(f"PRAGMA {name}").fetchone()[0] for name in ("synchronous", "journal_mode")]
    assert settings == [2, "wal"]  # FULL: every commit is fsynced
    store.close()
