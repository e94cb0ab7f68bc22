"""The approval queue at scale (AppTest): a true count that pages, filters by tool, rule and run, a
what-if replay's holds in their own section, a write_file card with its diff, one decision with one
comment for a filtered selection (one event per step, by the signed-in user), and the Runs overview."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.orchestrator import RunRequest
from agent_core.plan import Plan
from agent_core.projections import open_store
from agent_core.replay import Overrides
from agent_core.store import EventStore
from agent_core.workbench import Workbench
from tests.dashboard.conftest import ROOT, OpenPage, no_exceptions, texts
from tests.dashboard.seed import SUMMARY
from ui.overview import OVERVIEW_KEY

STRICT = ROOT / "policies" / "strict.yaml"


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("AGENT_POLICY", raising=False)


def held(store: EventStore, n: int, tool: str, rule: str, start: datetime) -> list[str]:
    """``n`` runs each holding one step (written through the real store: the index sees real appends)."""
    ids = []
    for i in range(n):
        run_id = uuid.uuid4().hex
        plan = Plan.model_validate(
            {
                "steps": [
                    {
                        "id": "step_1",
                        "objective": f"obj {i}",
                        "tool": tool,
                        "input": {"path": f"f{i}.md"},
                        "success_criteria": "done",
                    }
                ]
            }
        )
        at = start + timedelta(seconds=i)
        store.append(
            run_id,
            [
                ev.RunStarted(
                    goal=f"goal {i}",
                    max_steps=3,
                    budget_usd=0.5,
                    planner=ev.PlannerInfo(provider="offline", model="offline", prompt_sha="p" * 64),
                    policy_sha="s" * 64,
                ),
                ev.PlanGenerated(plan=plan, raw_text="{}"),
                ev.ApprovalRequested(step_id="step_1", tool=tool, input={"path": f"f{i}.md"}, rule=rule, reason="r"),
            ],
            0,
            times=[at, at, at],
        )
        ids.append(run_id)
    return ids


def test_the_queue_pages_through_the_true_count_and_filters(empty_store: str, open_page: OpenPage) -> None:
    store = open_store(empty_store)
    start = datetime.now(UTC) - timedelta(hours=1)
    writes = held(store, 23, "write_file", "no_overwrite", start)
    searches = held(store, 2, "web_search", "network_needs_approval", start + timedelta(minutes=5))
    store.close()

    at = open_page("policy")
    no_exceptions(at)
    assert at.subheader[0].value == "Approval queue (25)"
    assert "#### Held in runs (25)" in [m.value for m in at.markdown]
    assert "Showing 1-10 of 25, oldest request first" in texts(at)
    assert [b.label for b in at.button][:2] == ["Approve 25", "Deny 25"]
    sidebar = [p.proto.label for p in open_page().sidebar.get("page_link")]
    assert "25 pending approvals" in sidebar  # the sidebar and the queue agree

    at.number_input(key="queue_page_runs").set_value(3).run()
    assert "Showing 21-25 of 25, oldest request first" in texts(at)
    assert {"obj 21", "obj 22", "goal 20"} <= {t.value for t in at.text}

    at.multiselect(key="queue_tool").select("web_search").run()
    assert "#### Held in runs (2)" in [m.value for m in at.markdown]
    assert at.subheader[0].value == "Approval queue (25)"  # the total stays true; the section counts the filter
    at.multiselect(key="queue_tool").unselect("web_search").run()
    at.multiselect(key="queue_rule").select("no_overwrite").run()
    assert "#### Held in runs (23)" in [m.value for m in at.markdown]
    at.text_input(key="queue_run").set_value(searches[0][:10]).run()
    assert "No held step matches these filters" in texts(at)
    at.multiselect(key="queue_rule").unselect("no_overwrite").run()
    assert "#### Held in runs (1)" in [m.value for m in at.markdown]
    assert len(writes) == 23


def test_one_comment_decides_a_filtered_selection_one_event_per_step(empty_store: str, open_page: OpenPage) -> None:
    store = open_store(empty_store)
    start = datetime.now(UTC) - timedelta(hours=1)
    denied = held(store, 3, "web_search", "network_needs_approval", start)
    kept = held(store, 2, "write_file", "no_overwrite", start + timedelta(minutes=1))
    store.close()

    at = open_page("policy")
    at.multiselect(key="queue_tool").select("web_search").run()
    at.text_input(key="bulk_comment_runs").set_value("no network today")
    next(b for b in at.button if b.label == "Deny 3").click().run()
    no_exceptions(at)
    assert "Denying 3 held steps, each recorded by human" in texts(at)
    workbench = Workbench(Settings())
    deadline = time.monotonic() + 60
    while not all(workbench.run_state(r).is_terminal for r in denied):  # the batch works in the background
        assert time.monotonic() < deadline, [workbench.run_state(r).status for r in denied]
        time.sleep(0.1)
    for run_id in denied:
        events = workbench.run_events(run_id)
        decisions = [e.event for e in events if isinstance(e.event, ev.ApprovalDenied)]
        assert [(d.step_id, d.by, d.comment) for d in decisions] == [("step_1", "human", "no network today")]
    assert {p.run_id for p in workbench.pending_approvals()} == set(kept)
    assert workbench.count_pending_approvals() == 2
    workbench.close()


def test_a_write_card_shows_the_content_and_its_diff_and_replays_have_their_own_section(
    empty_store: str, open_page: OpenPage, tmp_path: Path
) -> None:
    workbench = Workbench(Settings())
    first = workbench.run(RunRequest(SUMMARY))  # writes summary.md
    original = workbench.run_state(first.run_id)
    (tmp_path / "workspace" / "summary.md").write_text("an older summary\nkept by hand\n", encoding="utf-8")
    second = workbench.run(RunRequest(SUMMARY))  # held: summary.md exists
    assert second.status == "waiting_approval"
    replay = workbench.whatif(original.run_id, Overrides(policy_path=STRICT))  # strict holds every write
    assert replay.state.status == "waiting_approval"
    workbench.close()

    at = open_page("policy")
    no_exceptions(at)
    markdown = [m.value for m in at.markdown]
    assert "#### Held in runs (1)" in markdown and "#### Held in what-if replays (1)" in markdown
    assert "never touches the real workspace" in texts(at)
    diff = next(c.value for c in at.code if c.language == "diff")
    assert diff.startswith("--- summary.md (now)\n+++ summary.md (after the write)")
    assert "-an older summary" in diff and "+" in diff
    assert "changes an existing file" in texts(at)
    written = next(c.value for c in at.code if c.value.startswith("Agent runs fail"))
    assert f"+{written.splitlines()[0]}" in diff  # the exact content to be written, and the diff to it


def test_the_runs_page_draws_the_overview_from_the_indexes(seeded, open_page: OpenPage) -> None:
    at = open_page("runs")
    no_exceptions(at)
    assert next(e.label for e in at.expander) == "Overview of the last 30 days"
    assert not at.get("vega_lite_chart")  # closed: not drawn
    at.session_state[OVERVIEW_KEY] = True  # what opening it does
    at.run()
    no_exceptions(at)
    assert len(at.get("vega_lite_chart")) == 4
    assert "runs started" in texts(at) and "duration p50" in texts(at)
