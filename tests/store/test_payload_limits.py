"""What the store refuses, alike on SQLite and PostgreSQL: payloads over the cap, and values no engine stores.

Each refusal is a typed ``PayloadRejected`` naming the run and the event type, and writes nothing
of its batch. A property test appends generated payloads (huge integers, deep nesting, unpaired
surrogates, control characters and NUL, ``NaN``, byte strings): each is stored and reads back
as written, or is refused with a ``PayloadRejected``; the hash chain always verifies.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings

from agent_core import events as ev
from agent_core.errors import InvalidPayload, PayloadRejected, PayloadTooLarge, StoreError
from agent_core.projections import load_events, open_store
from agent_core.redaction import Redactor
from agent_core.store import MAX_PAYLOAD_BYTES, EventStore
from tests.hostile import VALUES_WITH_BYTES, nested
from tests.store.helpers import new_run_id, observation, run_started


class Raw:
    """An event with any payload, as a careless writer would append it."""

    type, schema_version, actor = "Raw", 1, "orchestrator"

    def __init__(self, payload: dict[str, Any], event_type: str = "Raw", actor: str = "orchestrator") -> None:
        self.payload, self.type, self.actor = payload, event_type, actor

    def to_payload(self) -> dict[str, Any]:
        return self.payload


def started(store: EventStore) -> str:
    run = new_run_id()
    store.append(run, [run_started()], 0)
    return run


def assert_nothing_written(store: EventStore, run: str) -> None:
    assert [e.seq for e in store.read_run(run)] == [1]
    assert store.get_run(run).last_seq == 1 and store.verify_chain(run) is None


def test_a_payload_over_the_cap_is_refused_with_run_type_and_size(store: EventStore) -> None:
    run = started(store)
    big = observation(text="x" * MAX_PAYLOAD_BYTES)
    with pytest.raises(PayloadTooLarge) as refused:
        store.append(run, [observation("step_0"), big], 1)
    error = refused.value
    assert (error.run_id, error.event_type, error.limit) == (run, "ObservationCaptured", MAX_PAYLOAD_BYTES)
    assert error.size > MAX_PAYLOAD_BYTES
    assert f"ObservationCaptured of run {run!r} is {error.size:,} bytes" in str(error)
    assert "cap of 2,097,152 bytes per event" in str(error)
    assert_nothing_written(store, run)
    store.append(run, [observation(text="x" * (MAX_PAYLOAD_BYTES - 200))], 1)  # just under the cap is fine


def test_the_cap_counts_utf8_bytes_and_is_configurable(database_url: str) -> None:
    small = open_store(database_url, max_payload_bytes=1000)
    try:
        run = new_run_id()
        small.append(run, [ev.RunFailed(reason="é" * 400)], 0)  # 800 bytes of text
        with pytest.raises(PayloadTooLarge, match="1,000 bytes per event"):
            small.append(run, [ev.RunFailed(reason="é" * 600)], 1)
    finally:
        small.close()


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"text": "caf\udce9.txt"}, "unpaired surrogate U+DCE9"),
        ({"caf\ud800": 1}, "unpaired surrogate U+D800"),
        ({"n": 10**5000}, "not strict JSON"),
        ({"x": float("nan")}, "not strict JSON"),
        ({"x": float("inf")}, "not strict JSON"),
        ({"x": b"bytes"}, "not strict JSON"),
        ({"x": nested(64)}, "more than 64 levels deep"),
        ({"x": nested(100_000, kind="dict")}, "more than 64 levels deep"),
    ],
    ids=["surrogate", "surrogate-key", "huge-int", "nan", "infinity", "bytes", "deep", "very-deep"],
)
def test_a_value_no_engine_stores_alike_is_refused_by_name(store: EventStore, payload: Any, expected: str) -> None:
    run = started(store)
    with pytest.raises(InvalidPayload, match=re.escape(expected)) as refused:
        store.append(run, [observation("step_0"), Raw(payload)], 1)
    assert refused.value.run_id == run and refused.value.event_type == "Raw"
    assert_nothing_written(store, run)


def test_nul_and_control_characters_in_a_payload_are_stored_escaped_on_both_engines(store: EventStore) -> None:
    run = started(store)
    text = "a\x00b\x1b[2Jc\x7f\x85d\u2028"
    store.append(run, [observation(text=text)], 1)
    assert store.read_run(run)[1].payload["result"]["output"] == text
    assert store.verify_chain(run) is None


def test_nul_in_a_goal_a_run_id_or_an_envelope_field_is_refused_alike(store: EventStore) -> None:
    with pytest.raises(InvalidPayload, match="the run's title holds a NUL character"):
        store.append(new_run_id(), [run_started(goal="a\x00b")], 0)  # PostgreSQL used to fail, SQLite to accept
    with pytest.raises(InvalidPayload, match="the run id holds a NUL character"):
        store.append("run\x00", [run_started()], 0)
    with pytest.raises(InvalidPayload, match="the event type holds an unpaired surrogate"):
        store.append(new_run_id(), [Raw({}, event_type="Raw\ud800")], 0)
    assert store.list_runs() == []


def test_payload_rejected_is_a_store_error() -> None:
    assert issubclass(PayloadTooLarge, PayloadRejected) and issubclass(InvalidPayload, PayloadRejected)
    assert issubclass(PayloadRejected, StoreError)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(VALUES_WITH_BYTES)
def test_any_payload_is_stored_as_written_or_refused_with_a_typed_error(store: EventStore, value: Any) -> None:
    run = started(store)
    try:
        store.append(run, [Raw({"value": value})], 1)
    except PayloadRejected as error:
        assert error.run_id == run and error.event_type == "Raw"
        assert_nothing_written(store, run)
        return
    written = json.loads(json.dumps(Redactor().value({"value": value}), allow_nan=False))
    assert store.read_run(run)[1].payload == written
    assert store.verify_chain(run) is None
    assert load_events(store, run)[1].problem == "unknown event type 'Raw'"  # read back whole, never a crash
