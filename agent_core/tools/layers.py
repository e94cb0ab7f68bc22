"""Which folder a relative path lives in when the workspace has a read-through layer below it.

A what-if replay with live tools writes to an empty scratch folder and reads everything else
from the real workspace (copy-on-write: nothing is copied up front, and the real workspace is
never written). Without a read-through layer every function here is the plain sandbox call.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from agent_core.tools import sandbox


def holder(workspace: Path, read_through: Path | None, rel: PurePosixPath) -> Path:
    """The layer to read ``rel`` from: the workspace when anything exists at that name there, else the one below."""
    if read_through is None:
        return workspace
    try:
        os.lstat(sandbox.workspace_root(workspace) / rel)
    except FileNotFoundError:
        return read_through
    except NotADirectoryError:
        pass  # a file above hides the folder below; the sandbox reports it when the path is used
    return workspace


def inspect(
    workspace: Path, read_through: Path | None, rel: PurePosixPath, database_path: Path | None
) -> sandbox.Target:
    """``sandbox.inspect_target`` over both layers: the upper one's file if it has one, else the lower one's.

    Both layers' rules apply: a link or an odd file below refuses the path even when the write
    would land above, as it would in a real copy of the workspace.
    """
    target = sandbox.inspect_target(workspace, rel, database_path)
    if target.exists or read_through is None:
        return target
    return sandbox.inspect_target(read_through, rel, database_path)
