"""Deep links right after a server start: every page, the default one included, opens at its own
address through app.py's navigation (shared sidebar, wide layout) even as the first request."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser, expect

from tests.dashboard.conftest import screenshot, settle, streamlit_server
from tests.dashboard.seed import seed
from ui import nav

pytestmark = pytest.mark.browser

# Text only that page draws (its own content), per url path.
OWN_CONTENT = {
    "launch": "Launch a run",
    "runs": "Runs in view",
    "timeline": "Steps ok / rejected / failed",
    "policy": "Rules",
    "replay": "Run replay",
    "compare": "Verdict",
}


def test_every_deep_link_is_the_first_request_to_a_fresh_server(tmp_path: Path, browser: Browser) -> None:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    ids = seed(url)
    query = {
        "timeline": f"?run_id={ids.completed}",
        "replay": f"?run_id={ids.completed}",
        "compare": f"?a={ids.completed}&b={ids.replay}",
    }
    for spec in nav.PAGES:
        # A server of its own per page: the deep link is the very first request it answers.
        with streamlit_server(tmp_path, DATABASE_URL=url, AGENT_WORKSPACE=str(tmp_path / "ws")) as base:
            page = browser.new_page(viewport={"width": 1440, "height": 1200})
            page.goto(f"{base}/{spec.url_path}{query.get(spec.url_path, '')}")
            expect(page.get_by_text(OWN_CONTENT[spec.url_path]).first).to_be_visible(timeout=30_000)
            settle(page)
            # app.py's frame: the shared sidebar (store and planner) and every registered page's link.
            expect(page.get_by_test_id("stSidebar").get_by_text("Event store")).to_be_visible()
            links = page.get_by_test_id("stSidebarNavLink")
            expect(links).to_have_count(len(nav.PAGES))
            expect(page.get_by_text("Page not found")).to_have_count(0)
            # the wide layout: the main block uses most of the 1440 px window
            main = page.get_by_test_id("stMainBlockContainer").bounding_box()
            assert main is not None and main["width"] > 1000, main
            assert page.url.split("?")[0].endswith(f"/{spec.url_path}")
            screenshot(page, f"deeplink-{spec.url_path}")
            page.close()
