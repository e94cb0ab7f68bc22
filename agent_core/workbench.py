"""Workbench: the composition root and the one object the dashboard and CLI talk to.

It builds the store and the collaborators from one ``Settings`` and offers the read and
write operations pages need, so pages never touch SQL, folding or SDKs themselves.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from agent_core import events as ev
from agent_core.config import Settings, describe_database
from agent_core.projections import RunState, RunSummary, decode, list_summaries, load_events, load_state, open_store
from agent_core.store import EventStore


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

    # --- reading ---------------------------------------------------------------------------

    def list_runs(self, **filters: Any) -> list[RunSummary]:
        """Newest first; filters as ``EventStore.list_runs`` (status, text_in_title, limit, offset...)."""
        return list_summaries(self.store, **filters)

    def count_runs(self, **filters: Any) -> int:
        return self.store.count_runs(**filters)

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
