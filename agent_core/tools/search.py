"""web_search: Brave when a key is set, else BM25 over the workspace's documents (a persistent FTS5 index).

The offline search says what it covered (``coverage``: files searched, skipped and why, truncated)
and leaves the agent's own output folder (``reports/``) out unless the step names it in ``folder``,
so earlier reports do not rank first in later searches.
"""

from __future__ import annotations

import html
import re
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from pydantic import Field

from agent_core.tools import sandbox
from agent_core.tools.base import ToolContext, ToolInput, ToolResult, ToolSpec, failure
from agent_core.tools.search_index import (
    DOCUMENT_SUFFIXES,
    Census,
    Hit,
    opened,
    query_terms,
    view_index_file,
)
from agent_core.tools.walk import walk

OUTPUT_FOLDER = "reports"
"""Where the agent writes its results (the planners' default); the offline search leaves it out unless asked."""
SNIPPET_CHARS = 300
_TAG = re.compile(r"<[^>]+>")


class WebSearchInput(ToolInput):
    """web_search: a query, how many results to return, and (offline) the folder to search."""

    query: str = Field(min_length=1, max_length=500)
    max_results: int = Field(default=5, ge=1, le=20)
    folder: str | None = Field(default=None, max_length=1024)


def _run_web_search(params: WebSearchInput, ctx: ToolContext) -> dict[str, Any]:
    if ctx.brave_api_key:
        return brave_search(params.query, params.max_results, ctx.brave_api_key, ctx.brave_base_url, ctx.http_timeout_s)
    return workspace_search(params.query, params.max_results, ctx, params.folder)


def _search_output(results: list[dict[str, Any]], query: str) -> str:
    if not results:
        return f"no results for {query!r}"
    return "\n\n".join(f"{r['title']} ({r.get('path') or r.get('url')}): {r['snippet']}" for r in results)


# --- offline: the workspace's documents ----------------------------------------------------------


def _scope(folder: str | None) -> tuple[str, str]:
    """(prefix every searched path starts with, or "" for all; how the scope reads in the observation)."""
    if folder is None:
        return "", f"the workspace except {OUTPUT_FOLDER}/"
    cleaned = folder.strip().strip("/")
    if cleaned in ("", "."):
        return "", "the whole workspace"
    rel = sandbox.check_relative(cleaned)
    sandbox.check_name(rel)
    return f"{rel}/", f"{rel}/"


def workspace_search(query: str, max_results: int, ctx: ToolContext, folder: str | None = None) -> dict[str, Any]:
    """BM25 over the workspace's documents, one document per paragraph; ties keep path and paragraph order.

    ``folder`` limits the search to one folder; without it the agent's output folder is left out.
    """
    prefix, scope = _scope(folder)
    output = f"{OUTPUT_FOLDER}/"

    def outside(rel: str) -> str | None:
        if prefix:
            return None if rel.startswith(prefix) else ""
        return "output_folder" if folder is None and rel.startswith(output) else None

    def search_in(index_file: Path | None) -> tuple[Census, list[Hit]]:
        with opened(index_file) as index:
            census = index.update(
                walk(ctx.workspace, ctx.database_path, ctx.read_through),
                database_path=ctx.database_path,
                max_files=ctx.search_max_files,
                max_file_bytes=ctx.search_max_file_bytes,
                outside=outside,
            )
            return census, index.search(query_terms(query), max_results, lambda rel: outside(rel) is None)

    index_file = view_index_file(ctx.index_dir, ctx.workspace, ctx.read_through, ctx.database_path)
    try:
        census, hits = search_in(index_file)
    except sqlite3.OperationalError:
        if index_file is None:
            raise
        census, hits = search_in(None)  # locked past the busy timeout, or a full disk: memory gives the same answer
    results = [{"title": h.title, "path": h.path, "snippet": h.snippet, "score": h.score} for h in hits]
    coverage = {
        "scope": scope,
        **census.document(),
        "caps": {"max_files": ctx.search_max_files, "max_file_bytes": ctx.search_max_file_bytes},
    }
    text = _search_output(results, query)
    note = coverage_note(census, ctx.search_max_files, ctx.search_max_file_bytes, folder is None)
    return {
        "success": True,
        "backend": "offline-bm25",
        "query": query,
        "results": results,
        "coverage": coverage,
        "output": f"{text}\n\n{note}" if note and (not results or _limits_hit(census)) else text,
    }


