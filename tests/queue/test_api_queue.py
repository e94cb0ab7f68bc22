"""The HTTP API in front of the queue: a run posted to the API is executed by a worker process, and
an event-stream client of the API sees every one of its events, in order, live across processes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent_core.api import create_app
from agent_core.dispatch import QueueDispatcher
from agent_core.workbench import Workbench
from tests.api.conftest import serving, sse_events
from tests.queue.conftest import client
from tests.queue.workers import Workers, worker_env

GOAL = "Summarize notes.txt"


@pytest.fixture
def bench(pg_schema_url: str, workspace: Path) -> Iterator[Workbench]:
    """The API's workbench, configured like the workers: AGENT_QUEUE=procrastinate on the test's schema."""
    workbench, _queue = client(pg_schema_url, workspace)
    yield workbench
    workbench.close()


def test_a_run_posted_to_the_api_runs_on_a_worker_and_streams_every_event_in_order(
    bench: Workbench, pg_schema_url: str, workspace: Path, workers: Workers
) -> None:
    with (
        serving(create_app(workbench=bench)) as api,
        httpx.Client(base_url=api.url, timeout=httpx.Timeout(120.0)) as http,
    ):
        assert isinstance(api.app.state.runner, QueueDispatcher)  # the API enqueues: it runs nothing itself
        answer = http.post("/runs", json={"goal": GOAL})
        assert answer.status_code == 201, answer.text
        run_id = answer.json()["run_id"]
        assert [e.type for e in bench.run_events(run_id)] == ["RunStarted"]  # recorded with its job, not run yet
        workers.start(worker_env(pg_schema_url, workspace))
        with http.stream("GET", f"/runs/{run_id}/stream") as response:
            assert response.status_code == 200
            received = list(sse_events(response))  # ends when the server closes the stream: the run ended
    stored = bench.run_events(run_id)
    assert stored[-1].type == "RunCompleted", workers.logs()
    assert [int(e["id"]) for e in received] == [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert [e["event"] for e in received] == [e.type for e in stored]
    assert [json.loads(e["data"])["hash"] for e in received] == [e.hash for e in stored]
    assert bench.store.verify_chain(run_id) is None
