"""A step's observation (and a planner's answer) is committed with the run's next transition, never lost on the way.

The orchestrator holds what already happened (``RunWriter.hold``) until the next append: the next
step's decision and intent, a hold, the next plan request, or the run's end. These tests pin what that
may and may not change: the events, their order and times stay what they were; an error, a refused
event or a worker letting go still leaves the observation in the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_core import events as ev
from agent_core.errors import ConcurrencyError, PayloadRejected
from agent_core.orchestrator import LiveTools, RunRequest, RunWriter
from agent_core.projections import load_state
from agent_core.providers import Reply
from agent_core.workbench import Workbench
from tests.hostile import READ_AND_SUMMARIZE, ScriptedPlanner
from tests.runtime.conftest import DEMO_GOAL


def test_each_observation_is_committed_with_the_next_transition_and_keeps_its_own_time(bench: Workbench) -> None:
    commits: list[int] = []
    state = bench.orchestrator.run(RunRequest(DEMO_GOAL), on_append=lambda _run, seq: commits.append(seq))
    assert state.status == "completed", state.failure_reason
    # RunStarted | offline plan (request, plan, cost) + step_1 decided+intent | obs_1 + step_2 decided+intent | ...
    assert commits == [1, 6, 9, 12, 15]
    events = bench.run_events(state.run_id)
    for before, observed, after in zip(events, events[1:], events[2:], strict=False):
        if observed.type == "ObservationCaptured":
            assert before.type == "ToolExecuted" and before.at <= observed.at <= after.at
    assert bench.store.verify_chain(state.run_id) is None
    assert bench.run_state(state.run_id) == state  # the writer's fold of what it held is the log's own fold


class Watching(ScriptedPlanner):
    """A scripted planner that notes what the store holds of the run when it is called."""

    def __init__(self, bench: Workbench, provider: str) -> None:
        super().__init__(READ_AND_SUMMARIZE, provider=provider, model="m")
        self.bench = bench
        self.seen: list[str] = []

    def plan(self, system_prompt: str, user_message: str, limits: Any) -> Reply:
        run = self.bench.list_runs(limit=1)[0].run_id
        self.seen = [e.type for e in self.bench.run_events(run)]
        return super().plan(system_prompt, user_message, limits)


@pytest.mark.parametrize(("provider", "stored_before_the_call"), [("openai", True), ("offline", False)])
def test_an_llm_plan_request_is_committed_before_the_call_an_offline_one_with_its_answer(
    bench: Workbench, provider: str, stored_before_the_call: bool
) -> None:
    planner = Watching(bench, provider)
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest("Summarize notes.txt"))
    state = orchestrator.advance(run_id, planner=planner)
    assert state.status == "completed", state.failure_reason
    assert planner.seen == ["RunStarted", "PlanRequested"][: 2 if stored_before_the_call else 1]
    assert [e.type for e in bench.run_events(run_id)][:3] == ["RunStarted", "PlanRequested", "PlanGenerated"]


class Recalling(Watching):
    """``Watching``, noting what the store holds at every call, not only the last."""

    def __init__(self, bench: Workbench, *answers: str) -> None:
        super().__init__(bench, "openai")
        self.answers = list(answers)
        self.seen_at_each_call: list[list[str]] = []

    def plan(self, system_prompt: str, user_message: str, limits: Any) -> Reply:
        reply = super().plan(system_prompt, user_message, limits)
        self.seen_at_each_call.append(self.seen)
        return reply


def test_an_llm_answer_is_committed_with_step_1s_decision_and_intent_before_the_tool_runs(bench: Workbench) -> None:
    commits: list[list[str]] = []
    seen = 0

    def committed(run_id: str, seq: int) -> None:
        nonlocal seen
        commits.append([e.type for e in bench.run_events(run_id)][seen:seq])
        seen = seq

    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest("Summarize notes.txt"), on_append=committed)
    state = orchestrator.advance(run_id, planner=Recalling(bench, READ_AND_SUMMARIZE), on_append=committed)
    assert state.status == "completed", state.failure_reason
    assert commits[:3] == [
        ["RunStarted"],
        ["PlanRequested"],
        ["PlanGenerated", "CostRecorded", "ToolApproved", "ToolExecuted"],  # the answer, then step_1's intent
    ]
    assert bench.run_state(run_id) == state
    assert bench.store.verify_chain(run_id) is None


def test_a_rejected_answer_is_in_the_store_before_the_repair_is_asked_for(bench: Workbench) -> None:
    planner = Recalling(bench, "not a plan", READ_AND_SUMMARIZE)
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest("Summarize notes.txt"))
    state = orchestrator.advance(run_id, planner=planner)
    assert state.status == "completed", state.failure_reason
    first, second = planner.seen_at_each_call
    assert first == ["RunStarted", "PlanRequested"]
    assert second == [*first, "PlanRejected", "CostRecorded", "PlanRequested"]  # the paid rejection went first


class FailingProvider(Recalling):
    def plan(self, system_prompt: str, user_message: str, limits: Any) -> Reply:
        raise RuntimeError("the provider's SDK broke")


def test_a_provider_failure_is_recorded_with_the_runs_end(bench: Workbench) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest("Summarize notes.txt"))
    state = orchestrator.advance(run_id, planner=FailingProvider(bench))
    assert state.status == "failed" and "the provider's SDK broke" in (state.failure_reason or "")
    assert [e.type for e in bench.run_events(run_id)] == ["RunStarted", "PlanRequested", "PlanRejected", "RunFailed"]


class FailsBeforeSecondIntent(LiveTools):
    """The live tools, but asking for the second step's write target raises: a bug after a tool ran."""

    calls = 0

    def target_sha256(self, tool: str, resolved_input: dict[str, Any]) -> str | None:
        self.calls += 1
        if self.calls == 2:
            raise RuntimeError("boom while preparing step_2")
        return super().target_sha256(tool, resolved_input)


