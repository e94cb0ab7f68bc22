"""Signing in to a password-protected dashboard in headless Chromium, and approving a held step as the
signed-in user: the store records who approved from the login, not from anything typed on the page."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from agent_core import RunRequest, Workbench
from tests.dashboard.conftest import OfflineServer, offline_server, screenshot, settle
from tests.dashboard.seed import SUMMARY

pytestmark = pytest.mark.browser
PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OfflineServer]:
    with offline_server(tmp_path_factory.mktemp("access"), AGENT_DASHBOARD_PASSWORD=PASSWORD) as started:
        yield started


def sign_in(page: Page, name: str, password: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    settle(page)


def test_sign_in_then_approve_a_held_step_as_the_signed_in_user(server: OfflineServer, page: Page) -> None:
    workbench = Workbench(server.settings())
    try:
        workbench.run(RunRequest(SUMMARY))
        held = workbench.run(RunRequest(SUMMARY))  # summary.md exists now: no_overwrite holds the write
    finally:
        workbench.close()
    assert held.status == "waiting_approval"

    # The first request to the fresh server is a deep link: Streamlit serves the page file without
    # app.py then, and the page's own gate still asks for the sign-in.
    page.goto(f"{server.base}/policy")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=20_000)
    settle(page)
    expect(page.get_by_text("Approval queue")).to_have_count(0)
    expect(page.get_by_text(SUMMARY)).to_have_count(0)

    page.goto(server.base)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=20_000)
    settle(page)
    expect(page.get_by_test_id("stSidebarNavLink")).to_have_count(0)  # no menu before the sign-in
    sign_in(page, "alice", PASSWORD + "?")
    expect(page.get_by_text("Wrong name or password.")).to_be_visible()
    expect(page.get_by_label("Password", exact=True)).to_have_value("")
    screenshot(page, "sign-in-refused")

    sign_in(page, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="Launch a run")).to_be_visible(timeout=20_000)
    sidebar = page.get_by_test_id("stSidebar")
    expect(sidebar.get_by_text("Signed in as")).to_be_visible()
    expect(sidebar.get_by_text("alice", exact=True)).to_be_visible()

    page.get_by_test_id("stSidebarNavLink").filter(has_text="Policy").click()
    expect(page.get_by_role("heading", name="Approval queue (1)")).to_be_visible(timeout=20_000)
    settle(page)
    page.get_by_label("Comment", exact=True).fill("checked by alice")
    page.get_by_role("button", name="Approve", exact=True).click()
    expect(page.get_by_text("Nothing waits for approval")).to_be_visible(timeout=20_000)
    settle(page)
    screenshot(page, "policy-approved-signed-in")

    workbench = Workbench(server.settings())
    try:
        granted = [e.event.to_payload() for e in workbench.run_events(held.run_id) if e.type == "ApprovalGranted"]
        state = workbench.run_state(held.run_id)
    finally:
        workbench.close()
    assert [(g["by"], g["comment"]) for g in granted] == [("alice", "checked by alice")]
    step = state.step("step_3")
    assert step is not None and step.decision == "granted"

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=20_000)
