"""The Replay page in headless Chromium against a real ``streamlit run app.py``: replay a completed run
what-if under the strict policy and read the REGRESSION verdict, the highlighted step table and the
step's text diff. The server gets its own store and workspace; the original run is made beside it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from agent_core import RunRequest, Workbench
from tests.dashboard.conftest import OfflineServer, offline_server, screenshot, settle

pytestmark = pytest.mark.browser
GOAL = "Research the latest developments in AI agent frameworks and summarize the key findings"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineServer]:
    with offline_server(tmp_path_factory.mktemp("replay")) as started:
        yield started


def test_a_whatif_replay_under_the_strict_policy_shows_its_regression_and_diff(
    server: OfflineServer, page: Page
) -> None:
    workbench = Workbench(server.settings())
    try:
        original = workbench.run(RunRequest(GOAL))
    finally:
        workbench.close()
    assert original.status == "completed"

    page.goto(server.base)  # enter through app.py first, so navigation and sidebar exist
    expect(page.get_by_role("heading", name="Launch a run")).to_be_visible(timeout=20_000)
    settle(page)
    page.goto(f"{server.base}/replay?run_id={original.run_id}")
    expect(page.get_by_role("heading", name="Replay", exact=True)).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("stCode").filter(has_text=GOAL)).to_be_visible()
    settle(page)

    page.get_by_test_id("stRadio").filter(has_text="Mode").get_by_text("what-if", exact=True).click()
    settle(page)
    expect(page.get_by_label("System prompt")).to_have_value(re.compile("^You are the planner"))
    page.get_by_test_id("stSelectbox").filter(has_text="Policy").click()
    page.get_by_role("option", name="policies/strict.yaml").click()
    settle(page)
    screenshot(page, "replay")

    page.get_by_role("button", name="Run replay").click()
    settle(page)
    expect(page.get_by_text("REGRESSION", exact=True)).to_be_visible(timeout=20_000)
    expect(page).to_have_url(re.compile(rf"run_id={original.run_id}&replay_id=[0-9a-f]{{32}}"))
    expect(
        page.get_by_text("step_3 (write_file) is newly held for approval by policy rule 'writes_need_approval'")
    ).to_be_visible()
    expect(page.get_by_text("3 rows changed (highlighted).")).to_be_visible()
    expect(page.get_by_role("link", name="Open the approval queue")).to_be_visible()
    expect(page.locator("span.stMarkdownBadge").filter(has_text=re.compile("^regression$"))).to_be_visible()

    page.locator("summary").filter(has_text="step_3 · write_file").click()  # the changed step's expander
    diff = page.get_by_test_id("stCode").filter(has_text='"success": true').filter(has_text="+++ replay")
    expect(diff).to_be_visible()
    expect(page.get_by_test_id("stDataFrame").locator("canvas").first).to_be_visible()
    # the main area scrolls inside the page: bring the result's heading to the top for the screenshot
    page.get_by_role("heading", name=re.compile("^what-if replay")).evaluate("e => e.scrollIntoView()")
    settle(page)
    screenshot(page, "replay-diff")