def _limits_hit(census: Census) -> bool:
    return bool(census.truncated or set(census.skipped) & {"binary", "unreadable", "over_file_cap"})


def coverage_note(census: Census, max_files: int, max_file_bytes: int, output_left_out: bool) -> str:
    """One sentence on what a search covered, for the observation's text (the fields say it in full)."""
    parts = [f"Searched {census.searched:,} document{'s' if census.searched != 1 else ''}"]
    reasons = {
        "binary": "binary",
        "unreadable": "unreadable",
        "over_file_cap": f"over the {max_files:,}-file cap (AGENT_SEARCH_MAX_FILES)",
        "not_a_document": f"of another type (only {', '.join(DOCUMENT_SUFFIXES)} and names without one are searched)",
        "output_folder": f"in {OUTPUT_FOLDER}/, the agent's output (search it by naming the folder)",
    }
    skipped = [f"{len(census.skipped[r]):,} {words}" for r, words in reasons.items() if census.skipped.get(r)]
    if skipped:
        parts.append("not searched: " + ", ".join(skipped))
    if census.truncated:
        shown = ", ".join(census.truncated[:3]) + (" ..." if len(census.truncated) > 3 else "")
        parts.append(
            f"{len(census.truncated):,} searched only in their first {max_file_bytes:,} bytes "
            f"(AGENT_SEARCH_MAX_FILE_BYTES): {shown}"
        )
    return "; ".join(parts) + "."


def _found_nothing(result: ToolResult) -> bool:
    return not result.get("results")


def brave_search(query: str, max_results: int, api_key: str, base_url: str, timeout_s: float) -> dict[str, Any]:
    """The Brave Search web API; HTTP and network errors become a failed result naming what to do."""
    url = base_url.rstrip("/") + "/res/v1/web/search"
    headers = {"X-Subscription-Token": api_key, "Accept": "application/json"}
    try:
        response = httpx.get(url, params={"q": query, "count": max_results}, headers=headers, timeout=timeout_s)
    except httpx.TimeoutException:
        return failure(f"Brave Search did not answer within {timeout_s:g} s; try again later", backend="brave")
    except httpx.HTTPError as e:
        return failure(f"could not reach Brave Search: {type(e).__name__}", backend="brave")
    if response.status_code in (401, 403):
        return failure(
            f"Brave Search refused the key (HTTP {response.status_code}); check BRAVE_API_KEY", backend="brave"
        )
    if response.status_code == 429:
        return failure("Brave Search rate limit reached (HTTP 429); wait and retry", backend="brave")
    if response.status_code != 200:
        return failure(f"Brave Search answered HTTP {response.status_code}", backend="brave")
    try:
        items = response.json().get("web", {}).get("results", [])
    except (ValueError, AttributeError):
        return failure("Brave Search answered with something that is not its JSON format", backend="brave")
    results = []
    for rank, item in enumerate(items[:max_results], start=1):
        snippet = html.unescape(_TAG.sub("", str(item.get("description", ""))))[:SNIPPET_CHARS]
        title = html.unescape(_TAG.sub("", str(item.get("title", ""))))
        results.append(
            {"title": title, "url": str(item.get("url", "")), "snippet": snippet, "score": round(1 / rank, 4)}
        )
    return {
        "success": True,
        "backend": "brave",
        "query": query,
        "results": results,
        "output": _search_output(results, query),
    }


WEB_SEARCH = ToolSpec(
    "web_search",
    WebSearchInput,
    _run_web_search,
    "Search the web (Brave, when BRAVE_API_KEY is set) or the workspace's documents (BM25, a persistent index).",
    prompt=(
        '{"query": str, "max_results": int (optional, default 5), "folder": str (optional: search only this\n'
        f"  workspace folder; {OUTPUT_FOLDER}/, where results are written, is searched only when named)}}"
    ),
    plan_text_fields=("query",),
    required=("query",),
    found_nothing=_found_nothing,
)
