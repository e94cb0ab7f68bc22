"""Run controls on the Timeline (``ui.run_controls``): Cancel, Re-run, Replay, a denied step, and no
approval prompt once a held run was cancelled, on the Timeline, the Policy page and the sidebar."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent_core.config import Settings
from agent_core.orchestrator import RunRequest
from agent_core.projections import open_store
from agent_core.transfer import import_lines
from agent_core.workbench import Workbench
from tests.dashboard.conftest import OpenPage, no_exceptions, texts
from tests.dashboard.seed import held_run
from ui import core


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("AGENT_POLICY", raising=False)


def bench() -> Workbench:
    return Workbench(Settings())


def click(at, label: str):  # type: ignore[no-untyped-def]
    next(b for b in at.button if b.label == label).click().run()
    return at


def test_cancelling_a_held_run_from_the_timeline_ends_every_approval_prompt(empty_store, open_page: OpenPage) -> None:
    run_id = held_run()
    at = open_page("timeline", run_id=run_id)
    assert "Waiting for a human to approve a held step:" in texts(at)
    assert "1 pending approval" in [link.proto.label for link in open_page().sidebar.get("page_link")]
    assert [b.label for b in at.button if b.key and b.key.startswith("run_")] == ["Cancel run", "Re-run"]

    at = click(at, "Cancel run")
    no_exceptions(at)
    shown = texts(at)
    assert f"Cancelled run {run_id[:8]}." in shown
    assert "Waiting for a human" not in shown and "agent_core approve" not in shown
    assert "Open the approval queue" not in [p.proto.label for p in at.get("page_link")]
    assert "Cancel run" not in [b.label for b in at.button]
    state = bench().run_state(run_id)
    assert state.status == "cancelled" and state.pending_approval is None
    assert state.failure_reason == "cancelled from the dashboard by human"

    policy = open_page("policy")
    assert policy.subheader[0].value == "Approval queue"
    assert not [link for link in open_page().sidebar.get("page_link") if "pending approval" in link.proto.label]


def test_re_run_starts_a_new_run_with_the_same_goal_planner_and_policy(empty_store, open_page: OpenPage) -> None:
    workbench = bench()
    original = workbench.run(RunRequest("Summarize notes.txt", max_steps=3, budget_usd=0.2))
    at = click(open_page("timeline", run_id=original.run_id), "Re-run")
    no_exceptions(at)
    new_id = next(r.run_id for r in workbench.list_runs() if r.run_id != original.run_id)
    assert f"Started run {new_id[:8]}: same goal, planner and policy." in texts(at)
    assert at.query_params["run_id"] in (new_id, [new_id])  # the page moved to the new run
    assert at.subheader[0].value == f"Run {new_id[:8]}"
    core.runner().wait(new_id, timeout=30)
    again = workbench.run_state(new_id)
    assert (again.goal, again.max_steps, again.budget_usd) == ("Summarize notes.txt", 3, 0.2)
    assert (again.planner, again.policy_path, again.replay_of) == (original.planner, original.policy_path, None)
    assert again.status == "completed"
    workbench.close()


def test_a_denied_step_says_who_denied_it_and_why(empty_store, open_page: OpenPage) -> None:
    run_id = held_run()
    workbench = bench()
    workbench.deny(run_id, "step_3", by="alice", comment="keep the old summary")
    workbench.advance(run_id)
    workbench.close()
    at = open_page("timeline", run_id=run_id)
    no_exceptions(at)
    assert "step\\_3 (write\\_file) was denied by alice" in [w.value for w in at.warning]
    assert "keep the old summary" in [t.value for t in at.text]
    assert "Cancel run" not in [b.label for b in at.button]  # it ended
    assert ("Replay", f"run_id={run_id}") in [(p.proto.label, p.proto.query_string) for p in at.get("page_link")]


def test_an_imported_run_offers_no_control(
    seeded, open_page: OpenPage, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, ids = seeded
    workbench = bench()
    exported = workbench.export(ids.waiting)
    workbench.close()
    other = f"sqlite:///{tmp_path / 'other.db'}"
    target = open_store(other)
    import_lines(target, exported.splitlines())
    target.close()
    monkeypatch.setenv("DATABASE_URL", other)
    at = open_page("timeline", run_id=ids.waiting)
    no_exceptions(at)
    assert not [b for b in at.button if b.key and b.key.startswith("run_")]
    assert "Replay" not in [p.proto.label for p in at.get("page_link")]
