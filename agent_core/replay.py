"""Replay: verify a recorded run against the current code, what-if replays, replay-all, policy counterfactuals.

Everything a run depended on entered it as an event, so the recording alone can feed a new
execution: the recorded LLM text (``RecordedPlanner``), the recorded tool results
(``RecordedTools``), the recorded human decisions, and the workspace as the planner saw it
(a *shadow* folder rebuilt from the recorded file list, never the real workspace).

- ``verify`` re-executes with the current orchestrator into a scratch store and compares the
  normalised streams: identical, or the first diverging event and why. Nothing is written to
  the real store unless ``save=True``.
- ``whatif`` writes a new run (``replay_of``/``replay_mode`` set) with overrides, records its
  verdict against the original as ``ReplayDiffed``, and never touches the real workspace.
- ``replay_all`` runs either over every original: what CI calls before a prompt or policy ships.
- ``policy_counterfactual`` re-decides the recorded plans of recent runs under another policy
  file without executing anything.
"""

from __future__ import annotations

import shutil
import tempfile
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from agent_core import events as ev
from agent_core import tools as tool_impl
from agent_core.config import Settings
from agent_core.diff import DEFAULT_COST_SHARE, RunDiff, diff_runs
from agent_core.errors import AgentError, RunNotFound
from agent_core.normalize import normalize
from agent_core.orchestrator import OnAppend, Orchestrator, RunRequest
from agent_core.planning import PlanLimits, parse_goal
from agent_core.policy import Policy, PolicyContext
from agent_core.pricing import PriceTable, default_prices
from agent_core.projections import RUNNING, RunState, apply, list_summaries, load_events, load_state, open_store
from agent_core.providers import Planner, RecordedPlanner, Reply, make_planner
from agent_core.sandbox import database_path_from_url
from agent_core.store import EventStore

ToolsMode = Literal["recorded", "live"]
NO_RECORDING_ERROR = "no recorded observation for this call (tools=recorded); replay with tools=live to run it"
_RUN_STARTED_CONFIG = ("policy_sha", "policy_path", "overrides", "replay_of", "replay_mode")
_DECISION_TYPES = {"ToolApproved": "approve", "ToolRejected": "reject", "ApprovalRequested": "hold"}
_PAGE = 200


class ReplayError(AgentError):
    """A replay cannot be set up (unknown run, no recording to serve, bad override)."""


@dataclass(frozen=True, slots=True)
class Overrides:
    """What a what-if replay changes; ``None`` keeps the original's value."""

    provider: str | None = None
    model: str | None = None
    system_prompt: str | None = None
    policy_path: Path | None = None
    tools: ToolsMode = "recorded"

    @property
    def asks_planner(self) -> bool:
        """True when the plan must come from a provider rather than the recording."""
        return bool(self.provider or self.model or self.system_prompt is not None)

    @property
    def empty(self) -> bool:
        return not self.asks_planner and self.policy_path is None and self.tools == "recorded"

    def recorded(self) -> dict[str, Any]:
        """The overrides as ``RunStarted.overrides`` holds them (the system prompt is added by ``start``)."""
        data: dict[str, Any] = {"tools": self.tools}
        if self.provider:
            data["provider"] = self.provider
        if self.model:
            data["model"] = self.model
        if self.policy_path is not None:
            data["policy_path"] = str(self.policy_path)
        return data


# --- the recording -------------------------------------------------------------------------------


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
    events: tuple[ev.RecordedEvent, ...]
    started: ev.RunStarted
    calls: tuple[RecordedCall, ...]
    decisions: tuple[ev.ApprovalGranted | ev.ApprovalDenied, ...]
    held: frozenset[tuple[str, str]]  # (step_id, tool) the policy held
    workspace_files: tuple[str, ...]

    @property
    def final(self) -> ev.DomainEvent | None:
        steps = [e for e in self.events if e.type != "ReplayDiffed"]
        return steps[-1].event if steps else None


