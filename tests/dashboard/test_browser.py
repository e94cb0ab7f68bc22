"""The dashboard in headless Chromium against a real ``streamlit run app.py`` on a seeded store."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import screenshot, settle, waterfall
from tests.dashboard.seed import continue_running

pytestmark = pytest.mark.browser
ROW_PX = 35  # glide-data-grid's default row height (the grid is a canvas: rows are clicked by position)


def open_app(page: Page, base: str, path: str = "") -> None:
    """Enter at / (the Launch page) first, as a person does, then go to ``path``; deep links as the
    first request are test_browser_deeplinks.py's job."""
    page.goto(base)
    expect(page.get_by_text("Launch a run").first).to_be_visible(timeout=20_000)
    settle(page)
    page.goto(f"{base}/{path or 'runs'}")


def test_runs_page_leads_to_a_runs_timeline(dashboard, page: Page) -> None:
    base, _, ids = dashboard
    open_app(page, base)
    expect(page.get_by_test_id("stSidebarNavLink").filter(has_text="Timeline")).to_be_visible()
    expect(page.get_by_text("offline planner (deterministic, no network)")).to_be_visible()
    settle(page)
    screenshot(page, "runs")

    grid = page.get_by_test_id("stDataFrame")
    box = grid.bounding_box()
    assert box is not None
    last_row = 6  # the oldest run: the completed original
    grid.click(position={"x": 12, "y": ROW_PX * (last_row + 1) + ROW_PX / 2})
    settle(page)
    link = page.get_by_role("link", name="Open timeline")
    expect(link).to_be_visible()
    screenshot(page, "runs-selected")
    link.click()

    expect(page).to_have_url(re.compile(rf"/timeline\?run_id={ids.completed}$"), timeout=20_000)
    expect(waterfall(page)).to_be_visible(timeout=20_000)
    expect(page.get_by_test_id("stText").filter(has_text="Research agent frameworks")).to_be_visible()
    expect(page.get_by_text("Lineage (2 runs: original, replays and forks)")).to_be_visible()
    settle(page)
    screenshot(page, "timeline")


def test_a_live_timeline_shows_new_events_and_the_end_of_the_run(dashboard, page: Page) -> None:
    base, url, ids = dashboard
    open_app(page, base, f"timeline?run_id={ids.running}")
    expect(page.get_by_text("Live: refreshing every 1 s")).to_be_visible(timeout=20_000)
    screenshot(page, "timeline-live")

    continue_running(url, ids.running, finish_run=True)
    expect(page.get_by_text("Live: refreshing")).to_have_count(0, timeout=15_000)
    expect(page.get_by_test_id("stText").filter(has_text="Done in 1 steps")).to_be_visible(timeout=15_000)
    settle(page)
    page.get_by_role("tab", name="Observations").click()
    expect(page.get_by_text("step_1 · web_search · succeeded · 0.9 s")).to_be_visible(timeout=15_000)
    screenshot(page, "timeline-ended")
