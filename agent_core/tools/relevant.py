"""The workspace files a planner is shown: all of them when there are few, else the most relevant to the goal.

Relevance, in order: the goal names the file (its path, or its name); the goal's words appear in
the path; the goal's words appear in the text (the offline search's index); shallow before deep;
then the path. The chosen files are listed in sorted order, so a workspace with no more files
than the limit gives the same list as before (what a verify's shadow workspace reproduces).
"""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

from agent_core.tools.base import ToolCaps
from agent_core.tools.search_index import Hit, opened, query_terms, view_index_file
from agent_core.tools.text import tokens
from agent_core.tools.walk import Entry, walk

PLANNER_FILES = 200
"""How many paths the request message names (part of the versioned request format, so not a setting)."""
_CONTENT_HITS = 3


def relevant_files(
    workspace: Path,
    goal: str,
    *,
    database_path: Path | None = None,
    index_dir: Path | None = None,
    read_through: Path | None = None,
    caps: ToolCaps | None = None,
    limit: int = PLANNER_FILES,
) -> list[str]:
    """At most ``limit`` workspace paths, the most relevant to ``goal`` first chosen, returned sorted."""
    if not workspace.is_dir():
        return []
    entries = list(walk(workspace, database_path, read_through))
    if len(entries) <= limit:
        return sorted(e.rel for e in entries)
    lowered = goal.lower()
    goal_words = set(tokens(goal))
    caps = caps or ToolCaps()
    by_content = _content_ranks(entries, goal, workspace, database_path, index_dir, read_through, caps, limit)

    def rank(entry: Entry) -> tuple[int, int, int, int, str]:
        name = entry.rel.rsplit("/", 1)[-1].lower()
        named = entry.rel.lower() in lowered or (len(name) >= 3 and _mentions(lowered, name))
        in_path = len(goal_words & set(tokens(entry.rel.replace("/", " "))))
        return (0 if named else 1, -in_path, by_content.get(entry.rel, len(entries)), entry.depth, entry.rel)

    return sorted(e.rel for e in sorted(entries, key=rank)[:limit])


def _mentions(goal: str, name: str) -> bool:
    return re.search(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", goal) is not None


def _content_ranks(
    entries: list[Entry],
    goal: str,
    workspace: Path,
    database_path: Path | None,
    index_dir: Path | None,
    read_through: Path | None,
    caps: ToolCaps,
    limit: int,
) -> dict[str, int]:
    """path -> its rank by the best paragraph the index finds for the goal's words."""
    terms = query_terms(goal)
    if not terms:
        return {}

    def search_in(index_file: Path | None) -> list[Hit]:
        with opened(index_file) as index:
            index.update(
                entries,
                database_path=database_path,
                max_files=caps.search_max_files,
                max_file_bytes=caps.search_max_file_bytes,
            )
            return index.search(terms, limit * _CONTENT_HITS)

    index_file = view_index_file(index_dir, workspace, read_through, database_path)
    try:
        hits = search_in(index_file)
    except sqlite3.OperationalError:
        if index_file is None:
            raise
        hits = search_in(None)  # as the search does: an index in memory gives the same ranks
    ranks: dict[str, int] = {}
    for hit in hits:
        ranks.setdefault(hit.path, len(ranks))
    return ranks