def load_recording(store: EventStore, run_id: str) -> Recording:
    """Decode a run for replay; ``RunNotFound`` for an unknown id, ``ReplayError`` for a log without RunStarted."""
    events = tuple(load_events(store, run_id))
    if not events:
        raise RunNotFound(run_id)
    started = events[0].event
    if not isinstance(started, ev.RunStarted):
        raise ReplayError(f"run {run_id!r} does not begin with RunStarted (it begins with {events[0].type}); "
                          "it cannot be replayed")  # fmt: skip
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
            calls.append(RecordedCall(
                e.step_id, e.tool, dict(intent.input) if intent else {}, intent.target_sha256 if intent else None,
                dict(e.result),
            ))  # fmt: skip
    return Recording(
        run_id=run_id,
        events=events,
        started=started,
        calls=tuple(calls),
        decisions=tuple(e.event for e in events if isinstance(e.event, ev.ApprovalGranted | ev.ApprovalDenied)),
        held=frozenset((e.event.step_id, e.event.tool) for e in events if isinstance(e.event, ev.ApprovalRequested)),
        workspace_files=files,
    )


# --- what replays are fed ------------------------------------------------------------------------


class RecordedTools:
    """A ``ToolRunner`` serving recorded observations matched by tool and input, in recorded order.

    It never calls a live tool: a call without a recording gets a failed observation that says
    so. Served writes are mirrored into the shadow workspace (when given) so later policy
    checks (``no_overwrite``) see what the original saw.
    """

    def __init__(self, calls: Sequence[RecordedCall], shadow: Path | None = None) -> None:
        self._calls = list(calls)
        self._used: set[int] = set()
        self._shadow = shadow
        self.served = 0
        self.missed: list[tuple[str, dict[str, Any]]] = []

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
        index = self._find(tool, resolved_input)
        return self._calls[index].target_sha256 if index is not None else None

    def run(
        self, tool: str, resolved_input: dict[str, Any], prior_results: Mapping[str, dict[str, Any]]
    ) -> dict[str, Any]:
        index = self._find(tool, resolved_input)
        if index is None:
            self.missed.append((tool, dict(resolved_input)))
            return {"success": False, "output": "", "error": NO_RECORDING_ERROR}
        self._used.add(index)
        self.served += 1
        call = self._calls[index]
        if self._shadow is not None and tool == "write_file" and call.result.get("success"):
            _mirror_write(self._shadow, call)
        return dict(call.result)


class _ReplayPlanner:
    """The recorded planner under the original's provider and model names (so ``RunStarted`` matches)."""

    def __init__(self, recording: Recording) -> None:
        self._inner = RecordedPlanner(recording.events)
        self.provider = recording.started.planner.provider
        self.model = recording.started.planner.model

    def plan(self, system_prompt: str, user_message: str, limits: PlanLimits) -> Reply:
        return self._inner.plan(system_prompt, user_message, limits)

    def summarize(self, text: str, instruction: str) -> Reply | None:
        return None


def _mirror_write(shadow: Path, call: RecordedCall) -> None:
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
        sizes = {c.result.get("path", c.input.get("path")): int(c.result.get("bytes", 0))
                 for c in recording.calls if c.tool == "read_file" and c.result.get("success")}  # fmt: skip
        for name in recording.workspace_files:
            if ".." in Path(name).parts or name.startswith("/"):
                continue
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(b"\0" * sizes.get(name, 0))
        for call in extra_calls:
            if call.tool == "write_file" and call.result.get("success"):
                _mirror_write(root, call)
        yield root
    finally:
        shutil.rmtree(root, ignore_errors=True)


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
def _verify_shadow(recording: Recording, scratch: Scratch | None) -> Iterator[Path]:
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


@cache
def _prices() -> PriceTable:
    return default_prices()


class _Stop(Exception):
    """Raised from ``on_append`` to stop a re-execution where the recording stopped."""


