"""A run's recording, decoded once, and the doubles that serve it again.

Everything a run depended on entered it as an event, so the recording alone can feed a new
execution: the recorded LLM text (``RecordedPlanner``), the recorded tool results
(``RecordedTools``), the recorded human decisions, and the workspace as the planner saw it
(a *shadow* folder rebuilt from the recorded file list, never the real workspace).
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

from agent_core import events as ev
from agent_core.errors import RunNotFound
from agent_core.planning import parse_goal
from agent_core.policy import overwritten_file
from agent_core.projections import decode, fold
from agent_core.providers import RecordedPlanner
from agent_core.replay.driver import ReplayError
from agent_core.store import EventStore, RunRow, StoredEvent

NO_RECORDING_ERROR = "no recorded observation for this call (tools=recorded); replay with tools=live to run it"


@dataclass(frozen=True, slots=True)
class RecordedCall:
    """One tool call as recorded: the intent's input and target hash, and the observation."""

    step_id: str
    tool: str
    input: dict[str, Any]
    target_sha256: str | None
    result: dict[str, Any]


@dataclass(frozen=True)
class Recording:
    """A run's log, decoded once, with what replays serve from it."""

    run_id: str
    rows: tuple[StoredEvent, ...]
    """The run's events as the store returns them (a fork copies its inherited prefix from these)."""
    events: tuple[ev.RecordedEvent, ...]
    started: ev.RunStarted
    calls: tuple[RecordedCall, ...]
    decisions: tuple[ev.ApprovalGranted | ev.ApprovalDenied, ...]
    held: frozenset[tuple[str, str]]  # (step_id, tool) the policy held
    workspace_files: tuple[str, ...]
    imported: bool = False
    """Read from an export: its policy path and human decisions are the exporter's, never authority here."""
    index: RunRow | None = None
    """The run's row in the runs index, as read with the events."""

    @cached_property  # the shadow and its cache key both ask
    def file_sizes(self) -> dict[str, int]:
        """The sizes of workspace files the run saw: from its reads, and from the policy's recorded
        reasons for holding or refusing an overwrite (which name the file's size when it decided;
        the first such reason per file, before any write of the run)."""
        sizes: dict[str, int] = {}
        for call in self.calls:
            path = call.result.get("path", call.input.get("path"))
            if call.tool == "read_file" and call.result.get("success") and isinstance(path, str):
                sizes[path] = int(call.result.get("bytes", 0))
        decided: dict[str, int] = {}
        for recorded in self.events:
            e = recorded.event
            if isinstance(e, ev.ApprovalRequested | ev.ToolRejected) and (found := overwritten_file(e.reason)):
                decided.setdefault(*found)
        return sizes | decided

    def ended(self) -> tuple[str, str]:
        """How the run itself ended as recorded: its status and failure reason ("" for none).

        The runs row says so when it stands at the recording's last event: the store folds every
        append into it with the fold's own handlers. Else (a row read before or after the events
        changed, one written before rows kept the reason) the recording is folded.
        """
        row = self.index
        if row is not None and row.last_seq == self.rows[-1].seq and "reason" in row.summary:
            return row.status, str(row.summary["reason"] or "")
        state = fold(self.events)
        return state.status, state.failure_reason

    @property
    def final(self) -> ev.DomainEvent | None:
        """The last event of the run itself: verdict annotations and late costs (``late_cost``) excluded."""
        steps = [e for e in self.events if e.type not in ev.ANNOTATION_TYPES]
        while len(steps) > 1 and late_cost(steps[-1], steps[:-1]):
            steps.pop()
        return steps[-1].event if steps else None


def late_cost(recorded: ev.RecordedEvent, before: Sequence[ev.RecordedEvent]) -> bool:
    """True for a ``CostRecorded`` written after the run ended: an LLM call that answered after a cancel."""
    return isinstance(recorded.event, ev.CostRecorded) and any(e.type in ev.TERMINAL_TYPES for e in before)


def load_recording(store: EventStore, run_id: str, row: RunRow | None = None) -> Recording:
    """Decode a run for replay; ``RunNotFound`` for an unknown id, ``ReplayError`` for a log without RunStarted.

    ``row`` is the run's index row when the caller has already listed it (a batch): then it is not read again.
    """
    rows = tuple(store.read_run(run_id))
    events = tuple(decode(row) for row in rows)
    if not events:
        raise RunNotFound(run_id)
    started = events[0].event
    if not isinstance(started, ev.RunStarted):
        raise ReplayError(
            f"run {run_id!r} does not begin with RunStarted (it begins with {events[0].type}); it cannot be replayed"
        )
    index = row if row is not None and row.run_id == run_id else store.get_run(run_id)
    intents: dict[str, ev.ToolExecuted] = {}
    calls: list[RecordedCall] = []
    files: tuple[str, ...] = ()
    seen_request = False
    for recorded in events:
        e = recorded.event
        if isinstance(e, ev.PlanRequested) and not seen_request:
            seen_request = True
            files = tuple(parse_goal(e.user_message)[1] or ())
        elif isinstance(e, ev.ToolExecuted):
            intents[e.step_id] = e
        elif isinstance(e, ev.ObservationCaptured):
            intent = intents.get(e.step_id)
            calls.append(
                RecordedCall(
                    e.step_id,
                    e.tool,
                    dict(intent.input) if intent else {},
                    intent.target_sha256 if intent else None,
                    dict(e.result),
                )
            )
    return Recording(
        run_id=run_id,
        rows=rows,
        events=events,
        started=started,
        calls=tuple(calls),
        decisions=tuple(e.event for e in events if isinstance(e.event, ev.ApprovalGranted | ev.ApprovalDenied)),
        held=frozenset((e.event.step_id, e.event.tool) for e in events if isinstance(e.event, ev.ApprovalRequested)),
        workspace_files=files,
        imported=bool(index and index.imported),
        index=index,
    )


