"""Approvals and run controls in headless Chromium against a real ``streamlit run app.py``: decide a
filtered selection with one comment, judge a write by its diff, cancel a held run from its Timeline,
re-run a run, see a denied step; screenshots in light and dark (the theme follows the viewer).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, expect

from agent_core import RunRequest, Workbench
from tests.dashboard.conftest import OfflineServer, offline_server, screenshot, settle
from tests.dashboard.seed import SUMMARY

pytestmark = pytest.mark.browser
VIEWPORT = {"width": 1440, "height": 1800}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineServer]:
    with offline_server(tmp_path_factory.mktemp("approvals")) as running:
        yield running


def bench(server: OfflineServer) -> Workbench:
    return Workbench(server.settings())


def held_runs(server: OfflineServer, n: int) -> list[str]:
    """``n`` real runs held by no_overwrite (summary.md exists after the first run)."""
    workbench = bench(server)
    try:
        workbench.run(RunRequest(SUMMARY))
        ids = [workbench.run(RunRequest(SUMMARY)).run_id for _ in range(n)]
        assert all(workbench.run_state(r).status == "waiting_approval" for r in ids)
        return ids
    finally:
        workbench.close()


def open_page(page: Page, base: str, path: str, heading: str) -> None:
    """Enter through app.py first (deep links before any session ran it are dash-views' issue item 1)."""
    if path:
        page.goto(base)
        expect(page.get_by_role("heading", name="Launch a run")).to_be_visible(timeout=20_000)
    page.goto(f"{base}/{path}")
    expect(page.get_by_role("heading", name=heading).first).to_be_visible(timeout=20_000)
    settle(page)


def test_approve_a_filtered_selection_with_one_comment(server: OfflineServer, page: Page) -> None:
    ids = held_runs(server, 3)
    (server.workspace / "summary.md").write_text("the summary a person wrote by hand\n", encoding="utf-8")
    open_page(page, server.base, "policy", "Approval queue")
    expect(page.get_by_role("heading", name=re.compile(r"^Approval queue \(\d+\)"))).to_be_visible()
    expect(page.get_by_text("changes an existing file").first).to_be_visible()
    expect(page.get_by_test_id("stCode").filter(has_text="-the summary a person wrote by hand").first).to_be_visible()
    screenshot(page, "policy-write-diff")

    page.get_by_test_id("stMultiSelect").filter(has_text="Tool").first.click()
    page.get_by_role("option", name="write_file").click()
    page.keyboard.press("Escape")
    settle(page)
    page.get_by_label("One comment for all 3 held steps shown by the filters").fill("replace the hand-written one")
    page.get_by_role("button", name="Approve 3").click()
    expect(page.get_by_text(re.compile(r"Approving 3 held steps, each recorded by \w+"))).to_be_visible(timeout=20_000)
    workbench = bench(server)
    try:
        expect(page.get_by_text("Nothing waits for approval")).to_be_visible(timeout=60_000)
        for run_id in ids:
            state = workbench.run_state(run_id)
            step = state.step("step_3")
            assert step is not None and (step.decision, step.comment) == ("granted", "replace the hand-written one")
    finally:
        workbench.close()
    settle(page)
    screenshot(page, "policy-selection-approved")


def test_cancel_a_held_run_from_its_timeline(server: OfflineServer, page: Page) -> None:
    [run_id] = held_runs(server, 1)
    open_page(page, server.base, f"timeline?run_id={run_id}", f"Run {run_id[:8]}")
    expect(page.get_by_text("Waiting for a human to approve a held step:")).to_be_visible()
    page.get_by_role("button", name="Cancel run").click()
    expect(page.get_by_text(f"Cancelled run {run_id[:8]}.").first).to_be_visible(timeout=20_000)
    page.reload()
    expect(page.get_by_role("heading", name=f"Run {run_id[:8]}")).to_be_visible(timeout=20_000)
    settle(page)
    expect(page.get_by_text("Run cancelled. Reason:")).to_be_visible()
    expect(page.get_by_text("Waiting for a human")).to_have_count(0)
    expect(page.get_by_role("link", name="Open the approval queue")).to_have_count(0)
    expect(page.get_by_role("button", name="Cancel run")).to_have_count(0)
    screenshot(page, "timeline-cancelled")


def test_re_run_and_a_denied_step_on_the_timeline(server: OfflineServer, page: Page) -> None:
    [run_id] = held_runs(server, 1)
    workbench = bench(server)
    try:
        workbench.deny(run_id, "step_3", by="alice", comment="keep the old summary")
        workbench.advance(run_id)
    finally:
        workbench.close()
    open_page(page, server.base, f"timeline?run_id={run_id}", f"Run {run_id[:8]}")
    expect(page.get_by_text("step_3 (write_file) was denied by alice")).to_be_visible()
    expect(page.get_by_text("keep the old summary").first).to_be_visible()
    screenshot(page, "timeline-denied")

    page.get_by_role("button", name="Re-run").click()
    expect(page.get_by_text(re.compile(r"^Started run [0-9a-f]{8}: same goal")).first).to_be_visible(timeout=20_000)
    expect(page).not_to_have_url(re.compile(run_id), timeout=20_000)
    expect(page).to_have_url(re.compile(r"/timeline\?run_id=[0-9a-f]{32}$"))
    new_id = page.url.rsplit("=", 1)[1]
    assert new_id != run_id
    expect(page.get_by_role("heading", name=f"Run {new_id[:8]}")).to_be_visible(timeout=20_000)
    workbench = bench(server)
    try:
        again = workbench.run_state(new_id)
        assert again.goal == SUMMARY and again.replay_of is None
    finally:
        workbench.close()


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_first_impression_and_overview_in_the_viewers_theme(
    server: OfflineServer, browser: Browser, scheme: Any
) -> None:
    context = browser.new_context(color_scheme=scheme, viewport=VIEWPORT)  # type: ignore[arg-type]
    page = context.new_page()
    try:
        open_page(page, server.base, "", "Launch a run")
        expect(page.get_by_label("Goal")).to_have_value(re.compile("^Research the latest developments"))
        background = page.evaluate("getComputedStyle(document.querySelector('.stApp')).backgroundColor")
        channels = [int(c) for c in re.findall(r"\d+", background)[:3]]
        assert (sum(channels) < 200) == (scheme == "dark"), background
        screenshot(page, f"launch-{scheme}")
        page.get_by_role("button", name="Launch run").click()
        expect(page.get_by_text(re.compile(r"the feed is complete"))).to_be_visible(timeout=60_000)
        settle(page)
        screenshot(page, f"launch-done-{scheme}")
        open_page(page, server.base, "runs", "Runs")
        page.get_by_text("Overview of the last 30 days").click()  # drawn once opened
        expect(page.get_by_test_id("stVegaLiteChart")).to_have_count(4, timeout=20_000)
        expect(page.get_by_test_id("stVegaLiteChart").first.locator("svg, canvas").first).to_be_visible()
        settle(page)
        page.wait_for_timeout(500)  # let the charts paint before the picture
        screenshot(page, f"runs-overview-{scheme}")
        open_page(page, server.base, "policy", "Approval queue")
        screenshot(page, f"policy-{scheme}")
    finally:
        context.close()
