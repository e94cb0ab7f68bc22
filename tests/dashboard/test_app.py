"""app.py: navigation, the shared sidebar, and what it says when the store cannot be opened."""

from __future__ import annotations

import pytest

from tests.dashboard.conftest import ROOT, OpenPage, no_exceptions, texts
from ui import nav


def test_every_page_file_is_registered_and_every_registered_page_exists() -> None:
    files = {f"pages/{p.name}" for p in (ROOT / "pages").glob("*.py") if p.name != "__init__.py"}
    registered = {spec.file for spec in nav.PAGES}
    assert files == registered
    assert len({spec.url_path for spec in nav.PAGES}) == len(nav.PAGES)


def test_sidebar_names_the_store_the_planner_and_pending_approvals(seeded, open_page: OpenPage) -> None:
    url, _ = seeded
    at = open_page()
    no_exceptions(at)
    sidebar = "\n".join(t.value for t in at.sidebar.text)
    assert url.removeprefix("sqlite:///") in sidebar
    assert "offline planner" in sidebar
    assert any("ANTHROPIC_API_KEY" in c.value for c in at.sidebar.caption)
    links = [link.proto.label for link in at.sidebar.get("page_link")]
    assert "1 pending approval" in links  # the seeded run waiting for approval, linking to the queue


@pytest.mark.parametrize("page", [None, "runs", "timeline"])
def test_an_unreachable_store_is_a_message_with_what_to_do_not_a_traceback(
    monkeypatch: pytest.MonkeyPatch, open_page: OpenPage, page: str | None
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://app:s3cret-pw@127.0.0.1:9/prod?connect_timeout=2")
    monkeypatch.chdir(ROOT)
    at = open_page(page, run_id="abc")
    no_exceptions(at)
    shown = texts(at)
    assert "StoreError" in shown
    assert "DATABASE_URL" in shown
    assert "s3cret-pw" not in shown
    if page is None:  # AppTest runs a switched-to page without app.py, so only then is there a sidebar
        assert "PostgreSQL 127.0.0.1:9/prod" in [t.value for t in at.sidebar.text]


def test_invalid_settings_are_a_message(monkeypatch: pytest.MonkeyPatch, open_page: OpenPage) -> None:
    monkeypatch.setenv("AGENT_PLANNER", "magic")
    monkeypatch.chdir(ROOT)
    at = open_page("runs")
    no_exceptions(at)
    assert "ConfigError" in texts(at)
    assert "agent_planner" in texts(at).lower() or "AGENT_PLANNER" in texts(at)