# --- what replays are fed ------------------------------------------------------------------------


class RecordedTools:
    """A ``ToolRunner`` serving recorded observations matched by tool and input, in recorded order.

    It never calls a live tool: a call without a recording gets a failed observation that says
    so. Served writes are mirrored into the shadow workspace (when given) so later policy
    checks (``no_overwrite``) see what the original saw.
    """

    def __init__(
        self, calls: Sequence[RecordedCall], shadow: Path | None = None, already_served: Sequence[RecordedCall] = ()
    ) -> None:
        self._calls = list(calls)
        self._used: set[int] = self._consumed(already_served)
        self._shadow = shadow
        self.served = 0
        self.missed: list[tuple[str, dict[str, Any]]] = []

    def _consumed(self, served: Sequence[RecordedCall]) -> set[int]:
        """The recorded calls a continued replay already used (matched by tool, input and result)."""
        used: set[int] = set()
        for done in served:
            index = next(
                (
                    i
                    for i, c in enumerate(self._calls)
                    if i not in used and c.tool == done.tool and c.input == done.input and c.result == done.result
                ),
                None,
            )
            if index is not None:
                used.add(index)
        return used

    def _find(self, tool: str, resolved_input: Mapping[str, Any]) -> int | None:
        return next(
            (
                i
                for i, c in enumerate(self._calls)
                if i not in self._used and c.tool == tool and c.input == resolved_input
            ),
            None,
        )

    def target_sha256(self, tool: str, resolved_input: dict[str, Any]) -> str | None:
        """The target hash recorded with the matching intent (what a resume compared)."""
        index = self._find(tool, resolved_input)
        return self._calls[index].target_sha256 if index is not None else None

    def run(
        self, tool: str, resolved_input: dict[str, Any], prior_results: Mapping[str, dict[str, Any]]
    ) -> dict[str, Any]:
        """The recorded observation of the next matching call, or a failed result saying none was recorded."""
        index = self._find(tool, resolved_input)
        if index is None:
            self.missed.append((tool, dict(resolved_input)))
            return {"success": False, "output": "", "error": NO_RECORDING_ERROR}
        self._used.add(index)
        self.served += 1
        call = self._calls[index]
        if self._shadow is not None and tool == "write_file" and call.result.get("success"):
            mirror_write(self._shadow, call)
        return dict(call.result)


def recorded_planner(recording: Recording) -> RecordedPlanner:
    """The recorded planner under the original's provider and model names (so ``RunStarted`` matches)."""
    planner = recording.started.planner
    return RecordedPlanner(recording.events, provider=planner.provider, model=planner.model)


def mirror_write(shadow: Path, call: RecordedCall) -> None:
    """Repeat a recorded write in a shadow folder, so later path rules see what the original saw."""
    path = call.result.get("path") or call.input.get("path")
    if not isinstance(path, str) or path.startswith(("/", "..")) or ".." in Path(path).parts:
        return
    target = shadow / path
    target.parent.mkdir(parents=True, exist_ok=True)
    content = call.input.get("content")
    target.write_bytes(
        content.encode("utf-8") if isinstance(content, str) else b"\0" * int(call.result.get("bytes", 0))
    )


@contextmanager
def shadow_workspace(recording: Recording, extra_calls: Sequence[RecordedCall] = ()) -> Iterator[Path]:
    """A temporary folder holding the recorded file list (sizes from the recorded reads), removed afterwards.

    It is what the planner listing and the path rules see in a replay with recorded tools: the
    workspace as the original run saw it, never the real one.
    """
    root = Path(tempfile.mkdtemp(prefix="agent-shadow-"))
    try:
        sizes = recording.file_sizes
        for name in recording.workspace_files:
            if ".." in Path(name).parts or name.startswith("/"):
                continue
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            with target.open("wb") as sparse, suppress(OSError):  # sparse: a recorded size costs no disk
                sparse.truncate(max(0, sizes.get(name, 0)))  # (one past what the file system allows stays empty)
        for call in extra_calls:
            if call.tool == "write_file" and call.result.get("success"):
                mirror_write(root, call)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)