def test_an_error_after_a_tool_ran_still_records_its_observation(bench: Workbench, workspace: Path) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL))
    with pytest.raises(RuntimeError, match="boom"):
        orchestrator.advance(run_id, tool_runner=FailsBeforeSecondIntent(orchestrator.workspace))
    types = [e.type for e in bench.run_events(run_id)]
    assert types[-3:] == ["ToolApproved", "ToolExecuted", "ObservationCaptured"]  # step_1, whole
    assert bench.run_state(run_id).step("step_1").outcome == "succeeded"
    done = bench.advance(run_id)  # nothing half done: the run goes on without an interrupted step
    assert done.status == "completed", done.failure_reason
    assert "StepInterrupted" not in [e.type for e in bench.run_events(run_id)]


def _writer_holding_an_observation(bench: Workbench) -> RunWriter:
    run_id = bench.orchestrator.start(RunRequest(DEMO_GOAL))
    state = load_state(bench.store, run_id)
    writer = RunWriter(bench.store, run_id, state.last_seq, state=state)
    writer.hold(
        ev.ObservationCaptured(step_id="step_1", tool="web_search", result={"success": True}, duration_ms=1.0),
        ev.CostRecorded(source="summarize", model="m", usd=0.25, total_usd=0.25, usage=ev.Usage(input_tokens=9)),
    )
    assert writer.seq == 1 and writer.caught_up(state).last_seq == 3  # held, folded, not written
    assert len(bench.run_events(run_id)) == 1
    return writer


def test_a_refused_next_event_leaves_the_held_observation_committed_alone(bench: Workbench) -> None:
    writer = _writer_holding_an_observation(bench)
    too_long = "x" * (bench.store.max_payload_bytes + 1)
    with pytest.raises(PayloadRejected):
        writer(ev.ResponseFinalized(summary=too_long, step_count=0))
    assert [e.type for e in bench.run_events(writer.run_id)] == ["RunStarted", "ObservationCaptured", "CostRecorded"]
    assert writer.seq == 3


def test_a_cancel_before_the_next_append_keeps_the_paid_cost_as_for_a_tool_it_interrupted(bench: Workbench) -> None:
    writer = _writer_holding_an_observation(bench)
    bench.cancel(writer.run_id, by="alice")  # lands while the next step is being decided
    with pytest.raises(ConcurrencyError):
        writer(ev.ResponseFinalized(summary="done", step_count=0))
    events = bench.run_events(writer.run_id)
    assert [e.type for e in events] == ["RunStarted", "RunCancelled", "CostRecorded"]  # the paid call, late
    assert events[-1].event.total_usd == 0.25


def test_commit_apart_commits_a_held_observation_alone_before_the_next_transition(bench: Workbench) -> None:
    writer = _writer_holding_an_observation(bench)
    asked: list[int] = []
    commits: list[int] = []
    writer.commit_apart = lambda seq: asked.append(seq) is None
    writer.on_append = lambda _run, seq: commits.append(seq)
    writer(ev.ResponseFinalized(summary="done", step_count=0))
    assert asked == [3] and commits == [3, 4]
