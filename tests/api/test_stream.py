"""The server-sent event stream, read by a real HTTP client from a real uvicorn server: every event of the
run, in order, live (the run advances while the stream is open), and the stream ends when the run ends."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from agent_core import Workbench
from agent_core.api import create_app
from tests.api.conftest import SAVE_GOAL, STRICT_POLICY, LiveServer, api_settings, sse_events

TIMEOUT = httpx.Timeout(60.0)


@pytest.fixture
def bench(database_url: str, workspace: Path) -> Iterator[Workbench]:
    """Under the strict policy: the run waits for an approval while the stream is open."""
    workbench = Workbench.open(api_settings(database_url, workspace, AGENT_POLICY=str(STRICT_POLICY)))
    yield workbench
    workbench.close()


def test_a_stream_sees_every_event_of_a_live_run_in_order_and_ends_with_it(
    live_server: LiveServer, bench: Workbench
) -> None:
    with httpx.Client(base_url=live_server.url, timeout=TIMEOUT) as client:
        run_id = client.post("/runs", json={"goal": SAVE_GOAL}).json()["run_id"]
        received: list[dict[str, str]] = []
        approved = threading.Event()

        def approve_when_held() -> None:
            with httpx.Client(base_url=live_server.url, timeout=TIMEOUT) as other:
                run = other.get(f"/runs/{run_id}").json()
                step = run["pending_step"]["step_id"]
                answer = other.post(f"/runs/{run_id}/approvals/{step}", json={"decision": "approve", "by": "sse"})
                assert answer.status_code == 200, answer.text
                approved.set()

        with client.stream("GET", f"/runs/{run_id}/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            for event in sse_events(response):
                received.append(event)
                if event["event"] == "ApprovalRequested":  # the run waits: only a decision moves it on
                    threading.Thread(target=approve_when_held).start()
        # the loop ended because the server closed the stream: the run had ended
    assert approved.is_set()
    stored = bench.run_events(run_id)
    assert stored[-1].type == "RunCompleted"
    assert [int(e["id"]) for e in received] == [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert [e["event"] for e in received] == [e.type for e in stored]
    decoded = [json.loads(e["data"]) for e in received]
    assert [d["hash"] for d in decoded] == [e.hash for e in stored]
    assert [d["payload"] for d in decoded] == [e.event.to_payload() for e in stored]
    assert "ApprovalGranted" in [e.type for e in stored]


def test_a_stream_resumes_after_last_event_id_or_after(live_server: LiveServer, bench: Workbench) -> None:
    with httpx.Client(base_url=live_server.url, timeout=TIMEOUT) as client:
        run_id = client.post("/runs", json={"goal": SAVE_GOAL}).json()["run_id"]
        live_server.app.state.runner.wait(run_id, timeout=60)
        client.post(f"/runs/{run_id}/cancel")
        total = len(bench.run_events(run_id))
        with client.stream("GET", f"/runs/{run_id}/stream", headers={"Last-Event-ID": "3"}) as response:
            assert [int(e["id"]) for e in sse_events(response)] == list(range(4, total + 1))
        with client.stream("GET", f"/runs/{run_id}/stream", params={"after": total - 1}) as response:
            assert [int(e["id"]) for e in sse_events(response)] == [total]
        missing = client.get("/runs/nope/stream")
        assert missing.status_code == 404 and missing.headers["content-type"] == "application/problem+json"


def test_the_app_can_be_built_from_settings_alone(database_url: str, workspace: Path) -> None:
    """``create_app(settings)`` opens its own workbench at start-up and closes it at shutdown."""
    from fastapi.testclient import TestClient

    with TestClient(create_app(api_settings(database_url, workspace))) as client:
        assert client.get("/healthz").json()["status"] == "ok"
