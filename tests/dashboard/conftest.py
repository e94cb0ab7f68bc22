"""Dashboard fixtures: AppTest on a seeded SQLite store, and a real streamlit server + Chromium.

Every test points DATABASE_URL at its own store before the app runs, and starts with empty
Streamlit caches (``st.cache_resource`` outlives a test inside one process).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from agent_core import Settings
from tests.dashboard.seed import SeededRuns, seed

ROOT = Path(__file__).resolve().parents[2]
APP = ROOT / "app.py"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [  # the browser tests' and the browser benches' headless Chromium
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = ROOT / "test-artifacts" / "screenshots"
UNREACHABLE_PG = "postgresql+psycopg://nobody@127.0.0.1:9/nowhere?connect_timeout=2"
APP_TIMEOUT_S = 30


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()


@pytest.fixture
def seeded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, SeededRuns]:
    """A SQLite store with a run in every state; the app reads it through DATABASE_URL."""
    url = f"sqlite:///{tmp_path / 'seeded.db'}"
    ids = seed(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(ROOT)
    return url, ids


@pytest.fixture
def empty_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.chdir(ROOT)
    return url


@pytest.fixture
def unreachable_store(monkeypatch: pytest.MonkeyPatch) -> str:
    """A PostgreSQL URL on a port where nothing listens (fails fast, no server needed)."""
    monkeypatch.setenv("DATABASE_URL", UNREACHABLE_PG)
    monkeypatch.chdir(ROOT)
    return UNREACHABLE_PG


OpenPage = Callable[..., AppTest]


@pytest.fixture
def open_page() -> OpenPage:
    """``open_page("timeline", run_id=...)``: app.py run once, then the page with those query params."""

    def _open(page: str | None = None, /, **query: str) -> AppTest:
        at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S)
        at.query_params.update(query)
        at.run()
        if page is not None:
            at.switch_page(f"pages/{page}.py").run()
        return at

    return _open


def texts(at: AppTest) -> str:
    """Every piece of text the page shows (text, code, captions, markdown, alerts, metrics), joined."""
    parts: list[Any] = []
    for kind in ("text", "code", "caption", "markdown", "error", "warning", "info", "success", "subheader", "title"):
        parts.extend(element.value for element in getattr(at, kind))
    parts.extend(f"{m.label} {m.value}" for m in at.metric)
    return "\n".join(str(p) for p in parts)


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


# --- browser tests: a real streamlit server and headless Chromium -------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (.ci/run installs it; apt-get install chromium)")
    return {
        **browser_type_launch_args,
        "executable_path": str(CHROMIUM),
        "args": CHROMIUM_ARGS,
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1440, "height": 1800}}


IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"


def waterfall(page: Any) -> Any:
    """The Timeline's step waterfall (ui.charts.waterfall_html). While a run is live it is redrawn every
    refresh, and Streamlit may keep the previous drawing (marked stale) for a moment: the first is current."""
    return page.get_by_test_id("stHtml").locator(".wf").first


def settle(page: Any) -> None:
    """Wait until the script run triggered by the last interaction has finished."""
    page.wait_for_selector(IDLE, timeout=20_000)


@contextmanager
def streamlit_server(folder: Path, script: Path | None = None, **env_overrides: str) -> Iterator[str]:
    """``streamlit run app.py`` (or ``script``) on a free loopback port with these settings; yields its base URL.

    The developer's keys, provider URLs and planner choice never leak in: only ``env_overrides`` set them.
    """
    if not CHROMIUM.exists():
        pytest.skip(f"browser tests need Chromium at {CHROMIUM} (.ci/run installs it; apt-get install chromium)")
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    for name in (
        "AGENT_PLANNER",
        "AGENT_POLICY",
        "AGENT_WORKSPACE",
        "DATABASE_URL",
        "AGENT_DASHBOARD_PASSWORD",
        "AGENT_DASHBOARD_USER_HEADER",
    ):
        env.pop(name, None)
    env |= env_overrides
    port = _free_port()
    log = folder / "server.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                str(script or "app.py"),
                "--server.headless",
                "true",
                "--server.address",
                "127.0.0.1",
                "--server.port",
                str(port),
                "--browser.gatherUsageStats",
                "false",
                "--server.fileWatcherType",
                "none",
            ],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(base, process, log)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        if b"Traceback" in log.read_bytes():  # the page shows only "This app has encountered an error"
            sys.stderr.write(f"--- {log} ---\n{log.read_text(errors='replace')}")


@pytest.fixture(scope="session")
def dashboard(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, SeededRuns]]:
    """(base URL, database URL, seeded ids) of ``streamlit run app.py`` on a seeded store."""
    folder = tmp_path_factory.mktemp("dashboard")
    url = f"sqlite:///{folder / 'events.db'}"
    ids = seed(url)
    with streamlit_server(folder, DATABASE_URL=url, AGENT_WORKSPACE=str(folder / "workspace")) as base:
        yield base, url, ids


def _wait_healthy(base: str, server: subprocess.Popen[bytes], log: Path, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"streamlit exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(f"{base}/_stcore/health", timeout=1) as response:
                if response.read().decode().strip() == "ok":
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"streamlit did not answer on {base} within {timeout_s} s:\n{log.read_text()}")


def screenshot(page: Any, name: str) -> Path:
    """Save the viewport (the main area scrolls inside it, so full_page adds nothing)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path


@dataclass(frozen=True)
class OfflineServer:
    """A ``streamlit run app.py`` on its own store and workspace, planning offline."""

    base: str
    database_url: str
    workspace: Path

    def settings(self) -> Settings:
        """The server's store and workspace: how a test prepares runs beside the UI."""
        return Settings(DATABASE_URL=self.database_url, AGENT_WORKSPACE=self.workspace, AGENT_PLANNER="offline")  # type: ignore[call-arg]


@contextmanager
def offline_server(folder: Path, **env_overrides: str) -> Iterator[OfflineServer]:
    """Start the dashboard on a SQLite store and workspace inside ``folder`` (plus ``env_overrides``)."""
    database_url = f"sqlite:///{folder / 'events.db'}"
    workspace = folder / "workspace"
    env = {"DATABASE_URL": database_url, "AGENT_WORKSPACE": str(workspace), "AGENT_PLANNER": "offline"}
    with streamlit_server(folder, **env, **env_overrides) as base:
        yield OfflineServer(base, database_url, workspace)
