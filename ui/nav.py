"""The dashboard's pages, listed once: app.py registers them, pages link to each other through them.

Adding a screen is one line in ``PAGES`` (and its file in ``pages/``). Every page has its own URL
path, the default one too: ``/`` shows the default page through a hidden alias, so ``/launch`` and
``/`` open the same screen.
"""

from __future__ import annotations

import runpy
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


@dataclass(frozen=True, slots=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    default: bool = False

    def page(self) -> st.Page:
        return st.Page(self.file, title=self.title, icon=self.icon, url_path=self.url_path)


APP = Path(__file__).resolve().parents[1] / "app.py"
PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/launch.py", "Launch", ":material/rocket_launch:", "launch", default=True),
    PageSpec("pages/runs.py", "Runs", ":material/list_alt:", "runs"),
    PageSpec("pages/timeline.py", "Timeline", ":material/timeline:", "timeline"),
    PageSpec("pages/policy.py", "Policy", ":material/policy:", "policy"),
    PageSpec("pages/replay.py", "Replay", ":material/compare:", "replay"),
    PageSpec("pages/compare.py", "Compare", ":material/difference:", "compare"),
)
_BY_PATH = {spec.url_path: spec for spec in PAGES}


def navigation_pages() -> list[st.Page]:
    """What app.py hands to ``st.navigation``: every page at its own path, and ``/`` as the default's alias.

    Streamlit serves its default page only at ``/``; the alias keeps ``/launch`` a real address.
    """
    pages = [spec.page() for spec in PAGES]
    home = next(spec for spec in PAGES if spec.default)
    pages.append(st.Page(home.file, title=home.title, icon=home.icon, url_path="", default=True, visibility="hidden"))
    return pages


def through_app() -> None:
    """Make sure the page runs inside app.py's navigation, also on a deep link right after a server start.

    With a ``pages/`` folder Streamlit runs a page file on its own (file-name navigation, no shared
    sidebar) until some session has run ``st.navigation`` once. A page reached that way switches
    Streamlit to app.py's navigation and runs app.py in its place, in the same script run (so a
    click that started the run is not lost): app.py resolves the same address and runs the page.
    """
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False  # what st.navigation itself sets on its first call
        runpy.run_path(str(APP), run_name="__main__")
        st.stop()


def registered(url_path: str) -> PageSpec | None:
    """The page with this url path, or None while that screen does not exist yet."""
    return _BY_PATH.get(url_path)


def link_to_run(url_path: str, run_id: str, label: str, icon: str | None = None) -> None:
    """A link to a page about one run (``?run_id=``); nothing if that page is not registered."""
    spec = registered(url_path)
    if spec is not None:
        st.page_link(spec.file, label=label, icon=icon, query_params={"run_id": run_id})
