"""A run whose process died is offered for resume on its Timeline, and resuming finishes it (or says the
runner is full)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_core import RunRequest, RunState
from agent_core import events as ev
from agent_core.config import SHIPPED_POLICY
from agent_core.policy import Policy
from agent_core.projections import load_state, open_store
from agent_core.workspace import seed_workspace
from tests.dashboard.conftest import ROOT, OpenPage, no_exceptions, texts
from ui import core


@pytest.fixture
def abandoned_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """A run started ten minutes ago by a process that died before planning."""
    url = f"sqlite:///{tmp_path / 'events.db'}"
    workspace = tmp_path / "workspace"
    seed_workspace(workspace)
    for name, value in {"DATABASE_URL": url, "AGENT_WORKSPACE": str(workspace), "AGENT_PLANNER": "offline"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(ROOT)
    policy = Policy.load(SHIPPED_POLICY)
    started = ev.RunStarted(
        goal="Summarize notes.txt",
        max_steps=4,
        budget_usd=0.5,
        policy_sha=policy.sha,
        policy_path=str(policy.path),
        planner=ev.PlannerInfo(provider="offline", model="offline-rules-v1", prompt_sha="x"),
    )
    store = open_store(url)
    store.append("abandoned-run", [started], 0, times=[datetime.now(UTC) - timedelta(minutes=10)])
    store.close()
    return url, "abandoned-run"


def test_a_stalled_run_offers_resume_and_resuming_completes_it(abandoned_run, open_page: OpenPage) -> None:
    url, run_id = abandoned_run
    at = open_page("timeline", run_id=run_id)
    no_exceptions(at)
    assert "this dashboard is not driving the run" in texts(at)
    at.button(key="resume_run").click().run()
    no_exceptions(at)
    core.runner().wait(run_id, timeout=60)
    state = load_state(open_store(url), run_id)
    assert state.status == "completed" and state.count("succeeded") == 2


def test_a_run_with_a_recent_event_is_not_called_stalled(abandoned_run, open_page: OpenPage) -> None:
    url, run_id = abandoned_run
    store = open_store(url)
    store.append(run_id, [ev.PlanRequested(provider="offline", model="m", system_prompt="s", user_message="u")], 1)
    store.close()
    at = open_page("timeline", run_id=run_id)
    no_exceptions(at)
    assert "not driving the run" not in texts(at)
    assert "resume_run" not in [b.key for b in at.button]


def test_resume_when_the_runner_is_full_is_refused_with_a_message(
    abandoned_run, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, run_id = abandoned_run
    monkeypatch.setenv("AGENT_MAX_ACTIVE_RUNS", "1")
    monkeypatch.setenv("AGENT_MAX_QUEUED_RUNS", "0")
    workbench = core.workbench()
    released = threading.Event()
    real = workbench.advance

    def held(run_id: str, on_event: object = None) -> RunState:
        assert released.wait(timeout=60)
        return real(run_id)

    monkeypatch.setattr(workbench, "advance", held)
    runner = core.runner()
    try:
        busy = runner.submit(RunRequest("Summarize notes.txt"))  # takes the only place
        at = open_page("timeline", run_id=run_id)
        at.button(key="resume_run").click().run()
        no_exceptions(at)
        assert "RunnerBusy" in texts(at)
        assert "the background runner is full" in texts(at)
        assert not runner.active(run_id)
    finally:
        released.set()
    runner.wait(busy, timeout=60)
    assert load_state(open_store(url), run_id).status == "running"  # untouched: resume it later


def test_an_imported_run_is_shown_as_history_and_never_offered_for_resume(
    abandoned_run, open_page: OpenPage, tmp_path: Path
) -> None:
    url, run_id = abandoned_run
    store = open_store(url)
    started = store.read_run(run_id)[0]
    imported = ev.RunStarted.model_validate(started.payload)
    store.append("imported-run", [imported], 0, times=[started.at], origin="imported")  # as import writes it
    store.close()
    at = open_page("timeline", run_id="imported-run")
    no_exceptions(at)
    assert "Imported run: history, not authority" in texts(at)
    assert "not driving the run" not in texts(at)
    assert "resume_run" not in [b.key for b in at.button]
