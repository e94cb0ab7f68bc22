"""web_search: Brave when a key is set, else BM25 over the workspace's text files."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
from pydantic import Field

from agent_core.tools import sandbox
from agent_core.tools.base import ToolContext, ToolInput, ToolSpec, failure
from agent_core.tools.files import workspace_files
from agent_core.tools.text import tokens


class WebSearchInput(ToolInput):
    """web_search: a query and how many results to return."""

    query: str = Field(min_length=1, max_length=500)
    max_results: int = Field(default=5, ge=1, le=20)


def _run_web_search(params: WebSearchInput, ctx: ToolContext) -> dict[str, Any]:
    if ctx.brave_api_key:
        return brave_search(params.query, params.max_results, ctx.brave_api_key, ctx.brave_base_url, ctx.http_timeout_s)
    return bm25_search(params.query, params.max_results, ctx.workspace, ctx.database_path, ctx.max_read_bytes)


SEARCH_SUFFIXES = (".md", ".txt")
MAX_SEARCH_FILES = 2000
SNIPPET_CHARS = 300
_TAG = re.compile(r"<[^>]+>")


def _search_output(results: list[dict[str, Any]], query: str) -> str:
    if not results:
        return f"no results for {query!r}"
    return "\n\n".join(f"{r['title']} ({r.get('path') or r.get('url')}): {r['snippet']}" for r in results)


def _searchable_files(workspace: Path, database_path: Path | None) -> Iterator[PurePosixPath]:
    """Text files under the workspace in a fixed order, at most ``MAX_SEARCH_FILES``."""
    for count, (rel, _size) in enumerate(workspace_files(workspace, database_path, SEARCH_SUFFIXES), start=1):
        if count > MAX_SEARCH_FILES:
            return
        yield rel


def _file_title(rel: PurePosixPath, text: str) -> str:
    heading = next((line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")), "")
    return heading or rel.name


def _paragraphs(text: str) -> list[str]:
    """Blank-line separated paragraphs; a heading-only paragraph is joined to the one after it."""
    merged: list[str] = []
    pending = ""
    for block in re.split(r"\n\s*\n", text):
        lines = [line.strip() for line in block.strip().splitlines() if line.strip()]
        if not lines:
            continue
        while lines and lines[0].startswith("#"):
            pending = f"{pending} {lines.pop(0).lstrip('#').strip()}".strip()
        if not lines:
            continue
        joined = " ".join(lines)
        merged.append(f"{pending} — {joined}" if pending else joined)
        pending = ""
    if pending:
        merged.append(pending)
    return [p for p in merged if tokens(p)]


def bm25_search(
    query: str, max_results: int, workspace: Path, database_path: Path | None, max_bytes: int
) -> dict[str, Any]:
    """BM25 over the workspace's .md/.txt files, one document per paragraph; ties keep file order."""
    chunks: list[tuple[PurePosixPath, str, str]] = []
    for rel in _searchable_files(workspace, database_path):
        try:
            text = sandbox.read_file(workspace, rel, database_path, max_bytes).data.decode("utf-8", errors="replace")
        except (sandbox.SandboxError, OSError):
            continue
        title = _file_title(rel, text)
        chunks.extend((rel, title, p) for p in _paragraphs(text))
    query_tokens = tokens(query)
    results: list[dict[str, Any]] = []
    if chunks and query_tokens:
        import bm25s  # numpy and scipy load only when an offline search runs

        retriever = bm25s.BM25()
        retriever.index([tokens(c[2]) for c in chunks], show_progress=False)
        scores = retriever.get_scores(query_tokens)
        ranked = sorted((i for i in range(len(chunks)) if scores[i] > 0), key=lambda i: (-float(scores[i]), i))
        for i in ranked[:max_results]:
            rel, title, paragraph = chunks[i]
            snippet = " ".join(paragraph.split())[:SNIPPET_CHARS]
            results.append({"title": title, "path": str(rel), "snippet": snippet, "score": round(float(scores[i]), 4)})
    return {
        "success": True,
        "backend": "offline-bm25",
        "query": query,
        "results": results,
        "output": _search_output(results, query),
    }


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
    "Search the web (Brave, when BRAVE_API_KEY is set) or the workspace's .md/.txt files (BM25).",
    prompt='{"query": str, "max_results": int (optional, default 5)}',
    plan_text_fields=("query",),
    required=("query",),
)
