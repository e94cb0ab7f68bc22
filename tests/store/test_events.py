"""The event catalogue: frozen models, one union, upcasting of old payloads on read."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import get_args

import pydantic
import pytest

from agent_core import events as ev
from agent_core.describe import summarize_event
from agent_core.policy import Outcome
from agent_core.projections import HANDLERS, load_events, load_state
from agent_core.store import EventStore
from agent_core.workbench import DECISION_OUTCOMES as WORKBENCH_DECISION_OUTCOMES
from tests.store.catalogue import MINIMAL_PAYLOADS, example
from tests.store.helpers import new_run_id, run_started

NOW = datetime(2026, 1, 1, tzinfo=UTC)


CLASSES = list(ev.EVENT_CLASSES)
NAMES = [cls.__name__ for cls in CLASSES]


def test_the_type_list_is_derived_from_the_union_and_the_table_of_payloads_covers_it() -> None:
    assert list(ev.EVENT_TYPES.values()) == CLASSES
    assert all(name == cls.__name__ for name, cls in ev.EVENT_TYPES.items())
    assert set(MINIMAL_PAYLOADS) == set(CLASSES), "add a minimal payload for each new type to tests/store/catalogue.py"
    assert {"RunCompleted", "RunFailed", "RunCancelled"} == ev.TERMINAL_TYPES


@pytest.mark.parametrize("cls", CLASSES, ids=NAMES)
def test_every_catalogue_type_round_trips_through_the_union(cls: type[ev.DomainEvent]) -> None:
    event = example(cls)
    name = event.type
    assert ev.EVENT_TYPES[name] is cls
    again = ev.decode_payload(name, event.schema_version, event.to_payload())
    assert type(again) is cls and again == event
    assert ev.EVENT_ADAPTER.validate_json(event.model_dump_json()) == event


@pytest.mark.parametrize("cls", CLASSES, ids=NAMES)
def test_each_minimal_payload_holds_exactly_the_required_fields(cls: type[ev.DomainEvent]) -> None:
    payload = MINIMAL_PAYLOADS[cls]
    required = {name for name, field in cls.model_fields.items() if field.is_required()}
    assert set(payload) == required
    for missing in payload:
        with pytest.raises(pydantic.ValidationError):
            cls.model_validate({k: v for k, v in payload.items() if k != missing})


def test_every_catalogue_type_round_trips_through_the_store(store: EventStore) -> None:
    run = new_run_id()
    events = [example(cls) for cls in CLASSES]
    store.append(run, events, 0)
    read = load_events(store, run)
    assert [r.event for r in read] == events
    assert [(r.type, r.version, r.actor) for r in read] == [(e.type, e.schema_version, e.actor) for e in events]
    assert not [r.problem for r in read if r.problem]


def test_every_catalogue_type_has_one_fold_handler() -> None:
    assert set(HANDLERS) == set(CLASSES)


@pytest.mark.parametrize("cls", CLASSES, ids=NAMES)
def test_every_catalogue_type_has_a_summary_line(cls: type[ev.DomainEvent]) -> None:
    event = example(cls)
    recorded = ev.RecordedEvent(1, "r" * 32, 1, event.type, event.schema_version, event.actor, NOW, "", event)
    line = summarize_event(recorded)
    assert line and line != event.type  # the type name alone is the fallback for a type without a summary


def test_the_decision_vocabulary_is_declared_on_the_decision_classes() -> None:
    assert {name: (d.word, d.effect, d.policy_outcome) for name, d in ev.DECISIONS.items()} == {
        "ToolApproved": ("approved", "run", "approve"),
        "ToolRejected": ("rejected", "skip", "reject"),
        "ApprovalRequested": ("held", "wait", "hold"),
        "ApprovalGranted": ("granted", "run", ""),
        "ApprovalDenied": ("denied", "skip", ""),
    }
    assert ev.DECISION_OUTCOMES == ("approved", "rejected", "held", "granted", "denied")
    assert ev.GUARD_DECISIONS == {"ToolApproved": "approve", "ToolRejected": "reject", "ApprovalRequested": "hold"}
    assert set(ev.GUARD_DECISIONS.values()) == set(get_args(Outcome))  # every policy outcome has its event
    assert WORKBENCH_DECISION_OUTCOMES == ev.DECISION_OUTCOMES


def test_events_are_frozen() -> None:
    with pytest.raises(pydantic.ValidationError):
        run_started().goal = "changed"  # type: ignore[misc]


class RunStartedV1:
    """What a v1 writer put in the log: ``planner`` was the provider name, ``model`` sat beside it."""

    type, schema_version, actor = "RunStarted", 1, "orchestrator"

    def to_payload(self) -> dict:
        return {
            "goal": "old goal",
            "max_steps": 3,
            "budget_usd": 0.25,
            "planner": "openai",
            "model": "gpt-4o-mini",
            "policy_sha": "abc",
        }


def test_v1_run_started_is_upcast_to_v2_on_read_and_the_row_is_never_rewritten(store: EventStore) -> None:
    run = new_run_id()
    store.append(run, [RunStartedV1()], 0)  # type: ignore[list-item]
    stored = store.read_run(run)[0]
    assert stored.version == 1 and stored.payload["planner"] == "openai"  # the row stays v1
    state = load_state(store, run)
    assert state.planner == ev.PlannerInfo(provider="openai", model="gpt-4o-mini", prompt_sha="")
    assert state.goal == "old goal" and state.budget_usd == 0.25
    assert store.get_run(run).summary["provider"] == "openai"  # the index upcasts too


def test_a_version_newer_than_the_code_is_kept_as_unknown() -> None:
    decoded = ev.decode_payload("RunStarted", 9, {"goal": "x"})
    assert isinstance(decoded, ev.UnknownEvent) and "newer than this code" in decoded.problem
    assert decoded.data == {"goal": "x"}


def test_cost_events_name_their_actor_by_source() -> None:
    assert ev.CostRecorded(source="planner").actor == "planner"
    assert ev.CostRecorded(source="summarize").actor == "tool_executor"


class V1:
    """A payload as a v1 writer stored it."""

    schema_version, actor = 1, "planner"

    def __init__(self, event_type: str, payload: dict) -> None:
        self.type, self.payload = event_type, payload

    def to_payload(self) -> dict:
        return self.payload


def test_v1_plan_rejected_is_read_as_length_sha256_and_excerpt(store: EventStore) -> None:
    run = new_run_id()
    answer = "not a plan " * 1000  # 11,000 characters, stored whole by v1
    store.append(run, [run_started(), V1("PlanRejected", {"error": "not JSON", "raw_text": answer, "attempt": 2})], 0)
    stored = store.read_run(run)[1]
    assert stored.version == 1 and stored.payload["raw_text"] == answer  # the row stays v1
    rejected = load_events(store, run)[1].event
    assert isinstance(rejected, ev.PlanRejected) and (rejected.error, rejected.attempt) == ("not JSON", 2)
    assert (rejected.raw_chars, rejected.raw_sha256) == (11_000, ev.answer_sha256(answer))
    assert rejected.raw_excerpt == answer[: ev.REJECTED_EXCERPT_CHARS] and not rejected.replays_whole_answer
    short = ev.upcast("PlanRejected", 1, {"error": "e", "raw_text": "{}"})
    assert ev.PlanRejected.model_validate(short).replays_whole_answer  # a short answer is still whole
    failure = ev.PlanRejected.model_validate(ev.upcast("PlanRejected", 1, {"error": "e", "raw_text": ""}))
    assert (failure.raw_chars, failure.raw_sha256, failure.raw_excerpt) == (0, "", "")


def test_v1_observation_is_read_with_its_text_once(store: EventStore) -> None:
    run = new_run_id()
    result = {"success": True, "output": "the notes", "content": "the notes", "path": "notes.txt", "bytes": 9}
    summary = {"success": True, "output": "short", "summary": "short", "backend": "extractive"}
    failed = {"success": False, "output": "", "error": "", "note": ""}
    v1 = [
        V1("ObservationCaptured", {"step_id": f"s{i}", "tool": "t", "result": r})
        for i, r in enumerate((result, summary, failed))
    ]
    store.append(run, [run_started(), *v1], 0)
    assert store.read_run(run)[1].payload["result"]["content"] == "the notes"  # the row stays v1
    read = [e.event.result for e in load_events(store, run)[1:]]
    assert read[0] == {"success": True, "output": "the notes", "path": "notes.txt", "bytes": 9}
    assert read[1] == {"success": True, "output": "short", "backend": "extractive"}
    assert read[2] == failed  # an empty output repeats nothing
    assert ev.result_once(read[0]) == read[0]