def _drive(
    orchestrator: Orchestrator,
    run_id: str,
    planner: Planner,
    runner: Any,
    decisions: Sequence[ev.ApprovalGranted | ev.ApprovalDenied],
    *,
    may_reuse: Callable[[str, str], bool] = lambda step_id, tool: True,
    on_append: OnAppend | None = None,
) -> RunState:
    """Advance until the run ends or waits with no recorded human decision left for the held step."""
    queues: dict[str, deque[ev.ApprovalGranted | ev.ApprovalDenied]] = {}
    for decision in decisions:
        queues.setdefault(decision.step_id, deque()).append(decision)
    while True:
        state = orchestrator.advance(run_id, planner=planner, tool_runner=runner, on_append=on_append)
        held = state.pending_approval
        queue = queues.get(held.step_id) if held else None
        if held is None or state.is_terminal or not queue or not may_reuse(held.step_id, held.tool):
            return state
        decision = queue.popleft()
        decide = orchestrator.approve if isinstance(decision, ev.ApprovalGranted) else orchestrator.deny
        decide(run_id, held.step_id, by=decision.by, comment=decision.comment)


# --- verify --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class VerifyResult:
    """``identical``, else the first diverging event (index into the normalised streams) and why."""

    run_id: str
    status: Literal["identical", "diverged", "error"]
    why: str = ""
    index: int | None = None
    expected: dict[str, Any] | None = None
    got: dict[str, Any] | None = None
    compared: int = 0
    notes: tuple[str, ...] = ()
    replay_run_id: str | None = None

    @property
    def identical(self) -> bool:
        return self.status == "identical"

    def line(self) -> str:
        if self.identical:
            return f"{self.run_id}  identical ({self.compared} events)"
        where = f" at event {self.index}" if self.index is not None else ""
        return f"{self.run_id}  {self.status.upper()}{where}: {self.why}"

    def to_document(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "status": self.status, "why": self.why, "index": self.index,
                "expected": self.expected, "got": self.got, "compared": self.compared, "notes": list(self.notes),
                "replay_run_id": self.replay_run_id}  # fmt: skip


def expected_stream(recording: Recording) -> tuple[list[dict[str, Any]], list[str]]:
    """The recording normalised for comparison, minus what a clean re-execution cannot reproduce.

    An interrupted attempt (an intent the crash left without its outcome, then ``StepInterrupted``)
    is removed, with a resume's ``resume_target_changed`` hold and its decision; ``ReplayDiffed``
    annotations are dropped.
    """
    kept: list[ev.RecordedEvent] = []
    notes: list[str] = []
    dropped_holds: set[str] = set()
    for recorded in recording.events:
        e = recorded.event
        if isinstance(e, ev.ReplayDiffed):
            continue
        if isinstance(e, ev.StepInterrupted):
            for i in range(len(kept) - 1, -1, -1):
                prior = kept[i].event
                if isinstance(prior, ev.ToolExecuted) and prior.step_id == e.step_id:
                    del kept[i]
                    break
            notes.append(f"{e.step_id} was interrupted and resumed in the recording; compared without the "
                         "interrupted attempt")  # fmt: skip
            continue
        if isinstance(e, ev.ApprovalRequested) and e.rule == "resume_target_changed":
            dropped_holds.add(e.step_id)
            continue
        if isinstance(e, ev.ApprovalGranted | ev.ApprovalDenied) and e.step_id in dropped_holds:
            dropped_holds.discard(e.step_id)
            continue
        kept.append(recorded)
    return normalize(kept), notes


