"""Who may use the API: nobody beyond loopback without AGENT_API_TOKEN (the server refuses to start), and with a
token every request (routes, unknown routes, the schema) needs it as a bearer token."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from agent_core import Workbench
from agent_core.api import check_bind, create_app, is_loopback
from agent_core.errors import ConfigError
from tests.api.conftest import ROOT, api_settings

TOKEN = "a-long-random-token-for-tests-0123456789"


def _env(database_url: str, workspace: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AGENT_API_TOKEN"}
    env.update(
        DATABASE_URL=database_url,
        AGENT_WORKSPACE=str(workspace),
        AGENT_PLANNER="offline",
        PYTHONPATH=str(ROOT),
        **extra,
    )
    return env


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.10", "example.com", ""])
def test_the_server_refuses_to_start_beyond_loopback_without_a_token(
    host: str, sqlite_url: str, workspace: Path
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "api", "--host", host, "--port", "0"],
        env=_env(sqlite_url, workspace),
        cwd=workspace.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "AGENT_API_TOKEN" in lines[0], done.stderr
    assert not Path(sqlite_url.removeprefix("sqlite:///")).exists()  # refused before a store was created


def test_loopback_is_told_apart_from_other_interfaces() -> None:
    assert all(is_loopback(h) for h in ("127.0.0.1", "127.8.9.1", "::1", "[::1]", "localhost"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "::", "10.0.0.1", "localhost.example.com", ""))
    with pytest.raises(ConfigError, match="AGENT_API_TOKEN"):
        check_bind("0.0.0.0", api_settings("sqlite://", Path("workspace")))
    check_bind("0.0.0.0", api_settings("sqlite://", Path("workspace"), AGENT_API_TOKEN=TOKEN))


@pytest.fixture
def public_server(database_url: str, workspace: Path) -> Iterator[str]:
    """``python -m agent_core api --host 0.0.0.0`` with a token, as a real process; its loopback URL."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "agent_core", "api", "--host", "0.0.0.0", "--port", str(port)],
        env=_env(database_url, workspace, AGENT_API_TOKEN=TOKEN),
        cwd=workspace.parent,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            try:
                httpx.get(f"{url}/healthz", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the API did not start"
                time.sleep(0.1)
        yield url
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)


def test_beyond_loopback_every_request_needs_the_bearer_token(public_server: str) -> None:
    wrong = [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": TOKEN}]
    for headers in wrong:
        for method, path in (("GET", "/healthz"), ("GET", "/runs"), ("POST", "/runs"), ("GET", "/openapi.json")):
            refused = httpx.request(method, public_server + path, headers=headers, json={"goal": "x"}, timeout=10)
            assert refused.status_code == 401, (headers, path, refused.text)
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.headers["www-authenticate"] == "Bearer"
    good = {"Authorization": f"Bearer {TOKEN}"}
    assert httpx.get(f"{public_server}/runs", headers=good, timeout=10).json()["total"] == 0  # nothing got in
    launched = httpx.post(f"{public_server}/runs", headers=good, json={"goal": "Summarize notes.txt"}, timeout=10)
    assert launched.status_code == 201, launched.text
    assert httpx.get(f"{public_server}/runs", headers=good, timeout=10).json()["total"] == 1


def test_a_token_on_loopback_is_required_too(sqlite_url: str, workspace: Path) -> None:
    bench = Workbench.open(api_settings(sqlite_url, workspace, AGENT_API_TOKEN=TOKEN))
    with TestClient(create_app(workbench=bench)) as client:
        assert client.get("/nothing").status_code == 401  # unknown routes are not probed without the token
        assert client.get("/docs").status_code == 401
        assert client.get("/runs", headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200
        assert client.get("/runs", headers={"Authorization": f"Bearer {TOKEN}x"}).status_code == 401
    bench.close()


def test_a_port_out_of_range_is_one_line_and_exit_2(sqlite_url: str, workspace: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "agent_core", "api", "--port", "70000"],
        env=_env(sqlite_url, workspace),
        cwd=workspace.parent,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--port" in done.stderr, done
