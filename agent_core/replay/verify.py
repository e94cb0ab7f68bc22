"""verify: re-execute a recorded run with the current code, fed only its recording, and compare.

The normalised streams are compared: identical, or the first diverging event and why. Nothing
is written to the real store unless ``save=True``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from agent_core import events as ev
from agent_core.config import Settings
from agent_core.errors import AgentError
from agent_core.normalize import normalize, normalize_payload
from agent_core.orchestrator import RunRequest
from agent_core.planning import prompt_version_for
from agent_core.policy import ALLOWED_RULE, Policy
from agent_core.projections import RunState, decode, load_state
from agent_core.replay.driver import Overrides, Served, StopReplay, drive, replay_orchestrator
from agent_core.replay.memory import MemoryStore
from agent_core.replay.recording import RecordedTools, Recording, late_cost, load_recording, recorded_planner
from agent_core.replay.scratch import Scratch, scratch_store, verify_shadow
from agent_core.store import IMPORTED, EventStore, RunRow, StoredEvent
from agent_core.transfer import RawEvent

_RUN_STARTED_CONFIG = ("policy_sha", "policy_path", "overrides", "replay_of", "replay_mode")


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
    run_status: str = ""
    """How the verified run itself ended (``completed``, ``failed``...), as recorded."""
    run_reason: str = ""

    @property
    def identical(self) -> bool:
        """True when the re-execution wrote the recorded stream."""
        return self.status == "identical"

    def line(self) -> str:
        """One line for the terminal."""
        ended = f"; the run {self.run_status}" if self.run_status else ""
        if self.run_status == "failed" and self.run_reason:
            ended += f": {self.run_reason[:160]}"
        if self.identical:
            return f"{self.run_id}  identical ({self.compared} events{ended})"
        where = f" at event {self.index}" if self.index is not None else ""
        return f"{self.run_id}  {self.status.upper()}{where}: {self.why}" + (f" ({ended[2:]})" if ended else "")

    def to_document(self) -> dict[str, Any]:
        """The result as JSON-ready data (the CLI's --json)."""
        return {
            "run_id": self.run_id,
            "status": self.status,
            "why": self.why,
            "index": self.index,
            "expected": self.expected,
            "got": self.got,
            "compared": self.compared,
            "notes": list(self.notes),
            "replay_run_id": self.replay_run_id,
            "run_status": self.run_status,
            "run_reason": self.run_reason,
        }


def expected_stream(recording: Recording) -> tuple[list[dict[str, Any]], list[str]]:
    """The recording normalised for comparison, minus what a clean re-execution cannot reproduce.

    An interrupted attempt (an intent the crash left without its outcome, then ``StepInterrupted``)
    is removed, with a resume's ``resume_target_changed`` hold and its decision; annotations
    (``ReplayDiffed``, ``ResponseJudged``) are dropped, and so are costs recorded after the run
    ended (an LLM call that answered after a cancel: the re-execution stops where the recording
    was cancelled).
    """
    kept, notes = _reproducible(recording)
    return normalize(recording.events[i] for i in kept), notes


def _reproducible(recording: Recording) -> tuple[list[int], list[str]]:
    """``expected_stream``'s events, as indexes into the recording, and the notes on what it left out."""
    kept: list[int] = []
    notes: list[str] = []
    dropped_holds: set[str] = set()
    events = recording.events
    for index, recorded in enumerate(events):
        e = recorded.event
        if recorded.type in ev.ANNOTATION_TYPES:
            continue
        if isinstance(e, ev.CostRecorded) and late_cost(recorded, [events[i] for i in kept]):
            notes.append(
                f"a {e.source} cost recorded after the run ended (the call answered after the cancel) "
                "is not re-executed"
            )
            continue
        if isinstance(e, ev.StepInterrupted):
            for i in range(len(kept) - 1, -1, -1):
                prior = events[kept[i]].event
                if isinstance(prior, ev.ToolExecuted) and prior.step_id == e.step_id:
                    del kept[i]
                    break
            notes.append(
                f"{e.step_id} was interrupted and resumed in the recording; compared without the interrupted attempt"
            )
            continue
        if isinstance(e, ev.ApprovalRequested) and e.rule == "resume_target_changed":
            dropped_holds.add(e.step_id)
            continue
        if isinstance(e, ev.ApprovalGranted | ev.ApprovalDenied) and e.step_id in dropped_holds:
            dropped_holds.discard(e.step_id)
            continue
        kept.append(index)
    return kept, notes


def _stored_alike(recording: Recording, kept: list[int], got: Sequence[StoredEvent]) -> bool:
    """True when the re-execution stored what the recording holds (type, version, actor, payload), volatile
    fields and the redaction count aside: then the normalised streams are equal, and most events need
    no decoding to say so.

    The same type, version and payload decode to the same event. Payloads that differ only in the
    fields the normalised form leaves out (durations, the count) are equal once decoded, if both
    decode: the written one is decoded to make sure. An expected event that did not decode is left
    to the full comparison.
    """
    if len(kept) != len(got):
        return False
    for index, written in zip(kept, got, strict=True):
        stored = recording.rows[index]
        if recording.events[index].problem or (stored.type, stored.version, stored.actor) != (
            written.type,
            written.version,
            written.actor,
        ):
            return False
        if stored.payload == written.payload:
            continue
        if normalize_payload(stored.payload) != normalize_payload(written.payload) or decode(written).problem:
            return False
    return True


def _mask_config(stream: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not stream or stream[0]["type"] != "RunStarted":
        return stream
    payload = {k: v for k, v in stream[0]["payload"].items() if k not in _RUN_STARTED_CONFIG}
    planner = dict(payload.get("planner") or {})
    planner.pop("prompt_sha", None)
    payload["planner"] = planner
    return [{**stream[0], "payload": payload}, *(_mask_rule_count(e) for e in stream[1:])]


def _mask_rule_count(event: dict[str, Any]) -> dict[str, Any]:
    """An approval by no rule says how many rules it checked: a count of the policy file, not a decision."""
    if event["type"] not in ev.GUARD_DECISIONS or event["payload"].get("rule") != ALLOWED_RULE:
        return event
    return {**event, "payload": {k: v for k, v in event["payload"].items() if k != "reason"}}


def explain(expected: dict[str, Any] | None, got: dict[str, Any] | None, index: int) -> str:
    """One sentence on why two normalised events differ."""
    if got is None:
        continues = expected["type"] if expected is not None else "nothing"
        return f"the re-execution stopped after {index} events; the recording continues with {continues}"
    if expected is None:
        return f"the re-execution wrote {got['type']} after the recording's last event"
    if expected["type"] != got["type"]:
        a, b = expected["type"], got["type"]
        if a in ev.GUARD_DECISIONS and b in ev.GUARD_DECISIONS:
            return (
                f"the policy decided {b} (rule {got['payload'].get('rule')!r}) where the recording has {a} "
                f"(rule {expected['payload'].get('rule')!r}) for {got['payload'].get('step_id')}"
            )
        return f"the re-execution wrote {b} where the recording has {a}"
    keys = sorted(
        k for k in set(expected["payload"]) | set(got["payload"]) if expected["payload"].get(k) != got["payload"].get(k)
    )
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
    policy_file: Path | None = None,
    row: RunRow | None = None,
) -> VerifyResult:
    """Re-execute ``run_id`` with the current code, fed only its recording; compare the event streams.

    ``overrides`` (policy file, system prompt) simulate a change in the code path; the recorded
    planner text and tool results are served either way, so a verify never calls a provider, a
    tool, the network or the real workspace. ``save=True`` keeps the re-execution as a run in
    ``store`` (``replay_mode="verify"``); otherwise it goes to ``scratch`` (or a temporary store).
    Verifying many runs, share one ``scratch_space()``. When the policy file changed since the run
    (or with overrides, or ``save``), ``RunStarted``'s configuration and the number of rules an
    approval checked are left out of the comparison: the decisions are compared, not the file.

    The saved re-execution of an imported run replays the export's human decisions, so it is
    saved as imported too (history: never advanced, approved or resumed). ``policy_file`` is where
    the recorded policy's bytes are kept (a recording folder): the run's recorded ``policy_path`` is
    compared as recorded, and its sha must match. ``row`` is the run's index row when a batch listed it.
    """
    overrides = overrides or Overrides()
    recording = load_recording(store, run_id, row)
    started = recording.started
    if started.forked_from is not None:
        fork = started.forked_from
        return VerifyResult(
            run_id,
            "error",
            why=f"run {run_id!r} is a fork of {fork.run_id!r} at {fork.step_id}; "
            "verify re-executes original runs only: verify the run it was forked from",
        )
    run_status, run_reason = recording.ended()
    ended = {"run_status": run_status, "run_reason": run_reason}  # how the run itself ended
    notes: list[str] = []
    policy_path = overrides.policy_path or policy_file or Path(started.policy_path or settings.agent_policy)
    try:
        policy = Policy.load(policy_path)
    except AgentError as error:
        return VerifyResult(
            run_id,
            "error",
            why=f"cannot load the run's policy: {error}",
            run_status=ended["run_status"],
            run_reason=ended["run_reason"],
        )
    mask = save or not overrides.empty
    if overrides.policy_path is None and policy.sha != started.policy_sha:
        mask = True
        notes.append(
            f"the policy file {str(policy_path)!r} changed since the run was recorded (sha "
            f"{started.policy_sha[:12]} -> {policy.sha[:12]}); verified against the current file"
        )
    if not overrides.empty:
        notes.append(
            f"overrides applied: {overrides.recorded() | ({'system_prompt': '…'} if overrides.system_prompt else {})}"
        )
    kept, dropped = _reproducible(recording)
    notes.extend(dropped)
    final = recording.final
    limit: int | None = None
    if isinstance(final, ev.RunCancelled):
        limit = len(kept) - 1
        notes.append(f"the recording was cancelled by {final.by}; the re-execution stops at the same point")
    elif final is not None and not isinstance(final, ev.RunCompleted | ev.RunFailed | ev.ApprovalRequested):
        limit = len(kept)
        notes.append("the recording never finished (no terminal event); compared up to where it stops")

    def stops_at(seq: int) -> bool:  # also asked of events held for the next append: alone where the recording stops
        return limit is not None and seq >= limit

    def stopper(_run_id: str, seq: int) -> None:
        if stops_at(seq):
            raise StopReplay

    in_place = save and not recording.imported
    with verify_shadow(recording, scratch) as shadow, _target_store(store if in_place else scratch) as target:
        planner = recorded_planner(recording)
        if scratch is not None and target is scratch.store:
            orchestrator = scratch.orchestrator(settings, shadow, planner, policy)
        else:
            orchestrator = replay_orchestrator(target, settings, shadow, Served(planner, policy), policy_path)
        runner = RecordedTools(recording.calls, shadow)
        system_prompt = overrides.system_prompt or started.overrides.get("system_prompt")
        recorded_overrides = {k: v for k, v in started.overrides.items() if k != "system_prompt"}
        recorded_version = prompt_version_for(started.planner.prompt_sha, started.overrides.get("prompt_version"))
        request = RunRequest(
            started.goal, started.max_steps, started.budget_usd, started.planner.provider, started.planner.model
        )
        state: RunState | None = None
        try:
            new_id = orchestrator.start(
                request,
                policy_path=policy_path,
                system_prompt=system_prompt,
                replay_of=run_id if save else started.replay_of,
                replay_mode="verify" if save else started.replay_mode,
                overrides=recorded_overrides,
                on_append=stopper,
                prompt_version=recorded_version.id,
                outcome_rules=started.outcome_rules,
            )
            state = drive(
                orchestrator, new_id, planner, runner, recording.decisions, on_append=stopper, commit_apart=stops_at
            )
        except StopReplay:
            pass
        if state is None:  # stopped where the recording stopped: fold what the re-execution wrote
            state = load_state(target, new_id)
        if isinstance(final, ev.RunCancelled) and not state.is_terminal:
            orchestrator.cancel(new_id, by=final.by, reason=final.reason)
        written = [row for row in target.read_run(new_id) if row.type not in ev.ANNOTATION_TYPES]
        if save and not in_place:
            _save_as_imported(target, store, new_id)
        if isinstance(target, MemoryStore):
            target.forget(new_id)  # compared (or saved): a batch of 100,000 verifies keeps none of them
    saved = new_id if save else None
    index: int | None = None
    if mask or not _stored_alike(recording, kept, written):  # else equal without decoding: see _stored_alike
        expected = normalize(recording.events[i] for i in kept)
        got = normalize(decode(row) for row in written)
        if policy_file is not None and overrides.policy_path is None and got and got[0]["type"] == "RunStarted":
            got[0]["payload"]["policy_path"] = started.policy_path  # the same file, kept elsewhere
        if mask:
            expected, got = _mask_config(expected), _mask_config(got)
        index = _first_divergence(expected, got)
    if index is None:
        return VerifyResult(
            run_id,
            "identical",
            compared=len(kept),
            notes=tuple(notes),
            replay_run_id=saved,
            run_status=ended["run_status"],
            run_reason=ended["run_reason"],
        )
    a = expected[index] if index < len(expected) else None
    b = got[index] if index < len(got) else None
    return VerifyResult(
        run_id,
        "diverged",
        explain(a, b, index),
        index,
        a,
        b,
        len(expected),
        tuple(notes),
        saved,
        run_status=ended["run_status"],
        run_reason=ended["run_reason"],
    )


def _save_as_imported(source: EventStore, store: EventStore, run_id: str) -> None:
    rows = source.read_run(run_id)
    events = [RawEvent(row.type, row.version, row.actor, row.payload) for row in rows]
    store.append(run_id, events, 0, times=[row.at for row in rows], origin=IMPORTED)


@contextmanager
def _target_store(target: EventStore | Scratch | None) -> Iterator[EventStore]:
    if isinstance(target, Scratch):
        yield target.store
    elif target is not None:
        yield target
    else:
        with scratch_store() as scratch:
            yield scratch
