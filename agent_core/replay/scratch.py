"""Throw-away stores and shadow workspaces that re-executions write to."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_core.projections import open_store
from agent_core.replay.recording import Recording, shadow_workspace
from agent_core.store import EventStore


@contextmanager
def scratch_store() -> Iterator[EventStore]:
    """A throw-away SQLite event store in a temporary folder (verify writes its re-execution here)."""
    folder = Path(tempfile.mkdtemp(prefix="agent-verify-"))
    store = open_store(f"sqlite:///{folder / 'verify.db'}", sqlite_synchronous="OFF")
    try:
        yield store
    finally:
        store.close()
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class Scratch:
    """What many verifies share: one scratch store and the shadow workspaces of runs that wrote nothing."""

    store: EventStore
    shadows: dict[tuple[Any, ...], Path]


@contextmanager
def scratch_space() -> Iterator[Scratch]:
    """A ``Scratch`` removed on exit: pass it to ``verify`` when verifying many runs."""
    with scratch_store() as store:
        scratch = Scratch(store, {})
        try:
            yield scratch
        finally:
            for shadow in scratch.shadows.values():
                shutil.rmtree(shadow, ignore_errors=True)


@contextmanager
def verify_shadow(recording: Recording, scratch: Scratch | None) -> Iterator[Path]:
    """A shadow workspace; read-only runs of the same files share one per ``Scratch`` (it never changes)."""
    writes = any(c.tool == "write_file" and c.result.get("success") for c in recording.calls)
    if scratch is None or writes:
        with shadow_workspace(recording) as shadow:
            yield shadow
        return
    reads = (c for c in recording.calls if c.tool == "read_file")
    sizes = tuple(sorted((str(c.input.get("path")), int(c.result.get("bytes", 0))) for c in reads))
    key = (recording.workspace_files, sizes)
    if key not in scratch.shadows:
        with shadow_workspace(recording) as shadow:
            kept = Path(tempfile.mkdtemp(prefix="agent-shadow-keep-")) / "workspace"
            shutil.copytree(shadow, kept)
        scratch.shadows[key] = kept
    yield scratch.shadows[key]
