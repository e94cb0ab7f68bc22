"""The EventStore contract, run on SQLite and PostgreSQL alike (the `store` fixture is parametrized)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from agent_core import events as ev
from agent_core.errors import ConcurrencyError, InvalidPayload, StoreError
from agent_core.projections import decode, load_state
from agent_core.replay.memory import MemoryStore
from agent_core.store import IMPORTED, EventStore
from tests.store.helpers import new_run_id, observation, run_started


def test_append_then_read_run_in_seq_order(store: EventStore) -> None:
    run = new_run_id()
    assert store.append(run, [run_started(), observation("step_1")], expected_seq=0) == 2
    assert store.append(run, [observation("step_2")], expected_seq=2) == 3
    events = store.read_run(run)
    assert [(e.seq, e.type, e.actor) for e in events] == [
        (1, "RunStarted", "orchestrator"),
        (2, "ObservationCaptured", "tool_executor"),
        (3, "ObservationCaptured", "tool_executor"),
    ]
    assert events[2].payload["step_id"] == "step_2"
    assert [e.seq for e in store.read_run(run, after_seq=2)] == [3]
    assert all(e.at.tzinfo is not None for e in events)


def test_positions_increase_and_read_all_pages_the_feed(store: EventStore) -> None:
    start = store.last_position()
    a, b = new_run_id(), new_run_id()
    store.append(a, [run_started()], 0)
    store.append(b, [run_started(), observation()], 0)
    store.append(a, [observation()], 1)
    feed = store.read_all(after_position=start)
    assert [(e.run_id, e.seq) for e in feed] == [(a, 1), (b, 1), (b, 2), (a, 2)]
    positions = [e.position for e in feed]
    assert positions == sorted(positions) and len(set(positions)) == 4
    assert [e.run_id for e in store.read_all(after_position=positions[1], limit=1)] == [b]


def test_stale_expected_seq_raises_concurrency_error_naming_run_and_seq(store: EventStore) -> None:
    run = new_run_id()
    store.append(run, [run_started()], 0)
    with pytest.raises(ConcurrencyError) as caught:
        store.append(run, [observation()], expected_seq=0)
    assert caught.value.run_id == run and caught.value.expected_seq == 0 and caught.value.actual_seq == 1
    assert run in str(caught.value) and "seq 0" in str(caught.value)
    with pytest.raises(ConcurrencyError):
        store.append(run, [observation()], expected_seq=5)  # a gap is refused too
    assert [e.seq for e in store.read_run(run)] == [1]


def test_a_writer_that_remembers_its_last_append_still_loses_a_race_to_another_store(store: EventStore) -> None:
    """A store skips reading the runs row after its own last append; another writer in between still wins."""
    other = EventStore(store.url, indexer=store._indexer)  # a second writer with the same indexer
    run = new_run_id()
    store.append(run, [run_started(), observation("step_1")], 0)
    other.append(run, [observation("step_2")], 2)
    with pytest.raises(ConcurrencyError):
        store.append(run, [observation("step_3")], expected_seq=2)  # what this store wrote last: taken since
    assert store.append(run, [observation("step_3")], expected_seq=3) == 4
    other.append(run, [ev.RunCompleted()], 4)
    assert [e.payload.get("step_id") for e in store.read_run(run)] == [None, "step_1", "step_2", "step_3", None]
    assert store.verify_chain(run) is None
    assert store.get_run(run).last_seq == 5  # type: ignore[union-attr]
    other.close()


def test_is_imported_answers_from_the_row_and_from_this_stores_own_appends_alike(store: EventStore) -> None:
    local, imported, unknown = new_run_id(), new_run_id(), new_run_id()
    store.append(local, [run_started()], 0)
    store.append(imported, [run_started()], 0, origin=IMPORTED)
    other = EventStore(store.url, indexer=store._indexer)  # has appended nothing: reads the runs rows
    for reader in (store, other):
        assert (reader.is_imported(local), reader.is_imported(imported), reader.is_imported(unknown)) == (
            False,
            True,
            False,
        )
    other.close()
    memory = MemoryStore()
    memory.append(local, [run_started()], 0)
    memory.append(imported, [run_started()], 0, origin=IMPORTED)
    assert (memory.is_imported(local), memory.is_imported(imported), memory.is_imported(unknown)) == (
        False,
        True,
        False,
    )


def test_a_failed_batch_writes_nothing(store: EventStore) -> None:
    run = new_run_id()
    store.append(run, [run_started()], 0)

    class Broken:
        type, schema_version, actor = "Broken", 1, "orchestrator"

        def to_payload(self) -> dict:
            return {"value": object()}  # not JSON: fails after the first event of the batch was prepared

    with pytest.raises(InvalidPayload, match=r"Broken of run .* cannot be stored: it is not strict JSON"):
        store.append(run, [observation(), Broken()], expected_seq=1)  # type: ignore[list-item]
    assert [e.seq for e in store.read_run(run)] == [1]
    assert store.get_run(run).last_seq == 1


def test_database_refuses_update_and_delete_of_events(store: EventStore) -> None:
    run = new_run_id()
    store.append(run, [run_started()], 0)
    for statement in ("UPDATE events SET payload = '{}' WHERE run_id = :r", "DELETE FROM events WHERE run_id = :r"):
        with pytest.raises(Exception, match="append-only"), store._write.begin() as conn:
            conn.execute(text(statement), {"r": run})
    assert len(store.read_run(run)) == 1


def test_hash_chain_verifies_and_names_a_tampered_event(store: EventStore) -> None:
    run = new_run_id()
    store.append(run, [run_started(), observation("step_1"), observation("step_2")], 0)
    assert store.verify_chain(run) is None
    _tamper(store, run, seq=2, payload='{"result":{"success":true,"output":"forged"},"step_id":"step_1","tool":"x"}')
    problem = store.verify_chain(run)
    assert problem is not None and (problem.run_id, problem.seq) == (run, 2)
    assert "hash" in problem.reason


def test_undecodable_payload_is_reported_with_its_position_and_the_run_still_reads(store: EventStore) -> None:
    run = new_run_id()
    store.append(run, [run_started(), observation("step_1"), observation("step_2")], 0)
    _tamper(store, run, seq=2, payload="{not json")
    events = store.read_run(run)
    assert [e.seq for e in events] == [1, 2, 3]
    assert events[1].problem.startswith(f"event at position {events[1].position} has an undecodable payload")
    state = load_state(store, run)
    assert state.goal == "Summarize notes.txt" and len(state.problems) == 1
    assert state.step("step_2").result["success"] is True


def test_unknown_event_type_reads_back_as_generic_event_keeping_its_payload(store: EventStore) -> None:
    class FromTheFuture:
        type, schema_version, actor = "TelemetrySampled", 1, "orchestrator"

        def to_payload(self) -> dict:
            return {"cpu": 0.5, "nested": {"k": [1, 2]}}

    run = new_run_id()
    store.append(run, [run_started(), FromTheFuture()], 0)  # type: ignore[list-item]
    recorded = decode(store.read_run(run)[1])
    assert isinstance(recorded.event, ev.UnknownEvent)
    assert recorded.event.data == {"cpu": 0.5, "nested": {"k": [1, 2]}}
    assert "unknown event type" in recorded.problem
    assert load_state(store, run).goal == "Summarize notes.txt"


def test_runs_index_lists_newest_first_with_filters_and_paging(store: EventStore) -> None:
    base = datetime(2030, 1, 1, tzinfo=UTC)
    tag = new_run_id()[:8]
    ids = []
    for i in range(5):
        run = new_run_id()
        goal = f"{tag} goal {i}" + (" special" if i == 3 else "")
        store.append(run, [run_started(goal)], 0, times=[base + timedelta(minutes=i)])
        ids.append(run)
    store.append(ids[1], [ev.RunFailed(reason="boom")], 1, times=[base + timedelta(minutes=10)])
    replay = new_run_id()
    store.append(replay, [run_started(f"{tag} replay", replay_of=ids[0])], 0, times=[base + timedelta(minutes=20)])

    newest = store.list_runs(text_in_title=tag, limit=3)
    assert [r.run_id for r in newest] == [replay, ids[4], ids[3]]
    assert [r.run_id for r in store.list_runs(text_in_title=tag, limit=3, offset=3)] == [ids[2], ids[1], ids[0]]
    assert [r.run_id for r in store.list_runs(text_in_title=tag.upper() + " GOAL 3")] == [ids[3]]
    assert [r.run_id for r in store.list_runs(status=["failed"], text_in_title=tag)] == [ids[1]]
    assert store.get_run(ids[1]).summary["reason"] == "boom"
    assert [r.run_id for r in store.list_runs(parent_id=ids[0])] == [replay]
    assert replay not in {r.run_id for r in store.list_runs(text_in_title=tag, originals_only=True)}
    assert [r.run_id for r in store.list_runs(text_in_title=tag, replays_only=True)] == [replay]
    window = store.list_runs(
        text_in_title=tag, started_after=base + timedelta(minutes=1), started_before=base + timedelta(minutes=3)
    )
    assert [r.run_id for r in window] == [ids[2], ids[1]]
    assert store.count_runs(text_in_title=tag) == 6 and store.count_runs(text_in_title=tag, status=["failed"]) == 1


def test_redactor_scrubs_secrets_at_any_depth_before_storage(store: EventStore, monkeypatch) -> None:
    monkeypatch.setenv("MY_SERVICE_API_KEY", "hunter2-very-secret-value")
    from agent_core.redaction import Redactor

    redacting = EventStore(store.url, redactor=Redactor())
    key = "sk-ant-api03-" + "Ab3" * 31 + "AA"

    class Leaky:
        type, schema_version, actor = "Leaky", 1, "orchestrator"

        def to_payload(self) -> dict:
            return {"a": [{"deep": f"token {key} here"}], key: "as a key", "env": "x hunter2-very-secret-value y"}

    run = new_run_id()
    redacting.append(run, [Leaky()], 0)  # type: ignore[list-item]
    with redacting._read.connect() as conn:
        raw = conn.execute(text("SELECT payload FROM events WHERE run_id = :r"), {"r": run}).scalar_one()
    assert key not in raw and "hunter2" not in raw and raw.count("[REDACTED:") == 3
    assert json.loads(raw)["redactions"] == 3  # and the payload says so
    redacting.close()


def test_unopenable_url_is_one_line_with_password_masked() -> None:
    with pytest.raises(StoreError) as caught:
        EventStore("postgresql+psycopg://alice:s3cr3t@127.0.0.1:1/nowhere")
    message = str(caught.value)
    assert "s3cr3t" not in message and "alice:***@127.0.0.1:1/nowhere" in message and "\n" not in message


def _tamper(store: EventStore, run: str, seq: int, payload: str) -> None:
    """Change a row behind the store's back, as an attacker with database access would."""
    with store._write.begin() as conn:
        if store.dialect == "sqlite":
            conn.execute(text("DROP TRIGGER events_no_update"))
            conn.execute(
                text("UPDATE events SET payload = :p WHERE run_id = :r AND seq = :s"),
                {"p": payload, "r": run, "s": seq},
            )
            conn.execute(
                text(
                    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
                    "BEGIN SELECT RAISE(ABORT, 'events are append-only: UPDATE refused'); END"
                )
            )
        else:
            conn.execute(text("ALTER TABLE events DISABLE TRIGGER events_no_change"))
            conn.execute(
                text("UPDATE events SET payload = :p WHERE run_id = :r AND seq = :s"),
                {"p": payload, "r": run, "s": seq},
            )
            conn.execute(text("ALTER TABLE events ENABLE TRIGGER events_no_change"))
