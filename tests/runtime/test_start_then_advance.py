"""``advance`` right after ``start`` begins from its fold and policy, and still sees what was appended since."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from agent_core.orchestrator import RunRequest
from agent_core.policy import Policy
from agent_core.store import EventStore
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEFAULT_POLICY, DEMO_GOAL


def _reads(store: EventStore, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    calls: list[tuple[str, int]] = []
    read_run = store.read_run

    def spy(run_id: str, after_seq: int = 0) -> Any:
        calls.append((run_id, after_seq))
        return read_run(run_id, after_seq)

    monkeypatch.setattr(store, "read_run", spy)
    return calls


def test_the_advance_after_start_reads_only_what_came_after_run_started(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL))
    reads = _reads(bench.store, monkeypatch)
    state = orchestrator.advance(run_id)
    assert state.status == "completed", state.failure_reason
    assert reads[0] == (run_id, 1)  # not the whole run again
    assert bench.run_state(run_id) == state


def test_a_cancel_from_another_process_between_start_and_advance_is_seen(bench: Workbench) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL))
    other = Workbench.open(bench.settings)  # another process's view of the same database
    try:
        other.cancel(run_id, by="bob")
    finally:
        other.close()
    state = orchestrator.advance(run_id)
    assert state.status == "cancelled"
    assert [e.type for e in bench.run_events(run_id)] == ["RunStarted", "RunCancelled"]


def test_advancing_another_run_than_the_one_started_last_reads_it_whole(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    orchestrator = bench.orchestrator
    first = orchestrator.start(RunRequest(DEMO_GOAL))
    orchestrator.start(RunRequest(DEMO_GOAL))
    reads = _reads(bench.store, monkeypatch)
    state = orchestrator.advance(first)
    assert state.status == "completed", state.failure_reason
    assert reads[0] == (first, 0)
    assert bench.run_state(first) == state


@pytest.fixture
def own_policy(tmp_path: Path) -> Path:
    policy = tmp_path / "policy.yaml"
    policy.write_bytes(DEFAULT_POLICY.read_bytes())
    return policy


def test_the_advance_after_start_decides_with_the_policy_run_started_names(bench: Workbench, own_policy: Path) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL), policy_path=own_policy)
    own_policy.write_text(own_policy.read_text() + "\n# edited after the start\n")
    state = orchestrator.advance(run_id)  # the file changed after start read it: the run keeps the policy it names
    assert state.status == "completed", state.failure_reason
    assert state.policy_sha == Policy.from_bytes(DEFAULT_POLICY.read_bytes(), own_policy).sha


def test_a_later_advance_reads_the_policy_file_again_and_fails_on_a_change(bench: Workbench, own_policy: Path) -> None:
    orchestrator = bench.orchestrator
    run_id = orchestrator.start(RunRequest(DEMO_GOAL), policy_path=own_policy)
    orchestrator.start(RunRequest(DEMO_GOAL))  # the orchestrator moved on to another run
    own_policy.write_text(own_policy.read_text() + "\n# edited after the start\n")
    state = orchestrator.advance(run_id)
    assert state.status == "failed" and "changed since the run started" in (state.failure_reason or "")
