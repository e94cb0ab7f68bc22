"""The Launch page: its form, server-side validation (nothing written on bad input), a launched run's
feed as it grows to the end, a held run pointing at the approval queue, and its error states."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from agent_core import planner_choices
from agent_core.config import Settings
from agent_core.projections import RunState
from agent_core.providers import PROVIDERS, ProviderSpec
from agent_core.workbench import Workbench
from tests.dashboard.conftest import OpenPage, no_exceptions, texts
from tests.dashboard.seed import SUMMARY, continue_running
from ui import core

RESEARCH = "Research the latest developments in AI agent frameworks and summarize the key findings"
FEED_COLUMNS = ["seq", "time", "actor", "event", "summary"]


@pytest.fixture(autouse=True)
def _own_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Runs launched here write into a temporary workspace, never the repository's."""
    monkeypatch.setenv("AGENT_WORKSPACE", str(tmp_path / "workspace"))
    for name in ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENAI_BASE_URL", "ANTHROPIC_BASE_URL", "AGENT_PLANNER"):
        monkeypatch.delenv(name, raising=False)


def run_count() -> int:
    workbench = Workbench(Settings())
    try:
        return workbench.count_runs()
    finally:
        workbench.close()


def read_state(run_id: str) -> RunState:
    workbench = Workbench(Settings())
    try:
        return workbench.run_state(run_id)
    finally:
        workbench.close()


def submit(at: AppTest, goal: str, **fields: object) -> AppTest:
    at.text_area(key="launch_goal").set_value(goal)
    for key, value in fields.items():
        at.session_state[f"launch_{key}"] = value
    next(b for b in at.button if b.label == "Launch run").click().run()
    return at


def finished(at: AppTest) -> str:
    """Wait for the background run the page started, then tick the page once (AppTest fires no timers)."""
    run_id = at.session_state["launch_run_id"]
    core.runner().wait(run_id, timeout=30)  # the page's runner: st.cache_resource is shared in-process
    at.run()
    return run_id


def test_the_form_has_every_field_and_launch_is_the_default_page(empty_store, open_page: OpenPage) -> None:
    at = open_page()
    no_exceptions(at)
    assert [t.value for t in at.title] == ["Launch a run"]
    assert [w.label for w in at.text_area] == ["Goal"]
    slider = at.slider(key="launch_max_steps")
    assert (slider.min, slider.max, slider.value) == (1, 10, 4)
    assert at.number_input(key="launch_budget").value == 0.5
    assert list(at.selectbox(key="launch_planner").options) == list(planner_choices())
    assert at.text_input(key="launch_model").label == "Model"
    # the examples above the form; the demo goal already filled in, so one click launches it
    assert [b.label for b in at.button] == ["Research agent frameworks", "Summarize notes.txt", "Launch run"]
    assert at.text_area(key="launch_goal").value == RESEARCH
    assert f"{len(RESEARCH)} / 4000 characters" in texts(at)
    assert "The run's events appear here as they happen" in texts(at)


