"""What approving a held ``write_file`` would do: the exact content and a unified diff against the file now.

The held step's input is the one the orchestrator resolved (``ApprovalRequested.input``), so the
content shown is byte for byte what the tool would write. The current file is read through the
same sandbox the tool uses; anything it refuses is said in one line, never raised.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core.tools import sandbox
from agent_core.tools.decode import decode_text

PREVIEW_BYTES = 256 * 1024
"""The most of the current file read for the diff; a longer file's diff says it covers only its start."""
DIFF_CONTEXT_LINES = 3


@dataclass(frozen=True, slots=True)
class WritePreview:
    """The write a person approves: where, what, and how it changes the file as it is now."""

    path: str
    content: str
    new_file: bool
    diff: str = ""
    """Unified diff from the current file to ``content``; empty when they are equal or the file is new."""
    unchanged: bool = False
    problem: str = ""
    """Why the current file could not be compared (outside the workspace, binary, too large...)."""


def write_preview(
    tool: str, resolved_input: dict[str, Any], workspace: Path, database_path: Path | None
) -> WritePreview | None:
    """The preview of a held ``write_file`` (None for any other tool)."""
    if tool != "write_file":
        return None
    path = resolved_input.get("path")
    raw = resolved_input.get("content")
    content = raw if isinstance(raw, str) else ""
    shown_path = path if isinstance(path, str) else repr(path)
    try:
        rel = sandbox.check_relative(path)
        exists = sandbox.inspect_target(workspace, rel, database_path).exists
        if not exists:
            return WritePreview(shown_path, content, new_file=True)
        got = sandbox.read_file(workspace, rel, database_path, PREVIEW_BYTES)
    except (sandbox.SandboxError, OSError) as error:
        return WritePreview(shown_path, content, new_file=False, problem=f"the current file cannot be read: {error}")
    current, sniffed = decode_text(got.data, complete=not got.truncated)
    if sniffed.encoding is None:
        return WritePreview(shown_path, content, new_file=False, problem="the current file is binary: no text diff")
    if current == content:
        return WritePreview(shown_path, content, new_file=False, unchanged=True)
    diff = "".join(
        difflib.unified_diff(
            _lines(current),
            _lines(content),
            fromfile=f"{shown_path} (now)",
            tofile=f"{shown_path} (after the write)",
            n=DIFF_CONTEXT_LINES,
        )
    )
    problem = (
        f"the current file is {got.size:,} bytes; the diff covers its first {PREVIEW_BYTES:,}" if got.truncated else ""
    )
    return WritePreview(shown_path, content, new_file=False, diff=diff, problem=problem)


def _lines(text: str) -> list[str]:
    """Lines that each end with a newline, so a last line without one still prints on its own line in the diff."""
    return [line if line.endswith("\n") else line + "\n" for line in text.splitlines(keepends=True)]
