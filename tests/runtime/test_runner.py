"""BackgroundRunner: runs advance on worker threads, whatever goes wrong there ends as an event, and what
it holds at once is bounded: past its workers and its queue, a launch is refused before anything is recorded."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent_core import COMPLETED, BackgroundRunner, ConcurrencyError, RunnerBusy, RunRequest, RunState, Workbench
from tests.runtime.conftest import DEMO_GOAL, make_settings


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


# --- capacity: a bounded pool and a bounded queue; past them, a refusal before anything is recorded -----


class Hold:
    """Holds every background advance until ``open()``, so the runner's places stay taken."""

    def __init__(self, bench: Workbench, monkeypatch: pytest.MonkeyPatch) -> None:
        self._released = threading.Event()
        real = bench.advance

        def held(run_id: str) -> RunState:
            assert self._released.wait(timeout=60), "the test never let the runs go"
            return real(run_id)

        monkeypatch.setattr(bench, "advance", held)

    def open(self) -> None:
        self._released.set()


def agent_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("agent-run"))


def test_the_runner_defaults_to_the_configured_bounds(database_url: str, workspace: Path) -> None:
    bench = Workbench(make_settings(database_url, workspace, AGENT_MAX_ACTIVE_RUNS="3", AGENT_MAX_QUEUED_RUNS="5"))
    background = BackgroundRunner(bench)
    try:
        assert (background.workers, background.queue, background.capacity) == (3, 5, 8)
    finally:
        background.shutdown()
        bench.close()


def test_launches_past_the_workers_queue_and_past_the_queue_are_refused_before_anything_is_recorded(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = Hold(bench, monkeypatch)
    background = BackgroundRunner(bench, workers=1, queue=2)
    try:
        first, second, third = (background.submit(RunRequest(DEMO_GOAL)) for _ in range(3))
        deadline = time.monotonic() + 10
        while background.load() != (1, 2) and time.monotonic() < deadline:
            time.sleep(0.02)  # the worker picks up the first
        assert background.load() == (1, 2)
        assert [background.waiting_ahead(r) for r in (first, second, third)] == [None, 0, 1]
        assert all(background.active(r) for r in (first, second, third))

        with pytest.raises(RunnerBusy, match=r"1 run\(s\) in progress and 2 waiting") as refused:
            background.submit(RunRequest(DEMO_GOAL))
        assert "AGENT_MAX_ACTIVE_RUNS" in str(refused.value)
        assert bench.count_runs() == 3  # the refused launch left no run behind
        assert agent_threads() <= 1

        hold.open()
        for run_id in (first, second, third):
            background.wait(run_id, timeout=60)
            assert bench.run_state(run_id).status == COMPLETED
        assert background.load() == (0, 0)
        again = background.submit(RunRequest(DEMO_GOAL))  # room again once they are done
        background.wait(again, timeout=60)
    finally:
        hold.open()
        background.shutdown()


def test_a_queue_of_zero_refuses_as_soon_as_every_worker_is_busy(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = Hold(bench, monkeypatch)
    background = BackgroundRunner(bench, workers=2, queue=0)
    try:
        background.submit(RunRequest(DEMO_GOAL))
        background.submit(RunRequest(DEMO_GOAL))
        with pytest.raises(RunnerBusy, match=r"2 run\(s\) in progress and 0 waiting"):
            background.submit(RunRequest(DEMO_GOAL))
    finally:
        hold.open()
        background.shutdown()


def test_many_launches_at_once_never_take_more_places_than_the_capacity(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = Hold(bench, monkeypatch)
    background = BackgroundRunner(bench, workers=2, queue=3)
    accepted: list[str] = []
    refused: list[RunnerBusy] = []
    lock = threading.Lock()
    start = threading.Barrier(20)

    def launch() -> None:
        start.wait()
        try:
            run_id = background.submit(RunRequest(DEMO_GOAL))
        except RunnerBusy as error:
            with lock:
                refused.append(error)
        else:
            with lock:
                accepted.append(run_id)

    callers = [threading.Thread(target=launch) for _ in range(20)]
    try:
        for caller in callers:
            caller.start()
        for caller in callers:
            caller.join(timeout=60)
        assert (len(accepted), len(refused)) == (5, 15)
        assert bench.count_runs() == 5
        assert agent_threads() <= 2
    finally:
        hold.open()
        background.shutdown()
    # each was driven to a stop (later ones find the first one's report and wait for an approval to overwrite it)
    assert {bench.run_state(r).status for r in accepted} <= {COMPLETED, "waiting_approval"}


def test_a_continuation_refused_for_lack_of_room_does_not_record_its_decision(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    parked = bench.start_run(RunRequest(DEMO_GOAL))  # stands for a held run: nobody drives it
    hold = Hold(bench, monkeypatch)
    background = BackgroundRunner(bench, workers=1, queue=0)
    decided: list[str] = []
    try:
        background.submit(RunRequest(DEMO_GOAL))
        with pytest.raises(RunnerBusy):
            background.continue_run(parked, first=lambda: decided.append("approved"))
        assert decided == []  # the approval would have been recorded for a run nobody continues
        assert not background.active(parked)
    finally:
        hold.open()
        background.shutdown()


def test_continuing_a_run_already_driven_takes_no_second_place(
    bench: Workbench, monkeypatch: pytest.MonkeyPatch
) -> None:
    hold = Hold(bench, monkeypatch)
    background = BackgroundRunner(bench, workers=1, queue=0)
    decided: list[str] = []
    try:
        run_id = background.submit(RunRequest(DEMO_GOAL))
        background.continue_run(run_id, first=lambda: decided.append("approved"))  # full, yet no refusal
        assert decided == ["approved"]
        assert sum(background.load()) == 1
    finally:
        hold.open()
        background.shutdown()
    assert bench.run_state(run_id).status == COMPLETED
