"""The dashboard's pages, listed once: app.py registers them, pages link to each other through them.

Adding a screen is one line in ``PAGES`` (and its file in ``pages/``).
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st


@dataclass(frozen=True, slots=True)
class PageSpec:
    file: str
    title: str
    icon: str
    url_path: str
    default: bool = False

    def page(self) -> st.Page:
        return st.Page(self.file, title=self.title, icon=self.icon, url_path=self.url_path, default=self.default)


PAGES: tuple[PageSpec, ...] = (
    PageSpec("pages/launch.py", "Launch", ":material/rocket_launch:", "launch", default=True),
    PageSpec("pages/runs.py", "Runs", ":material/list_alt:", "runs"),
    PageSpec("pages/timeline.py", "Timeline", ":material/timeline:", "timeline"),
    PageSpec("pages/policy.py", "Policy", ":material/policy:", "policy"),
    PageSpec("pages/replay.py", "Replay", ":material/compare:", "replay"),
)
_BY_PATH = {spec.url_path: spec for spec in PAGES}


def registered(url_path: str) -> PageSpec | None:
    """The page with this url path, or None while that screen does not exist yet."""
    return _BY_PATH.get(url_path)


def link_to_run(url_path: str, run_id: str, label: str, icon: str | None = None) -> None:
    """A link to a page about one run (``?run_id=``); nothing if that page is not registered."""
    spec = registered(url_path)
    if spec is not None:
        st.page_link(spec.file, label=label, icon=icon, query_params={"run_id": run_id})
