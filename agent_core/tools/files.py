"""read_file and write_file: text files inside the workspace, through the sandbox.

read_file says what it read: the encoding it detected, how many bytes of how many, whether it
truncated; a binary file is refused with what kind of file it is, never decoded into mojibake.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import Field, model_validator

from agent_core.tools import layers, sandbox
from agent_core.tools.base import ToolContext, ToolInput, ToolResult, ToolSpec, failure, output_of
from agent_core.tools.decode import decode_text


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
    return layers.inspect(ctx.workspace, ctx.read_through, rel, ctx.database_path)


def _run_read_file(params: ReadFileInput, ctx: ToolContext) -> dict[str, Any]:
    target = _checked_path(params.path, ctx)
    root = layers.holder(ctx.workspace, ctx.read_through, target.rel)
    got = sandbox.read_file(root, target.rel, ctx.database_path, ctx.max_read_bytes)
    content, sniffed = decode_text(got.data, complete=not got.truncated)
    covered: dict[str, Any] = {
        "bytes": got.size,
        "sha256": got.sha256,
        "read_bytes": len(got.data),
        "max_read_bytes": ctx.max_read_bytes,
    }
    if sniffed.encoding is None:
        return failure(
            f"{str(target.rel)!r} is a {sniffed.kind} ({got.size:,} bytes), not text; read_file reads text files only",
            path=str(target.rel),
            binary=True,
            kind=sniffed.kind,
            **covered,
        )
    return {
        "success": True,
        "path": str(target.rel),
        "output": content,
        "content": content,
        "encoding": sniffed.encoding,
        "truncated": got.truncated,
        **covered,
    }


def _run_write_file(params: WriteFileInput, ctx: ToolContext) -> dict[str, Any]:
    if params.content is None:
        return failure(f"nothing to write: step {params.from_step!r} has no output (resolve the input first)")
    data = params.content.encode("utf-8")
    if len(data) > ctx.max_write_bytes:
        return failure(f"content is {len(data)} bytes; the write limit is {ctx.max_write_bytes} bytes")
    target = _checked_path(params.path, ctx)
    created = sandbox.write_file(ctx.workspace, target.rel, data, ctx.database_path) and not target.exists
    return {
        "success": True,
        "path": str(target.rel),
        "output": f"{'created' if created else 'overwrote'} {target.rel} ({len(data)} bytes)",
        "bytes": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "created": created,
    }


def _read_found_nothing(result: ToolResult) -> bool:
    # ``output`` carries the text: the stored observation keeps it once (``content`` repeats it and is dropped).
    return not str(result.get("output") or "").strip()


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
    "Read a text file inside the workspace (capped; the encoding is detected, binary files are refused).",
    prompt='{"path": str}  (relative to the workspace)',
    path_field="path",
    plan_text_fields=("path",),
    required=("path",),
    found_nothing=_read_found_nothing,
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
