"""``advance`` right after ``start`` begins from the fold ``start`` wrote, and still sees what others appended since."""

from __future__ import annotations

from typing import Any

import pytest

from agent_core.orchestrator import RunRequest
from agent_core.store import EventStore
from agent_core.workbench import Workbench
from tests.runtime.conftest import DEMO_GOAL


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