def test_the_planner_box_lists_exactly_the_selectable_registry_entries(
    empty_store, open_page: OpenPage, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A provider added to the registry (and nowhere else) is offered; one people may not choose is not."""
    monkeypatch.setitem(PROVIDERS, "echo", ProviderSpec("echo", PROVIDERS["offline"].build))
    monkeypatch.setitem(PROVIDERS, "hidden", ProviderSpec("hidden", PROVIDERS["offline"].build, selectable=False))
    at = open_page()
    no_exceptions(at)
    options = list(at.selectbox(key="launch_planner").options)
    assert options == ["auto", *(name for name, spec in PROVIDERS.items() if spec.selectable)]
    assert options == ["auto", "offline", "anthropic", "openai", "echo"]


def test_an_example_button_fills_the_goal(empty_store, open_page: OpenPage) -> None:
    at = open_page()
    at.button(key="example_Research agent frameworks").click().run()
    assert at.text_area(key="launch_goal").value == RESEARCH
    assert f"{len(RESEARCH)} / 4000 characters" in texts(at)
    assert run_count() == 0


@pytest.mark.parametrize(
    ("goal", "fields", "message"),
    [
        ("", {}, "the goal is empty"),
        ("   \n ", {}, "the goal is empty"),
        ("x" * 4001, {}, "the goal has 4001 characters; shorten it to 4000 or fewer"),
        (RESEARCH, {"budget": 7.0}, "the budget must be between"),
        (RESEARCH, {"budget": 0.0}, "the budget must be between"),
    ],
)
def test_invalid_input_is_a_message_at_its_field_and_nothing_is_written(
    empty_store, open_page: OpenPage, goal: str, fields: dict[str, object], message: str
) -> None:
    at = submit(open_page(), goal, **fields)
    no_exceptions(at)
    errors = [e.value.replace("\\", "") for e in at.error]
    assert len(errors) == 1 and message in errors[0], errors
    assert "launch_run_id" not in at.session_state
    assert run_count() == 0


def test_a_planner_without_its_key_is_a_message_and_nothing_is_written(empty_store, open_page: OpenPage) -> None:
    at = submit(open_page(), RESEARCH, planner="anthropic")
    no_exceptions(at)
    assert "ConfigError" in texts(at)
    assert "ANTHROPIC_API_KEY" in texts(at)
    assert run_count() == 0


def test_a_launched_run_shows_its_feed_until_it_completes(empty_store, open_page: OpenPage) -> None:
    at = submit(open_page(), RESEARCH, max_steps=3, budget=1.0)
    no_exceptions(at)
    run_id = finished(at)
    no_exceptions(at)

    state = read_state(run_id)
    assert (state.status, state.max_steps, state.budget_usd, state.goal) == ("completed", 3, 1.0, RESEARCH)
    feed = at.dataframe[0].value
    assert list(feed.columns) == FEED_COLUMNS
    assert feed["event"].iloc[0] == "RunStarted" and feed["event"].iloc[-1] == "RunCompleted"
    assert len(feed) == state.event_count
    assert f"Run {run_id[:8]} completed after " in texts(at) and "the feed is complete" in texts(at)
    shown = texts(at)
    assert f"{state.event_count} events so far · latest: #{state.last_seq} RunCompleted" in shown
    assert "$1.00" in shown and "Live:" not in shown
    assert any("green-badge[completed]" in m.value for m in at.markdown)
    assert state.final_summary in [c.value for c in at.code]
    links = [(p.proto.label, p.proto.query_string) for p in at.main.get("page_link")]
    assert ("Open timeline", f"run_id={run_id}") in links


def test_a_held_run_says_so_and_links_to_the_approval_queue(empty_store, open_page: OpenPage) -> None:
    at = submit(open_page(), SUMMARY)
    finished(at)
    at = submit(at, SUMMARY)  # summary.md now exists: the second write waits for a person
    run_id = finished(at)
    no_exceptions(at)
    shown = texts(at)
    assert "Waiting for a person to approve a held step:" in shown
    assert "step_3 write_file — rule no_overwrite" in shown
    assert "latest: #11 ApprovalRequested" in shown
    assert "the feed is complete" not in shown  # a held run has not ended
    links = [(p.proto.label, p.proto.query_string) for p in at.main.get("page_link")]
    assert ("Open the approval queue", f"run_id={run_id}") in links


def test_the_feed_shows_events_written_since_the_last_tick(seeded, open_page: OpenPage) -> None:
    """A live run read incrementally: the page's next tick shows what was appended meanwhile."""
    url, ids = seeded
    at = open_page()
    at.session_state["launch_run_id"] = ids.running
    at.run()
    assert "Live: new events appear as they happen" in texts(at)
    before = len(at.dataframe[0].value)

    continue_running(url, ids.running, finish_run=True)
    at.run()
    feed = at.dataframe[0].value
    assert len(feed) == before + 3
    assert list(feed["event"])[-3:] == ["ObservationCaptured", "ResponseFinalized", "RunCompleted"]
    assert "Live:" not in texts(at)


def test_an_unreachable_store_is_a_message(unreachable_store, open_page: OpenPage) -> None:
    at = open_page("launch")
    no_exceptions(at)
    assert "StoreError" in texts(at)
    assert "DATABASE_URL" in texts(at)
