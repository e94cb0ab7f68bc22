"""Recording folders: a run written once (``record RUN_ID --to DIR``) and verified or replayed anywhere, e.g. in CI.

A recording is a folder ``DIR/<run id>/`` holding everything verify needs and nothing else:

- ``run.jsonl``: the run's events as ``export`` writes them (envelope, payload, hash chain);
- ``policy.yaml``: the policy file the run was guarded by, byte for byte (its sha is recorded);
- ``recording.json``: what it is (run id, goal, planner, the policy path and sha as recorded).

The workspace is not needed: verify and recorded what-ifs rebuild a shadow of it from the log.
``StrictRecordedPlanner`` serves planner answers only for the exact requests the recording holds,
so a replay in CI never calls a live model: a request it does not hold is a named miss.
"""

from __future__ import annotations

import difflib
import json
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import AgentError, ProviderError
from agent_core.planning import PlanLimits, prompt_sha
from agent_core.projections import load_events, open_store
from agent_core.providers import RecordedPlanner
from agent_core.providers.base import Reply
from agent_core.replay.driver import Overrides, ReplayError
from agent_core.replay.memory import MemoryStore
from agent_core.replay.recording import NO_RECORDING_ERROR, load_recording
from agent_core.replay.verify import VerifyResult, verify
from agent_core.replay.whatif import WhatIfResult, whatif
from agent_core.store import EventStore
from agent_core.transfer import export_lines, import_lines

RUN_FILE, POLICY_FILE, MANIFEST_FILE = "run.jsonl", "policy.yaml", "recording.json"
FORMAT = 1


def write_recording(store: EventStore, settings: Settings, run_id: str, to: Path) -> Path:
    """Write ``run_id`` as a recording folder under ``to``; returns the folder. ``ReplayError`` when it cannot be."""
    recording = load_recording(store, run_id)
    started = recording.started
    if started.forked_from is not None:
        raise ReplayError(
            f"run {run_id!r} is a fork of {started.forked_from.run_id!r}; a fork cannot be verified on its own yet, "
            "record the run it was forked from"
        )
    if recording.final is None or recording.final.type not in ev.TERMINAL_TYPES:
        raise ReplayError(f"run {run_id!r} has not ended; record it once it completed, failed or was cancelled")
    policy = Path(started.policy_path or settings.agent_policy)
    if not policy.is_file():
        raise ReplayError(
            f"the run's policy file {str(policy)!r} is not there (it is resolved from the current folder); "
            "run 'record' where the run was started"
        )
    folder = to / run_id
    folder.mkdir(parents=True, exist_ok=True)
    (folder / RUN_FILE).write_text("".join(line + "\n" for line in export_lines(store, run_id)), encoding="utf-8")
    shutil.copyfile(policy, folder / POLICY_FILE)
    manifest = {
        "format": FORMAT,
        "run_id": run_id,
        "goal": started.goal,
        "planner": started.planner.model_dump(mode="json"),
        "policy_path": started.policy_path,
        "policy_sha": started.policy_sha,
        "events": len(recording.events),
        "status": recording.final.type,
    }
    (folder / MANIFEST_FILE).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return folder


def find_recordings(root: Path) -> list[Path]:
    """The recording folders under ``root`` (itself included), sorted by path."""
    if (root / MANIFEST_FILE).is_file():
        return [root]
    return sorted(p.parent for p in root.rglob(MANIFEST_FILE))


@dataclass
class LoadedRecording:
    """A recording folder imported into a throw-away store: what verify and the what-if fixture run against."""

    folder: Path
    run_id: str
    store: EventStore
    settings: Settings


@contextmanager
def open_recording(
    folder: Path, settings: Settings | None = None, *, in_memory: bool = False
) -> Iterator[LoadedRecording]:
    """Import ``folder`` into a temporary SQLite store (removed on exit); settings point at a temporary workspace.

    ``in_memory`` imports into a ``MemoryStore`` instead: enough for a verify, which only reads the
    recording, and without the cost of creating a database per recording.
    """
    if not (folder / RUN_FILE).is_file():
        raise ReplayError(f"{str(folder)!r} is not a recording folder (no {RUN_FILE}); write one with 'record'")
    scratch = Path(tempfile.mkdtemp(prefix="agent-recording-"))
    url = f"sqlite:///{scratch / 'recording.db'}"
    store = MemoryStore() if in_memory else open_store(url, sqlite_synchronous="OFF")
    try:
        with (folder / RUN_FILE).open(encoding="utf-8") as lines:
            run_id = import_lines(store, lines)
        values = {"DATABASE_URL": url, "AGENT_WORKSPACE": str(scratch / "workspace")}
        values["AGENT_POLICY"] = str(folder / POLICY_FILE)
        scoped = (
            settings.model_copy(update={"database_url": url, "agent_workspace": scratch / "workspace"})
            if settings
            else Settings(**values)  # type: ignore[arg-type]  # pydantic-settings takes its aliases as keywords
        )
        yield LoadedRecording(folder, run_id, store, scoped)
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)


