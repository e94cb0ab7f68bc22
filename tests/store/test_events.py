"""The event catalogue: frozen models, one union, upcasting of old payloads on read."""

from __future__ import annotations

import pydantic
import pytest

from agent_core import events as ev
from agent_core.projections import load_state
from agent_core.store import EventStore
from tests.store.helpers import new_run_id, run_started


def test_every_catalogue_type_round_trips_through_the_union() -> None:
    assert set(ev.EVENT_TYPES) == {
        "RunStarted",
        "PlanRequested",
        "PlanGenerated",
        "PlanRejected",
        "CostRecorded",
        "ToolApproved",
        "ToolRejected",
        "ApprovalRequested",
        "ApprovalGranted",
        "ApprovalDenied",
        "ToolExecuted",
        "ObservationCaptured",
        "StepInterrupted",
        "BudgetExceeded",
        "ResponseFinalized",
        "RunCompleted",
        "RunFailed",
        "RunCancelled",
        "ReplayDiffed",
    }
    started = run_started()
    again = ev.decode_payload("RunStarted", started.schema_version, started.to_payload())
    assert again == started


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
