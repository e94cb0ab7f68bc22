"""PostgreSQL connections the server closed while they sat in the store's pool.

A pooled connection idle longer than ``PG_PING_AFTER_IDLE_S`` is pinged before an append uses it,
so a server restart between two appends costs a reconnect, not an error. One back from a statement
a moment ago is used without the ping (the round trip a single writer would otherwise pay on every
append); if the server closed it in that moment, the append fails with a one-line ``StoreError``,
writes nothing, and the next append gets a new connection.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from agent_core import store as store_module
from agent_core.errors import StoreError
from agent_core.projections import open_store
from agent_core.store import EventStore
from tests.store.helpers import new_run_id, observation, run_started

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_store(pg_schema_url: str) -> Iterator[EventStore]:
    store = open_store(pg_schema_url)
    yield store
    store.close()


def _close_the_stores_connections(url: str, store: EventStore) -> int:
    """What a server restart does to the pool: every backend of the store's connections terminated."""
    pids = []
    for conn in store._write.pool._pool.queue:  # type: ignore[attr-defined]  # the idle pooled connections
        pids.append(conn.dbapi_connection.info.backend_pid)
    admin = create_engine(url.split("?", 1)[0], isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for pid in pids:
            conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    admin.dispose()
    return len(pids)


def test_an_idle_connection_the_server_closed_is_replaced_before_the_append(
    pg_store: EventStore, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = new_run_id()
    pg_store.append(run_id, [run_started(run_id)], 0)
    assert _close_the_stores_connections(pg_schema_url, pg_store) >= 1
    monkeypatch.setattr(store_module, "PG_PING_AFTER_IDLE_S", 0.0)  # as if a second had passed
    pg_store.append(run_id, [observation("after the restart")], 1)
    assert [e.seq for e in pg_store.read_run(run_id)] == [1, 2]


def test_a_connection_closed_a_moment_after_use_fails_one_append_cleanly_and_the_next_reconnects(
    pg_store: EventStore, pg_schema_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = new_run_id()
    pg_store.append(run_id, [run_started(run_id)], 0)
    monkeypatch.setattr(store_module, "PG_PING_AFTER_IDLE_S", 3600.0)  # never pinged
    assert _close_the_stores_connections(pg_schema_url, pg_store) >= 1
    closed = r"(server closed the connection|terminating connection due to administrator command)"
    with pytest.raises(StoreError, match=rf"could not append to run .*{closed}") as failed:
        pg_store.append(run_id, [observation("lost with its connection")], 1)
    assert "\n" not in str(failed.value)
    pg_store.append(run_id, [observation("on a new connection")], 1)
    events = pg_store.read_run(run_id)
    assert [(e.seq, e.payload["step_id"]) for e in events[1:]] == [(2, "on a new connection")]