def verify_recording(folder: Path) -> VerifyResult:
    """Verify a recording folder with the current code: identical, or the first diverging event."""
    with open_recording(folder, in_memory=True) as loaded:
        return verify(loaded.store, loaded.settings, loaded.run_id, policy_file=folder / POLICY_FILE)


def divergence_report(result: VerifyResult) -> str:
    """A verify result as a person reads it in a failed test: the line, then a diff of the two events."""
    lines = [result.line(), *(f"note: {n}" for n in result.notes)]
    if result.index is not None:
        expected = json.dumps(result.expected, indent=2, sort_keys=True, default=str).splitlines()
        got = json.dumps(result.got, indent=2, sort_keys=True, default=str).splitlines()
        lines.append(f"event {result.index}, recorded (-) against re-executed (+):")
        lines.extend(difflib.unified_diff(expected, got, "recorded", "re-executed", lineterm="", n=2))
    return "\n".join(lines)


# --- what-ifs that never call a live model -------------------------------------------------------


class RecordingMiss(AgentError):
    """A replay asked for something the recording does not hold (a planner request or a tool call)."""


@dataclass
class StrictRecordedPlanner:
    """Serves a recorded planner answer only for a request (system prompt and message) the recording holds.

    Any other request is a miss: it is kept in ``misses`` (with a diff against the recorded
    request) and raised as a ``ProviderError`` so the run stops instead of calling a live model.
    """

    events: Sequence[ev.RecordedEvent]
    provider: str = "recorded"
    model: str = "recorded"
    misses: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        answers = RecordedPlanner(self.events)
        self._requests = [e.event for e in self.events if isinstance(e.event, ev.PlanRequested)]
        self._answers: list[Reply] = []
        limits = PlanLimits(max_steps=10)
        for _ in self._requests:
            try:
                self._answers.append(answers.plan("", "", limits))
            except AgentError:
                break
        first = self._requests[0] if self._requests else None
        if first is not None and self.provider == "recorded":
            self.provider, self.model = first.provider, first.model

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        """The recorded answer to exactly this request; any other request fails, naming it (never a live call)."""
        for request, answer in zip(self._requests, self._answers, strict=False):
            if request.system_prompt == system_prompt and request.user_message == user_message:
                return answer
        recorded = self._requests[0] if self._requests else None
        detail = ""
        if recorded is not None:
            changed = "system prompt" if recorded.system_prompt != system_prompt else "user message"
            a, b = (
                (recorded.system_prompt, system_prompt)
                if changed == "system prompt"
                else (recorded.user_message, user_message)
            )
            diff = difflib.unified_diff(a.splitlines(), b.splitlines(), "recorded", "asked", lineterm="", n=1)
            detail = f"; its {changed} differs from the recorded one:\n" + "\n".join(list(diff)[:40])
        miss = (
            f"planner request absent from the recording: {self.provider}/{self.model}, "
            f"system prompt sha {prompt_sha(system_prompt)[:12]}{detail}"
        )
        self.misses.append(miss)
        raise ProviderError(miss.split(";", 1)[0])

    def summarize(self, text: str, instruction: str) -> Reply | None:
        """None: recorded summaries come with the tool's recorded observation."""
        return None


def tool_misses(store: EventStore, run_id: str) -> list[str]:
    """The tool calls a recorded-tools replay asked for that the recording did not hold, each named."""
    intents: dict[str, ev.ToolExecuted] = {}
    missed = []
    for recorded in load_events(store, run_id):
        e = recorded.event
        if isinstance(e, ev.ToolExecuted):
            intents[e.step_id] = e
        elif isinstance(e, ev.ObservationCaptured) and e.result.get("error") == NO_RECORDING_ERROR:
            intent = intents.get(e.step_id)
            shown = json.dumps(intent.input if intent else {}, sort_keys=True, default=str)[:300]
            missed.append(f"tool call absent from the recording: {e.step_id} {e.tool} {shown}")
    return missed


def whatif_recording(
    loaded: LoadedRecording, overrides: Overrides, *, live_llm: bool = False
) -> tuple[WhatIfResult, list[str]]:
    """A what-if on a loaded recording; returns it and the misses (planner requests, tool calls) it met.

    With ``live_llm`` False (the default) a planner the overrides ask for is the strict recorded
    one: a request the recording does not hold is a miss, never a live call.
    """
    planner = None
    if not live_llm:
        recording = load_recording(loaded.store, loaded.run_id)
        info = recording.started.planner
        planner = StrictRecordedPlanner(
            recording.events, overrides.provider or info.provider, overrides.model or info.model
        )
    result = whatif(loaded.store, loaded.settings, loaded.run_id, overrides, planner=planner)
    misses = [*(planner.misses if planner else []), *tool_misses(loaded.store, result.replay_id)]
    return result, misses


def manifest(folder: Path) -> dict[str, Any]:
    """The recording's ``recording.json``."""
    data: dict[str, Any] = json.loads((folder / MANIFEST_FILE).read_text(encoding="utf-8"))
    return data
