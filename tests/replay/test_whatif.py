"""what-if replays: overrides reach the provider and the policy; recorded tools touch no file and no network."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_core import tools
from agent_core.orchestrator import RunRequest
from agent_core.replay import NO_RECORDING_ERROR, Overrides
from agent_core.workbench import Workbench
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, openai_reply
from tests.replay.conftest import READ_GOAL, STRICT_POLICY, make_settings, run_goal


def test_a_stricter_policy_makes_the_replay_regress_with_the_rule_named(
    bench: Workbench, no_writes_policy: Path
) -> None:
    run_id = run_goal(bench)

    result = bench.whatif(run_id, Overrides(policy_path=no_writes_policy))

    assert result.diff.verdict == "regression"
    assert any("step_3 (write_file) is newly rejected by policy rule 'known_tools'" in r for r in result.diff.reasons)
    assert any("fewer steps succeeded (3 -> 2)" in r for r in result.diff.reasons)
    replay = bench.run_state(result.replay_id)
    assert (replay.replay_of, replay.replay_mode, replay.verdict) == (run_id, "whatif", "regression")
    assert replay.overrides["policy_path"] == str(no_writes_policy)
    # lineage: the original lists its replay with the verdict, without recomputing the diff
    [summary] = bench.replays_of(run_id)
    assert (summary.run_id, summary.verdict) == (result.replay_id, "regression")


def test_a_held_step_reuses_the_originals_decision_only_where_the_original_held(bench: Workbench) -> None:
    state = bench.run(RunRequest("Summarize notes.txt and save the summary to notes.txt"))  # overwrite: held
    bench.approve(state.run_id, "step_3", by="alice", comment="ok")
    assert bench.advance(state.run_id).status == "completed"

    same = bench.whatif(state.run_id, Overrides())
    assert same.state.status == "completed" and same.diff.verdict == "unchanged"
    assert same.state.step("step_3").decided_by == "alice"  # type: ignore[union-attr]

    strict = bench.whatif(run_goal(bench), Overrides(policy_path=STRICT_POLICY))
    assert strict.state.status == "waiting_approval"  # the original never held step_3: a person must decide
    assert any("writes_need_approval" in r for r in strict.diff.reasons)


def _listing(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(root)): (p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(root.rglob("*"))}


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    """Fail any connection that leaves the machine; record every attempt."""
    attempts: list[Any] = []
    real_connect = socket.socket.connect

    def guarded(self: socket.socket, address: Any) -> Any:
        attempts.append(address)
        host = address[0] if isinstance(address, tuple) else str(address)
        if self.family in (socket.AF_INET, socket.AF_INET6) and host not in ("127.0.0.1", "::1", "localhost"):
            raise AssertionError(f"network access to {address!r} during a recorded replay")
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    yield attempts


def test_recorded_tools_touch_no_file_and_no_network(
    bench: Workbench, workspace: Path, monkeypatch: pytest.MonkeyPatch, loopback_only: list[Any]
) -> None:
    run_id = run_goal(bench)
    before = _listing(workspace)

    def no_live_tool(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a live tool ran during a recorded replay")

    monkeypatch.setattr(tools, "execute", no_live_tool)
    os.chmod(workspace, 0o555)
    try:
        result = bench.whatif(run_id, Overrides(policy_path=STRICT_POLICY.parent / "default.yaml"))
        verified = bench.verify(run_id)
    finally:
        os.chmod(workspace, 0o755)

    assert result.state.status == "completed" and result.diff.verdict == "unchanged"
    assert verified.identical
    assert _listing(workspace) == before
    assert all(a[0] in ("127.0.0.1", "::1") for a in loopback_only if isinstance(a, tuple))


def test_a_call_without_a_recording_fails_loudly_instead_of_running_live(bench: Workbench, fake_llm: Any) -> None:
    run_id = run_goal(bench, READ_GOAL)
    events = bench.run_events(run_id)
    # drop step_1's observation from a copy: the replay has nothing to serve for it
    copy_id = "gap-" + run_id[:8]
    kept = [e.event for e in events if not (e.type == "ObservationCaptured" and e.event.step_id == "step_1")]
    bench.store.append(copy_id, kept, 0)

    result = bench.whatif(copy_id, Overrides())

    step = result.state.step("step_1")
    assert step is not None and step.result == {"success": False, "output": "", "error": NO_RECORDING_ERROR}


READ_STEP = {
    "id": "step_1",
    "objective": "Read the notes.",
    "tool": "read_file",
    "input": {"path": "notes.txt"},
    "success_criteria": "The notes are read.",
}
SUMMARY_STEP = {
    "id": "step_2",
    "objective": "Summarize them.",
    "tool": "summarize",
    "input": {"from_steps": ["step_1"]},
    "success_criteria": "A summary.",
}
PLAN_A = {"steps": [READ_STEP], "stop_conditions": ["the file is missing"]}
PLAN_B = {"steps": [READ_STEP, SUMMARY_STEP], "stop_conditions": ["the file is missing"]}


def test_a_system_prompt_override_reaches_the_provider_and_changes_the_plan(
    database_url: str, workspace: Path, fake_llm: FakeLLMServer
) -> None:
    settings = make_settings(database_url, workspace, AGENT_PLANNER="openai", OPENAI_BASE_URL=fake_llm.openai_base_url)
    fake_llm.script(OPENAI_PATH, openai_reply(json.dumps(PLAN_A)), openai_reply(json.dumps(PLAN_B)))
    bench = Workbench.open(settings)
    try:
        original = bench.run(RunRequest(READ_GOAL))
        assert original.status == "completed"

        result = bench.whatif(original.run_id, Overrides(system_prompt="PROMPT-B: always summarize what you read."))
    finally:
        bench.close()

    sent = fake_llm.requests_to(OPENAI_PATH)[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "PROMPT-B: always summarize what you read."}
    assert result.state.overrides["system_prompt"].startswith("PROMPT-B")
    assert "+step_2 summarize" in result.diff.plan_diff
    [row] = [r for r in result.diff.rows if r.key == "step_2"]
    assert row.plan_change == "added"
    assert result.diff.rows[0].plan_change == "same" and result.diff.rows[0].observation_change == ""


def test_approving_a_held_replay_continues_it_without_touching_the_real_workspace(
    bench: Workbench, workspace: Path
) -> None:
    run_id = run_goal(bench)
    held = bench.whatif(run_id, Overrides(policy_path=STRICT_POLICY))
    assert held.state.status == "waiting_approval" and held.state.verdict == "regression"
    before = _listing(workspace)

    bench.approve(held.replay_id, "step_3", by="bob")
    state = bench.advance(held.replay_id)

    assert state.status == "completed" and state.step("step_3").result["success"]  # type: ignore[union-attr, index]
    # The verdict describes the replay as run: the stricter policy held a step the original ran without
    # asking. A person's approval is recorded apart (ApprovalGranted by bob), it does not make it "unchanged".
    assert state.verdict == "regression"
    assert any("step_3 (write_file) is newly held" in r and "writes_need_approval" in r for r in state.verdict_reasons)
    assert bench.replays_of(run_id)[0].verdict == "regression"
    step = state.step("step_3")
    assert step is not None and (step.decision, step.decided_by) == ("granted", "bob")
    assert _listing(workspace) == before
