"""The everyday flows in headless Chromium against a real ``streamlit run app.py``: launch a run from the
form and watch its events arrive live; approve a held step on the Policy page and see the run finish.

The server gets its own store and workspace, and an OpenAI-compatible planner played by a local fake
(``tests/fake_llm.py``) that answers after a pause, so the launched run is visibly live for a while.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Locator, Page, expect

from agent_core import RunRequest, Settings, Workbench
from tests.dashboard.conftest import screenshot, settle, streamlit_server, waterfall
from tests.dashboard.seed import SUMMARY
from tests.fake_llm import OPENAI_PATH, FakeLLMServer, Scripted, openai_reply

pytestmark = pytest.mark.browser
PLAN_DELAY_S = 3.0  # long enough to see the run live before its plan arrives
PLAN = {
    "steps": [
        {
            "id": "step_1",
            "objective": "Read the notes",
            "tool": "read_file",
            "input": {"path": "notes.txt"},
            "success_criteria": "the notes' text",
        }
    ],
    "stop_conditions": ["notes.txt is missing"],
}


@dataclass(frozen=True)
class Server:
    base: str
    database_url: str
    workspace: Path
    llm: FakeLLMServer

    def settings(self) -> Settings:
        """The server's store and workspace, planned offline: how a test prepares runs beside the UI."""
        return Settings(DATABASE_URL=self.database_url, AGENT_WORKSPACE=self.workspace, AGENT_PLANNER="offline")  # type: ignore[call-arg]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("flows")
    llm = FakeLLMServer().start()
    llm.default(OPENAI_PATH, Scripted(openai_reply(json.dumps(PLAN)), delay_s=PLAN_DELAY_S))
    database_url = f"sqlite:///{folder / 'events.db'}"
    try:
        with streamlit_server(
            folder,
            DATABASE_URL=database_url,
            AGENT_WORKSPACE=str(folder / "workspace"),
            AGENT_PLANNER="offline",  # the form's "openai" choice reaches the fake; "auto" stays offline
            OPENAI_BASE_URL=llm.openai_base_url,
        ) as base:
            yield Server(base, database_url, folder / "workspace", llm)
    finally:
        llm.stop()


def badge(page: Page, status: str) -> Locator:
    return page.locator("span.stMarkdownBadge").filter(has_text=re.compile(f"^{status}$"))


def charts_drawn(page: Page) -> None:
    """Tables and charts paint after the script finishes: wait for them before a screenshot."""
    chart = "[data-testid='stVegaLiteChart'] :is(svg, canvas)"
    expect(page.locator(chart).first).to_be_visible(timeout=20_000)
    expect(page.locator("[data-testid='stDataFrame'] canvas").first).to_be_visible(timeout=20_000)


def open_app(page: Page, base: str) -> None:
    """Enter through app.py (the Launch page is the default), so navigation and sidebar are there."""
    page.goto(base)
    expect(page.get_by_role("heading", name="Launch a run")).to_be_visible(timeout=20_000)
    settle(page)


def test_launch_a_run_from_the_form_and_watch_its_events_arrive_live(server: Server, page: Page) -> None:
    open_app(page, server.base)
    page.get_by_role("button", name="Research agent frameworks").click()
    settle(page)
    expect(page.get_by_label("Goal")).to_have_value(re.compile("^Research the latest developments"))
    page.get_by_test_id("stSelectbox").filter(has_text="Planner").click()
    page.get_by_role("option", name="openai", exact=True).click()
    page.get_by_label("Model").fill("gpt-4.1-mini")
    screenshot(page, "launch")

    page.get_by_role("button", name="Launch run").click()
    # The planner's answer takes PLAN_DELAY_S: meanwhile the feed is live with the first events.
    expect(page.get_by_text("latest: #2 PlanRequested")).to_be_visible(timeout=10_000)
    expect(page.get_by_text("Live: new events appear as they happen")).to_be_visible()
    screenshot(page, "launch-live")

    expect(page.get_by_text(re.compile(r"latest: #\d+ RunCompleted"))).to_be_visible(timeout=30_000)
    expect(page.get_by_text("Live: new events appear")).to_have_count(0)
    expect(badge(page, "completed")).to_be_visible()
    settle(page)
    screenshot(page, "launch-done")
    assert [r.body["model"] for r in server.llm.requests_to(OPENAI_PATH)] == ["gpt-4.1-mini"]

    page.get_by_role("link", name="Open timeline").click()
    expect(page).to_have_url(re.compile(r"/timeline\?run_id=[0-9a-f]{32}$"), timeout=20_000)
    expect(waterfall(page)).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("stText").filter(has_text="Research the latest developments")).to_be_visible()


def test_approve_a_held_step_on_the_policy_page_and_see_the_run_finish(server: Server, page: Page) -> None:
    workbench = Workbench(server.settings())
    try:
        workbench.run(RunRequest(SUMMARY))
        held = workbench.run(RunRequest(SUMMARY))  # summary.md exists now: no_overwrite holds the write
    finally:
        workbench.close()
    assert held.status == "waiting_approval"

    open_app(page, server.base)
    expect(page.get_by_role("link", name="1 pending approval")).to_be_visible()
    page.get_by_test_id("stSidebarNavLink").filter(has_text="Policy").click()
    expect(page.get_by_role("heading", name="Approval queue (1)")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("Held by rule no_overwrite")).to_be_visible()
    expect(page.get_by_text("'summary.md' exists", exact=False)).to_be_visible()
    expect(page.get_by_text("same as the file now")).to_be_visible()  # the offline summary is deterministic
    settle(page)
    screenshot(page, "policy")

    page.get_by_label("Comment", exact=True).fill("the new summary replaces the old one")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("Nothing waits for approval")).to_be_visible(timeout=20_000)
    expect(page.get_by_text("approved step_3", exact=True)).to_be_visible()  # "Decided here", followed live
    expect(badge(page, "completed")).to_be_visible(timeout=20_000)
    settle(page)
    screenshot(page, "policy-approved")

    page.get_by_role("tab", name="Decisions").click()  # only the open tab runs; its label goes to the URL
    expect(page).to_have_url(re.compile(r"/policy\?section=Decisions$"), timeout=20_000)
    charts_drawn(page)
    expect(page.get_by_text("Decisions by rule (all runs)")).to_be_visible()
    settle(page)
    screenshot(page, "policy-decisions")

    workbench = Workbench(server.settings())
    try:
        state = workbench.run_state(held.run_id)
    finally:
        workbench.close()
    assert state.status == "completed"
    step = state.step("step_3")
    assert step is not None and (step.decision, step.comment) == ("granted", "the new summary replaces the old one")
