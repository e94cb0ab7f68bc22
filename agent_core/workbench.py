"""Workbench: the composition root and the one object the dashboard and CLI talk to.

It builds the store and the collaborators from one ``Settings`` and offers the read and
write operations pages need, so pages never touch SQL, folding or SDKs themselves.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_core import events as ev
from agent_core.config import Settings, describe_database
from agent_core.errors import RunNotFound
from agent_core.orchestrator import Orchestrator, RunRequest
from agent_core.projections import RunState, RunSummary, decode, list_summaries, load_events, load_state, open_store
from agent_core.store import EventStore

EventCallback = Callable[[ev.RecordedEvent], None]


@dataclass(frozen=True, slots=True)
class PendingApproval:
    """A held step waiting for a human: what the approval queue shows."""

    run_id: str
    goal: str
    step_id: str
    tool: str
    objective: str
    input: dict[str, Any]
    rule: str
    reason: str
    requested_at: datetime | None


class Workbench:
    """Reads and writes runs for the UI and CLI; see the module docstring."""

    def __init__(self, settings: Settings, store: EventStore | None = None) -> None:
        self.settings = settings
        self.store = store or open_store(settings.database_url)
        self._orchestrator: Orchestrator | None = None

    @property
    def orchestrator(self) -> Orchestrator:
        """Built on first use: reading runs must work even when the workspace or policy is broken."""
        if self._orchestrator is None:
            self._orchestrator = Orchestrator(self.store, self.settings)
        return self._orchestrator

    @classmethod
    def open(cls, settings: Settings | None = None) -> Workbench:
        return cls(settings or Settings())

    def close(self) -> None:
        self.store.close()

    # --- where things are ------------------------------------------------------------------

    def store_label(self) -> str:
        return describe_database(self.settings.database_url)

    def planner_label(self) -> str:
        provider = self.settings.resolved_planner()
        if provider == "offline":
            return "offline planner (deterministic, no network)"
        return f"{provider} ({self.settings.agent_model or 'default model'})"

    # --- running ---------------------------------------------------------------------------

    def start_run(self, request: RunRequest) -> str:
        """Validate and record ``RunStarted``; the caller advances it (in the background, for the UI)."""
        return self.orchestrator.start(request)

    def run(self, request: RunRequest, on_event: EventCallback | None = None) -> RunState:
        """Start and advance in this thread until the run ends or waits for an approval."""
        return self.orchestrator.run(request, on_append=self._follow(on_event))

    def advance(self, run_id: str, on_event: EventCallback | None = None) -> RunState:
        """Continue a run (after an approval, or after a crash: resume)."""
        return self.orchestrator.advance(run_id, on_append=self._follow(on_event))

    def approve(self, run_id: str, step_id: str, *, by: str = "human", comment: str = "") -> RunState:
        return self.orchestrator.approve(run_id, step_id, by=by, comment=comment)

    def deny(self, run_id: str, step_id: str, *, by: str = "human", comment: str = "") -> RunState:
        return self.orchestrator.deny(run_id, step_id, by=by, comment=comment)

    def cancel(self, run_id: str, *, by: str = "human", reason: str = "") -> RunState:
        return self.orchestrator.cancel(run_id, by=by, reason=reason)

    def _follow(self, on_event: EventCallback | None) -> Callable[[str, int], None] | None:
        """Turn the orchestrator's (run_id, seq) notifications into decoded events, each once."""
        if on_event is None:
            return None
        shown: dict[str, int] = {}

        def follow(run_id: str, seq: int) -> None:
            for recorded in self.run_events(run_id, after_seq=shown.get(run_id, 0)):
                on_event(recorded)
                shown[run_id] = recorded.seq

        return follow

    # --- reading ---------------------------------------------------------------------------

    def list_runs(self, **filters: Any) -> list[RunSummary]:
        """Newest first; filters as ``EventStore.list_runs`` (status, text_in_title, limit, offset...)."""
        return list_summaries(self.store, **filters)

    def count_runs(self, **filters: Any) -> int:
        return self.store.count_runs(**filters)

    def resolve_run_id(self, run_id: str) -> str:
        """The full id for an id or a unique prefix of one (as the CLI and UI show them shortened)."""
        if self.store.get_run(run_id) is not None:
            return run_id
        matches = self.store.list_runs(run_id_prefix=run_id, limit=2) if len(run_id) >= 4 else []
        if len(matches) == 1:
            return matches[0].run_id
        raise RunNotFound(run_id)

    def run_state(self, run_id: str) -> RunState:
        """Raises ``RunNotFound`` for an unknown id."""
        return load_state(self.store, run_id)

    def run_events(self, run_id: str, after_seq: int = 0) -> list[ev.RecordedEvent]:
        return load_events(self.store, run_id, after_seq)

    def feed(self, after_position: int = 0, limit: int = 500) -> list[ev.RecordedEvent]:
        """Events of all runs after a global position: the live feed."""
        return [decode(s) for s in self.store.read_all(after_position, limit)]

    def pending_approvals(self, limit: int = 100) -> list[PendingApproval]:
        """Held steps across runs, oldest request first."""
        pending = []
        for summary in self.list_runs(status=["waiting_approval"], limit=limit):
            state = self.run_state(summary.run_id)
            step = state.pending_approval
            if step is None:
                continue
            requested = next(
                (e.at for e in reversed(self.run_events(summary.run_id)) if e.type == "ApprovalRequested"), None
            )
            pending.append(
                PendingApproval(
                    summary.run_id,
                    state.goal,
                    step.step_id,
                    step.tool,
                    step.objective,
                    dict(step.input),
                    step.rule,
                    step.reason,
                    requested,
                )
            )
        return sorted(pending, key=lambda p: p.requested_at or datetime.max)
