"""read_file and write_file: text files inside the workspace, through the sandbox."""

from __future__ import annotations

import hashlib
from typing import Any

from pydantic import Field, model_validator

from agent_core.tools import sandbox
from agent_core.tools.base import ToolContext, ToolInput, ToolSpec, failure


class ReadFileInput(ToolInput):
    path: str = Field(min_length=1)


class WriteFileInput(ToolInput):
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


READ_FILE = ToolSpec(
    "read_file", ReadFileInput, _run_read_file, True, "Read a text file inside the workspace (capped)."
)
WRITE_FILE = ToolSpec(
    "write_file", WriteFileInput, _run_write_file, False, "Create a file inside the workspace (atomic, size-capped)."
)
