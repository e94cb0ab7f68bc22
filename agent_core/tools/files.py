"""read_file and write_file: text files inside the workspace, through the sandbox."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from pydantic import Field, model_validator

from agent_core.tools import sandbox
from agent_core.tools.base import ToolContext, ToolInput, ToolResult, ToolSpec, failure, output_of


class ReadFileInput(ToolInput):
    """read_file: a path relative to the workspace."""

    path: str = Field(min_length=1)


class WriteFileInput(ToolInput):
    """write_file: a path and either the content or the id of an earlier step whose output to write."""

    path: str = Field(min_length=1)
    content: str | None = None
    from_step: str | None = None

    @model_validator(mode="after")
    def _needs_content(self) -> WriteFileInput:
        if self.content is None and not self.from_step:
            raise ValueError("give 'content' or 'from_step' (the id of an earlier step whose output to write)")
        return self


def _checked_path(path: str, ctx: ToolContext) -> sandbox.Target:
    rel = sandbox.check_relative(path)
    sandbox.check_name(rel)
    return sandbox.inspect_target(ctx.workspace, rel, ctx.database_path)


def _run_read_file(params: ReadFileInput, ctx: ToolContext) -> dict[str, Any]:
    target = _checked_path(params.path, ctx)
    got = sandbox.read_file(ctx.workspace, target.rel, ctx.database_path, ctx.max_read_bytes)
    content = got.data.decode("utf-8", errors="replace")
    return {
        "success": True,
        "path": str(target.rel),
        "output": content,
        "content": content,
        "bytes": got.size,
        "sha256": got.sha256,
        "truncated": got.truncated,
    }


def _run_write_file(params: WriteFileInput, ctx: ToolContext) -> dict[str, Any]:
    if params.content is None:
        return failure(f"nothing to write: step {params.from_step!r} has no output (resolve the input first)")
    data = params.content.encode("utf-8")
    if len(data) > ctx.max_write_bytes:
        return failure(f"content is {len(data)} bytes; the write limit is {ctx.max_write_bytes} bytes")
    target = _checked_path(params.path, ctx)
    created = sandbox.write_file(ctx.workspace, target.rel, data, ctx.database_path)
    return {
        "success": True,
        "path": str(target.rel),
        "output": f"{'created' if created else 'overwrote'} {target.rel} ({len(data)} bytes)",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created": created,
    }


def workspace_files(
    workspace: Path, database_path: Path | None = None, suffixes: tuple[str, ...] = ()
) -> Iterator[tuple[PurePosixPath, int]]:
    """(relative path, size) of the workspace's files in a fixed order, walked lazily.

    Skips links, hidden folders, anything but regular files, secret-looking names and the event
    database: what no tool may read is not listed either. ``suffixes`` keeps only those endings.
    """
    root = sandbox.workspace_root(workspace)
    for folder, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and not os.path.islink(Path(folder, d)))
        for name in sorted(filenames):
            if suffixes and not name.lower().endswith(suffixes):
                continue
            path = Path(folder, name)
            info = os.lstat(path)
            if not stat.S_ISREG(info.st_mode) or _is_database(path, name, database_path):
                continue
            rel = PurePosixPath(path.relative_to(root).as_posix())
            try:
                sandbox.check_name(rel)
            except sandbox.SandboxError:
                continue
            yield rel, info.st_size


def _is_database(path: Path, name: str, database_path: Path | None) -> bool:
    return (
        database_path is not None
        and name.startswith(database_path.name)
        and sandbox.is_database_path(path, database_path)
    )


def _check_write_plan(data: Mapping[str, Any], earlier_ids: Sequence[str]) -> str | None:
    if "from_step" in data:
        if data["from_step"] not in earlier_ids:
            return f"write_file 'from_step' names {data['from_step']!r}, which is not an earlier step"
    elif not isinstance(data.get("content"), str):
        return "write_file needs 'content' (a string) or 'from_step' (an earlier step id)"
    return None


def _resolve_write(data: dict[str, Any], prior_results: Mapping[str, ToolResult]) -> dict[str, Any]:
    """``from_step`` -> ``content``; a missing or failed source gives empty content, which the guard rejects."""
    if "content" not in data and data.get("from_step") is not None:
        return {**data, "content": output_of(prior_results, data["from_step"]) or ""}
    return data


READ_FILE = ToolSpec(
    "read_file",
    ReadFileInput,
    _run_read_file,
    "Read a text file inside the workspace (capped).",
    prompt='{"path": str}  (relative to the workspace)',
    path_field="path",
    plan_text_fields=("path",),
    required=("path",),
)
WRITE_FILE = ToolSpec(
    "write_file",
    WriteFileInput,
    _run_write_file,
    "Create a file inside the workspace (atomic, size-capped).",
    prompt=(
        '{"path": str, "from_step": "step_3"} to write an earlier step\'s result,\n  or {"path": str, "content": str}'
    ),
    writes=True,
    path_field="path",
    plan_text_fields=("path",),
    required=("path", "content"),
    check_plan=_check_write_plan,
    resolve=_resolve_write,
)
