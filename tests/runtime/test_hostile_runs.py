"""No LLM answer, summary, file name or goal can crash a run or leave it ``running``, on either engine.

Each class the issue found is a named case run end to end through the orchestrator and the
store; then generated answers drive whole runs (property-based): every run ends failed,
completed or waiting, its log reads back and its hash chain verifies, and resuming it changes
nothing.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.orchestrator import Orchestrator, RunRequest, RunRequestError
from agent_core.projections import RunState, load_events, open_store
from agent_core.store import EventStore
from tests.hostile import ANSWERS, PLAUSIBLE_PLANS, READ_AND_SUMMARIZE, ScriptedPlanner
from tests.runtime.conftest import make_settings


@pytest.fixture
def store(database_url: str) -> Iterator[EventStore]:
    s = open_store(database_url)
    yield s
    s.close()


def orchestrator(store: EventStore, settings: Settings, planner: ScriptedPlanner) -> Orchestrator:
    return Orchestrator(store, settings, planner_factory=lambda *_a, **_k: planner)


def run(store: EventStore, settings: Settings, planner: ScriptedPlanner, goal: str = "Summarize notes.txt") -> RunState:
    return orchestrator(store, settings, planner).run(RunRequest(goal, planner="openai"))


def payload_bytes(store: EventStore, run_id: str) -> int:
    return sum(len(json.dumps(e.payload)) for e in store.read_run(run_id))


def step_input(tool_input: str) -> str:
    return (
        '{"steps": [{"id": "step_1", "objective": "o", "tool": "web_search", "input": '
        + tool_input
        + ', "success_criteria": "c"}]}'
    )


HOSTILE = {
    "5000-digit-int": step_input('{"query": "q", "max_results": ' + "9" * 5000 + "}"),
    "deep-nesting": '{"steps": ' + "[" * 5000 + "]" * 5000 + "}",
    "escaped-surrogate": step_input('{"query": "\\ud800"}'),
    "raw-surrogate": step_input('{"query": "\ud800"}'),
    "nan": step_input('{"query": "q", "max_results": NaN}'),
    "nul": step_input('{"query": "a\\u0000b"}'),
    "5-mb": "x" * 5_000_000,
}


@pytest.mark.parametrize("answer", HOSTILE.values(), ids=HOSTILE.keys())
def test_a_hostile_answer_fails_the_run_with_a_reason_and_resume_changes_nothing(
    store: EventStore, settings: Settings, answer: str
) -> None:
    planner = ScriptedPlanner(answer, answer, answer)
    state = run(store, settings, planner)
    assert state.status == "failed" and "no valid plan after 3 attempts" in state.failure_reason
    types = [e.type for e in store.read_run(state.run_id)]
    assert types.count("PlanRejected") == 3 and types[-1] == "RunFailed"
    again = orchestrator(store, settings, planner).advance(state.run_id)  # resume: nothing left to do, no crash
    assert again.status == "failed" and again.last_seq == state.last_seq
    assert store.verify_chain(state.run_id) is None
    assert payload_bytes(store, state.run_id) < 60_000  # three 5 MB answers are three excerpts, not 15 MB


def test_a_hostile_summary_reply_is_an_observation_and_its_cost_is_recorded(
    store: EventStore, settings: Settings
) -> None:
    reply = "broken \ud800 text " + "y" * 30_000
    planner = ScriptedPlanner(READ_AND_SUMMARIZE, summaries=(reply,))
    state = run(store, settings, planner)
    assert state.status == "completed", state.failure_reason
    summary = state.step("step_2").result  # type: ignore[union-attr]
    assert summary["success"] and summary["truncated"] and "\ufffd" in summary["output"]
    assert len(summary["output"]) == 20_000 and "summary" not in summary  # bounded, and kept once
    costs = [e.event for e in load_events(store, state.run_id) if isinstance(e.event, ev.CostRecorded)]
    assert [c.source for c in costs] == ["planner", "summarize"]


def test_a_read_observation_keeps_its_text_once(store: EventStore, settings: Settings) -> None:
    state = run(store, settings, ScriptedPlanner(READ_AND_SUMMARIZE, summaries=("short",)))
    read = state.step("step_1").result  # type: ignore[union-attr]
    assert read["success"] and read["output"] and "content" not in read
    stored = store.read_run(state.run_id)[6]
    assert (stored.type, stored.version) == ("ObservationCaptured", 2) and "content" not in stored.payload["result"]


def test_a_workspace_file_whose_name_is_not_utf8_never_crashes_a_run(
    store: EventStore, settings: Settings, workspace: Path
) -> None:
    fd = os.open(os.fsencode(workspace) + b"/caf\xe9.txt", os.O_WRONLY | os.O_CREAT, 0o644)
    os.write(fd, b"latin-1 name")
    os.close(fd)
    bench = Orchestrator(store, settings)
    state = bench.run(RunRequest("Which files are in the workspace?"))
    assert state.status == "completed", state.failure_reason
    request = next(e.event for e in load_events(store, state.run_id) if isinstance(e.event, ev.PlanRequested))
    assert "caf" not in request.user_message  # no plan can name it: it is not listed to the planner
    listed = state.step("step_1").result  # type: ignore[union-attr]
    assert "notes.txt" in listed["output"] and "caf" not in listed["output"]  # no tool could open it: not listed
    assert store.verify_chain(state.run_id) is None


@pytest.mark.parametrize(
    "goal",
    [
        "a\x00b",
        "clear \x1b[2J the screen",
        "title \x1b]0;pwned\x07",
        "bell \x07",
        "c1 \x85 next line",
        "del \x7f",
        "surrogate \ud800",
    ],
    ids=["nul", "csi", "osc", "bell", "c1", "del", "surrogate"],
)
def test_control_characters_in_a_goal_are_refused_by_validation_on_both_engines(
    store: EventStore, settings: Settings, goal: str
) -> None:
    with pytest.raises(RunRequestError, match="remove it") as refused:
        Orchestrator(store, settings).start(RunRequest(goal))
    assert refused.value.field == "goal"
    assert store.list_runs() == []
    Orchestrator(store, settings).start(RunRequest("tabs\tand\nline breaks\r\nare fine"))


def test_a_result_the_store_refuses_is_recorded_as_a_failed_observation(database_url: str, workspace: Path) -> None:
    (workspace / "big.txt").write_text("z" * 60_000)
    plan = READ_AND_SUMMARIZE.replace("notes.txt", "big.txt")
    small = open_store(database_url, max_payload_bytes=50_000)
    try:
        state = run(small, make_settings(database_url, workspace), ScriptedPlanner(plan, summaries=("s",)))
    finally:
        small.close()
    read = state.step("step_1").result  # type: ignore[union-attr]
    assert not read["success"] and "could not be stored" in read["error"] and "50,000 bytes" in read["error"]
    assert state.status == "failed" and state.failure_reason.startswith("no step succeeded")  # it ended, said why


def test_any_event_the_store_refuses_fails_the_run_with_the_reason(database_url: str, workspace: Path) -> None:
    padded = json.dumps({**json.loads(READ_AND_SUMMARIZE), "padding": "p" * 60_000})
    small = open_store(database_url, max_payload_bytes=50_000)
    try:
        state = run(small, make_settings(database_url, workspace), ScriptedPlanner(padded))
    finally:
        small.close()
    assert state.status == "failed"
    assert "the store refused an event: PlanGenerated of run" in state.failure_reason
    assert "cap of 50,000 bytes" in state.failure_reason


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(ANSWERS, PLAUSIBLE_PLANS), min_size=3, max_size=3), st.lists(st.text(), max_size=2))
def test_any_answers_end_the_run_in_events_never_running(
    store: EventStore, settings: Settings, answers: list[str], summaries: list[str]
) -> None:
    planner = ScriptedPlanner(*answers, summaries=tuple(summaries))
    state = run(store, settings, planner)
    assert state.status in ("completed", "failed", "waiting_approval"), state.status
    assert not state.problems and store.verify_chain(state.run_id) is None
    again = orchestrator(store, settings, planner).advance(state.run_id)
    assert again.status == state.status and again.last_seq == state.last_seq
