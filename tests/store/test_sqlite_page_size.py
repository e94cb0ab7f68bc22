"""A SQLite store this version creates uses half-size pages; a file made with another page size keeps it and works."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from agent_core.projections import fold, load_events, open_store
from agent_core.store import SQLITE_PAGE_BYTES
from tests.store.helpers import new_run_id, observation, run_started


def page_size(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA page_size").fetchone()[0])


def test_a_new_store_file_has_the_chosen_page_size(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'new.db'}")
    store.append(new_run_id(), [run_started()], 0)
    store.close()
    assert page_size(tmp_path / "new.db") == SQLITE_PAGE_BYTES


def test_a_store_made_with_4096_byte_pages_keeps_them_and_reads_and_appends(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as conn:  # as a store from before this version (SQLite's default page size)
        conn.execute("PRAGMA page_size=4096")
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE before_the_store (x)")
    store = open_store(f"sqlite:///{path}")
    run_id = new_run_id()
    last = store.append(run_id, [run_started(), observation(text="x" * 5000)], 0)  # a payload past a 2 KiB page
    store.close()
    assert page_size(path) == 4096
    store = open_store(f"sqlite:///{path}")
    try:
        assert fold(load_events(store, run_id)).goal == "Summarize notes.txt"
        assert store.append(run_id, [observation(step="step_2")], last) == last + 1
        assert [e.seq for e in load_events(store, run_id)] == [1, 2, 3]
    finally:
        store.close()
