"""verify: a recorded run re-executes identically from its log; a changed code path names the first divergence."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_core import events as ev
from agent_core.errors import ConcurrencyError
from agent_core.orchestrator import Orchestrator, RunRequest
from agent_core.replay import Overrides, expected_stream, load_recording
from agent_core.workbench import Workbench
from tests.hostile import READ_AND_SUMMARIZE, ScriptedPlanner
from tests.replay.conftest import DEMO_GOAL, STRICT_POLICY, run_goal


def test_a_recorded_offline_run_verifies_identical_and_writes_nothing(bench: Workbench) -> None:
    run_id = run_goal(bench)
    runs_before, position_before = bench.count_runs(), bench.store.last_position()

    result = bench.verify(run_id)

    assert result.identical, result.why
    assert result.compared == len(bench.run_events(run_id)) == 15
    assert (bench.count_runs(), bench.store.last_position()) == (runs_before, position_before)


def test_a_changed_policy_path_names_the_first_diverging_event(bench: Workbench) -> None:
    run_id = run_goal(bench)

    result = bench.verify(run_id, Overrides(policy_path=STRICT_POLICY))

    assert result.status == "diverged"
    assert result.index == 10  # RunStarted .. step_2's observation agree; step_3's decision does not
    assert result.expected is not None and result.got is not None
    assert (result.expected["type"], result.got["type"]) == ("ToolApproved", "ApprovalRequested")
    assert "writes_need_approval" in result.why and "step_3" in result.why


def test_a_system_prompt_change_diverges_at_the_plan_request(bench: Workbench) -> None:
    run_id = run_goal(bench)

    result = bench.verify(run_id, Overrides(system_prompt="Plan tersely."))

    assert result.index == 1 and result.got is not None
    assert result.got["type"] == "PlanRequested" and result.got["payload"]["system_prompt"] == "Plan tersely."
    assert "system_prompt" in result.why


def test_save_keeps_the_reexecution_as_a_verify_replay(bench: Workbench) -> None:
    run_id = run_goal(bench)

    result = bench.verify(run_id, save=True)

    assert result.identical and result.replay_run_id
    saved = bench.run_state(result.replay_run_id)
    assert (saved.replay_of, saved.replay_mode, saved.status) == (run_id, "verify", "completed")


def test_an_interrupted_and_resumed_run_is_compared_without_the_interrupted_attempt(bench: Workbench) -> None:
    run_id = run_goal(bench, "Summarize notes.txt")
    events = bench.run_events(run_id)
    # Rebuild the log as a crash after step_1's intent would have left it, then resume.
    copy_id = "interrupted-" + run_id[:8]
    cut = next(i for i, e in enumerate(events) if e.type == "ToolExecuted")
    bench.store.append(copy_id, [e.event for e in events[: cut + 1]], 0)
    state = bench.advance(copy_id)
    assert state.status == "completed" and state.step("step_1").interrupted == 1  # type: ignore[union-attr]

    expected, _ = expected_stream(load_recording(bench.store, copy_id))
    result = bench.verify(copy_id)

    assert not any(e["type"] == "StepInterrupted" for e in expected)
    assert result.identical, result.why
    assert any("interrupted" in n for n in result.notes)


def test_a_waiting_run_stays_waiting_and_a_decided_one_reuses_the_human_decision(bench: Workbench) -> None:
    state = bench.run(RunRequest("Summarize notes.txt and save the summary to notes.txt"))  # overwrite: held
    run_id = state.run_id
    assert state.status == "waiting_approval"
    assert bench.verify(run_id).identical

    bench.approve(run_id, state.pending_approval.step_id, by="alice", comment="fine")  # type: ignore[union-attr]
    bench.advance(run_id)
    events = bench.run_events(run_id)
    assert any(isinstance(e.event, ev.ApprovalGranted) for e in events)

    result = bench.verify(run_id)
    assert result.identical, result.why


def test_a_missing_policy_file_is_an_error_result_not_a_crash(bench: Workbench, tmp_path: Path) -> None:
    run_id = run_goal(bench)

    result = bench.verify(run_id, Overrides(policy_path=tmp_path / "gone.yaml"))

    assert result.status == "error" and "gone.yaml" in result.why


def test_a_run_held_over_a_file_it_never_read_verifies_identical(bench: Workbench) -> None:
    # no_overwrite names the file's size in its reason; the run never read summary.md, so verify's
    # shadow workspace takes the size from that recorded reason (it was 0 bytes there: a divergence).
    (bench.orchestrator.workspace / "summary.md").write_text("an older summary, 36 bytes long....\n")
    state = bench.run(RunRequest("Summarize notes.txt and save the summary to summary.md"))
    assert state.status == "waiting_approval"
    held = next(e.event for e in bench.run_events(state.run_id) if isinstance(e.event, ev.ApprovalRequested))
    assert "'summary.md' exists (36 bytes)" in held.reason

    result = bench.verify(state.run_id)
    assert result.identical, result.why


def _cancelled_after_first_observation(bench: Workbench) -> str:
    """A run whose step_1 observation was committed alone (as every observation was before they were held for
    the next append, and still is where a worker lets go) and cancelled right after it."""
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL))

    def cancel_after_observation(_run: str, seq: int) -> None:
        if bench.run_events(run_id)[-1].type == "ObservationCaptured":
            orchestrator.cancel(run_id, by="alice")

    with pytest.raises(ConcurrencyError):
        orchestrator.advance(run_id, on_append=cancel_after_observation, commit_apart=lambda _seq: True)
    return run_id


def test_a_run_cancelled_just_after_an_observation_verifies_identical(bench: Workbench) -> None:
    run_id = _cancelled_after_first_observation(bench)
    types = [e.type for e in bench.run_events(run_id)]
    assert types[-3:] == ["ToolExecuted", "ObservationCaptured", "RunCancelled"]

    result = bench.verify(run_id)

    assert result.identical, result.why
    assert result.compared == len(types)
    assert any("cancelled by alice" in note for note in result.notes)


class Killed(Exception):
    """Stands in for the process dying right after an append."""


def test_an_offline_run_that_stopped_after_its_plan_request_verifies_identical(bench: Workbench) -> None:
    """Recorded alone (before offline plan requests were held for the answer, or by a worker letting go), then
    nothing: the re-execution, which would store the request with its answer, stops where the recording did."""
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL))

    def die_after_request(_run: str, seq: int) -> None:
        raise Killed

    with pytest.raises(Killed):
        orchestrator.advance(run_id, on_append=die_after_request, commit_apart=lambda _seq: True)
    assert [e.type for e in bench.run_events(run_id)] == ["RunStarted", "PlanRequested"]

    result = bench.verify(run_id)

    assert result.identical, result.why
    assert result.compared == 2


def test_an_llm_run_that_stopped_after_its_plan_answer_verifies_identical(bench: Workbench) -> None:
    """Recorded before an LLM's answer was held for step 1's intent (or by a worker letting go at the plan):
    the answer committed alone, then nothing. The re-execution, which would hold the answer for step 1's
    decision and intent, commits it alone where the recording stopped and stops there."""
    planner = ScriptedPlanner(READ_AND_SUMMARIZE, summaries=("A short summary.",))
    orchestrator = Orchestrator(bench.store, bench.settings, planner_factory=lambda *_a, **_k: planner)
    run_id = orchestrator.start(RunRequest("Summarize notes.txt", planner="openai"))

    def die_after_answer(run: str, _seq: int) -> None:
        if bench.run_events(run)[-1].type == "CostRecorded":
            raise Killed

    with pytest.raises(Killed):
        orchestrator.advance(run_id, on_append=die_after_answer, commit_apart=lambda _seq: True)
    assert [e.type for e in bench.run_events(run_id)] == [
        "RunStarted",
        "PlanRequested",
        "PlanGenerated",
        "CostRecorded",
    ]

    result = bench.verify(run_id)

    assert result.identical, result.why
    assert result.compared == 4


def test_a_verify_reads_its_policy_file_once_and_decides_with_what_it_read(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The re-execution is served the policy verify loaded and checked, not the file read again at start and advance."""
    from agent_core.policy import Policy

    run_id = run_goal(bench)
    reads: list[Path] = []
    load = Policy.load.__func__  # type: ignore[attr-defined]

    def counted(cls: type[Policy], path: Path) -> Policy:
        reads.append(Path(path))
        return load(cls, path)

    monkeypatch.setattr(Policy, "load", classmethod(counted))
    result = bench.verify(run_id)
    assert result.identical, result.why
    assert len(reads) == 1
