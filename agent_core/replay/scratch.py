"""Throw-away stores and shadow workspaces that re-executions write to."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_core.config import Settings
from agent_core.orchestrator import Orchestrator
from agent_core.policy import Policy
from agent_core.providers import Planner
from agent_core.replay.driver import Served, replay_orchestrator
from agent_core.replay.memory import MemoryStore
from agent_core.replay.recording import Recording, shadow_workspace
from agent_core.store import EventStore


@contextmanager
def scratch_store() -> Iterator[MemoryStore]:
    """A throw-away event store in memory (verify writes its re-execution here; nothing outlives it)."""
    store = MemoryStore()
    try:
        yield store
    finally:
        store.close()


@dataclass
class Scratch:
    """What many verifies share: one scratch store, the shadow workspaces of runs that wrote nothing,
    and an orchestrator per (shadow, policy): building one costs more than a small run's re-execution."""

    store: EventStore
    """A ``MemoryStore`` (``scratch_space``); any store works, e.g. a SQLite file to compare against."""
    shadows: dict[tuple[Any, ...], Path]
    orchestrators: dict[tuple[Any, ...], tuple[Orchestrator, Served, Settings]] = field(default_factory=dict)

    def orchestrator(self, settings: Settings, shadow: Path, planner: Planner, policy: Policy) -> Orchestrator:
        """An orchestrator over the scratch store serving ``planner`` and ``policy`` (loaded by the verify from its
        file); one per settings, shared shadow and policy file.

        A run that wrote gets a shadow of its own, removed after its verify: its orchestrator is not kept.
        """
        if shadow not in self.shadows.values():
            return replay_orchestrator(self.store, settings, shadow, Served(planner, policy), policy.path)
        key = (id(settings), shadow, policy.path)  # the entry holds ``settings``: its id is not reused meanwhile
        if key not in self.orchestrators:
            served = Served()
            built = replay_orchestrator(self.store, settings, shadow, served, policy.path)
            self.orchestrators[key] = (built, served, settings)
        orchestrator, served, _settings = self.orchestrators[key]
        served.planner, served.policy = planner, policy
        return orchestrator


@contextmanager
def scratch_space() -> Iterator[Scratch]:
    """A ``Scratch`` removed on exit: pass it to ``verify`` when verifying many runs."""
    with scratch_store() as store:
        scratch = Scratch(store, {})
        try:
            yield scratch
        finally:
            for shadow in scratch.shadows.values():
                shutil.rmtree(shadow.parent, ignore_errors=True)  # the folder mkdtemp made for it


@contextmanager
def verify_shadow(recording: Recording, scratch: Scratch | None) -> Iterator[Path]:
    """A shadow workspace; read-only runs of the same files share one per ``Scratch`` (it never changes)."""
    writes = any(c.tool == "write_file" and c.result.get("success") for c in recording.calls)
    if scratch is None or writes:
        with shadow_workspace(recording) as shadow:
            yield shadow
        return
    key = (recording.workspace_files, tuple(sorted((str(k), v) for k, v in recording.file_sizes.items())))
    if key not in scratch.shadows:
        with shadow_workspace(recording) as shadow:
            kept = Path(tempfile.mkdtemp(prefix="agent-shadow-keep-")) / "workspace"
            shutil.copytree(shadow, kept)
        scratch.shadows[key] = kept
    yield scratch.shadows[key]
