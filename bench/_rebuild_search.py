"""The baseline of ``search_bench.py``: the offline search as it was before the persistent index.

Copied from ``agent_core/tools/search.py`` and ``files.py`` at the commit before the index
(c1693d2): every call walks the workspace, reads the first 200 kB of at most 2,000 .md/.txt files,
splits them into paragraphs, tokenizes them and builds a bm25s index from scratch. Only the imports
changed. Kept as it was, so the ratios compare against what users had.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

from agent_core.tools import sandbox
from agent_core.tools.text import tokens

SEARCH_SUFFIXES = (".md", ".txt")
MAX_SEARCH_FILES = 2000
SNIPPET_CHARS = 300


def workspace_files(
    workspace: Path, database_path: Path | None = None, suffixes: tuple[str, ...] = ()
) -> Iterator[tuple[PurePosixPath, int]]:
    root = sandbox.workspace_root(workspace)
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not os.path.islink(Path(folder, d)))
        for name in sorted(filenames):
            if suffixes and not name.lower().endswith(suffixes):
                continue
            path = Path(folder, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode):
                continue
            rel = PurePosixPath(path.relative_to(root).as_posix())
            try:
                sandbox.check_name(rel)
            except sandbox.SandboxError:
                continue
            yield rel, info.st_size


def _searchable_files(workspace: Path, database_path: Path | None, max_files: int) -> Iterator[PurePosixPath]:
    for count, (rel, _size) in enumerate(workspace_files(workspace, database_path, SEARCH_SUFFIXES), start=1):
        if count > max_files:
            return
        yield rel


def _file_title(rel: PurePosixPath, text: str) -> str:
    heading = next((line.lstrip("#").strip() for line in text.splitlines() if line.startswith("#")), "")
    return heading or rel.name


def _paragraphs(text: str) -> list[str]:
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
    query: str,
    max_results: int,
    workspace: Path,
    database_path: Path | None,
    max_bytes: int = 200_000,
    max_files: int = MAX_SEARCH_FILES,
    keep_tokens: list[list[str]] | None = None,
) -> dict[str, Any]:
    """The old search; ``max_files`` is 2,000 as shipped (the bench also runs it uncapped, to compare equal
    coverage). ``keep_tokens`` receives the tokenized corpus (for the bench's bm25s-only figure)."""
    chunks: list[tuple[PurePosixPath, str, str]] = []
    for rel in _searchable_files(workspace, database_path, max_files):
        try:
            text = sandbox.read_file(workspace, rel, database_path, max_bytes).data.decode("utf-8", errors="replace")
        except (sandbox.SandboxError, OSError):
            continue
        title = _file_title(rel, text)
        chunks.extend((rel, title, p) for p in _paragraphs(text))
    query_tokens = tokens(query)
    results: list[dict[str, Any]] = []
    if chunks and query_tokens:
        import bm25s

        corpus = [tokens(c[2]) for c in chunks]
        if keep_tokens is not None:
            keep_tokens.extend(corpus)
        retriever = bm25s.BM25()
        retriever.index(corpus, show_progress=False)
        scores = retriever.get_scores(query_tokens)
        ranked = sorted((i for i in range(len(chunks)) if scores[i] > 0), key=lambda i: (-float(scores[i]), i))
        for i in ranked[:max_results]:
            rel, title, paragraph = chunks[i]
            snippet = " ".join(paragraph.split())[:SNIPPET_CHARS]
            results.append({"title": title, "path": str(rel), "snippet": snippet, "score": round(float(scores[i]), 4)})
    return {"success": True, "backend": "offline-bm25", "query": query, "results": results}
