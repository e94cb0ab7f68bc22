"""Runs executed by real ``python -m agent_core worker`` processes on PostgreSQL: drained, killed, cut off.

Each test has its own schema (store and queue), starts workers as separate processes and waits on
the store, never on sleeps. What must hold every time: every run ends, its seqs are 1..n without a
gap, no step's intent or outcome is recorded twice, and the hash chains verify.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from agent_core import events as ev
from agent_core.errors import RunStateError
from agent_core.orchestrator import RunRequest
from agent_core.queue import build_app, conninfo, defer_advance
from agent_core.workbench import Workbench
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, Scripted, openai_reply
from tests.queue.conftest import client
from tests.queue.workers import CuttableProxy, Workers, wait_for, worker_env

pytestmark = pytest.mark.postgres

DRAIN_RUNS = int(os.environ.get("QUEUE_DRAIN_RUNS", "1000"))
GOAL = "Summarize notes.txt"


def assert_clean(bench: Workbench, run_id: str) -> list[ev.RecordedEvent]:
    """The run's log: gap-free seqs, each step's intent and outcome at most once per attempt, chain intact."""
    events = bench.run_events(run_id)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    outcomes = Counter(e.event.step_id for e in events if isinstance(e.event, ev.ObservationCaptured))
    assert all(n == 1 for n in outcomes.values()), outcomes
    assert bench.store.verify_chain(run_id) is None
    return events


def slow_llm_plan(server: FakeLLMServer, tag: str, delay_s: float) -> None:
    """The LLM plans: write a new file, then summarize (an LLM call that answers after ``delay_s``)."""
    plan = {
        "steps": [
            {
                "id": "step_1",
                "objective": "Write the note",
                "tool": "write_file",
                "input": {"path": f"out-{tag}.md", "content": f"note {tag}\n"},
                "success_criteria": "the file exists",
            },
            {
                "id": "step_2",
                "objective": "Summarize",
                "tool": "summarize",
                "input": {"text": "Workers drive runs; a killed worker's run is resumed by another."},
                "success_criteria": "a short summary",
            },
        ],
        "stop_conditions": ["a step fails"],
    }
    server.script(OPENAI_PATH, openai_reply(json.dumps(plan)), Scripted(openai_reply("slow summary"), delay_s=delay_s))
    server.default(OPENAI_PATH, openai_reply("a summary after the resume"))


def llm_env(server: FakeLLMServer) -> dict[str, str]:
    return {"AGENT_PLANNER": "openai", "OPENAI_BASE_URL": server.openai_base_url, "AGENT_MODEL": "gpt-4.1-mini"}


def executed(bench: Workbench, run_id: str, step_id: str) -> bool:
    return any(isinstance(e.event, ev.ToolExecuted) and e.event.step_id == step_id for e in bench.run_events(run_id))


def test_four_workers_drain_many_queued_runs(pg_schema_url: str, workspace: Path, workers: Workers) -> None:
    bench, queue = client(pg_schema_url, workspace)
    started = time.monotonic()
    run_ids = [queue.submit(RunRequest(GOAL)) for _ in range(DRAIN_RUNS)]
    enqueued_s = time.monotonic() - started
    assert queue.load() == (0, DRAIN_RUNS)  # nothing runs until a worker starts
    env = worker_env(pg_schema_url, workspace)
    for _ in range(4):
        workers.start(env)
    wait_for(lambda: bench.count_runs(status=["running"]) == 0, 600, "the queue to drain\n" + workers.logs(), 1.0)
    drained_s = time.monotonic() - started - enqueued_s
    print(f"\n{DRAIN_RUNS} runs: enqueued in {enqueued_s:.1f} s, drained by 4 workers in {drained_s:.1f} s")

    shapes = Counter(tuple(e.type for e in assert_clean(bench, r)) for r in run_ids)
    assert len(shapes) == 1, shapes  # every run recorded the same events, none twice, none lost
    (shape,) = shapes
    assert shape[-1] == "RunCompleted" and shape.count("PlanGenerated") == 1
    feed = bench.store.read_all(0, limit=DRAIN_RUNS * len(shape) + 1)
    assert [e.position for e in feed] == sorted({e.position for e in feed})
    assert len(feed) == DRAIN_RUNS * len(shape)
    assert bench.store.verify_chain() is None
    assert queue.load() == (0, 0)


def test_a_killed_worker_s_run_is_resumed_by_another_without_repeating_the_write(
    pg_schema_url: str, workspace: Path, workers: Workers, fake_llm: FakeLLMServer
) -> None:
    slow_llm_plan(fake_llm, "kill", delay_s=12)  # longer than it takes to see the intent and kill
    env = worker_env(pg_schema_url, workspace, **llm_env(fake_llm))
    bench, queue = client(pg_schema_url, workspace, **llm_env(fake_llm))
    first = workers.start(env)
    run_id = queue.submit(RunRequest(GOAL, planner="openai"))
    wait_for(lambda: executed(bench, run_id, "step_2"), 60, "the slow step to start\n" + workers.logs())
    workers.kill(first)  # mid-step: summarize's intent is recorded, its outcome never will be
    workers.start(env)
    state = wait_for(
        lambda: (s := bench.run_state(run_id)).is_terminal and s,
        60,
        "another worker to finish the run\n" + workers.logs(),
    )
    assert state.status == "completed", state.failure_reason
    events = assert_clean(bench, run_id)
    types = [e.type for e in events]
    interrupted = [e.event for e in events if isinstance(e.event, ev.StepInterrupted)]
    assert [i.step_id for i in interrupted] == ["step_2"]  # resumed through the interruption path
    writes = [e for e in events if isinstance(e.event, ev.ToolExecuted) and e.event.step_id == "step_1"]
    assert len(writes) == 1 and types.count("RunStarted") == 1
    assert (workspace / "out-kill.md").read_text() == "note kill\n"


def test_a_worker_cut_off_from_the_database_loses_nothing_and_another_finishes(
    pg_schema_url: str, workspace: Path, workers: Workers, fake_llm: FakeLLMServer
) -> None:
    slow_llm_plan(fake_llm, "cut", delay_s=4)
    proxy = CuttableProxy()
    try:
        through_proxy = pg_schema_url.replace("127.0.0.1:5432", f"127.0.0.1:{proxy.port}")
        bench, queue = client(pg_schema_url, workspace, **llm_env(fake_llm))
        workers.start(worker_env(through_proxy, workspace, **llm_env(fake_llm)))
        run_id = queue.submit(RunRequest(GOAL, planner="openai"))
        wait_for(lambda: executed(bench, run_id, "step_2"), 60, "the slow step to start\n" + workers.logs())
        proxy.cut()  # that worker's machine loses the database while its LLM call is in flight
        workers.start(worker_env(pg_schema_url, workspace, **llm_env(fake_llm)))
        state = wait_for(
            lambda: (s := bench.run_state(run_id)).is_terminal and s, 90, "the run to finish\n" + workers.logs()
        )
    finally:
        proxy.close()
    assert state.status == "completed", state.failure_reason
    events = assert_clean(bench, run_id)
    assert [e.event.step_id for e in events if isinstance(e.event, ev.StepInterrupted)] == ["step_2"]
    assert sum(isinstance(e.event, ev.ToolExecuted) and e.event.step_id == "step_1" for e in events) == 1


def test_the_same_job_delivered_twice_changes_nothing(pg_schema_url: str, workspace: Path, workers: Workers) -> None:
    bench, queue = client(pg_schema_url, workspace)
    app = build_app(pg_schema_url)
    run_id = queue.submit(RunRequest(GOAL))
    with psycopg.connect(conninfo(pg_schema_url)) as conn:  # a second delivery of the same advance, queued beside it
        app.configure_task("agent_core.advance_run", lock=run_id, connection=conn).defer(run_id=run_id)
    workers.start(worker_env(pg_schema_url, workspace), concurrency=2)
    wait_for(lambda: not queue.active(run_id), 60, "both deliveries to be processed\n" + workers.logs())
    first = assert_clean(bench, run_id)
    assert first[-1].type == "RunCompleted" and [e.type for e in first].count("PlanGenerated") == 1

    with psycopg.connect(conninfo(pg_schema_url)) as conn:  # and once more after the run ended
        assert defer_advance(app, conn, run_id)
    wait_for(lambda: not queue.active(run_id), 60, "the late delivery to be processed\n" + workers.logs())
    assert [(e.seq, e.hash) for e in bench.run_events(run_id)] == [(e.seq, e.hash) for e in first]


def test_a_second_enqueue_of_a_waiting_run_is_refused_by_the_queueing_lock(pg_schema_url: str, workspace: Path) -> None:
    _bench, queue = client(pg_schema_url, workspace)
    run_id = queue.submit(RunRequest(GOAL))
    queue.continue_run(run_id)  # a resume while its advance already waits: nothing more is queued
    assert queue.load() == (0, 1) and queue.waiting_ahead(run_id) == 0


def test_sigterm_lets_the_current_step_finish_then_another_worker_continues(
    pg_schema_url: str, workspace: Path, workers: Workers, fake_llm: FakeLLMServer
) -> None:
    slow_llm_plan(fake_llm, "term", delay_s=3)
    env = worker_env(pg_schema_url, workspace, **llm_env(fake_llm))
    bench, queue = client(pg_schema_url, workspace, **llm_env(fake_llm))
    first = workers.start(env)
    run_id = queue.submit(RunRequest(GOAL, planner="openai"))
    wait_for(lambda: executed(bench, run_id, "step_2"), 60, "the slow step to start\n" + workers.logs())
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=60) == 0, workers.logs()  # it waited for the step, then left
    after_stop = bench.run_state(run_id)
    assert after_stop.status == "running" and after_stop.step("step_2").result is not None  # the step finished
    assert queue.active(run_id)  # and the run went back to the queue
    workers.start(env)
    state = wait_for(lambda: (s := bench.run_state(run_id)).is_terminal and s, 60, "the run to end\n" + workers.logs())
    assert state.status == "completed", state.failure_reason
    events = assert_clean(bench, run_id)
    assert not any(isinstance(e.event, ev.StepInterrupted) for e in events)  # a clean hand-over, not a crash


def test_an_approval_enqueues_the_run_with_its_event_and_a_refused_one_enqueues_nothing(
    pg_schema_url: str, workspace: Path, workers: Workers, fake_llm: FakeLLMServer
) -> None:
    overwrite = {
        "steps": [
            {
                "id": "step_1",
                "objective": "Replace the notes",
                "tool": "write_file",
                "input": {"path": "notes.txt", "content": "replaced\n"},
                "success_criteria": "written",
            }
        ],
        "stop_conditions": ["a step fails"],
    }
    fake_llm.default(OPENAI_PATH, openai_reply(json.dumps(overwrite)))
    env = worker_env(pg_schema_url, workspace, **llm_env(fake_llm))
    bench, queue = client(pg_schema_url, workspace, **llm_env(fake_llm))
    workers.start(env)
    run_id = queue.submit(RunRequest(GOAL, planner="openai"))
    held = wait_for(
        lambda: (s := bench.run_state(run_id)).pending_approval and s, 60, "the overwrite to be held\n" + workers.logs()
    )
    assert held.pending_approval.step_id == "step_1"
    wait_for(lambda: not queue.active(run_id), 30, "the held run's job to end")  # nobody drives a waiting run

    with pytest.raises(RunStateError):  # no such step: nothing recorded, so nothing enqueued
        queue.continue_run(run_id, first=lambda: bench.approve(run_id, "step_9"))
    assert not queue.active(run_id)

    queue.continue_run(run_id, first=lambda: bench.approve(run_id, "step_1", by="ops"))
    state = wait_for(lambda: (s := bench.run_state(run_id)).is_terminal and s, 60, "the run to end\n" + workers.logs())
    assert state.status == "completed", state.failure_reason
    assert (workspace / "notes.txt").read_text() == "replaced\n"
    assert_clean(bench, run_id)
