"""list_files: the workspace's files with their sizes, filtered by a glob, bounded in count.

Read-only and names only: it lists what ``read_file`` could open (no links, hidden folders,
secret-looking names or the event database), so a plan can find the files a goal is about.
"""

from __future__ import annotations

import fnmatch
from typing import Any

from pydantic import Field

from agent_core.tools.base import ToolContext, ToolInput, ToolResult, ToolSpec
from agent_core.tools.walk import walk

MAX_LISTED = 500
MAX_SCANNED = 50_000
"""A walk stops after this many files, so a huge tree cannot stall a step."""


class ListFilesInput(ToolInput):
    """``pattern`` is a glob over the relative path, where ``*`` also crosses folders (``*.md``, ``docs/*``)."""

    pattern: str = Field(default="*", min_length=1, max_length=200)
    max_files: int = Field(default=100, ge=1, le=MAX_LISTED)


def _run_list_files(params: ListFilesInput, ctx: ToolContext) -> ToolResult:
    files: list[dict[str, Any]] = []
    matched = scanned = 0
    for entry in walk(ctx.workspace, ctx.database_path, ctx.read_through):
        scanned += 1
        if scanned > MAX_SCANNED:
            break
        if not fnmatch.fnmatchcase(entry.rel, params.pattern):
            continue
        matched += 1
        if len(files) < params.max_files:
            files.append({"path": entry.rel, "bytes": entry.size})
    truncated = matched > len(files) or scanned > MAX_SCANNED
    lines = [f"{f['path']} ({f['bytes']} bytes)" for f in files]
    if truncated:
        lines.append(
            f"... {matched - len(files)} more matching files not listed"
            if matched > len(files)
            else f"... stopped after scanning {MAX_SCANNED} files"
        )
    output = "\n".join(lines) if lines else f"no files match {params.pattern!r}"
    return {
        "success": True,
        "pattern": params.pattern,
        "files": files,
        "matched": matched,
        "truncated": truncated,
        "output": output,
    }


LIST_FILES = ToolSpec(
    "list_files",
    ListFilesInput,
    _run_list_files,
    "List workspace files with their sizes (glob filter, bounded count).",
    prompt='{"pattern": str (optional glob, default "*", "*.md"), "max_files": int (optional, default 100)}',
    found_nothing=lambda result: not result.get("files"),
)