def _mask_config(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not stream or stream[0]["type"] != "RunStarted":
        return stream
    payload = {k: v for k, v in stream[0]["payload"].items() if k not in _RUN_STARTED_CONFIG}
    planner = dict(payload.get("planner") or {})
    planner.pop("prompt_sha", None)
    payload["planner"] = planner
    return [{**stream[0], "payload": payload}, *stream[1:]]


def explain(expected: dict[str, Any] | None, got: dict[str, Any] | None, index: int) -> str:
    """One sentence on why two normalised events differ."""
    if got is None:
        return f"the re-execution stopped after {index} events; the recording continues with {expected['type']}"  # type: ignore[index]
    if expected is None:
        return f"the re-execution wrote {got['type']} after the recording's last event"
    if expected["type"] != got["type"]:
        a, b = expected["type"], got["type"]
        if a in _DECISION_TYPES and b in _DECISION_TYPES:
            return (f"the policy decided {b} (rule {got['payload'].get('rule')!r}) where the recording has {a} "
                    f"(rule {expected['payload'].get('rule')!r}) for {got['payload'].get('step_id')}")  # fmt: skip
        return f"the re-execution wrote {b} where the recording has {a}"
    keys = sorted(k for k in set(expected["payload"]) | set(got["payload"])
                  if expected["payload"].get(k) != got["payload"].get(k))  # fmt: skip
    shown = "; ".join(
        f"{k}: expected {_short(expected['payload'].get(k))}, got {_short(got['payload'].get(k))}" for k in keys[:3]
    )
    return f"{expected['type']} differs in {', '.join(keys) or 'its envelope'} ({shown})"


def _short(value: Any, limit: int = 80) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _first_divergence(expected: list[dict[str, Any]], got: list[dict[str, Any]]) -> int | None:
    for i in range(max(len(expected), len(got))):
        a = expected[i] if i < len(expected) else None
        b = got[i] if i < len(got) else None
        if a != b:
            return i
    return None


def verify(
    store: EventStore,
    settings: Settings,
    run_id: str,
    overrides: Overrides | None = None,
    *,
    save: bool = False,
    scratch: Scratch | None = None,
) -> VerifyResult:
    """Re-execute ``run_id`` with the current code, fed only its recording; compare the event streams.

    ``overrides`` (policy file, system prompt) simulate a change in the code path; the recorded
    planner text and tool results are served either way, so a verify never calls a provider, a
    tool, the network or the real workspace. ``save=True`` keeps the re-execution as a run in
    ``store`` (``replay_mode="verify"``); otherwise it goes to ``scratch`` (or a temporary store).
    Verifying many runs, share one ``scratch_space()``.
    """
    overrides = overrides or Overrides()
    recording = load_recording(store, run_id)
    started = recording.started
    notes: list[str] = []
    policy_path = overrides.policy_path or Path(started.policy_path or settings.agent_policy)
    try:
        policy = Policy.load(policy_path)
    except AgentError as error:
        return VerifyResult(run_id, "error", why=f"cannot load the run's policy: {error}")
    mask = save or not overrides.empty
    if overrides.policy_path is None and policy.sha != started.policy_sha:
        mask = True
        notes.append(f"the policy file {str(policy_path)!r} changed since the run was recorded (sha "
                     f"{started.policy_sha[:12]} -> {policy.sha[:12]}); verified against the current file")  # fmt: skip
    if not overrides.empty:
        notes.append(
            f"overrides applied: {overrides.recorded() | ({'system_prompt': '…'} if overrides.system_prompt else {})}"
        )
    expected, dropped = expected_stream(recording)
    notes.extend(dropped)
    final = recording.final
    limit: int | None = None
    if isinstance(final, ev.RunCancelled):
        limit = len(expected) - 1
        notes.append(f"the recording was cancelled by {final.by}; the re-execution stops at the same point")
    elif final is not None and not isinstance(final, ev.RunCompleted | ev.RunFailed | ev.ApprovalRequested):
        limit = len(expected)
        notes.append("the recording never finished (no terminal event); compared up to where it stops")

    def stopper(_run_id: str, seq: int) -> None:
        if limit is not None and seq >= limit:
            raise _Stop

    with _verify_shadow(recording, scratch) as shadow, _target_store(store if save else scratch) as target:
        planner = _ReplayPlanner(recording)
        orchestrator = _orchestrator(target, settings, shadow, planner, policy_path)
        runner = RecordedTools(recording.calls, shadow)
        system_prompt = overrides.system_prompt or started.overrides.get("system_prompt")
        recorded_overrides = {k: v for k, v in started.overrides.items() if k != "system_prompt"}
        request = RunRequest(started.goal, started.max_steps, started.budget_usd, started.planner.provider,
                             started.planner.model)  # fmt: skip
        try:
            new_id = orchestrator.start(
                request, policy_path=policy_path, system_prompt=system_prompt,
                replay_of=run_id if save else started.replay_of, replay_mode="verify" if save else started.replay_mode,
                overrides=recorded_overrides, on_append=stopper,
            )  # fmt: skip
            _drive(orchestrator, new_id, planner, runner, recording.decisions, on_append=stopper)
        except _Stop:
            pass
        state = _load_state(target, new_id)
        if isinstance(final, ev.RunCancelled) and not state.is_terminal:
            orchestrator.cancel(new_id, by=final.by, reason=final.reason)
        got = normalize(e for e in load_events(target, new_id) if e.type != "ReplayDiffed")
    if mask:
        expected, got = _mask_config(expected), _mask_config(got)
    index = _first_divergence(expected, got)
    saved = new_id if save else None
    if index is None:
        return VerifyResult(run_id, "identical", compared=len(expected), notes=tuple(notes), replay_run_id=saved)
    a = expected[index] if index < len(expected) else None
    b = got[index] if index < len(got) else None
    return VerifyResult(run_id, "diverged", explain(a, b, index), index, a, b, len(expected), tuple(notes), saved)


@contextmanager
def _target_store(target: EventStore | Scratch | None) -> Iterator[EventStore]:
    if isinstance(target, Scratch):
        yield target.store
    elif target is not None:
        yield target
    else:
        with scratch_store() as scratch:
            yield scratch


def _load_state(store: EventStore, run_id: str) -> RunState:
    return load_state(store, run_id)


def _orchestrator(
    store: EventStore, settings: Settings, workspace: Path, planner: Planner, policy_path: Path
) -> Orchestrator:
    scoped = settings.model_copy(update={"agent_workspace": workspace, "agent_policy": policy_path})
    return Orchestrator(store, scoped, prices=_prices(), planner_factory=lambda *_a, **_k: planner)


# --- what-if -------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WhatIfResult:
    """The new replay run, where it stopped, and its diff against the original."""

    original_id: str
    replay_id: str
    state: RunState
    diff: RunDiff
    notes: tuple[str, ...] = ()

    def line(self) -> str:
        return (f"{self.original_id}  {self.diff.verdict.upper()} (replay {self.replay_id}, {self.state.status}): "
                f"{'; '.join(self.diff.reasons)}")  # fmt: skip


def _planner_for(settings: Settings, recording: Recording, overrides: Overrides) -> Planner:
    if not overrides.asks_planner:
        return _ReplayPlanner(recording)
    info = recording.started.planner
    provider = overrides.provider or info.provider
    model = overrides.model or (info.model if provider == info.provider else None)
    return make_planner(settings, provider=provider, model=model)


def _scratch_copy(workspace: Path) -> Path:
    """A private copy of the workspace for a replay with live tools (its writes land here)."""
    root = Path(tempfile.mkdtemp(prefix="agent-replay-"))
    target = root / "workspace"
    if workspace.is_dir():
        shutil.copytree(workspace, target, symlinks=True)
    else:
        target.mkdir()
    return target


@contextmanager
def _replay_workspace(
    settings: Settings, recording: Recording, tools_mode: str, scratch: str | None, done: Sequence[RecordedCall] = ()
) -> Iterator[tuple[Path, Any]]:
    """(workspace, tool runner) for a what-if replay: a shadow with recorded tools, a scratch copy with live ones."""
    if tools_mode == "recorded":
        with shadow_workspace(recording, done) as shadow:
            yield shadow, RecordedTools(recording.calls, shadow)
        return
    path = Path(scratch) if scratch and Path(scratch).is_dir() else _scratch_copy(settings.agent_workspace.resolve())
    yield path, None


def whatif(
    store: EventStore,
    settings: Settings,
    run_id: str,
    overrides: Overrides,
    *,
    cost_share: float = DEFAULT_COST_SHARE,
    on_append: OnAppend | None = None,
) -> WhatIfResult:
    """Replay ``run_id`` as a new run with ``overrides``; append its verdict (``ReplayDiffed``) and return it.

    Tools ``recorded`` serve the original's observations (a call without one gets a failed
    observation saying so, never a live call); ``live`` run the real tools in a scratch copy
    of the workspace. A step the original held reuses the original's human decision; any other
    held step waits for a person like any run (continue it with ``continue_replay``).
    """
    recording = load_recording(store, run_id)
    started = recording.started
    policy_path = overrides.policy_path or Path(started.policy_path or settings.agent_policy)
    recorded_overrides = overrides.recorded()
    scratch = None
    if overrides.tools == "live":
        scratch = str(_scratch_copy(settings.agent_workspace.resolve()))
        recorded_overrides["workspace"] = scratch
    with _replay_workspace(settings, recording, overrides.tools, scratch) as (workspace, runner):
        scoped = settings.model_copy(update={"agent_workspace": workspace})
        planner = _planner_for(scoped, recording, overrides)
        orchestrator = _orchestrator(store, settings, workspace, planner, policy_path)
        provider = planner.provider if planner.provider in ("offline", "anthropic", "openai") else "offline"
        request = RunRequest(started.goal, started.max_steps, started.budget_usd, provider, planner.model)
        new_id = orchestrator.start(
            request, policy_path=policy_path,
            system_prompt=overrides.system_prompt if overrides.system_prompt is not None
            else started.overrides.get("system_prompt"),
            replay_of=run_id, replay_mode="whatif", overrides=recorded_overrides, on_append=on_append,
        )  # fmt: skip
        state = _drive(orchestrator, new_id, planner, runner, recording.decisions,
                       may_reuse=lambda s, t: (s, t) in recording.held, on_append=on_append)  # fmt: skip
    return _record_verdict(store, recording, new_id, state, cost_share, scratch)


def _record_verdict(
    store: EventStore, recording: Recording, replay_id: str, state: RunState, cost_share: float, scratch: str | None
) -> WhatIfResult:
    result = diff_runs(recording.events, load_events(store, replay_id), cost_share=cost_share)
    store.append(
        replay_id,
        [ev.ReplayDiffed(original_run_id=recording.run_id, verdict=result.verdict, reasons=list(result.reasons))],
        state.last_seq,
    )
    notes = []
    if scratch and state.is_terminal:
        shutil.rmtree(Path(scratch).parent, ignore_errors=True)
    elif scratch:
        notes.append(f"the replay's live tools write to the scratch copy {scratch}")
    return WhatIfResult(recording.run_id, replay_id, _load_state(store, replay_id), result, tuple(notes))


def continue_replay(
    store: EventStore, settings: Settings, run_id: str, *, on_append: OnAppend | None = None
) -> WhatIfResult:
    """Advance a what-if replay that waited for a person, with the same tools mode and workspace rules."""
    state = _load_state(store, run_id)
    if state.replay_mode != "whatif" or not state.replay_of:
        raise ReplayError(f"run {run_id!r} is not a what-if replay; continue it with 'python -m agent_core resume'")
    recording = load_recording(store, state.replay_of)
    own = load_recording(store, run_id)
    saved = state.overrides
    overrides = Overrides(
        provider=saved.get("provider"), model=saved.get("model"), system_prompt=saved.get("system_prompt"),
        policy_path=Path(state.policy_path) if state.policy_path else None, tools=saved.get("tools", "recorded"),
    )  # fmt: skip
    scratch = saved.get("workspace") if overrides.tools == "live" else None
    with _replay_workspace(settings, recording, overrides.tools, scratch, own.calls) as (workspace, runner):
        if runner is not None:
            runner._used.update(_consumed(recording.calls, own.calls))
        scoped = settings.model_copy(update={"agent_workspace": workspace})
        planner = _planner_for(scoped, recording, overrides)
        orchestrator = _orchestrator(store, settings, workspace, planner, Path(state.policy_path))
        state = _drive(orchestrator, run_id, planner, runner, (), on_append=on_append)
    return _record_verdict(store, recording, run_id, state, DEFAULT_COST_SHARE, str(workspace) if scratch else None)


def _consumed(calls: Sequence[RecordedCall], served: Sequence[RecordedCall]) -> set[int]:
    used: set[int] = set()
    for done in served:
        index = next((i for i, c in enumerate(calls) if i not in used and c.tool == done.tool
                      and c.input == done.input and c.result == done.result), None)  # fmt: skip
        if index is not None:
            used.add(index)
    return used


def replays_of(store: EventStore, run_id: str, limit: int = 100) -> list[Any]:
    """The replays of ``run_id``, newest first, as run summaries (each with its ``verdict``)."""
    return list_summaries(store, parent_id=run_id, limit=limit)


# --- replay-all ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplayAllReport:
    """A line per run and the counts CI gates on (``failed`` is true on any regression or divergence)."""

    mode: str
    lines: tuple[str, ...]
    counts: Mapping[str, int]
    results: tuple[VerifyResult | WhatIfResult, ...] = ()
    skipped: int = 0

    @property
    def failed(self) -> bool:
        return bool(self.counts.get("regression") or self.counts.get("diverged") or self.counts.get("error"))

    def summary(self) -> str:
        counts = ", ".join(f"{n} {k}" for k, n in sorted(self.counts.items()) if n)
        skipped = f"; {self.skipped} still running, skipped" if self.skipped else ""
        return f"{self.mode}: {sum(self.counts.values())} runs replayed — {counts or 'nothing to replay'}{skipped}"


def originals(store: EventStore, limit: int | None = None) -> list[str]:
    """Ids of original (non-replay) runs, newest first."""
    ids: list[str] = []
    offset = 0
    while limit is None or len(ids) < limit:
        page = store.list_runs(originals_only=True, limit=_PAGE, offset=offset)
        ids.extend(r.run_id for r in page if r.status not in (RUNNING, "new"))
        if len(page) < _PAGE:
            break
        offset += _PAGE
    return ids[:limit] if limit is not None else ids


def replay_all(
    store: EventStore,
    settings: Settings,
    mode: Literal["verify", "whatif"] = "verify",
    overrides: Overrides | None = None,
    *,
    limit: int | None = None,
    cost_share: float = DEFAULT_COST_SHARE,
    on_result: Callable[[str], None] | None = None,
) -> ReplayAllReport:
    """Verify or what-if-replay every original run (newest first); ``on_result`` gets each line as it is ready."""
    overrides = overrides or Overrides()
    ids = originals(store, limit)
    skipped = store.count_runs(originals_only=True, status=[RUNNING])
    lines: list[str] = []
    results: list[VerifyResult | WhatIfResult] = []
    counts: dict[str, int] = {}
    with scratch_space() as scratch:
        for run_id in ids:
            try:
                result: VerifyResult | WhatIfResult
                if mode == "verify":
                    result = verify(store, settings, run_id, overrides, scratch=scratch)
                    key = result.status
                else:
                    result = whatif(store, settings, run_id, overrides, cost_share=cost_share)
                    key = result.diff.verdict
                line = result.line()
                results.append(result)
            except AgentError as error:
                key, line = "error", f"{run_id}  ERROR: {error}"
            counts[key] = counts.get(key, 0) + 1
            lines.append(line)
            if on_result:
                on_result(line)
    return ReplayAllReport(mode, tuple(lines), counts, tuple(results), skipped)


# --- counterfactual policy -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DecisionChange:
    """A recorded policy decision that another policy file would have made differently."""

    run_id: str
    step_id: str
    tool: str
    recorded: str  # approve | reject | hold
    recorded_rule: str
    would: str
    would_rule: str
    reason: str

    def line(self) -> str:
        return (f"{self.run_id[:12]}  {self.step_id:<8} {self.tool:<11} {self.recorded} ({self.recorded_rule}) -> "
                f"{self.would} ({self.would_rule}): {self.reason}")  # fmt: skip


@dataclass(frozen=True, slots=True)
class CounterfactualReport:
    policy_path: str
    runs: int
    decisions: int
    changes: tuple[DecisionChange, ...]


def policy_counterfactual(
    store: EventStore, settings: Settings, policy_path: Path, last_n: int = 20
) -> CounterfactualReport:
    """What ``policy_path`` would have decided on the recorded plans of the last ``last_n`` runs; nothing runs.

    Each recorded decision is re-evaluated on the step's input as resolved then, with the run's
    state at that moment (tool calls so far, spend) and the shadow workspace as the run saw it.
    """
    policy = Policy.load(policy_path)
    changes: list[DecisionChange] = []
    decisions = 0
    summaries = store.list_runs(limit=last_n)
    for row in summaries:
        recording = load_recording(store, row.run_id)
        found, changed = _counterfactual_run(recording, policy, settings)
        decisions += found
        changes.extend(changed)
    return CounterfactualReport(str(policy_path), len(summaries), decisions, tuple(changes))


def _counterfactual_run(recording: Recording, policy: Policy, settings: Settings) -> tuple[int, list[DecisionChange]]:
    changes: list[DecisionChange] = []
    found = 0
    with shadow_workspace(recording) as shadow:
        state: RunState | None = None
        for recorded in recording.events:
            e = recorded.event
            outcome = _DECISION_TYPES.get(recorded.type)
            if (
                state is not None
                and state.plan is not None
                and outcome
                and getattr(e, "rule", "") != "resume_target_changed"
            ):
                step = next((s for s in state.plan.steps if s.id == e.step_id), None)  # type: ignore[attr-defined]
                if step is not None:
                    found += 1
                    prior = {s.step_id: s.result for s in state.steps if s.result is not None}
                    resolved = tool_impl.resolve_input(step, prior)
                    context = PolicyContext(
                        workspace=shadow, database_path=database_path_from_url(settings.database_url),
                        tool_calls_so_far=sum(1 for s in state.steps if s.executed or s.result is not None),
                        spent_usd=state.cost_usd, budget_usd=state.budget_usd,
                    )  # fmt: skip
                    decision = policy.evaluate(step.model_copy(update={"input": resolved}), context)
                    if decision.outcome != outcome or decision.rule != e.rule:  # type: ignore[attr-defined]
                        changes.append(DecisionChange(
                            recording.run_id, step.id, step.tool, outcome, e.rule, decision.outcome,  # type: ignore[attr-defined]
                            decision.rule, decision.reason,
                        ))  # fmt: skip
            if isinstance(e, ev.ObservationCaptured) and e.tool == "write_file" and e.success:
                call = next((c for c in recording.calls if c.step_id == e.step_id and c.result == e.result), None)
                if call is not None:
                    _mirror_write(shadow, call)
            state = apply(state or RunState(run_id=recording.run_id), recorded)
    return found, changes


__all__ = [
    "NO_RECORDING_ERROR",
    "CounterfactualReport",
    "DecisionChange",
    "Overrides",
    "RecordedTools",
    "Recording",
    "ReplayAllReport",
    "ReplayError",
    "VerifyResult",
    "WhatIfResult",
    "continue_replay",
    "expected_stream",
    "load_recording",
    "policy_counterfactual",
    "replay_all",
    "replays_of",
    "verify",
    "whatif",
]
