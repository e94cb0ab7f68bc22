"""The dashboard over the queue: the sidebar's workers and queue, and a worker's run live in the Timeline.

The dashboard here is AppTest in the test process; the run executes in a worker process: the
Timeline follows it through the shared store alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from agent_core import ConfigError, Settings, Workbench, dispatcher
from agent_core.orchestrator import RunRequest
from tests.dashboard.conftest import APP, APP_TIMEOUT_S, ROOT, no_exceptions, texts
from tests.fake_llm import FakeLLMServer
from tests.queue.conftest import client
from tests.queue.test_workers import GOAL, llm_env, slow_llm_plan
from tests.queue.workers import Workers, wait_for, worker_env


@pytest.fixture(autouse=True)
def _fresh_streamlit_caches() -> Iterator[None]:
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _dashboard(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name, value in env.items():
        if name.startswith(("AGENT_", "DATABASE_", "OPENAI_")):
            monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)


def test_on_sqlite_the_queue_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    env = worker_env(f"sqlite:///{tmp_path / 'events.db'}", tmp_path / "workspace")
    _dashboard(monkeypatch, env)
    bench = Workbench(Settings())
    with pytest.raises(ConfigError, match="AGENT_QUEUE=procrastinate needs the PostgreSQL store"):
        dispatcher(bench)
    bench.close()
    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S).run()
    no_exceptions(at)
    assert "unavailable: AGENT_QUEUE=procrastinate needs the PostgreSQL store" in texts(at)


@pytest.mark.postgres
def test_the_sidebar_counts_workers_and_the_timeline_follows_a_worker_s_run(
    pg_schema_url: str, workspace: Path, workers: Workers, fake_llm: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    slow_llm_plan(fake_llm, "live", delay_s=2)
    env = worker_env(pg_schema_url, workspace, **llm_env(fake_llm))
    _dashboard(monkeypatch, env)
    bench, queue = client(pg_schema_url, workspace, **llm_env(fake_llm))
    run_id = queue.submit(RunRequest(GOAL, planner="openai"))

    at = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S).run()
    no_exceptions(at)
    assert "0 workers alive" in texts(at) and "0 running · 1 waiting" in texts(at)
    assert "python -m agent_core worker" in texts(at)

    workers.start(env)
    wait_for(lambda: bench.run_state(run_id).step("step_2") is not None, 60, "the worker to start the run")
    sidebar = AppTest.from_file(str(APP), default_timeout=APP_TIMEOUT_S).run()
    assert "1 worker alive" in texts(sidebar) and "1 running · 0 waiting" in texts(sidebar)
    at.query_params["run_id"] = run_id
    at.switch_page("pages/timeline.py").run()
    no_exceptions(at)
    assert "Live: refreshing" in texts(at)  # the page polls a run another process drives
    seen = len(at.dataframe[0].value)
    wait_for(lambda: bench.run_state(run_id).is_terminal, 60, "the run to end\n" + workers.logs())
    at.run()  # the next tick of the live page
    no_exceptions(at)
    events = at.dataframe[0].value
    assert len(events) > seen and events["event"].iloc[-1] == "RunCompleted"
