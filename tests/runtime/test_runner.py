"""BackgroundRunner: runs advance on worker threads, and whatever goes wrong there ends as an event."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from agent_core import COMPLETED, BackgroundRunner, ConcurrencyError, RunRequest, RunState, Workbench
from tests.runtime.conftest import DEMO_GOAL


@pytest.fixture
def runner(bench: Workbench) -> Iterator[BackgroundRunner]:
    background = BackgroundRunner(bench, workers=1)
    yield background
    background.shutdown()


def test_a_submitted_run_is_advanced_in_the_background_to_its_end(bench: Workbench, runner: BackgroundRunner) -> None:
    run_id = runner.submit(RunRequest(DEMO_GOAL))
    runner.wait(run_id, timeout=60)
    state = bench.run_state(run_id)
    assert state.status == COMPLETED, state.status
    assert not runner.active(run_id)


def test_an_error_in_a_background_advance_ends_the_run_with_run_failed(
    bench: Workbench, runner: BackgroundRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(run_id: str) -> RunState:
        raise RuntimeError("the planner exploded")

    monkeypatch.setattr(bench, "advance", broken)
    run_id = runner.submit(RunRequest(DEMO_GOAL))
    runner.wait(run_id, timeout=60)  # the error does not escape into the caller's thread
    last = bench.run_events(run_id)[-1]
    assert last.type == "RunFailed"
    reason = last.event.to_payload()["reason"]
    assert reason == "the run stopped on an internal error: RuntimeError: the planner exploded"
    assert bench.run_state(run_id).status == "failed"


def test_a_run_driven_by_another_process_is_left_alone(
    bench: Workbench, runner: BackgroundRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    def raced(run_id: str) -> RunState:
        raise ConcurrencyError(run_id, expected_seq=1, actual_seq=2)

    monkeypatch.setattr(bench, "advance", raced)
    run_id = runner.submit(RunRequest(DEMO_GOAL))
    runner.wait(run_id, timeout=60)
    assert [e.type for e in bench.run_events(run_id)] == ["RunStarted"]
