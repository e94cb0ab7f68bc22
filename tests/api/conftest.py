"""API fixtures: the app over a real store (SQLite file or PostgreSQL schema), in-process or on a real port."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from agent_core.api import create_app
from agent_core.config import Settings
from agent_core.workbench import Workbench
from agent_core.workspace import seed_workspace

ROOT = Path(__file__).resolve().parents[2]
STRICT_POLICY = ROOT / "policies" / "strict.yaml"
DEMO_GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"
SAVE_GOAL = "Summarize notes.txt and save the summary to summary.md"  # the strict policy holds its write
RUN_END_S = 60


def api_settings(database_url: str, workspace: Path, **extra: Any) -> Settings:
    """Offline planner, the shipped default policy, the test's own store and workspace."""
    values = {
        "DATABASE_URL": database_url,
        "AGENT_WORKSPACE": str(workspace),
        "AGENT_POLICY": str(ROOT / "policies" / "default.yaml"),
        "AGENT_PLANNER": "offline",
        **extra,
    }
    return Settings(**values)


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    target = tmp_path / "workspace"
    seed_workspace(target)
    return target


@pytest.fixture
def settings(database_url: str, workspace: Path) -> Settings:
    return api_settings(database_url, workspace)


@pytest.fixture
def bench(settings: Settings) -> Iterator[Workbench]:
    workbench = Workbench.open(settings)
    yield workbench
    workbench.close()


@pytest.fixture
def client(bench: Workbench) -> Iterator[TestClient]:
    """The app in-process (its lifespan runs: a background runner of its own)."""
    with TestClient(create_app(workbench=bench)) as test_client:
        yield test_client


def wait_for_end(client: TestClient, run_id: str, status: str | None = None) -> dict[str, Any]:
    """Wait until the runner is done with the run, then its state as the API shows it."""
    client.app.state.runner.wait(run_id, timeout=RUN_END_S)  # type: ignore[attr-defined]
    view = client.get(f"/runs/{run_id}").json()
    if status is not None:
        assert view["run"]["status"] == status, view["run"]
    return dict(view)


@dataclass
class LiveServer:
    """A real uvicorn server on a free loopback port, in a thread of this process."""

    url: str
    app: FastAPI


@contextmanager
def serving(app: FastAPI) -> Iterator[LiveServer]:
    """Serve ``app`` with a real uvicorn server on a free loopback port, in a thread of this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture
def live_server(bench: Workbench) -> Iterator[LiveServer]:
    with serving(create_app(workbench=bench)) as server:
        yield server


def sse_events(response: httpx.Response) -> Iterator[dict[str, str]]:
    """Parse a ``text/event-stream`` body as the EventSource spec does: fields until a blank line."""
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if not line:
            if "data" in fields:
                yield fields
            fields = {}
            continue
        if line.startswith(":"):
            continue  # a comment: the server's keep-alive ping
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        fields[name] = fields[name] + "\n" + value if name == "data" and name in fields else value
